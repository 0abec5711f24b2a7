// A content hash of a site's entitlement state that the Worker and the door compute the same
// way, to find drift. It is a sum of per-record hashes, so it does not depend on order and a
// delta can update it record by record. Each record has one canonical text form.
import type { AccessProfile, DoorPolicy, MemberAccess, SitePolicy } from './entitlement.ts';
import type { Schedule } from './schedule.ts';

// Canonical JSON: keys in a fixed order, chosen here rather than left to object construction.
export const canonicalSite = (s: SitePolicy) => JSON.stringify([s.id, s.timezone, s.closures.map((c) => [c.date, c.windows ?? null, c.note ?? null])]);
export const canonicalSchedule = (key: string, s: Schedule) =>
  JSON.stringify([key, s.windows.map((w) => [w.days, w.start, w.end]), s.closures.map((c) => [c.date, c.windows ?? null, c.note ?? null])]);
export const canonicalDoor = (d: DoorPolicy) =>
  JSON.stringify([d.id, d.name, d.group, d.mode, d.unlockSchedule, d.antiPassbackSeconds, d.maxOfflineSeconds, d.grantSeconds]);
export const canonicalProfile = (p: AccessProfile) =>
  JSON.stringify([p.id, p.sites, p.doorGroups, p.schedule, p.maxEntriesPerDay, p.staff, p.lockdownAccess]);
/** Members refer to their profile by id here, since indexes differ between snapshot and delta. */
export const canonicalMember = (m: MemberAccess, profileId: string) =>
  JSON.stringify([
    m.id,
    m.status,
    m.suspension,
    profileId,
    m.validFrom,
    m.validUntil,
    m.entriesLeft,
    m.bookings.map((b) => [b.doorGroup, b.startsAt, b.endsAt, b.opensMinutesBefore]),
    // Only when set, so members without a PIN keep the hash older agents compute.
    ...(m.pinVerifier !== undefined ? [m.pinVerifier] : []),
  ]);
export const canonicalCredential = (key: string, memberId: string) => JSON.stringify([key, memberId]);

/** 52-bit FNV-1a variant over UTF-16 code units; fast and dependency-free, not cryptographic. */
export function recordHash(kind: string, text: string): number {
  let h1 = 0x811c9dc5;
  let h2 = 0x01000193;
  const s = `${kind}\u0000${text}`;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    h1 = Math.imul(h1 ^ c, 0x01000193) >>> 0;
    h2 = Math.imul(h2 ^ c, 0x5bd1e995) >>> 0;
  }
  return (h1 % 2 ** 20) * 2 ** 32 + h2;
}

const MOD = 2 ** 52;

/** Accumulates record hashes as a sum modulo 2^52 (exact in a double). */
export class EntitlementHash {
  private sum = 0;

  add(kind: string, text: string): this {
    this.sum = (this.sum + recordHash(kind, text)) % MOD;
    return this;
  }

  remove(kind: string, text: string): this {
    this.sum = (this.sum - recordHash(kind, text) + MOD) % MOD;
    return this;
  }

  get value(): string {
    return this.sum.toString(16).padStart(13, '0');
  }

  static of(state: {
    site: SitePolicy;
    schedules: Readonly<Record<string, Schedule>>;
    doors: readonly DoorPolicy[];
    profiles: readonly AccessProfile[];
    members: readonly MemberAccess[];
    credentials: ReadonlyArray<readonly [string, number]>;
  }): EntitlementHash {
    const h = new EntitlementHash().add('site', canonicalSite(state.site));
    for (const [key, schedule] of Object.entries(state.schedules)) h.add('schedule', canonicalSchedule(key, schedule));
    for (const d of state.doors) h.add('door', canonicalDoor(d));
    for (const p of state.profiles) h.add('profile', canonicalProfile(p));
    for (const m of state.members) h.add('member', canonicalMember(m, state.profiles[m.profile]?.id ?? 'default'));
    for (const [key, index] of state.credentials) h.add('credential', canonicalCredential(key, state.members[index]?.id ?? ''));
    return h;
  }
}
