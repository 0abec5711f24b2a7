import { mkdtemp, readdir, readFile, stat, writeFile, appendFile } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { EntitlementDelta, EntitlementSnapshot } from '../../core/contracts/wire.ts';
import { credentialKey } from '../../core/credential-key.ts';
import { applyDelta } from '../../core/entitlement-delta.ts';
import { EntitlementHash } from '../../core/entitlement-hash.ts';
import { DEFAULT_PROFILE, MEMBERSHIP_STATUSES, type AccessProfile, type MemberAccess } from '../../core/entitlement.ts';
import { SnapshotBuilder } from '../../device/cache/builder.ts';
import { sortParallel } from '../../device/cache/cache-parts.ts';
import { EntitlementCache } from '../../device/cache/entitlement-cache.ts';
import { KeyIndex, splitKeys, UintColumn } from '../../device/cache/columns.ts';
import { memberIdTable, sortIds } from '../../device/cache/member-ids.ts';
import { rewriteParts } from '../../device/cache/snapshot-work.ts';
import { CacheStore, cachePath, deltasPath, loadCache, saveSnapshot } from '../../device/cache/store.ts';
import { createMemoryLogger } from '../../device/log/logger.ts';
import { writeFileAtomic } from '../../device/storage/atomic-write.ts';
import { door, newId } from './support/fake-worker.ts';

const siteId = newId('site');
const frontDoor = door('Front door');
const staff: AccessProfile = { ...DEFAULT_PROFILE, id: 'prof_staff0000000', doorGroups: ['general', 'staff'], staff: true, lockdownAccess: true };
const studio: AccessProfile = { ...DEFAULT_PROFILE, id: 'prof_studio000000', doorGroups: ['general', 'studio'], schedule: 'profile:prof_studio000000' };

const member = (over: Partial<MemberAccess> = {}): MemberAccess => ({
  id: newId('mem', 22),
  status: 'active',
  suspension: null,
  profile: 0,
  validFrom: null,
  validUntil: null,
  entriesLeft: null,
  bookings: [],
  ...over,
});

const BASE32 = '0123456789abcdefghjkmnpqrstvwxyz';
/** An id shaped like the Worker's (edge/lib/ids.ts): `mem_` and 22 base-32 characters. */
const workerId = () => `mem_${[...randomBytes(22)].map((b) => BASE32[b % 32]).join('')}`;

const withHash = (s: Omit<EntitlementSnapshot, 'hash'>): EntitlementSnapshot => ({ ...s, hash: EntitlementHash.of(s).value });

function sampleSnapshot(): EntitlementSnapshot {
  return withHash({
    siteId,
    version: 7,
    serverTime: 1_700_000_000_000,
    site: { id: siteId, timezone: 'Asia/Bangkok', closures: [{ date: '2026-12-25', note: 'Christmas' }] },
    schedules: { 'profile:prof_studio000000': { windows: [{ days: [1, 2, 3, 4, 5], start: '06:00', end: '22:00' }], closures: [] } },
    doors: [frontDoor],
    profiles: [DEFAULT_PROFILE, staff, studio],
    // Deliberately not sorted by id.
    members: [
      member({ id: 'mem_zzzzzzzzzzzzzzzzzzzzzz', validUntil: 1_800_000_000_000 }),
      member({ id: 'mem_aaaaaaaaaaaaaaaaaaaaaa', status: 'suspended', suspension: 'payment_overdue', profile: 2 }),
      member({ id: 'mem_mmmmmmmmmmmmmmmmmmmmmm', profile: 1, validFrom: 1_600_000_000_123, validUntil: 1_900_000_000_456 }),
      member({
        id: 'mem_bbbbbbbbbbbbbbbbbbbbbb',
        status: 'cancelled',
        entriesLeft: 3,
        bookings: [{ doorGroup: 'studio', startsAt: 1_700_000_100_000, endsAt: 1_700_003_700_000, opensMinutesBefore: 15 }],
      }),
    ],
    // Unsorted, with a raw key and a key this agent cannot read.
    credentials: [
      ['wiegand:200:5', 0],
      ['wiegand:12:3456', 1],
      ['raw:04A1B2C3', 2],
      ['wiegand:12:3455', 0],
      ['bogus:1', 3],
      ['wiegand:1:1', 3],
    ],
  });
}

const tempDir = () => mkdtemp(join(tmpdir(), 'gymgate-cache-'));

/** Every credential of a snapshot, as the cache should answer it. */
function expectSameAnswers(cache: EntitlementCache, snapshot: EntitlementSnapshot) {
  for (const [key, index] of snapshot.credentials) {
    if (key.startsWith('bogus')) continue;
    const m = snapshot.members[index] as MemberAccess;
    expect(cache.lookup(key), key).toEqual({ member: m, profile: snapshot.profiles[m.profile] });
  }
  expect(cache.hashValue).toBe(EntitlementHash.of(snapshot).value);
}

describe('entitlement cache', () => {
  it('answers lookups with the member record and its profile, for every field', () => {
    const snapshot = sampleSnapshot();
    const cache = EntitlementCache.fromSnapshot(snapshot);
    expect(cache.version).toBe(7);
    expect(cache.siteId).toBe(siteId);
    expect(cache.size).toBe(5);
    expect(cache.memberCount).toBe(4);
    expect(cache.hashValue).toBe(snapshot.hash);
    expectSameAnswers(cache, snapshot);
    expect(cache.lookup('wiegand:12:3456')?.member).toMatchObject({ status: 'suspended', suspension: 'payment_overdue' });
    expect(cache.lookup('wiegand:12:3456')?.profile.id).toBe(studio.id);
    expect(cache.lookup(credentialKey({ kind: 'raw', rawId: '04:a1:b2:c3' }))?.member.id).toBe('mem_mmmmmmmmmmmmmmmmmmmmmm');
    expect(cache.lookupWiegand(12, 3455)?.member.validUntil).toBe(1_800_000_000_000);
    expect(cache.lookup('wiegand:12:3457')).toBeUndefined();
    expect(cache.lookup('bogus:1')).toBeUndefined();
    expect(cache.lookup('not a key')).toBeUndefined();
    expect(cache.member('mem_bbbbbbbbbbbbbbbbbbbbbb')?.member.entriesLeft).toBe(3);
    expect(cache.door(frontDoor.id)).toEqual(frontDoor);
    expect(cache.door(newId('door'))).toBeUndefined();
  });

  it('round-trips every status and suspension through its one byte', () => {
    const members = MEMBERSHIP_STATUSES.flatMap((status) =>
      (['staff', 'payment_overdue', null] as const).map((suspension) => member({ status, suspension })),
    );
    const snapshot = withHash({ ...sampleSnapshot(), members, credentials: members.map((_, i): [string, number] => [`wiegand:9:${i}`, i]) });
    expectSameAnswers(EntitlementCache.fromSnapshot(snapshot), snapshot);
  });

  it('agrees with a plain Map on thousands of random keys, wide keys included', () => {
    const members = Array.from({ length: 500 }, (_, i) => member({ status: i % 3 ? 'active' : 'suspended', suspension: i % 3 ? null : 'staff' }));
    const reference = new Map<string, number>();
    while (reference.size < 5000) {
      const key = `wiegand:${Math.floor(Math.random() * 65536)}:${Math.floor(Math.random() * 1_048_576)}`;
      reference.set(key, Math.floor(Math.random() * members.length));
    }
    const cache = EntitlementCache.fromSnapshot(withHash({ ...sampleSnapshot(), members, credentials: [...reference] }));
    for (const [key, index] of reference) expect(cache.lookup(key)?.member).toEqual(members[index]);
    for (let i = 0; i < 2000; i++) {
      const key = `wiegand:${Math.floor(Math.random() * 65536)}:${Math.floor(Math.random() * 1_048_576)}`;
      expect(cache.lookup(key)).toEqual(reference.has(key) ? expect.anything() : undefined);
    }
  });

  it('radix-sorts keys with their members, 32-bit and 36-bit', () => {
    for (const [Array_, max] of [[Float64Array, 2 ** 36], [Uint32Array, 2 ** 32]] as const) {
      const n = 3000;
      const keys = new Array_(n).map(() => Math.floor(Math.random() * max));
      const members = new Uint32Array(n).map((_, i) => i);
      const expected = [...keys].sort((a, b) => a - b);
      const original = keys.slice();
      sortParallel(keys, members);
      expect([...keys]).toEqual(expected);
      for (let i = 0; i < n; i++) expect(original[members[i] as number]).toBe(keys[i]);
    }
  });

  it('packs uniform member ids, sorts and finds them; keeps irregular ones as they are', () => {
    const uniform = Array.from({ length: 300 }, () => newId('mem', 22));
    const { table, order } = sortIds(memberIdTable(uniform));
    expect(order).toBeDefined();
    const sorted = [...uniform].sort();
    expect(sorted.map((_, i) => table.get(i))).toEqual(sorted);
    expect(table.byteLength).toBe(uniform.length * 16); // 22 base-36 characters in eight 16-bit words
    for (const id of uniform) expect(table.get(table.find(id))).toBe(id);
    expect(table.find(newId('mem', 22))).toBe(-1);
    expect(table.find('mem_short')).toBe(-1);
    const mixed = ['mem_abcdefghij', 'mem_0123456789abcdef', 'mem_zzzzzzzzzz1'];
    const plain = sortIds(memberIdTable(mixed)).table;
    expect(mixed.map((id) => plain.get(plain.find(id)))).toEqual(mixed);
    expect(() => plain.get(3)).toThrow(RangeError);
  });

  it('rejects malformed snapshots: a bad member, a profile out of range, a credential outside the list, a duplicate id', () => {
    const bad = (edit: (s: EntitlementSnapshot) => void) => {
      const s = sampleSnapshot();
      edit(s);
      return () => EntitlementCache.fromSnapshot(s);
    };
    expect(bad((s) => ((s.members as unknown[])[1] = { id: 'mem_x', status: 'active' }))).toThrow(/member 1/);
    expect(bad((s) => ((s.members[1] as MemberAccess).status = 'paused' as never))).toThrow(/member 1/);
    expect(bad((s) => ((s.members[2] as MemberAccess).profile = 3))).toThrow(/member 2/);
    expect(bad((s) => s.credentials.push(['wiegand:1:2', 4]))).toThrow(/credential 6/);
    expect(bad((s) => s.members.push({ ...(s.members[0] as MemberAccess) }))).toThrow(/twice/);
  });

  it('stays within 22 bytes per credential for a large site (one member per card, validUntil on all)', () => {
    const n = 100_000;
    // The Worker's ids (base 32), paid-through days, cards spread over 256 facilities.
    const members = Array.from({ length: n }, (_, i) => member({ id: workerId(), validUntil: Date.UTC(2027, 0, 1 + (i % 40)), profile: 1 }));
    const credentials = members.map((_, i): [string, number] => [`wiegand:${i % 256}:${(i * 7919) % 65_536}`, i]);
    const unique = new Map(credentials);
    const snapshot = withHash({ ...sampleSnapshot(), members, credentials: [...unique] });
    const cache = EntitlementCache.fromSnapshot(snapshot);
    expect(cache.size).toBe(unique.size);
    // 14-byte packed id + 1-byte status + 1-byte profile + 1-byte validUntil index + 2-byte low
    // key bits (256 facilities: 16 bits split off) + 3-byte member reference (more than 65,535).
    expect(cache.compactBytes / n).toBeLessThanOrEqual(22);
    for (const [key, index] of [...unique].filter((_, i) => i % 997 === 0)) expect(cache.lookup(key)?.member).toEqual(members[index]);
    expectSameAnswers(cache, snapshot);
  });

  it("packs the Worker's base-32 ids in 14 bytes, every character at every bit position, in string order", () => {
    const ids = Array.from({ length: 500 }, () => workerId());
    // Every character of the alphabet at every position of the suffix.
    for (let c = 0; c < 32; c++) ids.push(`mem_${BASE32[c]!.repeat(22)}`);
    const { table } = sortIds(memberIdTable(ids));
    expect(table.byteLength).toBe(ids.length * 14);
    expect(table.parts()).toMatchObject({ kind: 'packed', radix: 32 });
    const sorted = [...ids].sort();
    expect(sorted.map((_, i) => table.get(i))).toEqual(sorted);
    for (const id of ids) expect(table.get(table.find(id))).toBe(id);
    // A base-36 character (i) is not in the Worker's alphabet: those ids pack three to a word.
    expect(memberIdTable(['mem_iiiiiiiiiiiiiiiiiiiiii', ...ids]).parts()).toMatchObject({ kind: 'packed', radix: 36 });
  });

  it('splits Wiegand keys where it costs fewest bytes, 36-bit keys included, and finds every key', () => {
    const check = (keys: number[], lowBits: number) => {
      const sorted = [...new Set(keys)].sort((a, b) => a - b);
      const parts = splitKeys(sorted);
      expect(parts.lowBits).toBe(lowBits);
      const index = new KeyIndex(parts);
      sorted.forEach((key, slot) => expect(index.slotOf(key)).toBe(slot));
      const seen: number[] = [];
      index.forEach((slot, key) => seen.push(key));
      expect(seen).toEqual(sorted);
      for (let i = 0; i < 200; i++) {
        const probe = Math.floor(Math.random() * 2 ** 36);
        expect(index.slotOf(probe)).toBe(sorted.indexOf(probe));
      }
    };
    // Cards issued in runs: one byte each.
    check(Array.from({ length: 5000 }, (_, i) => 7 * 2 ** 20 + i), 8);
    // Random cards in a few facilities: two bytes each.
    check(Array.from({ length: 5000 }, (_, i) => (i % 4) * 2 ** 20 + Math.floor(Math.random() * 2 ** 20)), 16);
    // Random 36-bit keys: four bytes each, the top bits in the small table.
    check(Array.from({ length: 5000 }, () => Math.floor(Math.random() * 2 ** 36)), 32);
  });

  it('widens a column when a delta needs it: the 257th profile, the 256th distinct paid-through day, and keeps every answer', () => {
    const snapshot = sampleSnapshot();
    const cache = EntitlementCache.fromSnapshot(snapshot);
    const before = cache.compactBytes;
    const profiles = Array.from({ length: 300 }, (_, i): AccessProfile => (i === 0 ? DEFAULT_PROFILE : { ...DEFAULT_PROFILE, id: `prof_${String(i).padStart(12, '0')}` }));
    const upsert = snapshot.members.map((m, i) => ({ ...m, profile: 290 + i, validUntil: Date.UTC(2027, 0, 1) }));
    // 300 new distinct validUntil values on new members, with cards.
    const extra = Array.from({ length: 300 }, (_, i) => member({ validUntil: Date.UTC(2027, 0, 1) + i * 86_400_000, profile: i }));
    const d: EntitlementDelta = {
      siteId,
      fromVersion: snapshot.version,
      version: snapshot.version + 1,
      serverTime: snapshot.serverTime + 1000,
      hash: '',
      profiles,
      members: { upsert: [...upsert, ...extra], remove: [] },
      credentials: { upsert: extra.map((m, i): [string, string] => [`wiegand:77:${i}`, m.id]), remove: [] },
    };
    const after = applyDelta(snapshot, d);
    d.hash = EntitlementHash.of(after).value;
    expect(cache.applyDelta(d).hashMatches).toBe(true);
    expect(cache.compactBytes).toBeGreaterThan(before);
    expectSameAnswers(cache, after);
    // Rebuilt from its own parts, every member reads back the same (the new layout is 2-byte).
    const rebuilt = EntitlementCache.fromParts(rewriteParts(cache.parts()).parts);
    expectSameAnswers(rebuilt, after);
    const column = UintColumn.sized(3, 200);
    column.set(1, 70_000);
    column.set(2, 2 ** 32 - 1);
    expect([column.get(0), column.get(1), column.get(2)]).toEqual([0, 70_000, 2 ** 32 - 1]);
    expect(() => column.set(0, -1)).toThrow(RangeError);
  });
});

describe('deltas', () => {
  const base = () => {
    const s = sampleSnapshot();
    return { snapshot: s, cache: EntitlementCache.fromSnapshot(s) };
  };
  /** A delta from a snapshot, hashed like the Worker: the content hash of the reference result. */
  const delta = (from: EntitlementSnapshot, over: Partial<EntitlementDelta> = {}): EntitlementDelta => {
    const d: EntitlementDelta = {
      siteId,
      fromVersion: from.version,
      version: from.version + 1,
      serverTime: from.serverTime + 1000,
      hash: '',
      members: { upsert: [], remove: [] },
      credentials: { upsert: [], remove: [] },
      ...over,
    };
    d.hash = EntitlementHash.of(applyDelta(from, d)).value;
    return d;
  };

  it('suspends a member, removes a credential and moves a member to another profile, keeping the hash', () => {
    const { snapshot, cache } = base();
    const m0 = snapshot.members[0] as MemberAccess;
    const m2 = snapshot.members[2] as MemberAccess;
    const d = delta(snapshot, {
      members: { upsert: [{ ...m0, status: 'suspended', suspension: 'staff' }, { ...m2, profile: 2 }], remove: [] },
      credentials: { upsert: [], remove: ['wiegand:12:3455'] },
    });
    expect(cache.applyDelta(d)).toEqual({ hashMatches: true });
    const next = applyDelta(snapshot, d);
    expectSameAnswers(cache, next);
    expect(cache.lookup('wiegand:200:5')?.member.status).toBe('suspended');
    expect(cache.lookup('wiegand:12:3455')).toBeUndefined();
    expect(cache.lookup('raw:04A1B2C3')?.profile.id).toBe(studio.id);
    expect(cache.version).toBe(8);
    expect(cache.size).toBe(4);
  });

  it('adds members and cards outside the arrays, replaces profiles and doors, and removes members with their cards', () => {
    const { snapshot, cache } = base();
    const added = member({ entriesLeft: 2 });
    const vip: AccessProfile = { ...DEFAULT_PROFILE, id: 'prof_vip000000000', doorGroups: ['general', 'pool'] };
    // Profiles reordered, studio dropped (its member falls back to the first profile), vip added.
    const profiles = [DEFAULT_PROFILE, vip, staff];
    const d = delta(snapshot, {
      profiles,
      doors: [{ ...frontDoor, mode: 'lockdown' }],
      members: { upsert: [{ ...added, profile: 1 }], remove: ['mem_bbbbbbbbbbbbbbbbbbbbbb'] },
      credentials: { upsert: [['wiegand:77:7', added.id], ['raw:FFEE', added.id], ['wiegand:12:3456', added.id]], remove: [] },
    });
    const result = cache.applyDelta(d);
    const next = applyDelta(snapshot, d);
    expect(result.hashMatches).toBe(true);
    expectSameAnswers(cache, next);
    expect(cache.lookup('wiegand:1:1')).toBeUndefined(); // the removed member's card went with it
    expect(cache.lookup('wiegand:77:7')?.profile.id).toBe(vip.id);
    expect(cache.door(frontDoor.id)?.mode).toBe('lockdown');
    expect(cache.overlaySize).toBeGreaterThan(0);

    // A rebuild folds the overlay into fresh arrays and renders the same state.
    const rebuilt = rewriteParts(cache.parts());
    expect(rebuilt.dropped).toBe(0);
    const compact = EntitlementCache.fromParts(rebuilt.parts);
    expect(compact.overlaySize).toBe(0);
    expect(compact.hashValue).toBe(cache.hashValue);
    expectSameAnswers(compact, next);
    expect(JSON.parse(rebuilt.text)).toMatchObject({ version: 8, hash: d.hash });
  });

  it('follows the reference delta semantics over many random deltas', () => {
    let snapshot = sampleSnapshot();
    const cache = EntitlementCache.fromSnapshot(snapshot);
    const random = (n: number) => Math.floor(Math.random() * n);
    for (let round = 0; round < 60; round++) {
      const members = snapshot.members;
      const upsert: MemberAccess[] = [];
      const remove: string[] = [];
      const keys: Array<[string, string]> = [];
      const removeKeys: string[] = [];
      for (let i = 0; i < 3; i++) {
        const pick = members[random(members.length)];
        const roll = random(4);
        if (roll === 0) upsert.push(member({ profile: random(snapshot.profiles.length) }));
        else if (roll === 1 && pick) upsert.push({ ...pick, status: MEMBERSHIP_STATUSES[random(7)] as MemberAccess['status'], validUntil: random(2) ? null : 1_700_000_000_000 + random(1e6) });
        else if (roll === 2 && pick && members.length > 3) remove.push(pick.id);
        else if (snapshot.credentials.length > 0) removeKeys.push((snapshot.credentials[random(snapshot.credentials.length)] as [string, number])[0]);
      }
      const holders = [...members.filter((m) => !remove.includes(m.id)), ...upsert];
      for (let i = 0; i < 2; i++) {
        const holder = holders[random(holders.length)] as MemberAccess;
        keys.push([random(3) ? `wiegand:${random(256)}:${random(65536)}` : `raw:${random(1e6).toString(16).toUpperCase()}`, holder.id]);
      }
      const d = delta(snapshot, { members: { upsert, remove }, credentials: { upsert: keys, remove: removeKeys } });
      expect(cache.applyDelta(d).hashMatches, `round ${round}`).toBe(true);
      snapshot = applyDelta(snapshot, d);
    }
    expectSameAnswers(cache, snapshot);
    expect(EntitlementCache.fromParts(rewriteParts(cache.parts()).parts).hashValue).toBe(snapshot.hash);
  });

  it('reports a hash mismatch, and refuses a delta that does not start at its version', () => {
    const { snapshot, cache } = base();
    const d = delta(snapshot, { members: { upsert: [{ ...(snapshot.members[0] as MemberAccess), status: 'frozen' }], remove: [] } });
    expect(() => cache.applyDelta({ ...d, fromVersion: 3 })).toThrow(/starts at version 3/);
    expect(() => cache.applyDelta({ ...d, members: { upsert: [{ ...(snapshot.members[0] as MemberAccess), profile: 9 }], remove: [] } })).toThrow(/profile 9/);
    expect(cache.version).toBe(7);
    expect(cache.applyDelta({ ...d, hash: '0000000000bad' })).toEqual({ hashMatches: false });
  });
});

describe('cache persistence', () => {
  const builder = new SnapshotBuilder({ log: createMemoryLogger(), childProcess: false });

  it('round-trips through cache.json, written 0600 with no temp files left', async () => {
    const dir = await tempDir();
    const snapshot = sampleSnapshot();
    await saveSnapshot(dir, snapshot);
    expect((await stat(cachePath(dir))).mode & 0o777).toBe(0o600);
    expect(await readdir(dir)).toEqual(['cache.json']);
    const loaded = await loadCache(dir, { log: createMemoryLogger(), siteId, builder });
    expect(loaded?.version).toBe(7);
    expectSameAnswers(loaded as EntitlementCache, snapshot);
  });

  it('replays the delta journal on load, up to a damaged line; a new snapshot empties it', async () => {
    const dir = await tempDir();
    const snapshot = sampleSnapshot();
    const store = new CacheStore(dir);
    await store.saveSnapshot(JSON.stringify({ kind: 'snapshot', snapshot }));
    const cache = EntitlementCache.fromSnapshot(snapshot);
    const first: EntitlementDelta = {
      siteId,
      fromVersion: 7,
      version: 8,
      serverTime: 1,
      hash: '',
      members: { upsert: [], remove: [] },
      credentials: { upsert: [['wiegand:5:5', 'mem_zzzzzzzzzzzzzzzzzzzzzz']], remove: [] },
    };
    first.hash = EntitlementHash.of(applyDelta(snapshot, first)).value;
    cache.applyDelta(first);
    await store.appendDelta(first);
    const second: EntitlementDelta = { ...first, fromVersion: 8, version: 9, credentials: { upsert: [], remove: ['wiegand:200:5'] } };
    second.hash = EntitlementHash.of(applyDelta(applyDelta(snapshot, first), second)).value;
    await store.appendDelta(second);
    expect(store.journalDeltas).toBe(2);
    await appendFile(deltasPath(dir), '{"siteId": "site_');

    const log = createMemoryLogger();
    const loaded = await loadCache(dir, { log, siteId, builder });
    expect(loaded?.version).toBe(9);
    expect(loaded?.hashValue).toBe(second.hash);
    expect(loaded?.lookup('wiegand:5:5')?.member.id).toBe('mem_zzzzzzzzzzzzzzzzzzzzzz');
    expect(loaded?.lookup('wiegand:200:5')).toBeUndefined();
    expect(log.records.some((r) => /damaged entry/.test(r.msg))).toBe(true);

    await store.saveSnapshot(JSON.stringify(snapshot));
    expect(await readdir(dir)).toEqual(['cache.json']);
    expect(JSON.parse(await readFile(cachePath(dir), 'utf8')).version).toBe(7);
  });

  it('gives undefined when there is no cache yet', async () => {
    expect(await loadCache(await tempDir(), { log: createMemoryLogger(), builder })).toBeUndefined();
  });

  it.each([
    ['truncated JSON', (s: string) => s.slice(0, s.length / 2)],
    ['a wrong shape', () => JSON.stringify({ siteId, version: 'seven' })],
    ['a v1 snapshot', () => JSON.stringify({ siteId, version: 1, serverTime: 0, doors: [{ id: frontDoor.id, name: 'x' }], members: [], credentials: [] })],
    ['binary junk', () => '\u0000\u0001\u0002'],
  ])('ignores a corrupt cache file (%s) and logs it', async (_name, corrupt) => {
    const dir = await tempDir();
    await writeFile(cachePath(dir), corrupt(JSON.stringify(sampleSnapshot())));
    const log = createMemoryLogger();
    expect(await loadCache(dir, { log, siteId, builder })).toBeUndefined();
    expect(log.records).toContainEqual(expect.objectContaining({ level: 'warn', msg: 'the entitlement cache is corrupt; ignoring it' }));
  });

  it("ignores another site's cache", async () => {
    const dir = await tempDir();
    await saveSnapshot(dir, sampleSnapshot());
    const log = createMemoryLogger();
    expect(await loadCache(dir, { log, siteId: newId('site'), builder })).toBeUndefined();
    expect(log.records.at(-1)?.msg).toMatch(/another site/);
  });

  it('atomic write refuses to replace a file when asked not to', async () => {
    const dir = await tempDir();
    const path = join(dir, 'device.json');
    await writeFileAtomic(path, 'one', { overwrite: false });
    await expect(writeFileAtomic(path, 'two', { overwrite: false })).rejects.toMatchObject({ code: 'EEXIST' });
    await writeFileAtomic(path, 'three');
    expect(await readdir(dir)).toEqual(['device.json']);
  });
});

describe('snapshot process', () => {
  it('builds a large snapshot in a child process, with the same result as inline, and stops the child when done', async () => {
    const n = 30_000;
    const members = Array.from({ length: n }, (_, i) => member({ validUntil: i % 2 ? Date.UTC(2027, 0, 1) : null }));
    const snapshot = withHash({ ...sampleSnapshot(), members, credentials: members.map((_, i): [string, number] => [`wiegand:${i >> 16}:${i & 0xffff}`, i]) });
    const bytes = new TextEncoder().encode(JSON.stringify(snapshot));
    const log = createMemoryLogger();
    const threaded = new SnapshotBuilder({ log });
    try {
      // The event loop stays free while the child works: count timer ticks meanwhile.
      let ticks = 0;
      const ticker = setInterval(() => ticks++, 5);
      const pending = threaded.process(bytes.slice());
      expect(threaded.childRunning).toBe(true);
      const result = await pending;
      clearInterval(ticker);
      expect(threaded.childRunning).toBe(false);
      expect(result.kind).toBe('snapshot');
      if (result.kind !== 'snapshot') return;
      expect(result.bytes.byteLength).toBe(bytes.byteLength);
      const cache = EntitlementCache.fromParts(result.parts);
      expect(cache.hashValue).toBe(snapshot.hash);
      expect(cache.lookupWiegand(0, 4242)?.member).toEqual(members[4242]);
      expect(ticks).toBeGreaterThan(0);
      const rewriting = threaded.rewrite(cache.parts());
      expect(threaded.childRunning).toBe(true);
      const rewritten = await rewriting;
      expect(EntitlementCache.fromParts(rewritten.parts).hashValue).toBe(snapshot.hash);
      await expect(threaded.process(new TextEncoder().encode(`{"siteId": 1, "pad": "${'x'.repeat(300_000)}"}`))).rejects.toThrow(/malformed/);
      expect(log.records.filter((r) => r.level !== 'debug')).toEqual([]);
    } finally {
      await threaded.close();
    }
  });
});
