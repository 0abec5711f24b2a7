// Door I/O: which level locks for each relay polarity and lock kind, the door sensor (debounce,
// forced, held open, relock on close), request to exit, and the config rules for doors.
import { afterEach, describe, expect, it } from 'vitest';
import { AgentConfig } from '../../device/config/schema.ts';
import { DoorMonitor, type DoorAlarm } from '../../device/door/monitor.ts';
import { Relay } from '../../device/door/relay.ts';
import { SimulatedGpio } from '../../device/gpio/simulated.ts';
import { sleep, waitFor } from './support/wait.ts';

const SENSOR = 4;
const REX = 18;
const RELAY = 22;
const closers: Array<{ close(): void }> = [];
afterEach(() => {
  for (const c of closers.splice(0)) c.close();
});

describe('relay levels', () => {
  it.each([
    // activeLow, lock, locked level, unlocked level
    [false, 'fail-secure', 0, 1],
    [true, 'fail-secure', 1, 0],
    [false, 'fail-safe', 1, 0],
    [true, 'fail-safe', 0, 1],
  ] as const)('activeLow=%s %s: claimed locked at %i, unlocks at %i, and a stop leaves it locked', async (activeLow, lock, locked, unlocked) => {
    const gpio = new SimulatedGpio();
    const relay = new Relay({ driver: gpio, line: RELAY, activeLow, lock });
    expect(gpio.writes(RELAY).map((w) => w.level)).toEqual([locked]);
    relay.pulse(1000);
    expect(gpio.level(RELAY)).toBe(unlocked);
    expect(relay.isActiveLevel(unlocked)).toBe(true);
    relay.close();
    expect(gpio.writes(RELAY).map((w) => w.level)).toEqual([locked, unlocked, locked]);
  });
});

function setup(options: { heldOpenSeconds?: number; debounceMs?: number } = {}) {
  const gpio = new SimulatedGpio();
  gpio.setInput(SENSOR, 0); // closed
  const relay = new Relay({ driver: gpio, line: RELAY });
  const alarms: DoorAlarm[] = [];
  const exits: number[] = [];
  const monitor = new DoorMonitor({
    driver: gpio,
    relay,
    sensor: { line: SENSOR, openLevel: 1, debounceMs: options.debounceMs ?? 20, heldOpenSeconds: options.heldOpenSeconds ?? 30 },
    exitButton: { line: REX, debounceMs: 100 },
    grantMs: () => 300,
    onAlarm: (a) => alarms.push(a),
    onExitRequest: () => exits.push(Date.now()),
  });
  closers.push(monitor, relay);
  return { gpio, relay, alarms, exits, monitor };
}

describe('door sensor and request to exit', () => {
  it('raises door_forced when the door opens while locked, after the debounce', async () => {
    const { gpio, alarms, monitor } = setup();
    expect(monitor.doorOpen).toBe(false);
    gpio.setInput(SENSOR, 1);
    expect(alarms).toEqual([]);
    await waitFor(() => alarms.length === 1, 'the alarm');
    expect(alarms[0]?.type).toBe('door_forced');
    expect(monitor.doorOpen).toBe(true);
  });

  it('ignores a contact that chatters for less than the debounce time', async () => {
    const { gpio, alarms } = setup({ debounceMs: 50 });
    for (let i = 0; i < 5; i++) {
      gpio.setInput(SENSOR, 1);
      await sleep(5);
      gpio.setInput(SENSOR, 0);
      await sleep(5);
    }
    await sleep(120);
    expect(alarms).toEqual([]);
  });

  it('relocks as the door closes after a granted opening, instead of running out the grant', async () => {
    const { gpio, relay, alarms } = setup();
    relay.pulse(5000);
    gpio.setInput(SENSOR, 1);
    await sleep(40);
    expect(relay.active).toBe(true);
    gpio.setInput(SENSOR, 0);
    await waitFor(() => !relay.active, 'the relock');
    expect(gpio.writes(RELAY).map((w) => w.level)).toEqual([0, 1, 0]);
    expect(alarms).toEqual([]);
  });

  it('raises door_held_open when an authorised opening lasts too long, and clears it on close', async () => {
    const { gpio, relay, alarms } = setup({ heldOpenSeconds: 0.15 });
    relay.pulse(50);
    gpio.setInput(SENSOR, 1);
    await waitFor(() => alarms.length === 1, 'held open');
    expect(alarms[0]).toMatchObject({ type: 'door_held_open', openForMs: expect.any(Number) });
    gpio.setInput(SENSOR, 0);
    await waitFor(() => alarms.length === 2, 'cleared');
    expect(alarms[1]?.type).toBe('door_held_open_cleared');
  });

  it('does not raise door_held_open while the door is held open by its mode or schedule', async () => {
    const { gpio, relay, alarms } = setup({ heldOpenSeconds: 0.1 });
    relay.hold(true);
    gpio.setInput(SENSOR, 1);
    await sleep(200);
    expect(alarms).toEqual([]);
  });

  it('request to exit unlocks for the grant time and shunts the forced alarm; bounce is one press', async () => {
    const { gpio, relay, alarms, exits } = setup();
    gpio.fallingEdge(REX);
    gpio.fallingEdge(REX); // bounce
    expect(exits).toHaveLength(1);
    expect(relay.active).toBe(true);
    gpio.setInput(SENSOR, 1);
    await sleep(60);
    gpio.setInput(SENSOR, 0);
    await sleep(60);
    await waitFor(() => !relay.active, 'relock');
    // After the pulse ends, an opening within the shunt grace is still not forced.
    gpio.setInput(SENSOR, 1);
    await sleep(60);
    expect(alarms).toEqual([]);
  });
});

describe('door config rules', () => {
  const door = (i: number, extra: object = {}) => ({
    id: `door_${String(i).padStart(12, '0')}`,
    name: `Door ${i}`,
    wiegand: { d0: 10 * i, d1: 10 * i + 1 },
    relay: { line: 10 * i + 2 },
    ...extra,
  });

  it('takes up to four doors and names the key when there are more', () => {
    const ids = [1, 2, 3, 4, 5].map((i) => door(i));
    expect(AgentConfig.safeParse({ doors: ids.slice(0, 4) }).success).toBe(true);
    const parsed = AgentConfig.safeParse({ doors: ids });
    expect(parsed.success).toBe(false);
    expect(parsed.error?.issues.some((i) => i.path.join('.') === 'doors' && /at most 4 doors/.test(i.message))).toBe(true);
  });

  it('names the key of a sensor or exit button on a line already in use', () => {
    const config = AgentConfig.safeParse({
      doors: [door(1, { doorSensor: { line: 10 }, exitButton: { line: 13 } })],
    });
    expect(config.success).toBe(false);
    expect(config.error?.issues.map((i) => i.path.join('.'))).toContain('doors.0.doorSensor.line');
  });
});
