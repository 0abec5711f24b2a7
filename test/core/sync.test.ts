import { describe, expect, it } from 'vitest';
import { checkCommand, type DoorCommand } from '../../core/commands.ts';
import type { EntitlementDelta, EntitlementSnapshot } from '../../core/contracts/wire.ts';
import { EntitlementHash } from '../../core/entitlement-hash.ts';
import { applyDelta, DeltaMismatch } from '../../core/entitlement-delta.ts';
import { DEFAULT_PROFILE, type MemberAccess } from '../../core/entitlement.ts';

const m = (id: string, over: Partial<MemberAccess> = {}): MemberAccess => ({
  id,
  status: 'active',
  suspension: null,
  profile: 0,
  validFrom: null,
  validUntil: null,
  entriesLeft: null,
  bookings: [],
  ...over,
});

const base = (): EntitlementSnapshot => {
  const s: Omit<EntitlementSnapshot, 'hash'> = {
    siteId: 'site_0123456789',
    version: 3,
    serverTime: 1,
    site: { id: 'site_0123456789', timezone: 'Asia/Bangkok', closures: [] },
    schedules: {},
    doors: [{ id: 'door_0123456789', name: 'Front', group: 'general', mode: 'normal', unlockSchedule: null, antiPassbackSeconds: 0, maxOfflineSeconds: 3600, grantSeconds: 5 }],
    profiles: [DEFAULT_PROFILE],
    members: [m('mem_a000000000'), m('mem_b000000000')],
    credentials: [
      ['wiegand:1:1', 0],
      ['wiegand:1:2', 1],
    ],
  };
  return { ...s, hash: EntitlementHash.of(s).value };
};

describe('entitlement hash', () => {
  it('does not depend on record order and changes with any record', () => {
    const s = base();
    const reordered = { ...s, members: [...s.members].reverse(), credentials: s.credentials.map(([k, i]) => [k, 1 - i] as [string, number]).reverse() };
    expect(EntitlementHash.of(reordered).value).toBe(s.hash);
    const suspended = { ...s, members: [m('mem_a000000000', { status: 'suspended', suspension: 'staff' }), s.members[1]!] };
    expect(EntitlementHash.of(suspended).value).not.toBe(s.hash);
  });

  it('can be updated record by record', () => {
    const h = new EntitlementHash().add('member', 'x').add('member', 'y');
    expect(h.remove('member', 'x').value).toBe(new EntitlementHash().add('member', 'y').value);
  });
});

describe('applyDelta', () => {
  it('gives the same state, and so the same hash, as a fresh snapshot', () => {
    const s = base();
    const staffProfile = { ...DEFAULT_PROFILE, id: 'prof_staff00000', staff: true };
    const delta: EntitlementDelta = {
      siteId: s.siteId,
      fromVersion: 3,
      version: 5,
      serverTime: 2,
      hash: '',
      profiles: [DEFAULT_PROFILE, staffProfile],
      members: { upsert: [m('mem_c000000000', { profile: 1 })], remove: ['mem_a000000000'] },
      credentials: { upsert: [['raw:ABCD', 'mem_c000000000']], remove: ['wiegand:1:1'] },
    };
    const next = applyDelta(s, delta);
    const fresh: Omit<EntitlementSnapshot, 'hash'> = {
      ...s,
      version: 5,
      serverTime: 2,
      profiles: [DEFAULT_PROFILE, staffProfile],
      members: [m('mem_b000000000'), m('mem_c000000000', { profile: 1 })],
      credentials: [
        ['raw:ABCD', 1],
        ['wiegand:1:2', 0],
      ],
    };
    expect(next.members).toEqual(fresh.members);
    expect(next.credentials).toEqual(fresh.credentials);
    expect(EntitlementHash.of(next).value).toBe(EntitlementHash.of(fresh).value);
  });

  it('refuses a delta that does not start at the cached version', () => {
    const s = base();
    expect(() => applyDelta(s, { siteId: s.siteId, fromVersion: 2, version: 4, serverTime: 0, hash: '', members: { upsert: [], remove: [] }, credentials: { upsert: [], remove: [] } })).toThrow(DeltaMismatch);
  });
});

describe('checkCommand', () => {
  const now = Date.parse('2026-11-25T10:00:00Z');
  const command = (over: Partial<DoorCommand> = {}): string =>
    JSON.stringify({
      id: '6f1c2b1e-7a3e-4d7e-9c55-0c1f9d1e2a3b',
      deviceId: 'dev_0123456789',
      issuedAt: now,
      expiresAt: now + 60_000,
      nonce: 'abcdefghijklmnopqrstuv',
      action: { type: 'unlock', doorId: 'door_0123456789', seconds: 5 },
      ...over,
    });
  const ctx = { deviceId: 'dev_0123456789', now, clockSynced: true, seenNonce: () => false };

  it('accepts a fresh command for this device', () => {
    expect(checkCommand(command(), ctx).ok).toBe(true);
  });

  it('rejects another device’s, an expired, a future, a replayed and a malformed command', () => {
    expect(checkCommand(command({ deviceId: 'dev_other00000' }), ctx)).toMatchObject({ ok: false, reason: 'wrong_device' });
    expect(checkCommand(command({ expiresAt: now - 31_000 }), ctx)).toMatchObject({ ok: false, reason: 'expired' });
    expect(checkCommand(command({ issuedAt: now + 60_000, expiresAt: now + 120_000 }), ctx)).toMatchObject({ ok: false, reason: 'not_yet_valid' });
    expect(checkCommand(command(), { ...ctx, seenNonce: () => true })).toMatchObject({ ok: false, reason: 'replayed' });
    expect(checkCommand('{"id": 1}', ctx)).toMatchObject({ ok: false, reason: 'malformed' });
    expect(checkCommand(command(), { ...ctx, clockSynced: false })).toMatchObject({ ok: false, reason: 'clock_not_synced' });
  });
});
