// A synthetic site snapshot for benchmarks: n members with one H10301-sized Wiegand card each,
// 1 in 20 suspended, every member paid through a date (validUntil), three shared access
// profiles, ids shaped like the Worker's (`mem_` + 22 base-32 characters).
import type { EntitlementSnapshot } from '../../core/contracts/wire.ts';
import { EntitlementHash } from '../../core/entitlement-hash.ts';
import { DEFAULT_PROFILE } from '../../core/entitlement.ts';

const ALPHABET = '0123456789abcdefghjkmnpqrstvwxyz';

/** Deterministic pseudo-random numbers (mulberry32), so every run measures the same site. */
export function prng(seed: number) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function memberId(i: number): string {
  let s = '';
  for (let v = i, k = 0; k < 22; k++, v = Math.floor(v / 32)) s = ALPHABET[v % 32] + s;
  return `mem_${s}`;
}

/** Card i is facility (i >> 16) + 1, card number i & 0xffff: unique and spread over facilities. */
export const cardOf = (i: number) => ({ facility: Math.floor(i / 65536) + 1, card: i % 65536 });

export const BENCH_NOW = Date.parse('2026-11-26T03:00:00Z');

export function syntheticSnapshot(n: number): EntitlementSnapshot {
  const members: EntitlementSnapshot['members'] = new Array(n);
  const credentials: EntitlementSnapshot['credentials'] = new Array(n);
  for (let i = 0; i < n; i++) {
    const suspended = i % 20 === 7;
    members[i] = {
      id: memberId(i),
      status: suspended ? 'suspended' : 'active',
      suspension: suspended ? 'payment_overdue' : null,
      profile: i % 3,
      validFrom: null,
      validUntil: BENCH_NOW + ((i % 30) + 1) * 86_400_000,
      entriesLeft: null,
      bookings: [],
    };
    const { facility, card } = cardOf(i);
    credentials[i] = [`wiegand:${facility}:${card}`, i];
  }
  const snapshot: Omit<EntitlementSnapshot, 'hash'> = {
    siteId: 'site_0000000000bench',
    version: 1,
    serverTime: BENCH_NOW,
    site: { id: 'site_0000000000bench', timezone: 'Asia/Bangkok', closures: [] },
    schedules: { 'profile:prof_offpeak0000': { windows: [{ days: [1, 2, 3, 4, 5], start: '06:00', end: '23:00' }], closures: [] } },
    doors: [{ id: 'door_00000000000front', name: 'Front door', group: 'general', mode: 'normal', unlockSchedule: null, antiPassbackSeconds: 60, maxOfflineSeconds: 72 * 3600, grantSeconds: 5 }],
    profiles: [
      DEFAULT_PROFILE,
      { ...DEFAULT_PROFILE, id: 'prof_offpeak0000', schedule: 'profile:prof_offpeak0000' },
      { ...DEFAULT_PROFILE, id: 'prof_capped00000', maxEntriesPerDay: 2, doorGroups: ['general', 'studio'] },
    ],
    members,
    credentials,
  };
  return { ...snapshot, hash: n <= 100_000 ? EntitlementHash.of(snapshot).value : '' };
}
