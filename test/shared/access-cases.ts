// One table of access cases, run against the pure rule (test/core/access-table.test.ts) and
// against the Worker's explanation endpoint (test/edge/access-table.test.ts), so the door and the
// cloud are held to the same answers. Times are in Asia/Bangkok (UTC+7); AT is Thursday
// 2026-11-26 10:00 local.
import type { AccessReason } from '../../core/reasons.ts';
import type { TimeWindow } from '../../core/schedule.ts';

export const AT = '2026-11-26T03:00:00.000Z';
export const TIMEZONE = 'Asia/Bangkok';
const hours = (h: number) => new Date(Date.parse(AT) + h * 3_600_000).toISOString();

export const STAFFED: TimeWindow[] = [{ days: [1, 2, 3, 4, 5], start: '06:00', end: '22:00' }];
const OFF_PEAK: TimeWindow[] = [{ days: [1, 2, 3, 4, 5], start: '11:00', end: '16:00' }];

export type AccessCase = {
  name: string;
  reason: AccessReason;
  /** The door's own conditions the Worker cannot have: these cases run against the rule only. */
  doorOnly?: 'bad_read' | 'unknown_door' | 'offline' | 'unsynced' | 'pin' | 'revoked';
  /** Card + PIN doors (doorOnly 'pin': only the door sees what was typed). */
  pin?: 'match' | 'mismatch' | 'missing';
  at?: string;
  /** null: nobody holds the card. */
  member?: {
    status?: 'active' | 'trialing' | 'past_due' | 'frozen' | 'suspended' | 'cancelled' | 'ended';
    suspension?: 'staff' | 'payment_overdue';
    validFrom?: string;
    validUntil?: string;
    entriesLeft?: number;
    bookings?: Array<{ doorGroup: string; startsAt: string; endsAt: string; opensMinutesBefore: number }>;
  } | null;
  profile?: {
    sites?: 'elsewhere';
    doorGroups?: string[];
    schedule?: 'staffed_hours' | { windows: TimeWindow[] };
    maxEntriesPerDay?: number;
    staff?: boolean;
    lockdownAccess?: boolean;
  };
  door?: { group?: string; mode?: 'normal' | 'locked' | 'unlocked' | 'lockdown'; unlockDuringStaffedHours?: boolean; antiPassbackSeconds?: number };
  site?: { staffedHours?: TimeWindow[]; closures?: Array<{ date: string; note?: string }> };
  /** Earlier grants to this member: minutes before AT, at this door. */
  grantsMinutesAgo?: number[];
};

export const ACCESS_CASES: AccessCase[] = [
  { name: 'active member', reason: 'granted' },
  { name: 'trialing member inside the trial', reason: 'granted', member: { status: 'trialing', validUntil: hours(24) } },
  { name: 'unreadable card', reason: 'bad_read', doorOnly: 'bad_read' },
  { name: 'reader at a door outside the snapshot', reason: 'unknown_door', doorOnly: 'unknown_door' },
  { name: 'card nobody holds', reason: 'unknown_credential', member: null },
  { name: 'door held unlocked lets anyone in', reason: 'granted', member: null, door: { mode: 'unlocked' } },
  { name: 'door unlocked during staffed hours', reason: 'granted', member: null, door: { unlockDuringStaffedHours: true }, site: { staffedHours: STAFFED } },
  { name: 'staffed-hours unlock ends at closing', reason: 'unknown_credential', member: null, door: { unlockDuringStaffedHours: true }, site: { staffedHours: STAFFED }, at: hours(13) },
  { name: 'locked door refuses members', reason: 'door_locked', door: { mode: 'locked' } },
  { name: 'locked door admits staff', reason: 'granted', door: { mode: 'locked' }, profile: { staff: true } },
  { name: 'lockdown refuses staff without lockdown access', reason: 'lockdown', door: { mode: 'lockdown' }, profile: { staff: true } },
  { name: 'lockdown admits lockdown staff', reason: 'granted', door: { mode: 'lockdown' }, profile: { staff: true, lockdownAccess: true } },
  { name: 'door offline past its limit', reason: 'offline_expired', doorOnly: 'offline' },
  { name: 'a valid member at a door the Worker revoked', reason: 'device_revoked', doorOnly: 'revoked' },
  { name: 'unsynced clock and a time limit', reason: 'clock_not_synced', doorOnly: 'unsynced', member: { validUntil: hours(24) } },
  { name: 'unsynced clock and an open-ended member', reason: 'granted', doorOnly: 'unsynced' },
  { name: 'suspended by staff', reason: 'member_suspended', member: { status: 'suspended', suspension: 'staff' } },
  { name: 'suspended for an overdue payment', reason: 'payment_overdue', member: { status: 'suspended', suspension: 'payment_overdue' } },
  { name: 'past due within grace', reason: 'granted', member: { status: 'past_due', validUntil: hours(48) } },
  { name: 'past due after grace', reason: 'payment_overdue', member: { status: 'past_due', validUntil: hours(-1) } },
  { name: 'frozen', reason: 'membership_frozen', member: { status: 'frozen' } },
  { name: 'cancelled, still within the paid term', reason: 'granted', member: { status: 'cancelled', validUntil: hours(24) } },
  { name: 'cancelled and over', reason: 'membership_cancelled', member: { status: 'cancelled', validUntil: hours(-24) } },
  { name: 'ended', reason: 'membership_ended', member: { status: 'ended' } },
  { name: 'not started yet', reason: 'membership_not_started', member: { validFrom: hours(24) } },
  { name: 'expired', reason: 'membership_expired', member: { validUntil: hours(-1) } },
  { name: 'home site elsewhere', reason: 'wrong_site', profile: { sites: 'elsewhere' } },
  { name: 'pool door not in the plan', reason: 'door_not_included', door: { group: 'pool' } },
  { name: 'pool door in the plan', reason: 'granted', door: { group: 'pool' }, profile: { doorGroups: ['general', 'pool'] } },
  {
    name: 'studio opens for a booked class',
    reason: 'granted',
    door: { group: 'studio' },
    member: { bookings: [{ doorGroup: 'studio', startsAt: hours(0.25), endsAt: hours(1.25), opensMinutesBefore: 15 }] },
  },
  {
    name: 'studio stays shut before the booking window',
    reason: 'door_not_included',
    door: { group: 'studio' },
    member: { bookings: [{ doorGroup: 'studio', startsAt: hours(1), endsAt: hours(2), opensMinutesBefore: 15 }] },
  },
  { name: 'site closed for a holiday', reason: 'site_closed', site: { closures: [{ date: '2026-11-26', note: 'Loy Krathong' }] } },
  { name: 'staff enter on a holiday', reason: 'granted', site: { closures: [{ date: '2026-11-26' }] }, profile: { staff: true } },
  { name: 'off-peak plan before its window', reason: 'outside_schedule', profile: { schedule: { windows: OFF_PEAK } } },
  { name: 'off-peak plan inside its window', reason: 'granted', profile: { schedule: { windows: OFF_PEAK } }, at: hours(2) },
  { name: 'staffed-hours plan after closing', reason: 'outside_schedule', profile: { schedule: 'staffed_hours' }, site: { staffedHours: STAFFED }, at: hours(12.5) },
  { name: 'day pass with an entry left', reason: 'granted', member: { entriesLeft: 1 } },
  { name: 'day pass used up', reason: 'pass_used_up', member: { entriesLeft: 0 } },
  { name: 'daily cap reached', reason: 'daily_limit_reached', profile: { maxEntriesPerDay: 2 }, grantsMinutesAgo: [120, 60] },
  { name: 'daily cap not reached', reason: 'granted', profile: { maxEntriesPerDay: 2 }, grantsMinutesAgo: [60] },
  { name: 'anti-passback within its window', reason: 'anti_passback', door: { antiPassbackSeconds: 600 }, grantsMinutesAgo: [5] },
  { name: 'anti-passback after its window', reason: 'granted', door: { antiPassbackSeconds: 600 }, grantsMinutesAgo: [11] },
  { name: 'card + PIN with the right PIN', reason: 'granted', doorOnly: 'pin', pin: 'match' },
  { name: 'card + PIN with a wrong PIN', reason: 'pin_mismatch', doorOnly: 'pin', pin: 'mismatch' },
  { name: 'card + PIN with no PIN in time', reason: 'pin_mismatch', doorOnly: 'pin', pin: 'missing' },
  { name: 'card + PIN: a refused card stays refused whatever the PIN', reason: 'member_suspended', doorOnly: 'pin', pin: 'mismatch', member: { status: 'suspended' } },
  { name: 'card + PIN at a door held unlocked needs no PIN', reason: 'granted', doorOnly: 'pin', pin: 'missing', door: { mode: 'unlocked' } },
];
