// D1 tables. migrations/ is generated from this file with `npm run db:generate` (drizzle-kit).
import { index, integer, sqliteTable, text, uniqueIndex } from 'drizzle-orm/sqlite-core';

// Times are epoch milliseconds (UTC); the API renders them as RFC 3339.
const createdAt = () => integer('created_at').notNull();

export const organisations = sqliteTable('organisations', {
  id: text('id').primaryKey(),
  name: text('name').notNull(),
  createdAt: createdAt(),
});

export const apiKeys = sqliteTable(
  'api_keys',
  {
    id: text('id').primaryKey(),
    organisationId: text('organisation_id')
      .notNull()
      .references(() => organisations.id),
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
    organisationId: text('organisation_id')
      .notNull()
      .references(() => organisations.id),
    name: text('name').notNull(),
    timezone: text('timezone').notNull(),
    entitlementVersion: integer('entitlement_version').notNull().default(0),
    createdAt: createdAt(),
  },
  (t) => [index('sites_org').on(t.organisationId)],
);

export const doors = sqliteTable(
  'doors',
  {
    id: text('id').primaryKey(),
    organisationId: text('organisation_id')
      .notNull()
      .references(() => organisations.id),
    siteId: text('site_id')
      .notNull()
      .references(() => sites.id),
    name: text('name').notNull(),
    createdAt: createdAt(),
  },
  (t) => [index('doors_site').on(t.siteId), index('doors_org').on(t.organisationId)],
);

export const members = sqliteTable(
  'members',
  {
    id: text('id').primaryKey(),
    organisationId: text('organisation_id')
      .notNull()
      .references(() => organisations.id),
    name: text('name').notNull(),
    email: text('email'),
    phone: text('phone'),
    emergencyContactName: text('emergency_contact_name'),
    emergencyContactPhone: text('emergency_contact_phone'),
    emergencyContactRelationship: text('emergency_contact_relationship'),
    status: text('status', { enum: ['active', 'suspended'] }).notNull(),
    createdAt: createdAt(),
    updatedAt: integer('updated_at').notNull(),
  },
  (t) => [index('members_org').on(t.organisationId, t.id)],
);

export const credentials = sqliteTable(
  'credentials',
  {
    id: text('id').primaryKey(),
    organisationId: text('organisation_id')
      .notNull()
      .references(() => organisations.id),
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
    organisationId: text('organisation_id')
      .notNull()
      .references(() => organisations.id),
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
    organisationId: text('organisation_id')
      .notNull()
      .references(() => organisations.id),
    siteId: text('site_id')
      .notNull()
      .references(() => sites.id),
    name: text('name').notNull(),
    tokenHash: text('token_hash').notNull(),
    agentVersion: text('agent_version'),
    entitlementVersion: integer('entitlement_version'),
    lastSeenAt: integer('last_seen_at'),
    createdAt: createdAt(),
    revokedAt: integer('revoked_at'),
  },
  (t) => [uniqueIndex('devices_token').on(t.tokenHash), index('devices_org').on(t.organisationId)],
);

export const checkins = sqliteTable(
  'checkins',
  {
    id: text('id').primaryKey(),
    organisationId: text('organisation_id')
      .notNull()
      .references(() => organisations.id),
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
    occurredAt: integer('occurred_at').notNull(),
    receivedAt: integer('received_at').notNull(),
  },
  (t) => [
    index('checkins_org_time').on(t.organisationId, t.occurredAt),
    index('checkins_member_time').on(t.memberId, t.occurredAt),
  ],
);

