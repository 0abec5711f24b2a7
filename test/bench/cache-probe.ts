// Runs in its own process (node --expose-gc): loads the agent's modules, measures memory, builds
// a cache of n credentials in the chosen layout, measures again and times door decisions.
// Prints one JSON object.
import { decideAccess, type MemberEntitlement } from '../../core/access.ts';
import { decodeWiegand, encodeWiegand } from '../../core/wiegand.ts';
import { EntitlementCache } from '../../device/cache/entitlement-cache.ts';
import { cardOf, prng, syntheticSnapshot } from './synthetic-site.ts';

// The agent's heavier dependencies, so the baseline is the agent's own, not bare Node's.
await import('mqtt');
await import('zod');

const n = Number(process.argv[2]);
const layout = process.argv[3] as 'compact' | 'map';
const taps = Number(process.argv[4] ?? 200_000);
const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('run with --expose-gc');

const settle = () => {
  for (let i = 0; i < 4; i++) gc();
};
const memory = () => {
  settle();
  const m = process.memoryUsage();
  return { rss: m.rss, heap: m.heapUsed + m.arrayBuffers };
};

const before = memory();
let snapshot: ReturnType<typeof syntheticSnapshot> | null = syntheticSnapshot(n);
const door = { doorId: snapshot.doors[0]!.id, siteId: snapshot.siteId };

let lookup: (facility: number, card: number) => MemberEntitlement | undefined;
if (layout === 'compact') {
  const cache = EntitlementCache.fromSnapshot(snapshot, { validated: true });
  lookup = (f, c) => cache.lookupWiegand(f, c);
} else {
  // Baseline: the obvious layout, a Map from credential key to a member object.
  const map = new Map<string, MemberEntitlement>();
  for (const [key, index] of snapshot.credentials) {
    const m = snapshot.members[index]!;
    map.set(key, { memberId: m.id, status: m.status });
  }
  lookup = (f, c) => map.get(`wiegand:${f}:${c}`);
}
snapshot = null;
const after = memory();

// Time the whole door path after the frame arrives: decode, look up, decide.
const random = prng(42);
const frames = Array.from({ length: 4096 }, () => {
  const { facility, card } = cardOf(Math.floor(random() * n));
  return encodeWiegand('H10301', facility % 256, card);
});
const samples = new Float64Array(taps);
let granted = 0;
for (let i = 0; i < taps; i++) {
  const frame = frames[i % frames.length]!;
  const t0 = process.hrtime.bigint();
  const read = decodeWiegand(frame);
  const decision = read.ok
    ? decideAccess({ read: { ok: true, credentialKey: `wiegand:${read.facility}:${read.card}` }, door, member: lookup(read.facility, read.card), at: 0 })
    : decideAccess({ read: { ok: false, detail: read.detail }, door, member: undefined, at: 0 });
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
