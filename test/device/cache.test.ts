import { mkdtemp, readdir, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { EntitlementSnapshot } from '../../core/contracts/wire.ts';
import { credentialKey } from '../../core/credential-key.ts';
import { EntitlementCache, sortParallel } from '../../device/cache/entitlement-cache.ts';
import { memberIdTable } from '../../device/cache/member-ids.ts';
import { cachePath, loadCache, saveSnapshot } from '../../device/cache/store.ts';
import { createMemoryLogger } from '../../device/log/logger.ts';
import { writeFileAtomic } from '../../device/storage/atomic-write.ts';
import { newId } from './support/fake-worker.ts';

const siteId = newId('site');
const door = newId('door');

function sampleSnapshot(): EntitlementSnapshot {
  const active = newId('mem');
  const suspended = newId('mem');
  const rawHolder = newId('mem');
  return {
    siteId,
    version: 7,
    serverTime: 1_700_000_000_000,
    doors: [{ id: door, name: 'Front door' }],
    members: [
      { id: active, status: 'active' },
      { id: suspended, status: 'suspended' },
      { id: rawHolder, status: 'active' },
    ],
    // Deliberately unsorted, with a raw key and a key this agent cannot parse.
    credentials: [
      ['wiegand:200:5', 0],
      ['wiegand:12:3456', 1],
      ['raw:04A1B2C3', 2],
      ['wiegand:12:3455', 0],
      ['bogus:1', 0],
    ],
  };
}

const tempDir = () => mkdtemp(join(tmpdir(), 'gymgate-cache-'));

describe('entitlement cache', () => {
  it('looks up Wiegand and raw keys, unknown keys and suspended members', () => {
    const snapshot = sampleSnapshot();
    const cache = EntitlementCache.fromSnapshot(snapshot);
    const [active, suspended, rawHolder] = snapshot.members.map((m) => m.id);
    expect(cache.version).toBe(7);
    expect(cache.siteId).toBe(siteId);
    expect(cache.size).toBe(4);
    expect(cache.skipped).toBe(1);
    expect(cache.lookup('wiegand:200:5')).toEqual({ memberId: active, status: 'active' });
    expect(cache.lookup('wiegand:12:3455')).toEqual({ memberId: active, status: 'active' });
    expect(cache.lookup('wiegand:12:3456')).toEqual({ memberId: suspended, status: 'suspended' });
    expect(cache.lookupWiegand(12, 3456)).toEqual(cache.lookup('wiegand:12:3456'));
    expect(cache.lookup('raw:04A1B2C3')).toEqual({ memberId: rawHolder, status: 'active' });
    expect(cache.lookup(credentialKey({ kind: 'raw', rawId: '04:a1:b2:c3' }))).toEqual({ memberId: rawHolder, status: 'active' });
    expect(cache.lookup('wiegand:12:3457')).toBeUndefined();
    expect(cache.lookupWiegand(0, 0)).toBeUndefined();
    expect(cache.lookup('raw:04A1B2C4')).toBeUndefined();
    expect(cache.lookup('not a key')).toBeUndefined();
    expect(cache.door(door)).toEqual({ doorId: door, siteId });
    expect(cache.door(newId('door'))).toBeUndefined();
  });

  it('agrees with a plain Map on thousands of random keys', () => {
    const members = Array.from({ length: 500 }, (_, i) => ({ id: newId('mem'), status: i % 3 ? 'active' : 'suspended' }) as const);
    const reference = new Map<string, number>();
    while (reference.size < 5000) {
      const key = `wiegand:${Math.floor(Math.random() * 65536)}:${Math.floor(Math.random() * 1_048_576)}`;
      reference.set(key, Math.floor(Math.random() * members.length));
    }
    const cache = EntitlementCache.fromSnapshot({
      siteId,
      version: 1,
      serverTime: 0,
      doors: [],
      members: [...members],
      credentials: [...reference],
    });
    for (const [key, index] of reference) {
      expect(cache.lookup(key)).toEqual({ memberId: members[index]?.id, status: members[index]?.status });
    }
    for (let i = 0; i < 2000; i++) {
      const key = `wiegand:${Math.floor(Math.random() * 65536)}:${Math.floor(Math.random() * 1_048_576)}`;
      expect(cache.lookup(key)).toEqual(reference.has(key) ? expect.anything() : undefined);
    }
  });

  it('radix-sorts keys up to 2^36 with their members', () => {
    const n = 3000;
    const keys = new Float64Array(n).map(() => Math.floor(Math.random() * 2 ** 36));
    const members = new Uint32Array(n).map((_, i) => i);
    const expected = [...keys].map((k, i) => [k, i] as const).sort((a, b) => a[0] - b[0]);
    const original = keys.slice();
    sortParallel(keys, members);
    expect([...keys]).toEqual(expected.map(([k]) => k));
    for (let i = 0; i < n; i++) expect(original[members[i] as number]).toBe(keys[i]);
  });

  it('packs uniform member ids and keeps irregular ones as they are', () => {
    const uniform = Array.from({ length: 50 }, () => newId('mem'));
    const packed = memberIdTable(uniform);
    expect(uniform.map((_, i) => packed.get(i))).toEqual(uniform);
    expect(packed.byteLength).toBe(uniform.length * 12); // 16 base-36 characters in six 16-bit words
    const mixed = ['mem_abcdefghij', 'mem_0123456789abcdef', 'mem_zzzzzzzzzz1'];
    const plain = memberIdTable(mixed);
    expect(mixed.map((_, i) => plain.get(i))).toEqual(mixed);
    expect(() => plain.get(3)).toThrow(RangeError);
  });

  it('rejects a snapshot with a malformed member', () => {
    const snapshot = sampleSnapshot();
    (snapshot.members as unknown[]).push({ id: 'mem_x', status: 'active' });
    expect(() => EntitlementCache.fromSnapshot(snapshot)).toThrow(/member 3/);
    (snapshot.members as unknown[])[3] = { id: newId('mem'), status: 'frozen' };
    expect(() => EntitlementCache.fromSnapshot(snapshot)).toThrow(/member 3/);
  });

  it('stays within 32 bytes per credential in its arrays for a large site', () => {
    const n = 100_000;
    const members = Array.from({ length: n }, () => ({ id: newId('mem'), status: 'active' as const }));
    const credentials = members.map((_, i): [string, number] => [`wiegand:${i % 65536}:${(i * 7919) % 1_048_576}`, i]);
    const cache = EntitlementCache.fromSnapshot({ siteId, version: 1, serverTime: 0, doors: [], members, credentials });
    expect(cache.size).toBe(n);
    // One member per card (the worst case): 8-byte key + 4-byte index + 12-byte packed id + 1-byte status.
    expect(cache.compactBytes / n).toBeLessThanOrEqual(32);
    expect(cache.lookup(credentials[12_345]?.[0] as string)?.memberId).toBe(members[12_345]?.id);
  });

  it('rejects a snapshot whose credentials point outside the member list', () => {
    const snapshot = sampleSnapshot();
    snapshot.credentials.push(['wiegand:1:1', 3]);
    expect(() => EntitlementCache.fromSnapshot(snapshot)).toThrow(/credential 5/);
  });
});

describe('cache persistence', () => {
  it('round-trips through cache.json, written 0600 with no temp files left', async () => {
    const dir = await tempDir();
    const snapshot = sampleSnapshot();
    await saveSnapshot(dir, snapshot);
    expect((await stat(cachePath(dir))).mode & 0o777).toBe(0o600);
    expect(await readdir(dir)).toEqual(['cache.json']);
    const log = createMemoryLogger();
    const loaded = await loadCache(dir, { log, siteId });
    const direct = EntitlementCache.fromSnapshot(snapshot);
    expect(loaded?.version).toBe(7);
    for (const key of ['wiegand:200:5', 'wiegand:12:3456', 'raw:04A1B2C3', 'wiegand:9:9']) {
      expect(loaded?.lookup(key)).toEqual(direct.lookup(key));
    }
  });

  it('gives undefined when there is no cache yet', async () => {
    expect(await loadCache(await tempDir(), { log: createMemoryLogger() })).toBeUndefined();
  });

  it.each([
    ['truncated JSON', (s: string) => s.slice(0, s.length / 2)],
    ['a wrong shape', () => JSON.stringify({ siteId, version: 'seven' })],
    ['binary junk', () => '\u0000\u0001\u0002'],
  ])('ignores a corrupt cache file (%s) and logs it', async (_name, corrupt) => {
    const dir = await tempDir();
    await writeFile(cachePath(dir), corrupt(JSON.stringify(sampleSnapshot())));
    const log = createMemoryLogger();
    expect(await loadCache(dir, { log, siteId })).toBeUndefined();
    expect(log.records).toContainEqual(expect.objectContaining({ level: 'warn', msg: 'the entitlement cache is corrupt; ignoring it' }));
  });

  it("ignores another site's cache", async () => {
    const dir = await tempDir();
    await saveSnapshot(dir, sampleSnapshot());
    const log = createMemoryLogger();
    expect(await loadCache(dir, { log, siteId: newId('site') })).toBeUndefined();
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
