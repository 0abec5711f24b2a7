// The real executable: bin shim → tsx → cli.ts, as an installer or the e2e suite runs it.
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { entitlementTopic } from '../../core/contracts/wire.ts';
import { startBroker, type TestBroker } from './support/broker.ts';
import { FakeWorker } from './support/fake-worker.ts';
import { tempDir } from './support/agent-harness.ts';
import { waitFor } from './support/wait.ts';

const BIN = join(import.meta.dirname, '../../device/bin/gymgate-agent.mjs');

type Result = { code: number | null; stdout: string; stderr: string };

function cli(args: string[], options: { cwd?: string; env?: Record<string, string> } = {}): Promise<Result> {
  return new Promise((resolve, reject) => {
    const child = spawn(BIN, args, { cwd: options.cwd ?? '/', env: { ...process.env, ...options.env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

const children: ChildProcessWithoutNullStreams[] = [];
let worker: FakeWorker | undefined;
let broker: TestBroker | undefined;
afterEach(async () => {
  for (const c of children.splice(0)) if (c.exitCode === null) c.kill('SIGKILL');
  await worker?.stop();
  await broker?.close();
});

describe('gymgate-agent executable', () => {
  it('provisions, runs, taps, shows relay and status, and exits 0 on SIGTERM', async () => {
    worker = new FakeWorker();
    await worker.start();
    broker = await startBroker();
    const member = worker.addMember('wiegand:12:3456');
    const dataDir = await tempDir();

    const provisioned = await cli(['provision', '--api', worker.url, '--code', worker.issueCode(), '--data', dataDir]);
    expect(provisioned.stderr).toBe('');
    expect(provisioned.code).toBe(0);
    expect(provisioned.stdout).toMatch(/Wrote .*device\.json \(mode 0600/);
    expect((await stat(join(dataDir, 'device.json'))).mode & 0o777).toBe(0o600);

    const reused = await cli(['provision', '--api', worker.url, '--code', [...worker.codes.keys()][0] as string, '--data', await tempDir()]);
    expect(reused.code).toBe(1);
    expect(reused.stderr).toMatch(/Enrollment refused \(HTTP 409\): Enrollment code already used/);
    expect(reused.stderr).toMatch(/already used to enroll a door/);

    // The data directory comes from GYMGATE_AGENT_DATA here; the control port is picked by the OS.
    const agent = spawn(BIN, ['run', '--driver', 'simulated', '--control-port', '0', '--mqtt', broker.url, '--pull-interval', '1'], {
      cwd: '/',
      env: { ...process.env, GYMGATE_AGENT_DATA: dataDir },
    });
    children.push(agent);
    const lines: Array<Record<string, unknown>> = [];
    let buffered = '';
    agent.stdout.on('data', (d: Buffer) => {
      buffered += d.toString();
      let nl: number;
      while ((nl = buffered.indexOf('\n')) >= 0) {
        lines.push(JSON.parse(buffered.slice(0, nl)) as Record<string, unknown>);
        buffered = buffered.slice(nl + 1);
      }
    });
    let stderr = '';
    agent.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const ready = await waitFor(() => lines.find((l) => l.msg === 'agent ready'), '"agent ready"', 10_000);
    expect(ready).toMatchObject({ level: 'info', driver: 'simulated', siteId: worker.siteId, credentials: 1 });
    const control = ready.controlUrl as string;
    expect(control).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);

    const granted = await cli(['tap', '--card', '12:3456'], { env: { GYMGATE_AGENT_CONTROL: control } });
    expect(granted.code).toBe(0);
    expect(granted.stdout).toMatch(new RegExp(`^GRANTED at ${worker.doors[0]?.name} \\(${worker.doors[0]?.id}\\): granted — Active membership\\. \\[wiegand:12:3456\\] member ${member}`));

    const denied = await cli(['tap', '--door', '2', '--card', '12:9', '--format', 'N10002', '--control', control, '--json']);
    expect(denied.code).toBe(0);
    expect(JSON.parse(denied.stdout)).toMatchObject({ door: worker.doors[1]?.id, decision: { granted: false, reason: 'unknown_credential' } });

    const bad = await cli(['tap', '--bits', '0101', '--control', control]);
    expect(bad.code).toBe(0);
    expect(bad.stdout).toMatch(/^DENIED at .*: bad_read — The card could not be read: 4-bit frame/);

    const relay = await cli(['relay', '--door', '1', '--control', control, '--json']);
    expect(relay.code).toBe(0);
    expect(JSON.parse(relay.stdout).history.map((h: { active: boolean }) => h.active).slice(0, 2)).toEqual([false, true]);

    const status = await waitFor(async () => {
      const s = await cli(['status', '--control', control, '--json']);
      const parsed = JSON.parse(s.stdout);
      return parsed.brokerConnected && parsed.outboxPending === 0 && parsed;
    }, 'broker connection and an empty outbox', 10_000);
    expect(status).toMatchObject({ siteId: worker.siteId, credentials: 1 });
    expect(worker.checkins.map((e) => e.reason)).toEqual(['granted', 'unknown_credential', 'bad_read']);

    // A notice through the broker makes the running process pull.
    const newer = worker.addMember('wiegand:12:9');
    await broker.publishRetained(entitlementTopic(worker.topicPrefix, worker.siteId), { siteId: worker.siteId, version: worker.snapshot.version });
    await waitFor(() => lines.find((l) => l.msg === 'entitlements updated' && l.version === worker?.snapshot.version), 'the pull');
    const now = await cli(['tap', '--door', '2', '--card', '12:9', '--format', 'N10002', '--control', control, '--json']);
    expect(JSON.parse(now.stdout).decision).toMatchObject({ granted: true, memberId: newer });

    const exited = new Promise<number | null>((resolve) => agent.on('close', (code) => resolve(code)));
    agent.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(lines.at(-1)).toMatchObject({ msg: 'agent stopped' });
    expect(stderr).toBe('');
  });

  it('fails with a clear message when the control endpoint is unreachable', async () => {
    const result = await cli(['tap', '--card', '1:2', '--control', 'http://127.0.0.1:9']);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/cannot reach the agent's control endpoint at http:\/\/127\.0\.0\.1:9/);
  });

  it('names the offending flag in usage errors', async () => {
    const cases: Array<[string[], RegExp]> = [
      [['tap', '--card', '12'], /--card must be FACILITY:CARD/],
      [['tap', '--card', '1:2', '--bits', '01'], /exactly one of --card/],
      [['run', '--driver', 'pigpio'], /--driver must be one of simulated, onoff, gpiod, auto/],
      [['run', '--control-port', 'x'], /--control-port must be a whole number/],
      [['provision', '--code', 'ABCD'], /--api is required/],
      [['status', '--colour'], /Unknown option '--colour'/],
    ];
    const results = await Promise.all(cases.map(([args]) => cli(args)));
    results.forEach((r, i) => {
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(cases[i]?.[1] as RegExp);
    });
  });
});
