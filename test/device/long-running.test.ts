// Running for years: the bounded outbox, systemd readiness and watchdog through a stand-in
// systemd-notify, and the loopback health endpoint.
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { CheckinUpload } from '../../core/contracts/wire.ts';
import { createMemoryLogger } from '../../device/log/logger.ts';
import { Outbox } from '../../device/outbox/outbox.ts';
import { SystemdNotifier } from '../../device/systemd/notify.ts';
import { FakeWorker } from './support/fake-worker.ts';
import { provisionCli, runAgent, type RunningAgent } from './support/agent-harness.ts';
import { sleep, waitFor } from './support/wait.ts';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});
const temp = (prefix: string) => {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
};

let seq = 0;
const event = (): CheckinUpload => ({
  id: crypto.randomUUID(),
  doorId: null,
  memberId: null,
  credentialKey: `wiegand:1:${++seq}`,
  granted: false,
  reason: 'unknown_credential',
  explanation: 'x'.repeat(100),
  occurredAt: 1_700_000_000_000 + seq,
  usesPass: false,
});

describe('bounded outbox', () => {
  it('drops the oldest events only when full, logs how many, keeps the newest, and keeps the file bounded', async () => {
    const dir = temp('gymgate-outbox-');
    const log = createMemoryLogger();
    const outbox = await Outbox.open(dir, { log, maxEvents: 100 });
    const all: CheckinUpload[] = [];
    for (let i = 0; i < 450; i++) {
      const e = event();
      all.push(e);
      await outbox.append(e);
    }
    expect(outbox.pending).toBeLessThanOrEqual(100);
    expect(outbox.pending).toBeGreaterThanOrEqual(99);
    const kept = outbox.peek(1000);
    // Oldest first: what is kept is exactly the newest tail, in order.
    expect(kept.map((e) => e.id)).toEqual(all.slice(-kept.length).map((e) => e.id));
    const drops = log.records.filter((r) => r.msg === 'outbox full; dropped the oldest check-ins');
    expect(drops.length).toBeGreaterThan(0);
    expect(drops.at(-1)?.droppedTotal).toBe(450 - kept.length);
    expect(outbox.dropped).toBe(450 - kept.length);
    await outbox.close();
    // The log file was compacted: it holds about the kept events, not all 450.
    const size = (await stat(join(dir, 'events.jsonl'))).size;
    expect(size).toBeLessThan(2.2 * kept.length * (JSON.stringify(kept[0]).length + 1));
    // And a reopen recovers exactly the kept events.
    const again = await Outbox.open(dir, { log: createMemoryLogger(), maxEvents: 100 });
    expect(again.peek(1000).map((e) => e.id)).toEqual(kept.map((e) => e.id));
    await again.close();
  });
});

describe('systemd notify and watchdog', () => {
  const standIn = () => {
    const dir = temp('gymgate-notify-');
    const log = join(dir, 'calls.log');
    const command = join(dir, 'systemd-notify');
    writeFileSync(command, `#!/bin/sh\necho "$*" >> "${log}"\n`);
    chmodSync(command, 0o755);
    const calls = () => (existsSync(log) ? readFileSync(log, 'utf8').split('\n').filter(Boolean) : []);
    return { command, calls };
  };

  it('sends READY=1 once, then WATCHDOG=1 from the event loop at half the watchdog interval, and STOPPING=1', async () => {
    const s = standIn();
    const n = new SystemdNotifier({ log: createMemoryLogger(), command: s.command, env: { NOTIFY_SOCKET: '/run/systemd/notify', WATCHDOG_USEC: '200000' }, pid: 4242 });
    expect(n.keepaliveMs).toBe(100);
    await n.ready('doors: 2');
    await waitFor(() => s.calls().filter((c) => c.includes('WATCHDOG=1')).length >= 3, 'three keepalives', 3000);
    await n.stopping();
    const calls = s.calls();
    expect(calls[0]).toBe('--pid=4242 --ready --status=doors: 2');
    expect(calls.at(-1)).toBe('--pid=4242 STOPPING=1');
    const count = calls.length;
    await sleep(250);
    expect(s.calls()).toHaveLength(count); // no keepalives after stopping
  });

  it('a stalled event loop stops the keepalives (so systemd restarts the agent)', async () => {
    const s = standIn();
    const n = new SystemdNotifier({ log: createMemoryLogger(), command: s.command, env: { NOTIFY_SOCKET: '/x', WATCHDOG_USEC: '100000' } });
    await n.ready();
    await sleep(200);
    const before = s.calls().length;
    const until = Date.now() + 400;
    while (Date.now() < until) {
      // busy: the loop is stuck
    }
    expect(s.calls()).toHaveLength(before);
    await n.stopping();
  });

  it('does nothing outside systemd', async () => {
    const s = standIn();
    const n = new SystemdNotifier({ log: createMemoryLogger(), command: s.command, env: {} });
    await n.ready();
    await n.stopping();
    expect(n.enabled).toBe(false);
    expect(s.calls()).toEqual([]);
  });
});

describe('health endpoint', () => {
  let worker: FakeWorker | undefined;
  let running: RunningAgent | undefined;
  afterEach(async () => {
    await running?.agent.stop();
    await worker?.stop();
  });

  it('answers on loopback with 200 and the facts while the agent decides', async () => {
    worker = new FakeWorker();
    await worker.start();
    const { dataDir } = await provisionCli(worker);
    running = await runAgent(dataDir);
    const url = running.agent.healthUrl;
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const res = await fetch(`${url}/health`);
    expect(res.status).toBe(200);
    const body = (await res.json()) as Record<string, unknown>;
    expect(body).toMatchObject({ ok: true, problems: [], driver: 'simulated', entitlementVersion: worker.snapshot.version });
    expect((body.doors as unknown[]).length).toBe(2);
    expect((await fetch(`${url}/nope`)).status).toBe(404);
  });
});
