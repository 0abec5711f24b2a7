import { describe, expect, it } from 'vitest';
import { Relay } from '../../device/door/relay.ts';
import { SimulatedGpio } from '../../device/gpio/simulated.ts';
import { sleep, waitFor } from './support/wait.ts';

const levels = (gpio: SimulatedGpio, line: number) => gpio.writes(line).map((w) => w.level);

describe('relay', () => {
  it.each([
    [false, 0, 1],
    [true, 1, 0],
  ] as const)('activeLow=%s: claimed inactive, pulses active, then relocks', async (activeLow, inactive, active) => {
    const gpio = new SimulatedGpio();
    const relay = new Relay({ driver: gpio, line: 22, activeLow });
    expect(levels(gpio, 22)).toEqual([inactive]);
    expect(relay.active).toBe(false);
    relay.pulse(60);
    expect(gpio.level(22)).toBe(active);
    expect(relay.active).toBe(true);
    await waitFor(() => gpio.writes(22).length === 3, 'relock');
    expect(levels(gpio, 22)).toEqual([inactive, active, inactive]);
    const [, on, off] = gpio.writes(22);
    expect((off?.at ?? 0) - (on?.at ?? 0)).toBeGreaterThanOrEqual(55);
    expect(relay.active).toBe(false);
    relay.close();
  });

  it('extends a pulse when a new grant arrives, without toggling', async () => {
    const gpio = new SimulatedGpio();
    const relay = new Relay({ driver: gpio, line: 5 });
    relay.pulse(100);
    await sleep(60);
    relay.pulse(100);
    await sleep(70); // 130 ms after the first grant: past the first pulse, inside the extended one
    expect(levels(gpio, 5)).toEqual([0, 1]);
    await waitFor(() => gpio.writes(5).length === 3, 'relock');
    expect(levels(gpio, 5)).toEqual([0, 1, 0]);
    relay.close();
  });

  it('stop() forces the relay inactive mid-pulse and no late write follows', async () => {
    const gpio = new SimulatedGpio();
    const relay = new Relay({ driver: gpio, line: 6, activeLow: true });
    relay.pulse(50);
    relay.stop();
    expect(gpio.level(6)).toBe(1);
    await sleep(80);
    expect(levels(gpio, 6)).toEqual([1, 0, 1]);
    relay.close();
    expect(gpio.level(6)).toBeUndefined();
  });

  it('refuses a line that is already claimed', () => {
    const gpio = new SimulatedGpio();
    const relay = new Relay({ driver: gpio, line: 7 });
    expect(() => new Relay({ driver: gpio, line: 7 })).toThrow(/already in use/);
    relay.close();
  });
});
