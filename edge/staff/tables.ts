// Tables of the staff subsystem. A person (staff_users) is one account across organisations; what
// they may do in one organisation is their membership there (staff_members: roles, sites,
// disabled). Invitations and sessions keep only hashes of their secrets.
import { sql } from 'drizzle-orm';
import { index, integer, sqliteTable, text, uniqueIndex, type SQLiteColumn } from 'drizzle-orm/sqlite-core';
import type { Permission } from '../../core/permissions.ts';
import { createdAt } from '../db/columns.ts';
import { organisationRef } from '../organisation/tables.ts';

export const staffUsers = sqliteTable(
  'staff_users',
  {
    id: text('id').primaryKey(),
    /** Lower-cased: the sign-in name. */
    email: text('email').notNull(),
    name: text('name').notNull(),
    phone: text('phone'),
    /** edge/staff/passwords.ts: "pbkdf2-sha256$<rounds>x<iterations>$<salt>$<hash>". */
    passwordHash: text('password_hash').notNull(),
    /** Base32 TOTP secret once confirmed; a secret being set up waits in totpPending. */
    totpSecret: text('totp_secret'),
    totpPending: text('totp_pending'),
    /** The last 30-second step a code was accepted for: a code is good once. */
    totpLastStep: integer('totp_last_step'),
    createdAt: createdAt(),
  },
  (t) => [uniqueIndex('staff_users_email').on(t.email)],
);

export const staffMembers = sqliteTable(
  'staff_members',
  {
    id: text('id').primaryKey(),
    organisationId: organisationRef(),
    userId: text('user_id')
      .notNull()
      .references(() => staffUsers.id),
    /** Built-in role names and custom role ids (staff_roles). */
    roles: text('roles', { mode: 'json' }).notNull().$type<string[]>(),
    /** Null: every site. */
    siteIds: text('site_ids', { mode: 'json' }).$type<string[]>(),
    disabledAt: integer('disabled_at'),
    createdAt: createdAt(),
  },
  (t) => [uniqueIndex('staff_members_org_user').on(t.organisationId, t.userId), index('staff_members_user').on(t.userId)],
);

export const staffInvitations = sqliteTable(
  'staff_invitations',
  {
    id: text('id').primaryKey(),
    organisationId: organisationRef(),
    email: text('email').notNull(),
    name: text('name').notNull(),
    phone: text('phone'),
    /** Built-in role names and custom role ids (staff_roles). */
    roles: text('roles', { mode: 'json' }).notNull().$type<string[]>(),
    siteIds: text('site_ids', { mode: 'json' }).$type<string[]>(),
    tokenHash: text('token_hash').notNull(),
    expiresAt: integer('expires_at').notNull(),
    acceptedAt: integer('accepted_at'),
    revokedAt: integer('revoked_at'),
    createdAt: createdAt(),
  },
  (t) => [uniqueIndex('staff_invitations_token').on(t.tokenHash), index('staff_invitations_org').on(t.organisationId, t.id)],
);

/** Single-use codes that stand in for an authenticator code; only their hashes. */
export const staffRecoveryCodes = sqliteTable(
  'staff_recovery_codes',
  {
    id: text('id').primaryKey(),
    userId: text('user_id')
      .notNull()
      .references(() => staffUsers.id),
    codeHash: text('code_hash').notNull(),
    usedAt: integer('used_at'),
  },
  (t) => [uniqueIndex('staff_recovery_codes_hash').on(t.userId, t.codeHash)],
);

export const staffSessions = sqliteTable(
  'staff_sessions',
  {
    id: text('id').primaryKey(),
    userId: text('user_id')
      .notNull()
      .references(() => staffUsers.id),
    /** The organisation the session works in (switchable to another the person belongs to). */
    organisationId: organisationRef(),
    tokenHash: text('token_hash').notNull(),
    createdAt: createdAt(),
    lastSeenAt: integer('last_seen_at').notNull(),
    revokedAt: integer('revoked_at'),
    /** Signed in with a second factor (authenticator or recovery code, or a passkey), or added one since. */
    mfa: integer('mfa', { mode: 'boolean' }).notNull().default(false),
    ip: text('ip'),
    userAgent: text('user_agent'),
  },
  (t) => [uniqueIndex('staff_sessions_token').on(t.tokenHash), index('staff_sessions_user').on(t.userId)],
);

/** Passkeys (WebAuthn credentials) a person signs in with: the public key only, as base64url. */
export const staffPasskeys = sqliteTable(
  'staff_passkeys',
  {
    id: text('id').primaryKey(),
    userId: text('user_id')
      .notNull()
      .references(() => staffUsers.id),
    /** The authenticator's credential id (base64url): what a sign-in names. */
    credentialId: text('credential_id').notNull(),
    publicKey: text('public_key').notNull(),
    /** The authenticator's signature counter; 0 for authenticators that keep none (most passkeys). */
    counter: integer('counter').notNull(),
    transports: text('transports', { mode: 'json' }).$type<string[]>(),
    name: text('name').notNull(),
    createdAt: createdAt(),
    lastUsedAt: integer('last_used_at'),
  },
  (t) => [uniqueIndex('staff_passkeys_credential').on(t.credentialId), index('staff_passkeys_user').on(t.userId)],
);

/**
 * WebAuthn challenges, each good once for a few minutes: `register` belongs to the signed-in person
 * adding a passkey; `sign-in` to nobody yet (the passkey names its person).
 */
/** How many passkeys the user in `userId` (a column of the outer query) has: part of whether they have a second factor. */
export const passkeyCount = (userId: SQLiteColumn) => sql<number>`(select count(*) from ${staffPasskeys} where ${staffPasskeys.userId} = ${userId})`;

export const staffPasskeyChallenges = sqliteTable('staff_passkey_challenges', {
  challenge: text('challenge').primaryKey(),
  purpose: text('purpose', { enum: ['register', 'sign-in'] }).notNull(),
  userId: text('user_id'),
  expiresAt: integer('expires_at').notNull(),
});

/** An organisation's own roles: sets of permissions staff hold by the role's id. */
export const staffRoles = sqliteTable(
  'staff_roles',
  {
    id: text('id').primaryKey(),
    organisationId: organisationRef(),
    name: text('name').notNull(),
    permissions: text('permissions', { mode: 'json' }).notNull().$type<Permission[]>(),
    createdAt: createdAt(),
    updatedAt: integer('updated_at').notNull(),
  },
  (t) => [uniqueIndex('staff_roles_org_name').on(t.organisationId, t.name)],
);
