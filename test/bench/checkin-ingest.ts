// P7, check-in ingest: events per second through the device upload endpoint into local D1 under
// `wrangler dev`, as doors send them: batches of up to 200 (device/outbox/uploader.ts MAX_BATCH),
// each event with its own id, through the same dedupe, reference checks and tenancy as production.
// Several doors upload at once, each one batch after the other as an agent does; every door also
// sends one batch twice (a retry after a lost answer), which must come back as duplicates.
// Baseline: the same events one per request.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { MAX_BATCH } from '../../device/outbox/uploader.ts';
import { applyLocalMigrations, bootstrapLocal, startWorker } from '../../edge/dev/local-gym.ts';
import { freePort } from '../../edge/dev/processes.ts';

export type CheckinIngest = { doors: number; batched: Rate; oneByOne: Rate };
type Rate = { events: number; seconds: number; perSecond: number; duplicates: number };
type Door = { deviceId: string; token: string; doorId: string };

const json = { 'content-type': 'application/json' };

async function post<T>(url: string, headers: Record<string, string>, body: unknown): Promise<T> {
  const res = await fetch(url, { method: 'POST', headers: { ...json, ...headers }, body: JSON.stringify(body) });
  const text = await res.text();
  if (!res.ok) throw new Error(`${url} answered ${res.status}: ${text.slice(0, 300)}`);
  return JSON.parse(text) as T;
}

/** Taps as a door records them: most granted to a known member, some refused unknown cards. */
function taps(door: Door, memberIds: string[], n: number, from: number) {
  return Array.from({ length: n }, (_, i) => {
    const k = from + i;
    const known = k % 10 !== 0;
    return {
      id: crypto.randomUUID(),
      doorId: door.doorId,
      memberId: known ? memberIds[k % memberIds.length]! : null,
      credentialKey: `wiegand:1:${k % 65_536}`,
      granted: known,
      reason: known ? 'granted' : 'unknown_credential',
      explanation: known ? 'Active membership.' : 'This card is not enrolled here.',
      occurredAt: Date.now() - 60_000 + (k % 60_000),
    };
  });
}

/** Each door uploads its events in order, `perRequest` at a time; the doors run side by side. */
async function ingest(url: string, doors: Door[], memberIds: string[], eventsPerDoor: number, perRequest: number): Promise<Rate> {
  const batches = doors.map((door) => {
    const events = taps(door, memberIds, eventsPerDoor, 0);
    return Array.from({ length: Math.ceil(events.length / perRequest) }, (_, b) => events.slice(b * perRequest, (b + 1) * perRequest));
  });
  let accepted = 0;
  let duplicates = 0;
  const started = performance.now();
  await Promise.all(
    doors.map(async (door, d) => {
      const headers = { authorization: `Bearer ${door.token}` };
      for (const [b, events] of batches[d]!.entries()) {
        const r = await post<{ accepted: number; duplicates: number }>(`${url}/v1/device/checkins`, headers, { events });
        accepted += r.accepted;
        duplicates += r.duplicates;
        // A retry of the first batch, as after an answer lost on the way back: all duplicates.
        if (b === 1) {
          const again = await post<{ accepted: number; duplicates: number }>(`${url}/v1/device/checkins`, headers, { events: batches[d]![0] });
          duplicates += again.duplicates;
        }
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  const sent = doors.length * eventsPerDoor;
  if (accepted !== sent) throw new Error(`${accepted} of ${sent} events accepted`);
  const retried = batches.reduce((n, b) => n + (b.length > 1 ? b[0]!.length : 0), 0);
  if (duplicates !== retried) throw new Error(`${duplicates} duplicates reported, ${retried} events sent twice`);
  return { events: sent, seconds, perSecond: sent / seconds, duplicates };
}

export async function measureCheckinIngest(options: { doors: number; eventsPerDoor: number; oneByOnePerDoor: number }): Promise<CheckinIngest> {
  const dir = mkdtempSync(path.join(tmpdir(), 'gymgate-checkins-'));
  const persistDir = path.join(dir, 'wrangler');
  const port = await freePort();
  try {
    await applyLocalMigrations(persistDir);
    const { apiKey } = await bootstrapLocal(persistDir, 'Ingest Gym');
    const worker = await startWorker({ port, persistDir });
    try {
      const owner = { authorization: `Bearer ${apiKey}` };
      const site = await post<{ id: string }>(`${worker.url}/v1/sites`, owner, { name: 'Ingest', timezone: 'Asia/Bangkok' });
      const memberIds: string[] = [];
      for (let i = 0; i < 50; i++) memberIds.push((await post<{ id: string }>(`${worker.url}/v1/members`, owner, { name: `Member ${i}` })).id);
      const doors: Door[] = [];
      for (let d = 0; d < options.doors; d++) {
        const door = await post<{ id: string }>(`${worker.url}/v1/doors`, owner, { siteId: site.id, name: `Door ${d}` });
        const { code } = await post<{ code: string }>(`${worker.url}/v1/enrollment-codes`, owner, { siteId: site.id });
        const enrolled = await post<{ deviceId: string; deviceToken: string }>(`${worker.url}/v1/enroll`, {}, { code });
        doors.push({ deviceId: enrolled.deviceId, token: enrolled.deviceToken, doorId: door.id });
      }
      // A first upload warms the Worker (its first request loads the script and opens D1).
      await ingest(worker.url, doors.slice(0, 1), memberIds, 20, 20);
      const batched = await ingest(worker.url, doors, memberIds, options.eventsPerDoor, MAX_BATCH);
      const oneByOne = await ingest(worker.url, doors, memberIds, options.oneByOnePerDoor, 1);
      return { doors: doors.length, batched, oneByOne };
    } finally {
      await worker.stop();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
