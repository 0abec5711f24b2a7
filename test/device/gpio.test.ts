import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { GpioUnavailableError } from '../../device/gpio/onoff.ts';
import { selectDriver } from '../../device/gpio/select.ts';
import { SimulatedGpio } from '../../device/gpio/simulated.ts';
import { createMemoryLogger } from '../../device/log/logger.ts';

// These run on machines without GPIO (CI, laptops); on a Pi the auto case would pick real pins.
describe.skipIf(existsSync('/sys/class/gpio'))('driver selection without GPIO', () => {
  it('auto falls back to the simulated driver and says why', async () => {
    const log = createMemoryLogger();
    const driver = await selectDriver('auto', { log });
    expect(driver).toBeInstanceOf(SimulatedGpio);
    expect(log.records).toContainEqual(
      expect.objectContaining({ msg: 'no usable GPIO on this machine; using the simulated GPIO driver', reason: expect.stringContaining('/sys/class/gpio') }),
    );
  });

  it('onoff refuses clearly instead of pretending', async () => {
    const attempt = selectDriver('onoff', { log: createMemoryLogger() });
    await expect(attempt).rejects.toBeInstanceOf(GpioUnavailableError);
    await expect(attempt).rejects.toThrow(/\/sys\/class\/gpio/);
  });
});

describe('simulated driver', () => {
  it('records output writes with timestamps and delivers injected edges', () => {
    let now = 1000;
    const gpio = new SimulatedGpio({ clock: () => now });
    const out = gpio.openOutput(4, 1);
    now = 2000;
    out.write(0);
    expect(out.read()).toBe(0);
    expect(gpio.writes(4)).toEqual([
      { at: 1000, level: 1 },
      { at: 2000, level: 0 },
    ]);
    const edges: bigint[] = [];
    const input = gpio.openInput(5, (ns) => edges.push(ns));
    gpio.fallingEdge(5, 42n);
    input.close();
    expect(edges).toEqual([42n]);
    expect(() => gpio.fallingEdge(5)).toThrow(/not open/);
    expect(() => gpio.openInput(4, () => undefined)).toThrow(/already in use/);
    out.close();
    expect(() => out.write(1)).toThrow(/closed/);
    expect(gpio.writes(4)).toHaveLength(2);
  });
});
