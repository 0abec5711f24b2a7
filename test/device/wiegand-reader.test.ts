import { afterEach, describe, expect, it } from 'vitest';
import { encodeWiegand, type WiegandFormat } from '../../core/wiegand.ts';
import { SimulatedGpio } from '../../device/gpio/simulated.ts';
import { WiegandReader, type WiegandRead } from '../../device/wiegand/reader.ts';
import { sleep, waitFor } from './support/wait.ts';

const D0 = 17;
const D1 = 27;

function setup(options: { gapMs?: number } = {}) {
  const gpio = new SimulatedGpio();
  const reads: WiegandRead[] = [];
  const reader = new WiegandReader({ driver: gpio, d0: D0, d1: D1, onRead: (r) => reads.push(r), ...options });
  readers.push(reader);
  return { gpio, reads, reader };
}
const readers: WiegandReader[] = [];
afterEach(() => {
  for (const r of readers.splice(0)) r.close();
});

// Reader heads send a bit every 1-2 ms; jitter makes the spacing irregular, as on the wire.
const realistic = { spacingMs: 1, jitterMs: 1 };

describe('Wiegand reader on the simulated driver', () => {
  it.each<[WiegandFormat, number, number]>([
    ['H10301', 12, 3456],
    ['N10002', 40000, 65000],
    ['C1000', 4000, 1_000_000],
    ['H10304', 65535, 524287],
  ])('decodes a valid %s frame (facility %i, card %i)', async (format, facility, card) => {
    const { gpio, reads } = setup();
    const bits = encodeWiegand(format, facility, card);
    await gpio.injectWiegand(D0, D1, bits, realistic);
    const [read] = await waitFor(() => reads.length > 0 && reads, 'a read');
    expect(read).toMatchObject({ ok: true, format, facility, card, credentialKey: `wiegand:${facility}:${card}` });
    expect(read?.bits).toBe(bits.join(''));
    expect(read?.durationMs).toBeGreaterThan(0);
  });

  it('reports bad parity as a failed read with the decoder detail', async () => {
    const { gpio, reads } = setup();
    const bits = encodeWiegand('H10301', 12, 3456);
    bits[25] = bits[25] === 1 ? 0 : 1;
    await gpio.injectWiegand(D0, D1, bits, realistic);
    const [read] = await waitFor(() => reads.length > 0 && reads, 'a read');
    expect(read?.ok).toBe(false);
    expect(read && !read.ok && read.detail).toMatch(/H10301 parity bit 25/);
  });

  it('reports a 25-bit frame as a failed read', async () => {
    const { gpio, reads } = setup();
    await gpio.injectWiegand(D0, D1, encodeWiegand('H10301', 1, 2).slice(0, 25), realistic);
    const [read] = await waitFor(() => reads.length > 0 && reads, 'a read');
    expect(read).toMatchObject({ ok: false });
    expect(read && !read.ok && read.detail).toMatch(/25-bit frame/);
    expect(read?.bits).toHaveLength(25);
  });

  it('treats frames separated by more than the gap as two reads', async () => {
    const { gpio, reads } = setup();
    await gpio.injectWiegand(D0, D1, encodeWiegand('H10301', 1, 100), realistic);
    await sleep(45);
    await gpio.injectWiegand(D0, D1, encodeWiegand('H10301', 2, 200), realistic);
    await waitFor(() => reads.length >= 2, 'two reads');
    await sleep(40);
    expect(reads.map((r) => (r.ok ? r.credentialKey : r.detail))).toEqual(['wiegand:1:100', 'wiegand:2:200']);
  });

  it('splits two taps delivered in one late burst where their edge timestamps show the gap', async () => {
    // A stalled event loop hands over both taps' edges at once; only their timestamps (1 ms
    // apart within a tap, 300 ms between the taps) tell where the first ended.
    const { gpio, reads } = setup();
    const ms = 1_000_000n;
    const start = process.hrtime.bigint();
    const play = (bits: number[], from: bigint) => bits.forEach((bit, i) => gpio.fallingEdge(bit === 1 ? D1 : D0, from + BigInt(i) * ms));
    play(encodeWiegand('H10301', 1, 100), start);
    play(encodeWiegand('H10301', 2, 200), start + 300n * ms);
    // The first tap ended at the second's first edge, before any timer ran.
    expect(reads.map((r) => (r.ok ? r.credentialKey : r.detail))).toEqual(['wiegand:1:100']);
    await waitFor(() => reads.length >= 2, 'the second read');
    expect(reads.map((r) => (r.ok ? r.credentialKey : r.detail))).toEqual(['wiegand:1:100', 'wiegand:2:200']);
    expect(reads.map((r) => r.ok && r.endedBy)).toEqual(['gap', 'gap']);
    expect(reads[0]?.durationMs).toBeCloseTo(25, 5);
  });

  it('joins bursts closer than a configured gap into one frame', async () => {
    // The gap is wide: the player stamps each frame's edges on its schedule but starts the next
    // frame by the clock, so a loaded machine's late timers widen the stamped pause between them.
    const { gpio, reads } = setup({ gapMs: 500 });
    await gpio.injectWiegand(D0, D1, encodeWiegand('H10301', 1, 100), realistic);
    await sleep(30);
    await gpio.injectWiegand(D0, D1, encodeWiegand('H10301', 2, 200), realistic);
    await waitFor(() => reads.length >= 1, 'a read', 5000);
    await sleep(100);
    expect(reads).toHaveLength(1);
    expect(reads[0]).toMatchObject({ ok: false });
    expect(reads[0]?.bits).toHaveLength(52);
  });

  it('discards a runaway frame longer than 64 bits without crashing', async () => {
    const { gpio, reads } = setup();
    const noise = Array.from({ length: 100 }, (_, i) => (i * 7) % 3 === 0 ? 1 : 0);
    await gpio.injectWiegand(D0, D1, noise, { spacingMs: 1 });
    const [read] = await waitFor(() => reads.length > 0 && reads, 'a read');
    expect(read && !read.ok && read.detail).toMatch(/100 bits is longer than 64/);
    // The reader keeps working afterwards.
    await gpio.injectWiegand(D0, D1, encodeWiegand('H10301', 5, 6), realistic);
    await waitFor(() => reads.length === 2, 'a second read');
    expect(reads[1]).toMatchObject({ ok: true, credentialKey: 'wiegand:5:6' });
  });

  it('releases its lines on close and ignores nothing after', () => {
    const { gpio, reader } = setup();
    expect(gpio.isInputOpen(D0) && gpio.isInputOpen(D1)).toBe(true);
    reader.close();
    expect(gpio.isInputOpen(D0) || gpio.isInputOpen(D1)).toBe(false);
    expect(() => gpio.fallingEdge(D0)).toThrow(/not open/);
  });
});

describe('Wiegand reader modes and faults', () => {
  const open = (options: Partial<ConstructorParameters<typeof WiegandReader>[0]> = {}) => {
    const gpio = new SimulatedGpio();
    const reads: WiegandRead[] = [];
    const keys: string[] = [];
    const reader = new WiegandReader({ driver: gpio, d0: D0, d1: D1, onRead: (r) => reads.push(r), onKey: (k) => keys.push(k.key), ...options });
    readers.push(reader);
    return { gpio, reads, keys, reader };
  };

  it('ends a frame as soon as the configured format and parity match, without waiting for the gap', async () => {
    const { gpio, reads } = open({ mode: { kind: 'format', format: 'H10301' }, gapMs: 200 });
    await gpio.injectWiegand(D0, D1, encodeWiegand('H10301', 7, 777), { spacingMs: 1 });
    // Ended on the last edge, not 200 ms later by the gap: the read is there as the frame ends.
    expect(reads).toHaveLength(1);
    const [read] = reads;
    expect(read).toMatchObject({ ok: true, credentialKey: 'wiegand:7:777', endedBy: 'format' });
  });

  it('with a configured format, a frame of that length with bad parity still waits for the gap and fails', async () => {
    const { gpio, reads } = open({ mode: { kind: 'format', format: 'H10301' } });
    const bits = encodeWiegand('H10301', 7, 777);
    bits[0] = bits[0] === 1 ? 0 : 1;
    await gpio.injectWiegand(D0, D1, bits, realistic);
    const [read] = await waitFor(() => reads.length > 0 && reads, 'a read');
    expect(read).toMatchObject({ ok: false, reason: 'bad_parity' });
  });

  it('ending on the format cuts last-bit → relay latency below the gap', async () => {
    const { measureGrantLatency } = await import('../../device/wiegand/latency.ts');
    const early = await measureGrantLatency({ earlyEnd: true, samples: 8 });
    const gap = await measureGrantLatency({ earlyEnd: false, samples: 8 });
    expect(early.p50Ms).toBeLessThan(10);
    expect(gap.p50Ms).toBeGreaterThanOrEqual(24);
  });

  it('raw mode keys frames of the configured length as raw:<hex of the bits>', async () => {
    const { gpio, reads } = open({ mode: { kind: 'raw', bits: 40 } });
    const bits = Array.from({ length: 40 }, (_, i) => (i % 3 === 0 ? 1 : 0));
    await gpio.injectWiegand(D0, D1, bits, realistic);
    await sleep(40);
    await gpio.injectWiegand(D0, D1, bits.slice(0, 26), { spacingMs: 1 });
    await waitFor(() => reads.length === 2, 'two reads');
    expect(reads[0]).toMatchObject({ ok: true, format: 'raw', credentialKey: 'raw:9249249249', facility: null });
    expect(reads[1]).toMatchObject({ ok: false, reason: 'bad_length' });
  });

  it('turns 4-bit and 8-bit keypad bursts into keys and rejects a bad complement', async () => {
    const { gpio, reads, keys } = open();
    const send = async (bits: number[]) => {
      await gpio.injectWiegand(D0, D1, bits, { spacingMs: 1 });
      await sleep(40);
    };
    await send([0, 0, 0, 1]); // 1
    await send([1, 0, 1, 1]); // #
    await send([1, 1, 0, 1, 0, 0, 1, 0]); // 8-bit 2 (complement 1101)
    await send([1, 0, 1, 0]); // *
    await send([1, 1, 1, 1, 0, 0, 1, 0]); // bad complement
    await waitFor(() => keys.length === 4 && reads.length === 1, 'four keys and a failure');
    expect(keys).toEqual(['1', '#', '2', '*']);
    expect(reads[0]).toMatchObject({ ok: false, reason: 'bad_key' });
  });

  it('logs noise bursts of 1-3 bits and never emits a card for them', async () => {
    const { gpio, reads } = open();
    await gpio.injectWiegand(D0, D1, [1, 0], { spacingMs: 1 });
    const [read] = await waitFor(() => reads.length > 0 && reads, 'a read');
    expect(read).toMatchObject({ ok: false, reason: 'noise' });
  });

  it('mutes a chattering (stuck) line until it goes quiet, then reads again', async () => {
    const { gpio, reads } = open({ maxFrameMs: 60 });
    const chatter = setInterval(() => gpio.fallingEdge(D0), 2);
    await waitFor(() => reads.length > 0, 'the stuck line report');
    await sleep(60);
    clearInterval(chatter);
    expect(reads).toHaveLength(1);
    expect(reads[0]).toMatchObject({ ok: false, reason: 'stuck_line' });
    await sleep(40);
    // The card's pulses are timed in real time: on a loaded machine one can come late and the frame
    // read as bad, as at a real reader. The member taps again, up to three times.
    let read: (typeof reads)[number] | undefined;
    for (let tap = 0; tap < 3 && !read?.ok; tap++) {
      const before = reads.length;
      await gpio.injectWiegand(D0, D1, encodeWiegand('H10301', 3, 4), realistic);
      read = await waitFor(() => reads.length > before && reads[reads.length - 1], 'a read after the line recovered');
    }
    expect(read).toMatchObject({ ok: true, credentialKey: 'wiegand:3:4' });
  });

  it('puts bits in edge-timestamp order when a driver delivers D0 and D1 out of order', async () => {
    const { gpio, reads } = open();
    const bits = encodeWiegand('H10301', 12, 3456);
    // All D0 edges first, then all D1 edges, each with its true timestamp (as two gpiomon pipes can).
    const stamped = bits.map((b, i) => ({ b, ns: 1_000_000n + BigInt(i) * 1_000_000n }));
    for (const { ns } of stamped.filter((s) => s.b === 0)) gpio.fallingEdge(D0, ns);
    for (const { ns } of stamped.filter((s) => s.b === 1)) gpio.fallingEdge(D1, ns);
    const [read] = await waitFor(() => reads.length > 0 && reads, 'a read');
    expect(read).toMatchObject({ ok: true, credentialKey: 'wiegand:12:3456' });
  });
});
