// Owner API request and response shapes. Validation, types and the OpenAPI document all derive
// from these schemas.
import { z } from 'zod';
import { ACCESS_REASONS } from '../reasons.ts';
import { WIEGAND_MAX_CARD, WIEGAND_MAX_FACILITY } from '../credential-key.ts';
import { CommandAction } from '../commands.ts';
import { DoorGroup, DoorMode, MembershipStatus, SUSPENSIONS } from '../entitlement.ts';
import { BUILT_IN_ROLES, Permission, PERMISSIONS } from '../permissions.ts';
import { Closure, TimeWindow } from '../schedule.ts';
import { MemberLocale, resourceId, Timestamp, TimeZone } from './common.ts';

export const OrganisationId = resourceId('org');
export const SiteId = resourceId('site');
export const DoorId = resourceId('door');
export const MemberId = resourceId('mem');
export const CredentialId = resourceId('cred');
export const DeviceId = resourceId('dev');
export const EnrollmentCodeId = resourceId('enr');
export const ApiKeyId = resourceId('key');
export const AccessProfileId = resourceId('prof');
export const BookingId = resourceId('bkg');
export const CommandId = z.uuid();
export const CheckinId = z.uuid().meta({ description: 'Event id chosen by the door agent (UUID)' });

export const name = z.string().trim().min(1, 'must not be empty').max(200, 'must be at most 200 characters');
export const phone = z
  .string()
  .trim()
  .regex(/^\+?[0-9][0-9 ()-]{5,24}$/, 'must be a phone number such as +66 81 234 5678');

export const listQuery = z.object({
  limit: z.coerce.number().int().min(1).max(200).default(50),
  cursor: z.string().max(200).optional(),
});

export const page = <T extends z.ZodType>(item: T) =>
  z.object({ data: z.array(item), nextCursor: z.string().nullable() });

// Organisations and API keys
const staffMfaRequired = z.boolean().meta({
  description: 'Every staff person must use an authenticator app: until they set one up, their session can do nothing but set it up',
});
export const Organisation = z
  .object({ id: OrganisationId, name: z.string(), staffMfaRequired, createdAt: Timestamp })
  .meta({ id: 'Organisation' });
export const OrganisationUpdate = z.object({ name, staffMfaRequired }).partial().meta({ id: 'OrganisationUpdate' });

export const ApiKey = z
  .object({
    id: ApiKeyId,
    name: z.string(),
    prefix: z.string().meta({ description: 'First characters of the key, for recognising it' }),
    createdAt: Timestamp,
    revokedAt: Timestamp.nullable(),
    lastUsedAt: Timestamp.nullable().meta({ description: 'When the key was last used, to the minute; null if never' }),
    scopes: z.array(Permission).nullable().meta({ description: 'What the key may do; null for an owner key, which may do everything' }),
    siteIds: z.array(SiteId).nullable().meta({ description: 'The sites whose doors, devices and check-ins the key reaches; null for every site' }),
  })
  .meta({ id: 'ApiKey' });
export const Scope = z.enum([...PERMISSIONS, ...(Object.keys(BUILT_IN_ROLES) as Array<keyof typeof BUILT_IN_ROLES>)]);
export const ApiKeyCreate = z
  .object({
    name,
    scopes: z
      .array(Scope)
      .min(1, 'must name at least one permission or role')
      .max(60)
      .optional()
      .meta({ description: 'Permissions (resource:action) and built-in roles (owner, manager, front_desk, trainer, technician, read_only) the key holds; left out, an owner key. A key can give no more than it holds.' }),
    siteIds: z
      .array(SiteId)
      .min(1, 'must name at least one site, or be left out for every site')
      .max(200)
      .optional()
      .meta({ description: 'Limit the key to these sites (a branch’s door tool); left out, every site. Someone limited to sites must name sites among theirs.' }),
  })
  .meta({ id: 'ApiKeyCreate' });
export const ApiKeyCreated = ApiKey.extend({
  secret: z.string().meta({ description: 'The key itself. Shown once; only its hash is stored.' }),
}).meta({ id: 'ApiKeyCreated' });

// Sites and doors
const staffedHours = z
  .array(TimeWindow)
  .max(50)
  .nullable()
  .meta({ description: 'Weekly windows when the site is staffed, in its time zone; null = never staffed' });
const closures = z.array(Closure).max(366).meta({ description: 'Holidays and closures: members are refused, staff still enter' });

export const Site = z
  .object({
    id: SiteId,
    name: z.string(),
    timezone: z.string(),
    staffedHours,
    closures,
    entitlementVersion: z.number().int().meta({ description: 'Bumped whenever access at this site changes' }),
    createdAt: Timestamp,
  })
  .meta({ id: 'Site' });
export const SiteCreate = z
  .object({ name, timezone: TimeZone, staffedHours: staffedHours.default(null), closures: closures.default([]) })
  .meta({ id: 'SiteCreate' });
export const SiteUpdate = z
  .object({ name, timezone: TimeZone, staffedHours, closures })
  .partial()
  .meta({ id: 'SiteUpdate' });

const doorPolicy = {
  group: DoorGroup,
  mode: DoorMode,
  unlockDuringStaffedHours: z.boolean().meta({ description: "Hold the door unlocked during the site's staffed hours" }),
  antiPassbackSeconds: z.number().int().min(0).max(86_400).meta({ description: 'No second entry by the same member here within this many seconds; 0 = off' }),
  maxOfflineHours: z
    .number()
    .int()
    .min(1)
    .max(720)
    .meta({ description: 'After this long without reaching gymgate, the door stops trusting its cache and denies (fail-secure); up to 30 days' }),
  grantSeconds: z.number().int().min(1).max(60).meta({ description: 'How long a grant releases the lock' }),
};
export const Door = z
  .object({ id: DoorId, siteId: SiteId, name: z.string(), ...doorPolicy, createdAt: Timestamp })
  .meta({ id: 'Door' });
export const DoorCreate = z
  .object({
    siteId: SiteId,
    name,
    group: doorPolicy.group.default('general'),
    mode: doorPolicy.mode.default('normal'),
    unlockDuringStaffedHours: doorPolicy.unlockDuringStaffedHours.default(false),
    antiPassbackSeconds: doorPolicy.antiPassbackSeconds.default(0),
    maxOfflineHours: doorPolicy.maxOfflineHours.default(72),
    grantSeconds: doorPolicy.grantSeconds.default(5),
  })
  .meta({ id: 'DoorCreate' });
export const DoorUpdate = z.object({ name, ...doorPolicy }).partial().meta({ id: 'DoorUpdate' });

// Access profiles: what a plan grants
const profileSchedule = z
  .union([z.enum(['always', 'staffed_hours']), z.object({ windows: z.array(TimeWindow).min(1).max(50) })])
  .meta({ description: "'always' (24/7), 'staffed_hours' (the site's), or custom weekly windows such as off-peak" });
export const AccessProfile = z
  .object({
    id: AccessProfileId,
    name: z.string(),
    sites: z.array(SiteId).nullable(),
    doorGroups: z.array(DoorGroup),
    schedule: profileSchedule,
    maxEntriesPerDay: z.number().int().nullable(),
    staff: z.boolean(),
    lockdownAccess: z.boolean(),
    createdAt: Timestamp,
  })
  .meta({ id: 'AccessProfile' });
export const AccessProfileCreate = z
  .object({
    name,
    sites: z.array(SiteId).min(1).max(100).nullable().default(null).meta({ description: 'Sites the holder may enter (first = home site); null = all sites' }),
    doorGroups: z.array(DoorGroup).min(1).max(32).default(['general']),
    schedule: profileSchedule.default('always'),
    maxEntriesPerDay: z.number().int().min(1).max(100).nullable().default(null),
    staff: z.boolean().default(false),
    lockdownAccess: z.boolean().default(false),
  })
  .refine((p) => !p.lockdownAccess || p.staff, { message: 'lockdown access is for staff profiles only', path: ['lockdownAccess'] })
  .meta({ id: 'AccessProfileCreate' });
export const AccessProfileUpdate = z
  .object({
    name,
    sites: z.array(SiteId).min(1).max(100).nullable(),
    doorGroups: z.array(DoorGroup).min(1).max(32),
    schedule: profileSchedule,
    maxEntriesPerDay: z.number().int().min(1).max(100).nullable(),
    staff: z.boolean(),
    lockdownAccess: z.boolean(),
  })
  .partial()
  .meta({ id: 'AccessProfileUpdate' });

// Members
export const EmergencyContact = z
  .object({ name, phone, relationship: z.string().trim().max(100).optional() })
  .meta({ id: 'EmergencyContact' });

const suspension = z.enum(SUSPENSIONS).nullable().meta({ description: 'Why a suspended member is suspended' });
const memberAccess = {
  accessProfileId: AccessProfileId.nullable().meta({ description: 'What the membership grants; null = general doors at every site, 24/7' }),
  validFrom: Timestamp.nullable().meta({ description: 'No entry before this time' }),
  validUntil: Timestamp.nullable().meta({ description: 'No entry from this time on (paid-through plus grace); doors enforce it offline too' }),
  entriesLeft: z.number().int().min(0).max(1000).nullable().meta({ description: 'Day or guest pass: entries left; null = not a pass' }),
};
export const Member = z
  .object({
    id: MemberId,
    name: z.string(),
    email: z.string().nullable(),
    phone: z.string().nullable(),
    emergencyContact: EmergencyContact.nullable(),
    status: MembershipStatus,
    suspension,
    ...memberAccess,
    locale: MemberLocale,
    createdAt: Timestamp,
    updatedAt: Timestamp,
  })
  .meta({ id: 'Member' });
export const MemberCreate = z
  .object({
    name,
    email: z.email('must be an email address').max(320).optional(),
    phone: phone.optional(),
    emergencyContact: EmergencyContact.optional(),
    status: MembershipStatus.default('active'),
    suspension: suspension.optional(),
    accessProfileId: memberAccess.accessProfileId.optional(),
    validFrom: memberAccess.validFrom.optional(),
    validUntil: memberAccess.validUntil.optional(),
    entriesLeft: memberAccess.entriesLeft.optional(),
    locale: MemberLocale.default('en'),
  })
  .meta({ id: 'MemberCreate' });
export const MemberUpdate = z
  .object({
    name,
    email: z.email('must be an email address').max(320).nullable(),
    phone: phone.nullable(),
    emergencyContact: EmergencyContact.nullable(),
    status: MembershipStatus,
    suspension,
    ...memberAccess,
    locale: MemberLocale,
  })
  .partial()
  .meta({ id: 'MemberUpdate' });
export const MemberListQuery = listQuery.extend({ status: MembershipStatus.optional() });

export const Booking = z
  .object({
    id: BookingId,
    memberId: MemberId,
    doorGroup: z.string(),
    startsAt: Timestamp,
    endsAt: Timestamp,
    opensMinutesBefore: z.number().int(),
    createdAt: Timestamp,
  })
  .meta({ id: 'Booking' });
export const BookingCreate = z
  .object({
    doorGroup: DoorGroup,
    startsAt: Timestamp,
    endsAt: Timestamp,
    opensMinutesBefore: z.number().int().min(0).max(240).default(15),
  })
  .refine((b) => Date.parse(b.endsAt) > Date.parse(b.startsAt), { message: 'must be after startsAt', path: ['endsAt'] })
  .meta({ id: 'BookingCreate', description: 'A class booking: the door group opens for the member from N minutes before the start' });

// Credentials
const facilityCode = z
  .number()
  .int('must be a whole number')
  .min(0)
  .max(WIEGAND_MAX_FACILITY, `must be at most ${WIEGAND_MAX_FACILITY}`);
const cardNumber = z.number().int('must be a whole number').min(0).max(WIEGAND_MAX_CARD, `must be at most ${WIEGAND_MAX_CARD}`);
const rawId = z
  .string()
  .trim()
  .regex(/^[0-9A-Fa-f:\- ]{2,80}$/, 'must be the card id in hex or decimal digits')
  .refine((s) => s.replace(/[\s:-]/g, '').length <= 64, 'must be at most 64 digits');

export const CredentialCreate = z
  .discriminatedUnion('kind', [
    z.object({ kind: z.literal('wiegand'), memberId: MemberId, facilityCode, cardNumber }),
    z.object({ kind: z.literal('raw'), memberId: MemberId, rawId }),
  ])
  .meta({ id: 'CredentialCreate' });
export const Credential = z
  .object({
    id: CredentialId,
    memberId: MemberId,
    kind: z.enum(['wiegand', 'raw']),
    facilityCode: z.number().int().nullable(),
    cardNumber: z.number().int().nullable(),
    rawId: z.string().nullable(),
    key: z.string().meta({ description: 'Canonical credential key, as the door reports it' }),
    createdAt: Timestamp,
  })
  .meta({ id: 'Credential' });
export const CredentialListQuery = listQuery.extend({ memberId: MemberId.optional() });

// Enrollment codes and devices
export const EnrollmentCodeCreate = z
  .object({
    siteId: SiteId,
    ttlMinutes: z.number().int().min(1).max(24 * 60).default(15),
  })
  .meta({ id: 'EnrollmentCodeCreate' });
export const EnrollmentCode = z
  .object({
    id: EnrollmentCodeId,
    siteId: SiteId,
    code: z.string().meta({ description: 'One-time code for `gymgate-agent provision`. Shown once.' }),
    expiresAt: Timestamp,
  })
  .meta({ id: 'EnrollmentCode' });

export const Device = z
  .object({
    id: DeviceId,
    siteId: SiteId,
    name: z.string(),
    agentVersion: z.string().nullable(),
    online: z.boolean().meta({ description: 'Heard from within the last 90 seconds' }),
    lastSeenAt: Timestamp.nullable(),
    entitlementVersion: z.number().int().nullable(),
    versionLag: z.number().int().nullable().meta({ description: "How many versions behind the site's current entitlements the door is" }),
    clockOffsetMs: z.number().int().nullable(),
    uptimeSeconds: z.number().int().nullable(),
    mqttConnected: z.boolean().nullable(),
    reconnectsLastHour: z.number().int().nullable(),
    flapping: z.boolean().meta({ description: 'Reconnected to the broker 5 or more times in the last hour' }),
    outboxPending: z.number().int().nullable(),
    gpioDriver: z
      .string()
      .nullable()
      .meta({ description: 'The GPIO driver of the last heartbeat (gpiod, onoff or simulated); null before one, or from an agent that does not report it' }),
    problems: z
      .array(z.string())
      .meta({ description: 'What is wrong at the door by its last heartbeat, e.g. the simulated GPIO fallback: taps are decided but no relay moves' }),
    createdAt: Timestamp,
    revokedAt: Timestamp.nullable(),
  })
  .meta({ id: 'Device' });

export const Command = z
  .object({
    id: CommandId,
    deviceId: DeviceId,
    action: CommandAction,
    status: z.enum(['sent', 'publish_failed', 'executed', 'rejected', 'expired']),
    issuedAt: Timestamp,
    expiresAt: Timestamp,
    ackedAt: Timestamp.nullable(),
    resultReason: z.string().nullable(),
    resultDetail: z.string().nullable(),
  })
  .meta({ id: 'Command' });
export const CommandCreate = z
  .object({ action: CommandAction, ttlSeconds: z.number().int().min(5).max(3600).default(60) })
  .meta({ id: 'CommandCreate' });

export const AccessExplainRequest = z
  .object({
    doorId: DoorId,
    credential: z.discriminatedUnion('kind', [
      z.object({ kind: z.literal('wiegand'), facilityCode: z.number().int().min(0).max(WIEGAND_MAX_FACILITY), cardNumber: z.number().int().min(0).max(WIEGAND_MAX_CARD) }),
      z.object({ kind: z.literal('raw'), rawId: z.string().min(1).max(80) }),
      z.object({ kind: z.literal('key'), key: z.string().min(1).max(80) }),
    ]),
    at: Timestamp.optional().meta({ description: 'When to decide for; default now' }),
  })
  .meta({ id: 'AccessExplainRequest' });
export const AccessExplanation = z
  .object({
    granted: z.boolean(),
    reason: z.enum(ACCESS_REASONS),
    explanation: z.string(),
    memberId: MemberId.nullable(),
    credentialKey: z.string(),
    doorId: DoorId,
    at: Timestamp,
  })
  .meta({ id: 'AccessExplanation' });

// Check-in events
export const AccessReason = z.enum(ACCESS_REASONS).meta({ id: 'AccessReason' });
export const Checkin = z
  .object({
    id: CheckinId,
    siteId: SiteId,
    doorId: DoorId.nullable(),
    deviceId: DeviceId,
    memberId: MemberId.nullable(),
    credentialKey: z.string().nullable(),
    granted: z.boolean(),
    reason: AccessReason,
    explanation: z.string(),
    occurredAt: Timestamp,
    receivedAt: Timestamp,
    memberName: z.string().nullable().optional().meta({ description: 'With expand=names: the member’s name (null when unknown)' }),
    doorName: z.string().nullable().optional().meta({ description: 'With expand=names: the door’s name (null when unknown)' }),
  })
  .meta({ id: 'Checkin' });
export const CheckinListQuery = listQuery.extend({
  memberId: MemberId.optional(),
  siteId: SiteId.optional(),
  doorId: DoorId.optional(),
  from: Timestamp.optional().meta({ description: 'Only events at or after this time' }),
  to: Timestamp.optional().meta({ description: 'Only events before this time' }),
  granted: z.enum(['true', 'false']).optional(),
  expand: z.enum(['names']).optional().meta({ description: 'names: add memberName and doorName, so a desk can read the list' }),
});

// Member PINs for card + PIN doors: set in clear over TLS, stored and sent to doors only as a verifier.
export const MemberPinSet = z
  .object({ pin: z.string().regex(/^\d{4,8}$/, 'must be 4 to 8 digits') })
  .meta({ id: 'MemberPinSet' });
export const MemberPin = z
  .object({ memberId: MemberId, pinSet: z.boolean() })
  .meta({ id: 'MemberPin', description: 'Whether the member has a PIN; the PIN itself is never returned' });

// Door alarms (door sensor events uploaded by the agents)
/** Door sensor alarms the agent raises (device/door/monitor.ts). */
export const DOOR_ALARM_TYPES = ['door_forced', 'door_held_open', 'door_held_open_cleared'] as const;
export const DoorAlarmType = z.enum(DOOR_ALARM_TYPES).meta({
  id: 'DoorAlarmType',
  description: 'door_forced: opened while locked; door_held_open: open past its limit after a grant; door_held_open_cleared: closed again',
});
export type DoorAlarmType = z.infer<typeof DoorAlarmType>;
export const DoorAlarm = z
  .object({
    id: z.uuid(),
    siteId: SiteId,
    doorId: DoorId.nullable(),
    deviceId: DeviceId,
    type: DoorAlarmType,
    openForMs: z.number().int().nullable().meta({ description: 'How long the door had been open (held-open alarms)' }),
    occurredAt: Timestamp,
    receivedAt: Timestamp,
  })
  .meta({ id: 'DoorAlarm' });
export const DoorAlarmListQuery = listQuery.extend({
  siteId: SiteId.optional(),
  doorId: DoorId.optional(),
  type: DoorAlarmType.optional(),
  since: Timestamp.optional().meta({ description: 'Only alarms at or after this time' }),
});

export const IdParam = z.object({ id: z.string().min(1).max(64) });
