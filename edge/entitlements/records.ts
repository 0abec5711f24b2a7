// D1 rows → the entitlement records doors cache (core/entitlement.ts). One mapping, used for
// snapshots, deltas and the Worker's own "why was this denied" answers.
import { DEFAULT_PROFILE, STAFFED_SCHEDULE, type AccessProfile, type DoorPolicy, type MemberAccess, type SitePolicy } from '../../core/entitlement.ts';
import type { Schedule } from '../../core/schedule.ts';
import type { accessProfiles, bookings, doors, members, sites } from '../db/schema.ts';

export type SiteRow = typeof sites.$inferSelect;
export type DoorRow = typeof doors.$inferSelect;
export type ProfileRow = typeof accessProfiles.$inferSelect;
export type MemberRow = typeof members.$inferSelect;
export type BookingRow = typeof bookings.$inferSelect;

export const profileScheduleKey = (p: ProfileRow): string | null =>
  p.scheduleKind === 'always' ? null : p.scheduleKind === 'staffed_hours' ? STAFFED_SCHEDULE : `profile:${p.id}`;

export const sitePolicy = (s: SiteRow): SitePolicy => ({ id: s.id, timezone: s.timezone, closures: s.closures ?? [] });

/** Schedules a site's doors and profiles refer to, keyed as in the snapshot. */
export function schedulesOf(site: SiteRow, profiles: ProfileRow[]): Record<string, Schedule> {
  const out: Record<string, Schedule> = {};
  if (site.staffedHours && site.staffedHours.length > 0) out[STAFFED_SCHEDULE] = { windows: site.staffedHours, closures: [] };
  for (const p of profiles) {
    if (p.scheduleKind === 'custom' && p.schedule) out[`profile:${p.id}`] = { windows: p.schedule, closures: [] };
  }
  return out;
}

export const doorPolicy = (d: DoorRow): DoorPolicy => ({
  id: d.id,
  name: d.name,
  group: d.group,
  mode: d.mode,
  unlockSchedule: d.unlockDuringStaffedHours ? STAFFED_SCHEDULE : null,
  antiPassbackSeconds: d.antiPassbackSeconds,
  maxOfflineSeconds: d.maxOfflineSeconds,
  grantSeconds: d.grantSeconds,
});

export const accessProfile = (p: ProfileRow): AccessProfile => ({
  id: p.id,
  sites: p.sites ?? null,
  doorGroups: p.doorGroups,
  schedule: profileScheduleKey(p),
  maxEntriesPerDay: p.maxEntriesPerDay,
  staff: p.staff,
  lockdownAccess: p.lockdownAccess,
});

/** Profiles as a snapshot lists them: the default first, then the organisation's by id. */
export const profileList = (rows: ProfileRow[]): AccessProfile[] => [DEFAULT_PROFILE, ...[...rows].sort((a, b) => (a.id < b.id ? -1 : 1)).map(accessProfile)];

export function memberAccess(m: MemberRow, profileIndex: ReadonlyMap<string, number>, memberBookings: BookingRow[]): MemberAccess {
  return {
    id: m.id,
    status: m.status,
    suspension: m.status === 'suspended' ? (m.suspension ?? 'staff') : null,
    profile: (m.accessProfileId && profileIndex.get(m.accessProfileId)) || 0,
    validFrom: m.validFrom,
    validUntil: m.validUntil,
    entriesLeft: m.entriesLeft,
    bookings: memberBookings
      .map((b) => ({ doorGroup: b.doorGroup, startsAt: b.startsAt, endsAt: b.endsAt, opensMinutesBefore: b.opensMinutesBefore }))
      .sort((a, b) => a.startsAt - b.startsAt),
    ...(m.pinVerifier ? { pinVerifier: m.pinVerifier } : {}),
  };
}
