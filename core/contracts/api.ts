// Owner API request and response shapes. Validation, types and the OpenAPI document all derive
// from these schemas.
import { z } from 'zod';
import { ACCESS_REASONS } from '../reasons.ts';
import { WIEGAND_MAX_CARD, WIEGAND_MAX_FACILITY } from '../credential-key.ts';
import { MemberStatus, resourceId, Timestamp, TimeZone } from './common.ts';

export const OrganisationId = resourceId('org');
export const SiteId = resourceId('site');
export const DoorId = resourceId('door');
export const MemberId = resourceId('mem');
export const CredentialId = resourceId('cred');
export const DeviceId = resourceId('dev');
export const EnrollmentCodeId = resourceId('enr');
export const ApiKeyId = resourceId('key');
export const CheckinId = z.uuid().meta({ description: 'Event id chosen by the door agent (UUID)' });

const name = z.string().trim().min(1, 'must not be empty').max(200, 'must be at most 200 characters');
const phone = z
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
export const Organisation = z
  .object({ id: OrganisationId, name: z.string(), createdAt: Timestamp })
  .meta({ id: 'Organisation' });
export const OrganisationUpdate = z.object({ name }).meta({ id: 'OrganisationUpdate' });

export const ApiKey = z
  .object({
    id: ApiKeyId,
    name: z.string(),
    prefix: z.string().meta({ description: 'First characters of the key, for recognising it' }),
    createdAt: Timestamp,
    revokedAt: Timestamp.nullable(),
  })
  .meta({ id: 'ApiKey' });
export const ApiKeyCreate = z.object({ name }).meta({ id: 'ApiKeyCreate' });
export const ApiKeyCreated = ApiKey.extend({
  secret: z.string().meta({ description: 'The key itself. Shown once; only its hash is stored.' }),
}).meta({ id: 'ApiKeyCreated' });

// Sites and doors
export const Site = z
  .object({
    id: SiteId,
    name: z.string(),
    timezone: z.string(),
    entitlementVersion: z.number().int().meta({ description: 'Bumped whenever access at this site changes' }),
    createdAt: Timestamp,
  })
  .meta({ id: 'Site' });
export const SiteCreate = z.object({ name, timezone: TimeZone }).meta({ id: 'SiteCreate' });
export const SiteUpdate = SiteCreate.partial().meta({ id: 'SiteUpdate' });

export const Door = z
  .object({ id: DoorId, siteId: SiteId, name: z.string(), createdAt: Timestamp })
  .meta({ id: 'Door' });
export const DoorCreate = z.object({ siteId: SiteId, name }).meta({ id: 'DoorCreate' });
export const DoorUpdate = z.object({ name }).meta({ id: 'DoorUpdate' });

// Members
export const EmergencyContact = z
  .object({ name, phone, relationship: z.string().trim().max(100).optional() })
  .meta({ id: 'EmergencyContact' });

export const Member = z
  .object({
    id: MemberId,
    name: z.string(),
    email: z.string().nullable(),
    phone: z.string().nullable(),
    emergencyContact: EmergencyContact.nullable(),
    status: MemberStatus,
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
    status: MemberStatus.default('active'),
  })
  .meta({ id: 'MemberCreate' });
export const MemberUpdate = z
  .object({
    name,
    email: z.email('must be an email address').max(320).nullable(),
    phone: phone.nullable(),
    emergencyContact: EmergencyContact.nullable(),
    status: MemberStatus,
  })
  .partial()
  .meta({ id: 'MemberUpdate' });
export const MemberListQuery = listQuery.extend({ status: MemberStatus.optional() });

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
    entitlementVersion: z.number().int().nullable(),
    lastSeenAt: Timestamp.nullable(),
    createdAt: Timestamp,
    revokedAt: Timestamp.nullable(),
  })
  .meta({ id: 'Device' });

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
  })
  .meta({ id: 'Checkin' });
export const CheckinListQuery = listQuery.extend({
  memberId: MemberId.optional(),
  siteId: SiteId.optional(),
  doorId: DoorId.optional(),
  from: Timestamp.optional().meta({ description: 'Only events at or after this time' }),
  to: Timestamp.optional().meta({ description: 'Only events before this time' }),
  granted: z.enum(['true', 'false']).optional(),
});

export const IdParam = z.object({ id: z.string().min(1).max(64) });
