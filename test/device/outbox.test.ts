import { spawn } from 'node:child_process';
import { appendFile, mkdtemp, readFile, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { CheckinUpload, DoorAlarmUpload, OutboxEvent } from '../../core/contracts/wire.ts';
import { ApiError, NetworkError, type BatchResult } from '../../device/api/worker-client.ts';
import { createMemoryLogger } from '../../device/log/logger.ts';
import { Outbox } from '../../device/outbox/outbox.ts';
import { Uploader } from '../../device/outbox/uploader.ts';
import { waitFor } from './support/wait.ts';

const tempDir = () => mkdtemp(join(tmpdir(), 'gymgate-outbox-'));

let seq = 0;
const event = (overrides: Partial<CheckinUpload> = {}): CheckinUpload => ({
  id: crypto.randomUUID(),
  doorId: null,
  memberId: null,
  credentialKey: `wiegand:1:${++seq}`,
  granted: false,
  reason: 'unknown_credential',
  explanation: 'test',
  occurredAt: 1_700_000_000_000 + seq,
  usesPass: false,
  ...overrides,
});

const open = (dir: string) => Outbox.open(dir, { log: createMemoryLogger() });

describe('outbox', () => {
  it('keeps events in order across reopening, and removes only acknowledged ones', async () => {
    const dir = await tempDir();
    let outbox = await open(dir);
    const events = Array.from({ length: 5 }, () => event());
    for (const e of events) await outbox.append(e);
    expect(outbox.peek(10)).toEqual(events);
    await outbox.close();

    outbox = await open(dir);
    expect(outbox.peek(10)).toEqual(events);
    await outbox.ack(2);
    await outbox.close();

    outbox = await open(dir);
    expect(outbox.peek(10)).toEqual(events.slice(2));
    const later = event();
    await outbox.append(later);
    await outbox.ack(3);
    await outbox.close();

    outbox = await open(dir);
    expect(outbox.peek(10)).toEqual([later]);
    await outbox.ack(1);
    // Fully drained: the log starts afresh.
    expect((await stat(join(dir, 'events.jsonl'))).size).toBe(0);
    await outbox.close();
    outbox = await open(dir);
    expect(outbox.pending).toBe(0);
    await outbox.close();
  });

  it('drops a torn last line left by a crash and keeps appending cleanly', async () => {
    const dir = await tempDir();
    let outbox = await open(dir);
    const first = [event(), event()];
    for (const e of first) await outbox.append(e);
    await outbox.close();
    await appendFile(join(dir, 'events.jsonl'), '{"id":"half-writ');
    outbox = await open(dir);
    expect(outbox.peek(10)).toEqual(first);
    const third = event();
    await outbox.append(third);
    await outbox.close();
    outbox = await open(dir);
    expect(outbox.peek(10)).toEqual([...first, third]);
    await outbox.close();
  });

  it('keeps every appended event when the process is killed with SIGKILL', async () => {
    const dir = await tempDir();
    const child = spawn(process.execPath, ['--import', 'tsx', join(import.meta.dirname, 'support/append-and-die.ts'), dir, '25'], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    const signal = await new Promise((resolve) => child.on('exit', (_code, sig) => resolve(sig)));
    expect(signal).toBe('SIGKILL');
    expect(out).toContain('appended');
    const outbox = await open(dir);
    expect(outbox.peek(100).map((e) => (e as CheckinUpload).explanation)).toEqual(Array.from({ length: 25 }, (_, i) => `event ${i}`));
    await outbox.close();
  });
});

type Attempt = { size: number; first: string | undefined };

function uploaderFor(outbox: Outbox, answer: (events: OutboxEvent[], attempt: number) => BatchResult) {
  const attempts: Attempt[] = [];
  const uploaded: OutboxEvent[] = [];
  const log = createMemoryLogger();
  const uploader = new Uploader({
    outbox,
    log,
    minBackoffMs: 10,
    maxBackoffMs: 40,
    upload: async (events) => {
      attempts.push({ size: events.length, first: events[0]?.id });
      const result = answer(events, attempts.length);
      uploaded.push(...events);
      return result;
    },
  });
  return { uploader, attempts, uploaded, log };
}

const alarm = (): DoorAlarmUpload => ({
  kind: 'door_alarm',
  id: crypto.randomUUID(),
  doorId: 'door_0123456789',
  type: 'door_forced',
  occurredAt: 1_700_000_000_000 + ++seq,
  openForMs: null,
});

describe('uploader', () => {
  it('keeps door alarms in the outbox with the check-ins, and uploads each kind in its own batch, in order', async () => {
    const dir = await tempDir();
    let outbox = await open(dir);
    const events: OutboxEvent[] = [event(), event(), alarm(), alarm(), event()];
    for (const e of events) await outbox.append(e);
    await outbox.close();
    outbox = await open(dir);
    expect(outbox.peek(10)).toEqual(events);
    const kinds: string[][] = [];
    const { uploader, uploaded } = uploaderFor(outbox, (b) => {
      kinds.push(b.map((e) => ('kind' in e ? e.kind : 'checkin')));
      return { accepted: b.length, duplicates: 0 };
    });
    uploader.kick();
    await waitFor(() => outbox.pending === 0, 'the outbox to drain');
    expect(kinds).toEqual([['checkin', 'checkin'], ['door_alarm', 'door_alarm'], ['checkin']]);
    expect(uploaded.map((e) => e.id)).toEqual(events.map((e) => e.id));
    await uploader.stop();
    await outbox.close();
  });

  it('uploads in original order in batches of at most 200', async () => {
    const outbox = await open(await tempDir());
    const events = Array.from({ length: 450 }, () => event());
    for (const e of events) await outbox.append(e);
    const { uploader, attempts, uploaded } = uploaderFor(outbox, (b) => ({ accepted: b.length, duplicates: 0 }));
    uploader.kick();
    await waitFor(() => outbox.pending === 0, 'the outbox to drain');
    expect(attempts.map((a) => a.size)).toEqual([200, 200, 50]);
    expect(uploaded.map((e) => e.id)).toEqual(events.map((e) => e.id));
    await uploader.stop();
    await outbox.close();
  });

  it.each([
    ['503', () => new ApiError(503, { title: 'Unavailable' }, '')],
    ['a network error', () => new NetworkError('cannot reach the Worker: ECONNREFUSED')],
  ])('keeps events on %s and retries with backoff until a 2xx', async (_name, failure) => {
    const dir = await tempDir();
    const outbox = await open(dir);
    const events = [event(), event(), event()];
    for (const e of events) await outbox.append(e);
    let pendingDuringFailures = -1;
    const { uploader, attempts, uploaded } = uploaderFor(outbox, (b, n) => {
      if (n <= 3) {
        pendingDuringFailures = outbox.pending;
        throw failure();
      }
      return { accepted: b.length, duplicates: 0 };
    });
    uploader.kick();
    await waitFor(() => outbox.pending === 0, 'the outbox to drain');
    expect(pendingDuringFailures).toBe(3);
    expect(attempts).toHaveLength(4);
    expect(attempts.every((a) => a.first === events[0]?.id)).toBe(true);
    expect(uploaded.map((e) => e.id)).toEqual(events.map((e) => e.id));
    await uploader.stop();
    await outbox.close();
    const reopened = await open(dir);
    expect(reopened.pending).toBe(0);
    await reopened.close();
  });

  it('keeps events on disk while failing, so a restart resends them', async () => {
    const dir = await tempDir();
    const outbox = await open(dir);
    for (let i = 0; i < 4; i++) await outbox.append(event());
    const { uploader, attempts } = uploaderFor(outbox, () => {
      throw new ApiError(500, undefined, 'boom');
    });
    uploader.kick();
    await waitFor(() => attempts.length >= 2, 'two attempts');
    await uploader.stop();
    await outbox.close();
    const reopened = await open(dir);
    expect(reopened.pending).toBe(4);
    await reopened.close();
  });

  it('moves only the event the Worker rejects as malformed to the dead-letter file', async () => {
    const dir = await tempDir();
    const outbox = await open(dir);
    const bad = event({ explanation: 'malformed' });
    const events = [event(), bad, event()];
    for (const e of events) await outbox.append(e);
    const { uploader, log, uploaded } = uploaderFor(outbox, (b) => {
      if (b.some((e) => (e as CheckinUpload).explanation === 'malformed')) throw new ApiError(400, { title: 'Invalid request', detail: 'events.1.doorId' }, '');
      return { accepted: b.length, duplicates: 0 };
    });
    uploader.kick();
    await waitFor(() => outbox.pending === 0, 'the outbox to drain');
    // The helper records only batches that were accepted.
    expect(uploaded.map((e) => e.id)).toEqual([events[0]?.id, events[2]?.id]);
    const dead = (await readFile(Outbox.deadLetterPath(dir), 'utf8')).trim().split('\n').map((l) => JSON.parse(l));
    expect(dead).toHaveLength(1);
    expect(dead[0].event).toEqual(bad);
    expect(dead[0].reason).toMatch(/Invalid request/);
    expect(log.records.some((r) => r.level === 'error' && /dead-letter/.test(r.msg))).toBe(true);
    await uploader.stop();
    await outbox.close();
  });

  it('retries at once when a new event arrives during a backoff', async () => {
    const outbox = await open(await tempDir());
    await outbox.append(event());
    let failing = true;
    const log = createMemoryLogger();
    const uploader = new Uploader({
      outbox,
      log,
      minBackoffMs: 5000,
      maxBackoffMs: 5000,
      upload: async (b) => {
        if (failing) throw new NetworkError('down');
        return { accepted: b.length, duplicates: 0 };
      },
    });
    uploader.kick();
    await waitFor(() => log.records.some((r) => r.msg === 'check-in upload failed; will retry'), 'a failure');
    failing = false;
    const started = Date.now();
    await outbox.append(event());
    uploader.kick();
    await waitFor(() => outbox.pending === 0, 'the outbox to drain', 2000);
    expect(Date.now() - started).toBeLessThan(2000);
    await uploader.stop();
    await outbox.close();
  });
});
