// What a door needs to know to decide: per member, the membership state and what it grants;
// per door, its group, mode and policies; per site, its time zone, hours and closures. These are
// the records the Worker computes and the door caches; the access rule reads only these.
import { z } from 'zod';
import { DoorMode } from './commands.ts';
import { Schedule } from './schedule.ts';

export const MEMBERSHIP_STATUSES = ['active', 'trialing', 'past_due', 'frozen', 'suspended', 'cancelled', 'ended'] as const;
export const MembershipStatus = z.enum(MEMBERSHIP_STATUSES).meta({
  id: 'MembershipStatus',
  description:
    'active/trialing: paid or in trial; past_due: a payment failed, access continues until validUntil (grace); frozen: paused; suspended: blocked by staff or by dunning; cancelled: ends at validUntil; ended: over',
});
export type MembershipStatus = z.infer<typeof MembershipStatus>;

export const DoorGroup = z
  .string()
  .regex(/^[a-z][a-z0-9_-]{0,31}$/, 'must be a short lowercase name such as general, studio or pool')
  .meta({ description: 'Door group; members are granted groups, doors belong to one' });

export const Booking = z.object({
  doorGroup: DoorGroup,
  /** Class start and end, epoch ms. */
  startsAt: z.number().int(),
  endsAt: z.number().int(),
  /** The door opens this many minutes before the start. */
  opensMinutesBefore: z.number().int().min(0).max(240).default(15),
});
export type Booking = z.infer<typeof Booking>;

/** One member as the door caches it. No names or contact details. */
export const MemberAccess = z.object({
  id: z.string(),
  status: MembershipStatus,
  /** When status is suspended: why, so the door can say `payment_overdue` rather than a generic suspension. */
  suspension: z.enum(['staff', 'payment_overdue']).nullable().default(null),
  /** Access starts at validFrom and ends at validUntil (paid-through plus grace); null = open-ended. */
  validFrom: z.number().int().nullable().default(null),
  validUntil: z.number().int().nullable().default(null),
  /** Site ids the member may enter; null = every site of the organisation. */
  sites: z.array(z.string()).nullable().default(null),
  doorGroups: z.array(DoorGroup).default(['general']),
  /** Key into the snapshot's schedules; null = 24/7. */
  schedule: z.string().nullable().default(null),
  maxEntriesPerDay: z.number().int().min(1).nullable().default(null),
  /** Day and guest passes: entries left; null = not a pass. */
  entriesLeft: z.number().int().min(0).nullable().default(null),
  staff: z.boolean().default(false),
  /** Staff who may still enter during a lockdown (managers, security). */
  lockdownAccess: z.boolean().default(false),
  bookings: z.array(Booking).default([]),
});
export type MemberAccess = z.infer<typeof MemberAccess>;

export const DoorPolicy = z.object({
  id: z.string(),
  name: z.string(),
  group: DoorGroup.default('general'),
  mode: DoorMode.default('normal'),
  /** Key into the snapshot's schedules: the door is held unlocked while it is open (e.g. staffed hours). */
  unlockSchedule: z.string().nullable().default(null),
  /** Timed anti-passback: a member granted at this door cannot be granted again here within this many seconds. */
  antiPassbackSeconds: z.number().int().min(0).max(86_400).default(0),
  /** After this long without a successful sync, cached grants expire at this door (fail-secure). */
  maxOfflineSeconds: z.number().int().min(60).max(30 * 86_400).default(72 * 3600),
  grantSeconds: z.number().int().min(1).max(60).default(5),
});
export type DoorPolicy = z.infer<typeof DoorPolicy>;

export const SitePolicy = z.object({
  id: z.string(),
  timezone: z.string(),
  /** Closures (holidays) that close the site to members; staff still enter. */
  closures: Schedule.shape.closures,
});
export type SitePolicy = z.infer<typeof SitePolicy>;
