// A provisioned door whose driver "auto" finds no usable GPIO falls back to the simulated driver:
// it still decides taps, but no relay moves, so health and status report it as a problem instead
// of answering ok, and its heartbeats tell the Worker. The simulated driver chosen by name (demo,
// tests) is not a problem.
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Heartbeat, SIMULATED_FALLBACK_PROBLEM } from '../../core/contracts/wire.ts';
import { runCli } from '../../device/cli.ts';
import { autoFallbackReason, selectDriver } from '../../device/gpio/select.ts';
import { createMemoryLogger } from '../../device/log/logger.ts';
import { FakeWorker } from './support/fake-worker.ts';
import { provisionCli, runAgent, type RunningAgent } from './support/agent-harness.ts';
import { waitFor } from './support/wait.ts';

describe('driver "auto" without GPIO on a provisioned door', () => {
  let worker: FakeWorker | undefined;
  let running: RunningAgent | undefined;
  const cleanups: Array<() => void> = [];
  afterEach(async () => {
    await running?.agent.stop();
    running = undefined;
    await worker?.stop();
    for (const c of cleanups.splice(0)) c();
  });

  /** A machine with neither /dev/gpiochip* nor sysfs GPIO chips. */
  const noGpio = () => {
    const dir = mkdtempSync(join(tmpdir(), 'gymgate-nogpio-'));
    mkdirSync(join(dir, 'sys'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    return { devDir: dir, sysfsRoot: join(dir, 'sys') };
  };

  it('health answers 503 with "simulated GPIO: no relay moves", status says so and heartbeats report it', async () => {
    worker = new FakeWorker();
    await worker.start();
    const { dataDir } = await provisionCli(worker);
    const log = createMemoryLogger();
    const gpio = await selectDriver('auto', { log, ...noGpio() });
    expect(gpio.name).toBe('simulated');
    expect(autoFallbackReason(gpio)).toMatch(/gpiod: .*; onoff: /);
    expect(log.records).toContainEqual(expect.objectContaining({ level: 'warn', msg: 'no usable GPIO on this machine; using the simulated GPIO driver' }));
    running = await runAgent(dataDir, { gpio });

    const res = await fetch(`${running.agent.healthUrl}/health`);
    expect(res.status).toBe(503);
    const body = (await res.json()) as { ok: boolean; problems: string[]; gpioFallback: string | null };
    expect(body.ok).toBe(false);
    // The fallback is the only problem: the cache is loaded and the doors are wired.
    expect(body.problems).toEqual([SIMULATED_FALLBACK_PROBLEM]);
    expect(body.problems[0]).toMatch(/^simulated GPIO: no relay moves/);
    expect(body.gpioFallback).toMatch(/gpiod: .*gpiochip/);

    expect((await running.status()).gpioFallback).toMatch(/onoff: /);
    const stdout: string[] = [];
    const code = await runCli(['status', '--control', running.controlUrl], { stdout: (l) => stdout.push(l), stderr: () => undefined, env: {} });
    expect(code).toBe(0);
    expect(stdout.join('\n')).toMatch(/^GPIO: SIMULATED, no relay moves: driver "auto" found no usable GPIO \(gpiod: .*\); run gymgate-agent doctor$/m);

    const beat = Heartbeat.parse(await waitFor(() => worker?.heartbeats[0], 'the first heartbeat'));
    expect(beat.gpio).toEqual({ driver: 'simulated', simulatedFallback: true });
  });

  it('the simulated driver chosen by name is healthy', async () => {
    worker = new FakeWorker();
    await worker.start();
    const { dataDir } = await provisionCli(worker);
    const gpio = await selectDriver('simulated', { log: createMemoryLogger(), ...noGpio() });
    expect(autoFallbackReason(gpio)).toBeUndefined();
    running = await runAgent(dataDir, { gpio });
    const res = await fetch(`${running.agent.healthUrl}/health`);
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ ok: true, problems: [], driver: 'simulated', gpioFallback: null });
    const stdout: string[] = [];
    await runCli(['status', '--control', running.controlUrl], { stdout: (l) => stdout.push(l), stderr: () => undefined, env: {} });
    expect(stdout.join('\n')).not.toMatch(/GPIO: SIMULATED/);
    const beat = Heartbeat.parse(await waitFor(() => worker?.heartbeats[0], 'the first heartbeat'));
    expect(beat.gpio).toEqual({ driver: 'simulated', simulatedFallback: false });
  });
});
