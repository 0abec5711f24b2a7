// A Wiegand reader at the timings of the wire, through the gpiod driver's seam: stand-in gpiomon
// tools (libgpiod 1.6 and 2.x) replay kernel-timestamped edges. A reader head pulls D0 or D1 low
// for about 50 µs per bit, 1-2 ms apart with jitter; the stand-in prints both edges of every pulse
// as the line saw them, and the driver keeps the falling ones. The bits and the frame's duration
// come from the kernel timestamps, not from when the tool's output reached the agent.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { bitString, encodeWiegand, type WiegandFormat } from '../../core/wiegand.ts';
import { createGpiodDriver } from '../../device/gpio/gpiod.ts';
import { createMemoryLogger } from '../../device/log/logger.ts';
import { WiegandReader, type WiegandMode, type WiegandRead } from '../../device/wiegand/reader.ts';
import { prng } from '../bench/synthetic-site.ts';
import { fakeGpiodTools } from './support/gpio-harness.ts';
import { waitFor } from './support/wait.ts';

const D0 = 17;
const D1 = 27;
const PULSE_NS = 50_000n;

type Edge = { line: number; ns: bigint; falling: boolean };

/**
 * The edges of one frame as the kernel timestamps them: per bit a 50 µs low pulse on D0 (0) or
 * D1 (1), the next one 1-2 ms later (uniform jitter). The frame ends just before `endNs`.
 */
function wireEdges(frame: readonly number[], random: () => number, endNs: bigint): { edges: Edge[]; fallingSpanNs: bigint } {
  const starts: bigint[] = [0n];
  for (let i = 1; i < frame.length; i++) starts.push((starts[i - 1] as bigint) + BigInt(1_000_000 + Math.floor(random() * 1_000_000)));
  const fallingSpanNs = starts.at(-1) as bigint;
  const origin = endNs - fallingSpanNs - PULSE_NS - 1_000_000n;
  const edges = frame.flatMap((bit, i) => {
    const line = bit === 1 ? D1 : D0;
    const at = origin + (starts[i] as bigint);
    return [
      { line, ns: at, falling: true },
      { line, ns: at + PULSE_NS, falling: false },
    ];
  });
  return { edges, fallingSpanNs };
}

const cards: Array<[WiegandFormat, number, number]> = [
  ['H10301', 12, 3456],
  ['N10002', 12345, 54320],
  ['C1000', 1000, 123456],
  ['H10304', 4660, 400000],
];

describe.each(['1.6.3', '2.1.3'] as const)('Wiegand reader at wire timings through gpiomon (libgpiod %s)', (version) => {
  const cleanups: Array<() => void> = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) c();
    // Let the stand-in tools see SIGTERM before their directory goes.
    await new Promise((resolve) => setTimeout(resolve, 100));
  });

  const start = async (mode?: WiegandMode) => {
    const tools = fakeGpiodTools(version);
    cleanups.push(tools.dispose);
    const { gpiomon, gpioset, gpiodetect, gpioget, env } = tools;
    const driver = await createGpiodDriver({ log: createMemoryLogger(), gpiomon, gpioset, gpiodetect, gpioget, env, restartMs: 100 });
    cleanups.push(() => driver.close());
    const reads: WiegandRead[] = [];
    const reader = new WiegandReader({ driver, d0: D0, d1: D1, mode, onRead: (r) => reads.push(r) });
    cleanups.push(() => reader.close());
    // D0 and D1 are opened in the same tick, so one gpiomon watches both.
    await waitFor(() => tools.calls().some((c) => c.startsWith('gpiomon ') && c.endsWith(` ${D0} ${D1}`)) && existsSync(join(tools.dir, `mon-${D1}.feed`)), 'gpiomon on both lines');
    const play = (edges: Edge[]) => {
      for (const e of edges) tools.edge(e.line, e.ns, e.falling);
    };
    return { reads, play };
  };

  it('decodes every format from 50 µs pulses 1-2 ms apart with jitter, with the kernel-timed duration', async () => {
    const { reads, play } = await start();
    const random = prng(version === '1.6.3' ? 16 : 21);
    for (const [n, [format, facility, card]] of cards.entries()) {
      const frame = encodeWiegand(format, facility, card);
      const { edges, fallingSpanNs } = wireEdges(frame, random, process.hrtime.bigint());
      play(edges);
      const read = await waitFor(() => reads[n], `the ${format} read`);
      expect(read).toMatchObject({ ok: true, format, facility, card, bits: bitString(frame), endedBy: 'gap' });
      // Exactly the span between the first and last falling edges the kernel stamped: the rising
      // edges 50 µs after each are not bits, and delivery time does not count.
      expect(read.durationMs).toBe(Number(fallingSpanNs) / 1e6);
      expect(read.durationMs).toBeGreaterThanOrEqual(frame.length - 1);
      expect(read.durationMs).toBeLessThan(2 * (frame.length - 1));
    }
    expect(reads).toHaveLength(cards.length);
  });

  it('with the door format configured, ends the frame on its last bit and refuses one with bad parity', async () => {
    const { reads, play } = await start({ kind: 'format', format: 'C1000' });
    const random = prng(35);
    const frame = encodeWiegand('C1000', 1000, 123456);
    play(wireEdges(frame, random, process.hrtime.bigint()).edges);
    expect(await waitFor(() => reads[0], 'the C1000 read')).toMatchObject({ ok: true, format: 'C1000', facility: 1000, card: 123456, endedBy: 'format' });
    const bad = frame.map((b, i) => (i === 34 ? 1 - b : b));
    play(wireEdges(bad, random, process.hrtime.bigint()).edges);
    expect(await waitFor(() => reads[1], 'the refused read')).toMatchObject({ ok: false, reason: 'bad_parity', bits: bitString(bad) });
  });
});
