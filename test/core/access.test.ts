import { describe, expect, it } from 'vitest';
import { decideAccess, doorHeldOpen, NO_HISTORY, SERVER_CLOCK, type AccessInput } from '../../core/access.ts';
import { DEFAULT_PROFILE, type AccessProfile, type DoorPolicy, type MemberAccess, type SitePolicy } from '../../core/entitlement.ts';

// Thursday 2026-11-26 10:00 in Bangkok (UTC+7).
const THU_10 = Date.parse('2026-11-26T03:00:00Z');
const HOUR = 3_600_000;

const site: SitePolicy = { id: 'site_0123456789', timezone: 'Asia/Bangkok', closures: [] };
const door: DoorPolicy = {
  id: 'door_0123456789',
  name: 'Front door',
  group: 'general',
  mode: 'normal',
  unlockSchedule: null,
  antiPassbackSeconds: 0,
  maxOfflineSeconds: 72 * 3600,
  grantSeconds: 5,
};
const member: MemberAccess = {
  id: 'mem_0123456789',
  status: 'active',
  suspension: null,
  profile: 0,
  validFrom: null,
  validUntil: null,
  entriesLeft: null,
  bookings: [],
};
const staff: AccessProfile = { ...DEFAULT_PROFILE, id: 'prof_staff', staff: true };
const offPeak: AccessProfile = { ...DEFAULT_PROFILE, id: 'prof_offpeak', schedule: 'profile:prof_offpeak' };
const schedules = {
  staffed: { windows: [{ days: [1, 2, 3, 4, 5], start: '06:00', end: '22:00' }], closures: [] },
  'profile:prof_offpeak': { windows: [{ days: [1, 2, 3, 4, 5], start: '10:00', end: '16:00' }], closures: [] },
};

const decide = (over: Partial<AccessInput> = {}) =>
  decideAccess({
    read: { ok: true, credentialKey: 'wiegand:12:345' },
    door,
    site,
    member,
    schedules,
    at: THU_10,
    state: SERVER_CLOCK,
    history: NO_HISTORY,
    ...over,
  });

describe('decideAccess: membership', () => {
  it('grants an active member and explains a denial for each status', () => {
    expect(decide()).toMatchObject({ granted: true, reason: 'granted', memberId: member.id });
    const reasons = (['suspended', 'frozen', 'ended'] as const).map((status) => decide({ member: { ...member, status } }).reason);
    expect(reasons).toEqual(['member_suspended', 'membership_frozen', 'membership_ended']);
    expect(decide({ member: { ...member, status: 'suspended', suspension: 'payment_overdue' } }).reason).toBe('payment_overdue');
  });

  it('lets past_due members in until the grace period ends', () => {
    const pastDue = { ...member, status: 'past_due' as const, validUntil: THU_10 + HOUR };
    expect(decide({ member: pastDue }).granted).toBe(true);
    expect(decide({ member: pastDue, at: THU_10 + 2 * HOUR })).toMatchObject({ granted: false, reason: 'payment_overdue' });
  });

  it('honours validFrom and validUntil, offline too', () => {
    expect(decide({ member: { ...member, validFrom: THU_10 + HOUR } }).reason).toBe('membership_not_started');
    expect(decide({ member: { ...member, validUntil: THU_10 } }).reason).toBe('membership_expired');
    const cancelled = { ...member, status: 'cancelled' as const, validUntil: THU_10 + HOUR };
    expect(decide({ member: cancelled }).granted).toBe(true);
    expect(decide({ member: cancelled, at: THU_10 + HOUR }).reason).toBe('membership_cancelled');
    expect(decide({ member: { ...member, status: 'trialing', validUntil: THU_10 + HOUR } }).granted).toBe(true);
  });

  it("gives the membership's times on the site's clock, not UTC", () => {
    // 03:00 UTC is 10:00 in Bangkok; the same instant reads 04:00 in Berlin (UTC+1 in November).
    expect(decide({ member: { ...member, validFrom: THU_10 + HOUR } }).explanation).toBe('The membership starts at 2026-11-26 11:00 (Asia/Bangkok).');
    expect(decide({ member: { ...member, validUntil: THU_10 } }).explanation).toBe('The membership expired at 2026-11-26 10:00 (Asia/Bangkok).');
    const berlin = { ...site, timezone: 'Europe/Berlin' };
    const overdue = { ...member, status: 'past_due' as const, validUntil: THU_10 };
    expect(decide({ site: berlin, member: overdue }).explanation).toBe('A payment is overdue and the grace period ended at 2026-11-26 04:00 (Europe/Berlin).');
  });

  it('denies unknown cards and bad reads', () => {
    expect(decide({ member: undefined }).reason).toBe('unknown_credential');
    expect(decide({ read: { ok: false, detail: 'bad parity' } }).reason).toBe('bad_read');
    expect(decide({ door: undefined }).reason).toBe('unknown_door');
  });
});

describe('decideAccess: where and when', () => {
  it('keeps members to their sites and door groups', () => {
    expect(decide({ profile: { ...DEFAULT_PROFILE, sites: ['site_elsewhere00'] } }).reason).toBe('wrong_site');
    expect(decide({ profile: { ...DEFAULT_PROFILE, sites: [site.id] } }).granted).toBe(true);
    expect(decide({ door: { ...door, group: 'pool' } }).reason).toBe('door_not_included');
    expect(decide({ door: { ...door, group: 'pool' }, profile: { ...DEFAULT_PROFILE, doorGroups: ['general', 'pool'] } }).granted).toBe(true);
  });

  it('evaluates off-peak schedules in the site time zone', () => {
    expect(decide({ profile: offPeak }).granted).toBe(true); // Thu 10:00
    expect(decide({ profile: offPeak, at: THU_10 - HOUR }).reason).toBe('outside_schedule'); // Thu 09:00
    expect(decide({ profile: offPeak, at: THU_10 + 6 * HOUR }).reason).toBe('outside_schedule'); // Thu 16:00
  });

  it('closes the site to members on closure days but not to staff', () => {
    const holiday = { ...site, closures: [{ date: '2026-11-26', note: 'Loy Krathong' }] };
    expect(decide({ site: holiday })).toMatchObject({ granted: false, reason: 'site_closed' });
    expect(decide({ site: holiday }).explanation).toContain('Loy Krathong');
    expect(decide({ site: holiday, profile: staff }).granted).toBe(true);
    expect(decide({ site: holiday, at: THU_10 + 24 * HOUR }).granted).toBe(true);
  });

  it('opens the studio from N minutes before a booked class until it ends', () => {
    const studio = { ...door, group: 'studio' };
    const booked = { ...member, bookings: [{ doorGroup: 'studio', startsAt: THU_10 + HOUR, endsAt: THU_10 + 2 * HOUR, opensMinutesBefore: 15 }] };
    expect(decide({ door: studio, member: booked, at: THU_10 + HOUR - 16 * 60_000 }).reason).toBe('door_not_included');
    expect(decide({ door: studio, member: booked, at: THU_10 + HOUR - 15 * 60_000 })).toMatchObject({ granted: true, explanation: 'Booked class.' });
    expect(decide({ door: studio, member: booked, at: THU_10 + 2 * HOUR }).reason).toBe('door_not_included');
  });
});

describe('decideAccess: counts and passback', () => {
  it('counts pass entries and caps entries per day', () => {
    expect(decide({ member: { ...member, entriesLeft: 1 } })).toMatchObject({ granted: true, usesPass: true });
    expect(decide({ member: { ...member, entriesLeft: 0 } }).reason).toBe('pass_used_up');
    const capped = { ...DEFAULT_PROFILE, maxEntriesPerDay: 2 };
    expect(decide({ profile: capped, history: { lastGrantAtDoor: null, grantsToday: 1 } }).granted).toBe(true);
    expect(decide({ profile: capped, history: { lastGrantAtDoor: null, grantsToday: 2 } }).reason).toBe('daily_limit_reached');
  });

  it('applies timed anti-passback per door', () => {
    const apb = { ...door, antiPassbackSeconds: 300 };
    expect(decide({ door: apb, history: { lastGrantAtDoor: THU_10 - 60_000, grantsToday: 1 } }).reason).toBe('anti_passback');
    expect(decide({ door: apb, history: { lastGrantAtDoor: THU_10 - 301_000, grantsToday: 1 } }).granted).toBe(true);
  });
});

describe('decideAccess: door modes and the door’s own state', () => {
  it('lets only staff through a locked door and only lockdown staff through a lockdown', () => {
    expect(decide({ door: { ...door, mode: 'locked' } }).reason).toBe('door_locked');
    expect(decide({ door: { ...door, mode: 'locked' }, profile: staff }).granted).toBe(true);
    expect(decide({ door: { ...door, mode: 'lockdown' }, profile: staff }).reason).toBe('lockdown');
    expect(decide({ door: { ...door, mode: 'lockdown' }, profile: { ...staff, lockdownAccess: true } }).granted).toBe(true);
  });

  it('holds a door open in unlocked mode and on its unlock schedule', () => {
    expect(decide({ door: { ...door, mode: 'unlocked' }, member: undefined }).granted).toBe(true);
    const scheduled = { ...door, unlockSchedule: 'staffed' };
    expect(doorHeldOpen(scheduled, site, schedules, THU_10, SERVER_CLOCK)).toBe(true);
    expect(doorHeldOpen(scheduled, site, schedules, THU_10 - 5 * HOUR, SERVER_CLOCK)).toBe(false); // 05:00
    expect(doorHeldOpen(scheduled, site, schedules, THU_10, { clockSynced: false, cacheAgeMs: 0 })).toBe(false);
  });

  it('fails secure when the cache is older than the door allows', () => {
    expect(decide({ state: { clockSynced: true, cacheAgeMs: 73 * HOUR } }).reason).toBe('offline_expired');
    expect(decide({ state: { clockSynced: true, cacheAgeMs: 71 * HOUR } }).granted).toBe(true);
    expect(decide({ state: { clockSynced: true, cacheAgeMs: null } }).reason).toBe('offline_expired');
  });

  it('refuses time-dependent grants on a clock that was never synced, but not open-ended ones', () => {
    const unsynced = { clockSynced: false, cacheAgeMs: 0 };
    expect(decide({ state: unsynced }).granted).toBe(true);
    expect(decide({ state: unsynced, member: { ...member, validUntil: THU_10 + HOUR } }).reason).toBe('clock_not_synced');
    expect(decide({ state: unsynced, profile: offPeak }).reason).toBe('clock_not_synced');
  });
});
