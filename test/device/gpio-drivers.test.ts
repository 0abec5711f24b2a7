// The GPIO driver contract, run against every driver through its own seam (see gpio-harness.ts):
// the simulated twin, sysfs on a fake tree, and the character device through stand-in libgpiod
// tools of both major versions.
import { afterEach, describe, expect, it } from 'vitest';
import type { Level } from '../../device/gpio/driver.ts';
import { Relay } from '../../device/door/relay.ts';
import { WiegandReader, type WiegandRead } from '../../device/wiegand/reader.ts';
import { encodeWiegand } from '../../core/wiegand.ts';
import { gpiodHarness, simulatedHarness, sysfsHarness, type DriverHarness, type HarnessFactory } from './support/gpio-harness.ts';
import { sleep, waitFor } from './support/wait.ts';

const drivers: Array<[string, HarnessFactory]> = [
  ['simulated', simulatedHarness],
  ['onoff (sysfs)', sysfsHarness],
  ['gpiod (libgpiod 1.6 tools)', gpiodHarness('1.6.3')],
  ['gpiod (libgpiod 2.x tools)', gpiodHarness('2.1.3')],
];

describe.each(drivers)('GPIO driver contract: %s', (_name, make) => {
  let h: DriverHarness | undefined;
  afterEach(async () => {
    await h?.dispose();
    h = undefined;
  });

  it.each([0, 1] as Level[])('claims an output already at level %i, never at the other level first', async (initial) => {
    h = await make();
    const out = h.driver.openOutput(22, initial);
    expect(out.read()).toBe(initial);
    const harness = h;
    await waitFor(() => harness.level(22) === initial, 'the claimed level');
    const history = h.history(22);
    if (history) expect(history).toEqual([initial]);
  });

  it('writes levels the outside sees, in order, and reads them back', async () => {
    h = await make();
    const harness = h;
    const out = h.driver.openOutput(13, 0);
    out.write(1);
    expect(out.read()).toBe(1);
    await waitFor(() => harness.level(13) === 1, 'level 1');
    out.write(0);
    expect(out.read()).toBe(0);
    await waitFor(() => harness.level(13) === 0, 'level 0');
    const history = h.history(13);
    // A holder replaced before it ran may never have set its level; the order still holds.
    if (history) expect(history.join('')).toMatch(/^0?10$/);
  });

  it('delivers falling edges of an input line with monotonic timestamps, only to that line', async () => {
    h = await make();
    const harness = h;
    const a: bigint[] = [];
    const b: bigint[] = [];
    h.driver.openInput(17, (ns) => a.push(ns));
    h.driver.openInput(27, (ns) => b.push(ns));
    const before = process.hrtime.bigint();
    for (let i = 0; i < 5; i++) {
      await harness.fall(17);
      await sleep(2);
    }
    await harness.fall(27);
    await waitFor(() => a.length === 5 && b.length === 1, 'six edges');
    const after = process.hrtime.bigint();
    for (const ns of [...a, ...b]) {
      expect(ns).toBeGreaterThanOrEqual(before);
      expect(ns).toBeLessThanOrEqual(after);
    }
    expect([...a].sort((x, y) => (x < y ? -1 : 1))).toEqual(a);
  });

  it('refuses to claim a line twice and lets it be claimed again once closed', async () => {
    h = await make();
    const input = h.driver.openInput(5, () => undefined);
    expect(() => h?.driver.openInput(5, () => undefined)).toThrow(/already in use/);
    expect(() => h?.driver.openOutput(5, 0)).toThrow(/already in use/);
    input.close();
    const out = h.driver.openOutput(6, 0);
    expect(() => h?.driver.openOutput(6, 1)).toThrow(/already in use/);
    out.close();
    expect(() => out.write(1)).toThrow(/closed/);
    const again = h.driver.openInput(5, () => undefined);
    again.close();
  });

  it('stops delivering edges once an input is closed, and close() releases every line', async () => {
    h = await make();
    const harness = h;
    const edges: bigint[] = [];
    const input = h.driver.openInput(23, (ns) => edges.push(ns));
    await harness.fall(23);
    await waitFor(() => edges.length === 1, 'one edge');
    input.close();
    await harness.fall(23).catch(() => undefined);
    await sleep(100);
    expect(edges).toHaveLength(1);
    h.driver.openOutput(24, 0);
    h.driver.openInput(25, () => undefined);
    h.driver.close();
    // Released: both can be claimed again.
    h.driver.openOutput(24, 0).close();
    h.driver.openInput(25, () => undefined).close();
  });

  it('reports the level of a level input at claim and every change, with timestamps', async () => {
    h = await make();
    const harness = h;
    await harness.setLevel(4, 0);
    const changes: Array<[Level, bigint]> = [];
    const input = h.driver.openLevelInput(4, (level, ns) => changes.push([level, ns]));
    expect(input.read()).toBe(0);
    await harness.watching(4);
    await sleep(20);
    await harness.setLevel(4, 1);
    await waitFor(() => changes.length === 1, 'the rising change');
    await harness.setLevel(4, 0);
    await waitFor(() => changes.length === 2, 'the falling change');
    expect(changes.map(([l]) => l)).toEqual([1, 0]);
    expect(input.read()).toBe(0);
    expect(() => h?.driver.openInput(4, () => undefined)).toThrow(/already in use/);
    input.close();
  });

  it('carries a Wiegand frame into the reader and a grant pulse out to the relay', async () => {
    h = await make();
    const harness = h;
    const reads: WiegandRead[] = [];
    const reader = new WiegandReader({ driver: h.driver, d0: 17, d1: 27, onRead: (r) => reads.push(r) });
    const relay = new Relay({ driver: h.driver, line: 22 });
    for (const bit of encodeWiegand('H10301', 12, 3456)) {
      await harness.fall(bit === 1 ? 27 : 17);
    }
    const [read] = await waitFor(() => reads.length > 0 && reads, 'a read', 5000);
    expect(read).toMatchObject({ ok: true, facility: 12, card: 3456 });
    relay.pulse(150);
    await waitFor(() => harness.level(22) === 1, 'unlocked');
    await waitFor(() => harness.level(22) === 0, 'relocked');
    reader.close();
    relay.close();
  });
});
