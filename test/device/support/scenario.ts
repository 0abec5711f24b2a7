// Shared set-up for the agent scenarios: a fake Worker, optionally a broker, and agents that are
// stopped after each test.
import { afterEach, beforeEach } from 'vitest';
import type { Schedule } from '../../../core/schedule.ts';
import { startBroker, type TestBroker } from './broker.ts';
import { FakeWorker } from './fake-worker.ts';
import { runAgent, type RunningAgent } from './agent-harness.ts';

export function scenario() {
  const ctx = {
    worker: undefined as unknown as FakeWorker,
    broker: undefined as TestBroker | undefined,
    running: [] as RunningAgent[],
    async start(...args: Parameters<typeof runAgent>): Promise<RunningAgent> {
      const r = await runAgent(...args);
      ctx.running.push(r);
      return r;
    },
    async withBroker(): Promise<TestBroker> {
      ctx.broker = await startBroker();
      ctx.worker.mqtt = { url: ctx.broker.url };
      return ctx.broker;
    },
    async stopAgent(r: RunningAgent): Promise<void> {
      await r.agent.stop();
      ctx.running = ctx.running.filter((x) => x !== r);
    },
  };
  beforeEach(async () => {
    ctx.worker = new FakeWorker();
    await ctx.worker.start();
  });
  afterEach(async () => {
    for (const r of ctx.running.splice(0)) await r.agent.stop();
    await ctx.worker.stop();
    await ctx.broker?.close();
    ctx.broker = undefined;
  });
  return ctx;
}

const hhmm = (minute: number) => {
  const m = ((minute % 1440) + 1440) % 1440;
  return `${String(Math.floor(m / 60)).padStart(2, '0')}:${String(m % 60).padStart(2, '0')}`;
};

/** A UTC schedule open from `from` to `to` minutes around now (every day). */
export function scheduleAround(fromMinutes: number, toMinutes: number, at = Date.now()): Schedule {
  const now = new Date(at);
  const minute = now.getUTCHours() * 60 + now.getUTCMinutes();
  return { windows: [{ days: [1, 2, 3, 4, 5, 6, 7], start: hhmm(minute + fromMinutes), end: hhmm(minute + toMinutes) }], closures: [] };
}

/** Levels written to a door's relay, as active flags. */
export const relayActivity = (r: RunningAgent, slot = 1) => {
  const door = r.agent.doors()[slot - 1];
  if (!door) throw new Error(`no door ${slot}`);
  return r.gpio.writes(door.relay.line).map((w) => (door.relay.isActiveLevel(w.level) ? 1 : 0));
};
