// D1 tables. migrations/ is generated from this file with `npm run db:generate` (drizzle-kit).
import { index, integer, primaryKey, sqliteTable, text, uniqueIndex } from 'drizzle-orm/sqlite-core';
import type { CommandAction } from '../../core/commands.ts';
import { DEFAULT_MAX_OFFLINE_SECONDS, MEMBERSHIP_STATUSES, SUSPENSIONS, type DoorMode } from '../../core/entitlement.ts';
import type { Closure, Schedule } from '../../core/schedule.ts';

// Times are epoch milliseconds (UTC); the API renders them as RFC 3339.
const createdAt = () => integer('created_at').notNull();

export const organisations = sqliteTable('organisations', {
  id: text('id').primaryKey(),
  name: text('name').notNull(),
  createdAt: createdAt(),
});

// Every tenant-owned row names its organisation; queries always filter by it.
const organisationRef = () =>
  text('organisation_id')
    .notNull()
    .references(() => organisations.id);

export const apiKeys = sqliteTable(
  'api_keys',
  {
    id: text('id').primaryKey(),
    organisationId: organisationRef(),
    name: text('name').notNull(),
    prefix: text('prefix').notNull(),
    keyHash: text('key_hash').notNull(),
    createdAt: createdAt(),
    revokedAt: integer('revoked_at'),
  },
  (t) => [uniqueIndex('api_keys_hash').on(t.keyHash), index('api_keys_org').on(t.organisationId)],
);

export const sites = sqliteTable(
  'sites',
  {
    id: text('id').primaryKey(),
    organisationId: organisationRef(),
    name: text('name').notNull(),
    timezone: text('timezone').notNull(),
    /** Weekly windows when the site is staffed; doors may unlock and profiles may grant by them. */
    staffedHours: text('staffed_hours', { mode: 'json' }).$type<Schedule['windows'] | null>(),
    closures: text('closures', { mode: 'json' }).$type<Closure[]>().notNull().default([]),
    entitlementVersion: integer('entitlement_version').notNull().default(0),
    /** Content hash of the entitlement state at hashVersion (recomputed lazily, once per version). */
    entitlementHash: text('entitlement_hash'),
    hashVersion: integer('hash_version'),
    createdAt: createdAt(),
  },
  (t) => [index('sites_org').on(t.organisationId)],
);

export const doors = sqliteTable(
  'doors',
  {
    id: text('id').primaryKey(),
    organisationId: organisationRef(),
    siteId: text('site_id')
      .notNull()
      .references(() => sites.id),
    name: text('name').notNull(),
    group: text('door_group').notNull().default('general'),
    mode: text('mode').$type<DoorMode>().notNull().default('normal'),
    unlockDuringStaffedHours: integer('unlock_during_staffed_hours', { mode: 'boolean' }).notNull().default(false),
    antiPassbackSeconds: integer('anti_passback_seconds').notNull().default(0),
    maxOfflineSeconds: integer('max_offline_seconds').notNull().default(DEFAULT_MAX_OFFLINE_SECONDS),
    grantSeconds: integer('grant_seconds').notNull().default(5),
    createdAt: createdAt(),
  },
  (t) => [index('doors_site').on(t.siteId), index('doors_org').on(t.organisationId)],
);

export const accessProfiles = sqliteTable(
  'access_profiles',
  {
    id: text('id').primaryKey(),
    organisationId: organisationRef(),
    name: text('name').notNull(),
    /** Site ids, or null for every site. */
    sites: text('sites', { mode: 'json' }).$type<string[] | null>(),
    doorGroups: text('door_groups', { mode: 'json' }).$type<string[]>().notNull(),
    scheduleKind: text('schedule_kind', { enum: ['always', 'staffed_hours', 'custom'] }).notNull(),
    schedule: text('schedule', { mode: 'json' }).$type<Schedule['windows'] | null>(),
    maxEntriesPerDay: integer('max_entries_per_day'),
    staff: integer('staff', { mode: 'boolean' }).notNull().default(false),
    lockdownAccess: integer('lockdown_access', { mode: 'boolean' }).notNull().default(false),
    createdAt: createdAt(),
  },
  (t) => [index('access_profiles_org').on(t.organisationId)],
);

export const members = sqliteTable(
  'members',
  {
    id: text('id').primaryKey(),
    organisationId: organisationRef(),
    name: text('name').notNull(),
    email: text('email'),
    phone: text('phone'),
    emergencyContactName: text('emergency_contact_name'),
    emergencyContactPhone: text('emergency_contact_phone'),
    emergencyContactRelationship: text('emergency_contact_relationship'),
    status: text('status', { enum: MEMBERSHIP_STATUSES }).notNull(),
    suspension: text('suspension', { enum: SUSPENSIONS }),
    accessProfileId: text('access_profile_id').references(() => accessProfiles.id),
    validFrom: integer('valid_from'),
    validUntil: integer('valid_until'),
    entriesLeft: integer('entries_left'),
    createdAt: createdAt(),
    updatedAt: integer('updated_at').notNull(),
  },
  (t) => [index('members_org').on(t.organisationId, t.id)],
);

export const credentials = sqliteTable(
  'credentials',
  {
    id: text('id').primaryKey(),
    organisationId: organisationRef(),
    memberId: text('member_id')
      .notNull()
      .references(() => members.id),
    kind: text('kind', { enum: ['wiegand', 'raw'] }).notNull(),
    facilityCode: integer('facility_code'),
    cardNumber: integer('card_number'),
    rawId: text('raw_id'),
    key: text('key').notNull(),
    createdAt: createdAt(),
  },
  (t) => [uniqueIndex('credentials_org_key').on(t.organisationId, t.key), index('credentials_member').on(t.memberId)],
);

export const enrollmentCodes = sqliteTable(
  'enrollment_codes',
  {
    id: text('id').primaryKey(),
    organisationId: organisationRef(),
    siteId: text('site_id')
      .notNull()
      .references(() => sites.id),
    codeHash: text('code_hash').notNull(),
    expiresAt: integer('expires_at').notNull(),
    usedAt: integer('used_at'),
    deviceId: text('device_id'),
    createdAt: createdAt(),
  },
  (t) => [uniqueIndex('enrollment_codes_hash').on(t.codeHash)],
);

export const devices = sqliteTable(
  'devices',
  {
    id: text('id').primaryKey(),
    organisationId: organisationRef(),
    siteId: text('site_id')
      .notNull()
      .references(() => sites.id),
    name: text('name').notNull(),
    tokenHash: text('token_hash').notNull(),
    agentVersion: text('agent_version'),
    entitlementVersion: integer('entitlement_version'),
    entitlementHash: text('entitlement_hash'),
    lastSeenAt: integer('last_seen_at'),
    lastHeartbeatAt: integer('last_heartbeat_at'),
    uptimeSeconds: integer('uptime_seconds'),
    clockOffsetMs: integer('clock_offset_ms'),
    mqttConnected: integer('mqtt_connected', { mode: 'boolean' }),
    reconnectsLastHour: integer('reconnects_last_hour'),
    outboxPending: integer('outbox_pending'),
    createdAt: createdAt(),
    revokedAt: integer('revoked_at'),
  },
  (t) => [uniqueIndex('devices_token').on(t.tokenHash), index('devices_org').on(t.organisationId)],
);

export const checkins = sqliteTable(
  'checkins',
  {
    id: text('id').primaryKey(),
    organisationId: organisationRef(),
    siteId: text('site_id')
      .notNull()
      .references(() => sites.id),
    doorId: text('door_id'),
    deviceId: text('device_id').notNull(),
    memberId: text('member_id'),
    credentialKey: text('credential_key'),
    granted: integer('granted', { mode: 'boolean' }).notNull(),
    reason: text('reason').notNull(),
    explanation: text('explanation').notNull(),
    usesPass: integer('uses_pass', { mode: 'boolean' }).notNull().default(false),
    occurredAt: integer('occurred_at').notNull(),
    receivedAt: integer('received_at').notNull(),
  },
  (t) => [
    index('checkins_org_time').on(t.organisationId, t.occurredAt),
    index('checkins_member_time').on(t.memberId, t.occurredAt),
  ],
);


export const bookings = sqliteTable(
  'bookings',
  {
    id: text('id').primaryKey(),
    organisationId: organisationRef(),
    memberId: text('member_id')
      .notNull()
      .references(() => members.id),
    doorGroup: text('door_group').notNull(),
    startsAt: integer('starts_at').notNull(),
    endsAt: integer('ends_at').notNull(),
    opensMinutesBefore: integer('opens_minutes_before').notNull(),
    createdAt: createdAt(),
  },
  (t) => [index('bookings_member').on(t.memberId, t.endsAt)],
);

/** Per-site change log: which records changed at which version, so doors can fetch deltas. */
export const entitlementChanges = sqliteTable(
  'entitlement_changes',
  {
    siteId: text('site_id')
      .notNull()
      .references(() => sites.id),
    version: integer('version').notNull(),
    kind: text('kind', { enum: ['site', 'door', 'profile', 'member', 'credential'] }).notNull(),
    entityId: text('entity_id').notNull(),
  },
  (t) => [primaryKey({ columns: [t.siteId, t.version, t.kind, t.entityId] })],
);

export const commands = sqliteTable(
  'commands',
  {
    id: text('id').primaryKey(),
    organisationId: organisationRef(),
    deviceId: text('device_id')
      .notNull()
      .references(() => devices.id),
    action: text('action', { mode: 'json' }).$type<CommandAction>().notNull(),
    nonce: text('nonce').notNull(),
    issuedAt: integer('issued_at').notNull(),
    expiresAt: integer('expires_at').notNull(),
    status: text('status', { enum: ['sent', 'publish_failed', 'executed', 'rejected'] }).notNull(),
    resultReason: text('result_reason'),
    resultDetail: text('result_detail'),
    ackedAt: integer('acked_at'),
  },
  (t) => [index('commands_device').on(t.deviceId, t.issuedAt)],
);
