// Tables of members: the member, the credentials they present at a door and their bookings.
import { index, integer, sqliteTable, text, uniqueIndex } from 'drizzle-orm/sqlite-core';
import { MEMBERSHIP_STATUSES, SUSPENSIONS } from '../../core/entitlement.ts';
import { MEMBER_LOCALES } from '../../core/contracts/common.ts';
import { accessProfiles } from '../access/tables.ts';
import { createdAt } from '../db/columns.ts';
import { organisationRef } from '../organisation/tables.ts';

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
    /** Language of the member's notices. */
    locale: text('locale', { enum: MEMBER_LOCALES }).notNull().default('en'),
    /** Card + PIN doors: a salted PBKDF2 verifier of the member's PIN (never the PIN); null = none set. */
    pinVerifier: text('pin_verifier'),
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
