// Door alarms at a running agent: a forced door and a door held open reach the Worker through the
// outbox, with the door, the kind and how long it stood open; they survive an unreachable Worker.
import { describe, expect, it } from 'vitest';
import { readAgentConfig, writeAgentConfig } from '../../device/config/files.ts';
import { SimulatedGpio } from '../../device/gpio/simulated.ts';
import { provisionCli } from './support/agent-harness.ts';
import { scenario } from './support/scenario.ts';
import { waitFor } from './support/wait.ts';

const SENSOR = 12;
const s = scenario();

async function agentWithSensor(heldOpenSeconds: number) {
  const { dataDir } = await provisionCli(s.worker);
  const config = await readAgentConfig(dataDir);
  if (!config) throw new Error('no config');
  await writeAgentConfig(dataDir, {
    ...config,
    doors: config.doors.map((d, i) => (i === 0 ? { ...d, grantMs: 300, doorSensor: { line: SENSOR, openLevel: 1 as const, debounceMs: 10, heldOpenSeconds } } : d)),
  });
  const gpio = new SimulatedGpio();
  gpio.setInput(SENSOR, 0); // closed
  const r = await s.start(dataDir, { gpio });
  const doorId = config.doors[0]?.id as string;
  return { r, gpio, doorId };
}

describe('door alarms', () => {
  it('uploads a forced door through the outbox, even after the Worker was unreachable', async () => {
    const { r, gpio, doorId } = await agentWithSensor(30);
    s.worker.failAlarms = 2;
    gpio.setInput(SENSOR, 1); // opened while locked
    await waitFor(() => s.worker.alarms.length === 1, 'the alarm upload');
    expect(s.worker.alarms[0]).toMatchObject({ kind: 'door_alarm', doorId, type: 'door_forced', openForMs: null });
    const logged = r.log.records.find((x) => x.msg === 'door forced open');
    expect(logged?.eventId).toBe(s.worker.alarms[0]?.id);
    expect(s.worker.checkins).toEqual([]);
    expect((await r.status()).outboxPending).toBe(0);
  });

  it('uploads held open and cleared, with how long the door stood open', async () => {
    const { r, gpio, doorId } = await agentWithSensor(1);
    const door = r.agent.doors()[0];
    door?.relay.pulse(300); // a grant
    gpio.setInput(SENSOR, 1);
    await waitFor(() => s.worker.alarms.length === 1, 'held open');
    gpio.setInput(SENSOR, 0);
    await waitFor(() => s.worker.alarms.length === 2, 'cleared');
    expect(s.worker.alarms.map((a) => a.type)).toEqual(['door_held_open', 'door_held_open_cleared']);
    expect(s.worker.alarms.every((a) => a.doorId === doorId)).toBe(true);
    expect(s.worker.alarms[0]?.openForMs).toBeGreaterThanOrEqual(1000);
    expect(s.worker.alarms[1]?.openForMs).toBeGreaterThanOrEqual(s.worker.alarms[0]?.openForMs ?? 0);
  });
});
