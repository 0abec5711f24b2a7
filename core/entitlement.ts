// What a door needs to know to decide: per member, the membership state and the access profile
// it holds; per door, its group, mode and policies; per site, its time zone and closures. The
// Worker computes these records, the door caches them, and the access rule reads only these.
import { z } from 'zod';
import { Schedule } from './schedule.ts';

export const DOOR_MODES = ['normal', 'locked', 'unlocked', 'lockdown'] as const;
export const DoorMode = z.enum(DOOR_MODES).meta({
  id: 'DoorMode',
  description:
    'normal: credentials decide; locked: staff only; unlocked: held open; lockdown: closed to all but staff with lockdown access',
});
export type DoorMode = z.infer<typeof DoorMode>;

export const MEMBERSHIP_STATUSES = ['active', 'trialing', 'past_due', 'frozen', 'suspended', 'cancelled', 'ended'] as const;
export const MembershipStatus = z.enum(MEMBERSHIP_STATUSES).meta({
  id: 'MembershipStatus',
  description:
    'active/trialing: may enter; past_due: a payment failed, entry continues until validUntil (grace); frozen: paused; suspended: blocked by staff or by dunning; cancelled: entry until validUntil; ended: over',
});
export type MembershipStatus = z.infer<typeof MembershipStatus>;

export const SUSPENSIONS = ['staff', 'payment_overdue'] as const;

export const DoorGroup = z
  .string()
  .regex(/^[a-z][a-z0-9_-]{0,31}$/, 'must be a short lowercase name such as general, studio or pool')
  .meta({ description: 'Door group: a door belongs to one, an access profile grants several' });

/** Schedule keys in a snapshot: `staffed` (the site's staffed hours) or `profile:<id>`. */
export const STAFFED_SCHEDULE = 'staffed';

export const Booking = z.object({
  doorGroup: DoorGroup,
  startsAt: z.number().int(),
  endsAt: z.number().int(),
  /** The door opens for the member this many minutes before the start. */
  opensMinutesBefore: z.number().int().min(0).max(240),
});
export type Booking = z.infer<typeof Booking>;

/** What a plan grants: shared by many members, so the door stores it once. */
export const AccessProfile = z.object({
  id: z.string(),
  /** Site ids; null = every site of the organisation (otherwise the first is the home site). */
  sites: z.array(z.string()).nullable(),
  doorGroups: z.array(DoorGroup),
  /** Schedule key, or null for 24/7. */
  schedule: z.string().nullable(),
  maxEntriesPerDay: z.number().int().min(1).nullable(),
  staff: z.boolean(),
  /** Staff who still enter during a lockdown (managers, security). */
  lockdownAccess: z.boolean(),
});
export type AccessProfile = z.infer<typeof AccessProfile>;

/** The profile of members who were given none: every site, general doors, 24/7. */
export const DEFAULT_PROFILE: AccessProfile = {
  id: 'default',
  sites: null,
  doorGroups: ['general'],
  schedule: null,
  maxEntriesPerDay: null,
  staff: false,
  lockdownAccess: false,
};

/** One member as the door caches it. No names or contact details. */
export const MemberAccess = z.object({
  id: z.string(),
  status: MembershipStatus,
  suspension: z.enum(SUSPENSIONS).nullable(),
  /** Index into the snapshot's profiles. */
  profile: z.number().int().min(0),
  /** Entry allowed from validFrom until validUntil (paid-through plus grace), epoch ms; null = open-ended. */
  validFrom: z.number().int().nullable(),
  validUntil: z.number().int().nullable(),
  /** Day and guest passes: entries left; null = not a pass. */
  entriesLeft: z.number().int().min(0).nullable(),
  bookings: z.array(Booking),
  /** Card + PIN doors: the member's PIN verifier (see PIN_VERIFIER); absent = no PIN set. */
  pinVerifier: z.string().max(200).optional(),
});
export type MemberAccess = z.infer<typeof MemberAccess>;

/**
 * A member's PIN travels only as `pbkdf2-sha256$<iterations>$<salt>$<hash>` (salt and hash
 * base64url): the Worker derives it when staff set the PIN, the door derives the typed PIN with
 * the same salt and compares. core does no crypto itself: each side passes its PBKDF2.
 */
export const PIN_VERIFIER = /^pbkdf2-sha256\$(\d{1,7})\$([A-Za-z0-9_-]{8,64})\$([A-Za-z0-9_-]{43})$/;
export const PIN_ITERATIONS = 10_000;
export const PIN_PATTERN = /^\d{4,8}$/;

/** PBKDF2-HMAC-SHA256 of the PIN with the salt text, 32 bytes, as base64url without padding. */
export type Pbkdf2 = (pin: string, salt: string, iterations: number) => Promise<string>;

/** The verifier of a PIN with the given salt (base64url) and iteration count. */
export async function derivePinVerifier(pin: string, salt: string, pbkdf2: Pbkdf2, iterations = PIN_ITERATIONS): Promise<string> {
  return `pbkdf2-sha256$${iterations}$${salt}$${await pbkdf2(pin, salt, iterations)}`;
}

/** Whether a typed PIN matches a verifier; false for a malformed verifier or PIN. */
export async function pinMatches(pin: string, verifier: string, pbkdf2: Pbkdf2): Promise<boolean> {
  const m = PIN_VERIFIER.exec(verifier);
  if (!m || !PIN_PATTERN.test(pin)) return false;
  const derived = await derivePinVerifier(pin, m[2] as string, pbkdf2, Number(m[1]));
  // Constant-time comparison: the verifier's length is public, its content is not.
  let diff = derived.length ^ verifier.length;
  for (let i = 0; i < Math.min(derived.length, verifier.length); i++) diff |= derived.charCodeAt(i) ^ verifier.charCodeAt(i);
  return diff === 0;
}

export const DoorPolicy = z.object({
  id: z.string(),
  name: z.string(),
  group: DoorGroup,
  mode: DoorMode,
  /** Schedule key during which the door is held unlocked (e.g. staffed hours); null = never. */
  unlockSchedule: z.string().nullable(),
  /** Timed anti-passback: no second grant to the same member at this door within this many seconds. */
  antiPassbackSeconds: z.number().int().min(0).max(86_400),
  /** After this long without a successful sync, cached grants expire at this door (fail-secure). */
  maxOfflineSeconds: z.number().int().min(60).max(30 * 86_400),
  grantSeconds: z.number().int().min(1).max(60),
});
export type DoorPolicy = z.infer<typeof DoorPolicy>;

export const SitePolicy = z.object({
  id: z.string(),
  timezone: z.string(),
  /** Holidays and closures: members are refused, staff still enter. */
  closures: Schedule.shape.closures,
});
export type SitePolicy = z.infer<typeof SitePolicy>;

export const DEFAULT_MAX_OFFLINE_SECONDS = 72 * 3600;
