// Provisions a door against the Worker test double and runs the agent in-process on the
// simulated driver, with short timings.
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent, type AgentOptions } from '../../../device/agent.ts';
import { readAgentConfig, writeAgentConfig } from '../../../device/config/files.ts';
import { SimulatedGpio } from '../../../device/gpio/simulated.ts';
import { createMemoryLogger } from '../../../device/log/logger.ts';
import { controlRequest } from '../../../device/sim/control-client.ts';
import type { DecisionEvent, TapBody } from '../../../device/sim/control-server.ts';
import { runCli } from '../../../device/cli.ts';
import type { FakeWorker } from './fake-worker.ts';

export const tempDir = () => mkdtemp(join(tmpdir(), 'gymgate-agent-'));

export async function provisionCli(worker: FakeWorker, options: { dataDir?: string; code?: string; force?: boolean } = {}) {
  const dataDir = options.dataDir ?? (await tempDir());
  const code = options.code ?? worker.issueCode();
  const stdout: string[] = [];
  const stderr: string[] = [];
  const exit = await runCli(
    ['provision', '--api', worker.url, '--code', code, '--data', dataDir, '--name', 'Test door', ...(options.force ? ['--force'] : [])],
    { stdout: (l) => stdout.push(l), stderr: (l) => stderr.push(l), env: {} },
  );
  return { dataDir, code, exit, stdout: stdout.join('\n'), stderr: stderr.join('\n') };
}

export async function setGrantMs(dataDir: string, grantMs: number) {
  const config = await readAgentConfig(dataDir);
  if (!config) throw new Error('no config.json');
  await writeAgentConfig(dataDir, { ...config, doors: config.doors.map((d) => ({ ...d, grantMs })) });
}

export type RunningAgent = Awaited<ReturnType<typeof runAgent>>;

export async function runAgent(dataDir: string, overrides: Partial<AgentOptions> = {}) {
  const log = createMemoryLogger();
  // The simulated driver the agent runs on, so tests inject edges where the agent listens; a test
  // that passes another driver gets a spare one here that the agent does not use.
  const gpio = overrides.gpio instanceof SimulatedGpio ? overrides.gpio : new SimulatedGpio();
  const agent = await Agent.start({
    dataDir,
    gpio,
    controlPort: 0,
    healthPort: 0,
    log,
    pullIntervalSeconds: 60,
    heartbeatSeconds: 60,
    deniedPullDebounceMs: 100,
    commandAckRetryMs: [50, 100],
    uploadBackoffMs: { min: 50, max: 200 },
    ...overrides,
  });
  await agent.ready;
  const ready = log.records.find((r) => r.msg === 'agent ready');
  if (!ready) throw new Error('no "agent ready" log line');
  const controlUrl = ready.controlUrl as string;
  return {
    agent,
    gpio,
    log,
    ready,
    controlUrl,
    tap: async (body: TapBody) => {
      // The simulated reader pulses a card's bits in real time; on a loaded machine a pulse can come
      // late and the frame read as bad, as a real reader's can. A member taps again: so does the
      // test, for a card given by number (deliberate bad frames are sent as bits and never retried).
      for (let attempt = 1; ; attempt++) {
        const decided = await controlRequest<Omit<DecisionEvent, 'slot' | 'bits'>>(controlUrl, 'POST', '/tap', body);
        if (decided.decision.reason !== 'bad_read' || body.card === undefined || attempt === 3) return decided;
      }
    },
    relay: (door?: string | number) =>
      controlRequest<{ door: string; line: number; activeLow: boolean; history: Array<{ at: number; level: number; active: boolean }> }>(
        controlUrl,
        'GET',
        `/relay${door === undefined ? '' : `?door=${door}`}`,
      ),
    status: () => controlRequest<ReturnType<Agent['status']>>(controlUrl, 'GET', '/status'),
  };
}
