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

  it('joins bursts closer than a configured gap into one frame', async () => {
    const { gpio, reads } = setup({ gapMs: 80 });
    await gpio.injectWiegand(D0, D1, encodeWiegand('H10301', 1, 100), realistic);
    await sleep(30);
    await gpio.injectWiegand(D0, D1, encodeWiegand('H10301', 2, 200), realistic);
    await waitFor(() => reads.length >= 1, 'a read');
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
