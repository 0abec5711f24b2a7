// Tables of member accounts: the one-time sign-in links and SMS codes sent to members, and member
// sessions. Only hashes of their secrets are kept. Apart from staff sessions on purpose: a member
// session can only ever name a member.
import { index, integer, sqliteTable, text, uniqueIndex } from 'drizzle-orm/sqlite-core';
import { createdAt } from '../db/columns.ts';
import { members } from '../members/tables.ts';
import { organisationRef } from '../organisation/tables.ts';

export const memberSignIns = sqliteTable(
  'member_sign_ins',
  {
    id: text('id').primaryKey(),
    organisationId: organisationRef(),
    memberId: text('member_id')
      .notNull()
      .references(() => members.id),
    /** link: a token in an emailed link; code: 6 digits by SMS. */
    kind: text('kind', { enum: ['link', 'code'] }).notNull(),
    secretHash: text('secret_hash').notNull(),
    expiresAt: integer('expires_at').notNull(),
    usedAt: integer('used_at'),
    /** Wrong codes tried against this one; past the limit it is dead. */
    failedAttempts: integer('failed_attempts').notNull().default(0),
    createdAt: createdAt(),
  },
  (t) => [uniqueIndex('member_sign_ins_secret').on(t.secretHash), index('member_sign_ins_member').on(t.organisationId, t.memberId)],
);

export const memberSessions = sqliteTable(
  'member_sessions',
  {
    id: text('id').primaryKey(),
    organisationId: organisationRef(),
    memberId: text('member_id')
      .notNull()
      .references(() => members.id),
    tokenHash: text('token_hash').notNull(),
    createdAt: createdAt(),
    lastSeenAt: integer('last_seen_at').notNull(),
    revokedAt: integer('revoked_at'),
    ip: text('ip'),
    userAgent: text('user_agent'),
  },
  (t) => [uniqueIndex('member_sessions_token').on(t.tokenHash), index('member_sessions_member').on(t.organisationId, t.memberId)],
);
