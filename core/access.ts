// The access decision: one pure function used by the door agent on every tap and by the Worker
// when staff ask why a tap was denied, so both give the same answer in the same words.
import { DEFAULT_PROFILE, type AccessProfile, type DoorPolicy, type MemberAccess, type SitePolicy } from './entitlement.ts';
import { ACCESS_REASONS, type AccessReason } from './reasons.ts';
import { localStamp, localTime, scheduleOpen, type Schedule } from './schedule.ts';

export { ACCESS_REASONS, type AccessReason };

export type CardRead = { ok: true; credentialKey: string } | { ok: false; detail: string };

/** What the deciding side knows about its own clock and cache. The Worker passes `SERVER_CLOCK`. */
export type DeciderState = {
  /** The clock was synchronised with the server at least once (a Pi boots with a stale clock). */
  clockSynced: boolean;
  /** Milliseconds since the cache was last confirmed current; null = never synced. */
  cacheAgeMs: number | null;
  /** The Worker said this door was revoked: it lets no one in and holds nothing open. */
  revoked?: boolean;
};
export const SERVER_CLOCK: DeciderState = { clockSynced: true, cacheAgeMs: 0 };

/** The member's recent grants, as the deciding side remembers them. */
export type TapHistory = {
  /** Last grant to this member at this door, epoch ms. */
  lastGrantAtDoor: number | null;
  /** Grants to this member today (site-local date) at this site. */
  grantsToday: number;
};
export const NO_HISTORY: TapHistory = { lastGrantAtDoor: null, grantsToday: 0 };

export type AccessInput = {
  read: CardRead;
  /** The door as the cache knows it; undefined when it is not in this site's snapshot. */
  door: DoorPolicy | undefined;
  site: SitePolicy;
  /** The cache entry for the credential's member; undefined when no member holds it. */
  member: MemberAccess | undefined;
  /** The member's access profile (defaults to general doors, all sites, 24/7). */
  profile?: AccessProfile | undefined;
  schedules: Readonly<Record<string, Schedule>>;
  /** Decision time, epoch ms, on the deciding side's best clock. */
  at: number;
  state: DeciderState;
  history: TapHistory;
  /** Card + PIN doors: what came of the PIN typed after the card. Omit where no PIN is asked. */
  pin?: PinEntry | undefined;
};

/** match: the PIN fits the member's verifier (or the door code); missing: none was finished in time. */
export type PinEntry = 'match' | 'mismatch' | 'missing';

export type AccessDecision = {
  granted: boolean;
  reason: AccessReason;
  explanation: string;
  memberId: string | null;
  /** A grant that used one entry of a day or guest pass. */
  usesPass: boolean;
};

const deny = (reason: AccessReason, explanation: string, memberId: string | null = null): AccessDecision => ({
  granted: false,
  reason,
  explanation,
  memberId,
  usesPass: false,
});

const grant = (explanation: string, memberId: string | null, usesPass = false): AccessDecision => ({
  granted: true,
  reason: 'granted',
  explanation,
  memberId,
  usesPass,
});

/** Whether a door is held unlocked right now: by its mode or by its unlock schedule. */
export function doorHeldOpen(door: DoorPolicy, site: SitePolicy, schedules: Readonly<Record<string, Schedule>>, at: number, state: DeciderState): boolean {
  if (state.revoked) return false;
  if (door.mode === 'unlocked') return true;
  if (door.mode !== 'normal' || door.unlockSchedule === null) return false;
  // A scheduled unlock depends on the time of day: never trust an unsynced clock with it.
  if (!state.clockSynced) return false;
  const schedule = schedules[door.unlockSchedule];
  if (!schedule) return false;
  const local = localTime(at, site.timezone);
  if (site.closures.some((c) => c.date === local.date && (c.windows ?? []).length === 0)) return false;
  return scheduleOpen(schedule, local).open;
}

export function decideAccess(input: AccessInput): AccessDecision {
  const decision = decideCard(input);
  const { pin, door } = input;
  if (!decision.granted || pin === undefined || pin === 'match') return decision;
  // A door held open lets anyone through: there is nothing for a PIN to guard.
  if (door && doorHeldOpen(door, input.site, input.schedules, input.at, input.state)) return decision;
  return deny(
    'pin_mismatch',
    pin === 'missing' ? 'The card was accepted but no PIN was entered in time.' : 'The card was accepted but the PIN does not match.',
    decision.memberId,
  );
}

/** What a revoked door answers every tap, with or without the entitlements it has wiped. */
export const revokedDecision = (): AccessDecision =>
  deny('device_revoked', 'This door was revoked in gymgate: it lets no one in until it is provisioned again.');

/** Everything but the PIN: what the card alone is allowed here and now. */
function decideCard(input: AccessInput): AccessDecision {
  const { read, door, site, member, at, state, history, schedules } = input;
  const profile = input.profile ?? DEFAULT_PROFILE;
  if (state.revoked) return revokedDecision();
  if (!read.ok) return deny('bad_read', `The card could not be read: ${read.detail}.`);
  if (!door) return deny('unknown_door', 'This door is not part of the site the reader is enrolled at.');
  const memberId = member?.id ?? null;

  if (doorHeldOpen(door, site, schedules, at, state)) {
    return grant(door.mode === 'unlocked' ? 'The door is held unlocked.' : 'The door is unlocked on its schedule.', memberId);
  }
  if (!member) return deny('unknown_credential', `Credential ${read.credentialKey} is not registered to any member.`);

  if (door.mode === 'lockdown' && !(profile.staff && profile.lockdownAccess)) {
    return deny('lockdown', 'The site is in lockdown; only staff with lockdown access may enter.', memberId);
  }
  if (door.mode === 'locked' && !profile.staff) return deny('door_locked', 'This door is locked to everyone but staff.', memberId);

  // Fail-secure: a door that has not heard from the server for too long stops trusting its cache.
  if (state.cacheAgeMs === null || state.cacheAgeMs > door.maxOfflineSeconds * 1000) {
    return deny(
      'offline_expired',
      state.cacheAgeMs === null
        ? 'This door has never synchronised its member list.'
        : `This door has been offline for ${Math.round(state.cacheAgeMs / 3_600_000)} h, longer than its ${Math.round(door.maxOfflineSeconds / 3600)} h limit.`,
      memberId,
    );
  }

  switch (member.status) {
    case 'suspended':
      return member.suspension === 'payment_overdue'
        ? deny('payment_overdue', 'The membership is suspended because a payment is overdue.', memberId)
        : deny('member_suspended', 'The membership is suspended.', memberId);
    case 'frozen':
      return deny('membership_frozen', 'The membership is frozen.', memberId);
    case 'ended':
      return deny('membership_ended', 'The membership has ended.', memberId);
    case 'cancelled':
      if (member.validUntil === null) return deny('membership_cancelled', 'The membership was cancelled.', memberId);
      break;
    default:
      break;
  }

  const timeDependent =
    member.validFrom !== null ||
    member.validUntil !== null ||
    member.entriesLeft !== null ||
    member.bookings.length > 0 ||
    (!profile.staff &&
      (profile.schedule !== null || profile.maxEntriesPerDay !== null || site.closures.length > 0 || door.antiPassbackSeconds > 0));
  if (timeDependent && !state.clockSynced) {
    return deny('clock_not_synced', "This door's clock has not been synchronised yet, so time-limited access cannot be checked.", memberId);
  }

  if (member.validFrom !== null && at < member.validFrom) {
    return deny('membership_not_started', `The membership starts at ${localStamp(member.validFrom, site.timezone)}.`, memberId);
  }
  if (member.validUntil !== null && at >= member.validUntil) {
    if (member.status === 'past_due') {
      return deny('payment_overdue', `A payment is overdue and the grace period ended at ${localStamp(member.validUntil, site.timezone)}.`, memberId);
    }
    if (member.status === 'cancelled') return deny('membership_cancelled', `The membership was cancelled and ended at ${localStamp(member.validUntil, site.timezone)}.`, memberId);
    return deny('membership_expired', `The membership expired at ${localStamp(member.validUntil, site.timezone)}.`, memberId);
  }

  if (profile.sites !== null && !profile.sites.includes(site.id)) {
    return deny('wrong_site', "The membership does not include this site.", memberId);
  }

  if (profile.staff) return grant('Staff credential.', memberId);

  const local = localTime(at, site.timezone);
  const closed = scheduleOpen({ windows: [], closures: site.closures }, local);
  if (!closed.open) {
    return deny('site_closed', `The site is closed today${closed.closure?.note ? ` (${closed.closure.note})` : ''}.`, memberId);
  }

  let viaBooking = false;
  if (!profile.doorGroups.includes(door.group)) {
    const booking = member.bookings.find(
      (b) => b.doorGroup === door.group && at >= b.startsAt - b.opensMinutesBefore * 60_000 && at < b.endsAt,
    );
    if (!booking) return deny('door_not_included', `The membership does not include ${door.group} doors.`, memberId);
    viaBooking = true;
  }

  if (!viaBooking && profile.schedule !== null) {
    const schedule = schedules[profile.schedule];
    if (!schedule || !scheduleOpen(schedule, local).open) {
      return deny('outside_schedule', 'The membership does not allow entry at this time.', memberId);
    }
  }

  if (member.entriesLeft !== null && member.entriesLeft <= 0) return deny('pass_used_up', 'The pass has no entries left.', memberId);
  if (profile.maxEntriesPerDay !== null && history.grantsToday >= profile.maxEntriesPerDay) {
    return deny('daily_limit_reached', `The membership allows ${profile.maxEntriesPerDay} entries a day.`, memberId);
  }
  if (door.antiPassbackSeconds > 0 && history.lastGrantAtDoor !== null && at - history.lastGrantAtDoor < door.antiPassbackSeconds * 1000) {
    return deny('anti_passback', `This card entered here less than ${door.antiPassbackSeconds} s ago.`, memberId);
  }

  const usesPass = member.entriesLeft !== null;
  if (viaBooking) return grant('Booked class.', memberId, usesPass);
  return grant(member.entriesLeft !== null ? `Pass entry (${member.entriesLeft - 1} left after this one).` : "Active membership.", memberId, usesPass);
}
