// The reader's LED and beeper: claimed idle, the LED lit for the grant time on a grant with one
// beep, two beeps on a refusal; read from the simulated driver's write log.
import { afterEach, describe, expect, it } from 'vitest';
import { readAgentConfig, writeAgentConfig } from '../../device/config/files.ts';
import { AgentConfig } from '../../device/config/schema.ts';
import { ReaderFeedback } from '../../device/door/reader-feedback.ts';
import { SimulatedGpio } from '../../device/gpio/simulated.ts';
import { provisionCli } from './support/agent-harness.ts';
import { scenario } from './support/scenario.ts';
import { waitFor } from './support/wait.ts';

const LED = 20;
const BEEPER = 21;
const closers: Array<{ close(): void }> = [];
afterEach(() => {
  for (const c of closers.splice(0)) c.close();
});
const levels = (gpio: SimulatedGpio, line: number) => gpio.writes(line).map((w) => w.level);

describe('reader LED and beeper', () => {
  it('claims active-low lines high (idle); a grant lights the LED for the grant time and beeps once', async () => {
    const gpio = new SimulatedGpio();
    const feedback = new ReaderFeedback({ driver: gpio, led: { line: LED, activeLow: true }, beeper: { line: BEEPER, activeLow: true }, beepMs: 20 });
    closers.push(feedback);
    expect(levels(gpio, LED)).toEqual([1]);
    expect(levels(gpio, BEEPER)).toEqual([1]);
    feedback.granted(150);
    expect(gpio.level(LED)).toBe(0);
    await waitFor(() => levels(gpio, LED).length === 3, 'the LED to go out');
    expect(levels(gpio, LED)).toEqual([1, 0, 1]);
    expect(levels(gpio, BEEPER)).toEqual([1, 0, 1]);
    const [, on, off] = gpio.writes(LED);
    expect((off?.at ?? 0) - (on?.at ?? 0)).toBeGreaterThanOrEqual(140);
  });

  it('beeps twice on a refusal and leaves the LED dark; active-high lines idle low', async () => {
    const gpio = new SimulatedGpio();
    const feedback = new ReaderFeedback({ driver: gpio, led: { line: LED, activeLow: false }, beeper: { line: BEEPER, activeLow: false }, beepMs: 10 });
    closers.push(feedback);
    feedback.denied();
    await waitFor(() => levels(gpio, BEEPER).length === 5, 'two beeps');
    expect(levels(gpio, BEEPER)).toEqual([0, 1, 0, 1, 0]);
    expect(levels(gpio, LED)).toEqual([0]);
    feedback.close();
    expect(levels(gpio, BEEPER).at(-1)).toBe(0);
  });

  it('names the key of an LED or beeper line already in use', () => {
    const door = { id: 'door_000000000001', name: 'Front', relay: { line: 22 } };
    const led = AgentConfig.safeParse({ doors: [{ ...door, wiegand: { d0: 17, d1: 27, ledLine: 22 } }] });
    expect(led.error?.issues.map((i) => `${i.path.join('.')}: ${i.message}`)).toEqual(['doors.0.wiegand.ledLine: GPIO line 22 is already used by doors.0.relay.line']);
    const beeper = AgentConfig.safeParse({ doors: [{ ...door, wiegand: { d0: 17, d1: 27, beeperLine: -1 } }] });
    expect(beeper.error?.issues[0]?.path.join('.')).toBe('doors.0.wiegand.beeperLine');
    expect(AgentConfig.safeParse({ doors: [{ ...door, wiegand: { d0: 17, d1: 27, ledLine: 20, beeperLine: 21, ledActiveLow: false } }] }).success).toBe(true);
  });
});

describe('reader LED and beeper at a running agent', () => {
  const s = scenario();

  it('lights and beeps once on a grant, beeps twice on a refusal without moving the relay', async () => {
    s.worker.addMember('wiegand:12:3456');
    const { dataDir } = await provisionCli(s.worker);
    const config = await readAgentConfig(dataDir);
    if (!config) throw new Error('no config');
    await writeAgentConfig(dataDir, {
      ...config,
      doors: config.doors.map((d, i) => (i === 0 ? { ...d, grantMs: 200, wiegand: { ...d.wiegand, ledLine: LED, beeperLine: BEEPER } } : d)),
    });
    const r = await s.start(dataDir);
    const relayLine = config.doors[0]?.relay.line as number;
    expect(levels(r.gpio, LED)).toEqual([1]);
    expect(levels(r.gpio, BEEPER)).toEqual([1]);

    expect((await r.tap({ door: 1, facility: 12, card: 3456 })).decision.granted).toBe(true);
    await waitFor(() => levels(r.gpio, LED).length === 3 && levels(r.gpio, BEEPER).length === 3, 'LED and one beep');
    expect(levels(r.gpio, LED)).toEqual([1, 0, 1]);
    await waitFor(() => r.gpio.writes(relayLine).length === 3, 'the relock');

    expect((await r.tap({ door: 1, facility: 12, card: 999 })).decision.granted).toBe(false);
    await waitFor(() => levels(r.gpio, BEEPER).length === 7, 'two beeps');
    expect(levels(r.gpio, BEEPER)).toEqual([1, 0, 1, 0, 1, 0, 1]);
    expect(levels(r.gpio, LED)).toEqual([1, 0, 1]);
    expect(r.gpio.writes(relayLine)).toHaveLength(3);
  });
});
