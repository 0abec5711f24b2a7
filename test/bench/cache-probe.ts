// Runs in its own process (node --expose-gc): loads the agent's modules, measures memory, builds
// n credentials in the chosen layout, measures again and times door decisions.
//   agent    the agent's path: snapshot bytes → parse and build in the snapshot process → cache
//   compact  the agent's cache built in this thread from a snapshot object
//   map      a Map from credential key to member object (the obvious layout)
//   sqlite   a SQLite lookup per tap (better-sqlite3, in memory, prepared statement)
// Prints one JSON object.
import { readFileSync } from 'node:fs';
import { decideAccess, NO_HISTORY, type AccessInput } from '../../core/access.ts';
import type { AccessProfile, MemberAccess } from '../../core/entitlement.ts';
import { decodeWiegand, encodeWiegand } from '../../core/wiegand.ts';
import { SnapshotBuilder } from '../../device/cache/builder.ts';
import { EntitlementCache } from '../../device/cache/entitlement-cache.ts';
import { silentLogger } from '../../device/log/logger.ts';
import { BENCH_NOW, cardOf, prng, syntheticSnapshot } from './synthetic-site.ts';

// The agent's heavier dependencies, so the baseline is the agent's own, not bare Node's.
await import('mqtt');
await import('zod');

const n = Number(process.argv[2]);
const layout = process.argv[3] as 'agent' | 'compact' | 'map' | 'sqlite';
const taps = Number(process.argv[4] ?? 200_000);
// The agent layout reads the snapshot body from this file (write-snapshot.ts), as the agent reads it from the network.
const snapshotFile = process.argv[5];
const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('run with --expose-gc');

const memory = () => {
  for (let i = 0; i < 4; i++) gc();
  const m = process.memoryUsage();
  return { rss: m.rss, heap: m.heapUsed + m.arrayBuffers };
};
// Give V8's memory reducer and the allocator a moment to hand freed pages back, as they would
// in a running agent, before reading RSS; done before both readings so they compare.
const settled = async () => {
  for (let i = 0; i < 3; i++) {
    await new Promise((r) => setTimeout(r, 500));
    memory();
  }
  return memory();
};

type Found = { member: MemberAccess; profile: AccessProfile } | undefined;
const before = await settled();
// The small parts of the site, for the decision inputs (the agent gets them from its cache).
const { site, schedules, profiles, doors } = syntheticSnapshot(1);
const door = doors[0]!;
let snapshot: ReturnType<typeof syntheticSnapshot> | null = layout === 'agent' ? null : syntheticSnapshot(n);

let lookup: (facility: number, card: number) => Found;
if (layout === 'agent') {
  // The body as it arrives from the network: bytes, built in the snapshot process. The agent writes
  // the returned bytes to cache.json and lets them go; so does this.
  const build = async () => {
    if (!snapshotFile) throw new Error('the agent layout reads its snapshot from a file (write-snapshot.ts)');
    const builder = new SnapshotBuilder({ log: silentLogger });
    const result = await builder.process(new Uint8Array(readFileSync(snapshotFile)));
    await builder.close();
    if (result.kind !== 'snapshot') throw new Error('expected a snapshot');
    return EntitlementCache.fromParts(result.parts);
  };
  const cache = await build();
  lookup = (f, c) => cache.lookupWiegand(f, c);
} else if (layout === 'compact') {
  const cache = EntitlementCache.fromSnapshot(snapshot!, { validated: true });
  lookup = (f, c) => cache.lookupWiegand(f, c);
} else if (layout === 'map') {
  const map = new Map<string, MemberAccess>();
  const snap = snapshot!;
  for (const [key, index] of snap.credentials) map.set(key, { ...snap.members[index]! });
  lookup = (f, c) => {
    const member = map.get(`wiegand:${f}:${c}`);
    return member ? { member, profile: profiles[member.profile]! } : undefined;
  };
} else {
  const { default: Database } = await import('better-sqlite3');
  const db = new Database(':memory:');
  db.exec('create table members (idx integer primary key, id text, status text, suspension text, profile integer, valid_until integer)');
  db.exec('create table credentials (key text primary key, member integer) without rowid');
  const insertMember = db.prepare('insert into members values (?, ?, ?, ?, ?, ?)');
  const insertCredential = db.prepare('insert into credentials values (?, ?)');
  const snap = snapshot!;
  db.transaction(() => {
    snap.members.forEach((m, i) => insertMember.run(i, m.id, m.status, m.suspension, m.profile, m.validUntil));
    for (const [key, index] of snap.credentials) insertCredential.run(key, index);
  })();
  const select = db.prepare(
    'select m.id, m.status, m.suspension, m.profile, m.valid_until as validUntil from credentials c join members m on m.idx = c.member where c.key = ?',
  );
  lookup = (f, c) => {
    const row = select.get(`wiegand:${f}:${c}`) as { id: string; status: MemberAccess['status']; suspension: MemberAccess['suspension']; profile: number; validUntil: number | null } | undefined;
    if (!row) return undefined;
    const member: MemberAccess = { ...row, validFrom: null, entriesLeft: null, bookings: [] };
    return { member, profile: profiles[row.profile]! };
  };
}
snapshot = null;
const after = await settled();

// Time the whole door path after the frame arrives: decode, look up, decide.
const random = prng(42);
const frames = Array.from({ length: 4096 }, () => {
  const { facility, card } = cardOf(Math.floor(random() * n));
  return encodeWiegand('H10301', facility % 256, card);
});
const state = { clockSynced: true, cacheAgeMs: 60_000 };
const samples = new Float64Array(taps);
let granted = 0;
for (let i = 0; i < taps; i++) {
  const frame = frames[i % frames.length]!;
  const t0 = process.hrtime.bigint();
  const read = decodeWiegand(frame);
  const input: AccessInput = { read: { ok: false, detail: '' }, door, site, member: undefined, schedules, at: BENCH_NOW, state, history: NO_HISTORY };
  if (read.ok) {
    const found = lookup(read.facility, read.card);
    input.read = { ok: true, credentialKey: `wiegand:${read.facility}:${read.card}` };
    input.member = found?.member;
    input.profile = found?.profile;
  }
  const decision = decideAccess(input);
  samples[i] = Number(process.hrtime.bigint() - t0) / 1000;
  if (decision.granted) granted++;
}
samples.sort();
const pct = (p: number) => samples[Math.min(taps - 1, Math.floor(p * taps))]!;

console.log(
  JSON.stringify({
    n,
    layout,
    taps,
    granted,
    p50: pct(0.5),
    p99: pct(0.99),
    rssBytesPerCredential: (after.rss - before.rss) / n,
    heapBytesPerCredential: (after.heap - before.heap) / n,
    rssBase: before.rss,
  }),
);
