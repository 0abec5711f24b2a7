import { describe, expect, it } from 'vitest';
import { decideAccess, SERVER_CLOCK, type AccessInput } from '../../core/access.ts';
import { DEFAULT_PROFILE, STAFFED_SCHEDULE, type AccessProfile, type DoorPolicy, type MemberAccess } from '../../core/entitlement.ts';
import { ACCESS_REASONS } from '../../core/reasons.ts';
import { localTime, type Schedule } from '../../core/schedule.ts';
import { ACCESS_CASES, AT, TIMEZONE, type AccessCase } from '../shared/access-cases.ts';

const SITE = 'site_0123456789';

function inputOf(c: AccessCase): AccessInput {
  const at = Date.parse(c.at ?? AT);
  const schedules: Record<string, Schedule> = {};
  if (c.site?.staffedHours) schedules[STAFFED_SCHEDULE] = { windows: c.site.staffedHours, closures: [] };
  let scheduleKey: string | null = null;
  if (c.profile?.schedule === 'staffed_hours') scheduleKey = STAFFED_SCHEDULE;
  else if (c.profile?.schedule) {
    scheduleKey = 'profile:prof_case';
    schedules[scheduleKey] = { windows: c.profile.schedule.windows, closures: [] };
  }
  const profile: AccessProfile = {
    ...DEFAULT_PROFILE,
    id: 'prof_case',
    sites: c.profile?.sites === 'elsewhere' ? ['site_elsewhere00'] : null,
    doorGroups: c.profile?.doorGroups ?? ['general'],
    schedule: scheduleKey,
    maxEntriesPerDay: c.profile?.maxEntriesPerDay ?? null,
    staff: c.profile?.staff ?? false,
    lockdownAccess: c.profile?.lockdownAccess ?? false,
  };
  const door: DoorPolicy = {
    id: 'door_0123456789',
    name: 'Door',
    group: c.door?.group ?? 'general',
    mode: c.door?.mode ?? 'normal',
    unlockSchedule: c.door?.unlockDuringStaffedHours ? STAFFED_SCHEDULE : null,
    antiPassbackSeconds: c.door?.antiPassbackSeconds ?? 0,
    maxOfflineSeconds: 72 * 3600,
    grantSeconds: 5,
  };
  const m = c.member;
  const member: MemberAccess | undefined =
    m === null
      ? undefined
      : {
          id: 'mem_0123456789',
          status: m?.status ?? 'active',
          suspension: m?.status === 'suspended' ? (m.suspension ?? 'staff') : null,
          profile: 1,
          validFrom: m?.validFrom ? Date.parse(m.validFrom) : null,
          validUntil: m?.validUntil ? Date.parse(m.validUntil) : null,
          entriesLeft: m?.entriesLeft ?? null,
          bookings: (m?.bookings ?? []).map((b) => ({ ...b, startsAt: Date.parse(b.startsAt), endsAt: Date.parse(b.endsAt) })),
        };
  const grants = (c.grantsMinutesAgo ?? []).map((min) => at - min * 60_000);
  const today = localTime(at, TIMEZONE).date;
  return {
    read: c.doorOnly === 'bad_read' ? { ok: false, detail: 'H10301 parity bit 0 is 1, expected 0' } : { ok: true, credentialKey: 'wiegand:12:345' },
    door: c.doorOnly === 'unknown_door' ? undefined : door,
    site: { id: SITE, timezone: TIMEZONE, closures: c.site?.closures ?? [] },
    member,
    profile,
    schedules,
    at,
    state:
      c.doorOnly === 'offline'
        ? { clockSynced: true, cacheAgeMs: 73 * 3_600_000 }
        : c.doorOnly === 'unsynced'
          ? { clockSynced: false, cacheAgeMs: 60_000 }
          : c.doorOnly === 'revoked'
            ? { ...SERVER_CLOCK, revoked: true }
            : SERVER_CLOCK,
    history: {
      lastGrantAtDoor: grants.length ? Math.max(...grants) : null,
      grantsToday: grants.filter((g) => localTime(g, TIMEZONE).date === today).length,
    },
    pin: c.pin,
  };
}

describe('the access table against the pure rule', () => {
  it('covers every reason code', () => {
    expect(new Set(ACCESS_CASES.map((c) => c.reason))).toEqual(new Set(ACCESS_REASONS));
  });

  for (const c of ACCESS_CASES) {
    it(`${c.name}: ${c.reason}`, () => {
      const decision = decideAccess(inputOf(c));
      expect(decision.reason).toBe(c.reason);
      expect(decision.granted).toBe(c.reason === 'granted');
      expect(decision.explanation.length).toBeGreaterThan(5);
    });
  }
});
