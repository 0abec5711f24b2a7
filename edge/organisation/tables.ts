// Tables of the organisation subsystem: the tenant and its API keys, and the reference every
// tenant-owned row makes to its organisation.
import { index, integer, sqliteTable, text, uniqueIndex } from 'drizzle-orm/sqlite-core';
import type { Permission } from '../../core/permissions.ts';
import { createdAt } from '../db/columns.ts';

export const organisations = sqliteTable('organisations', {
  id: text('id').primaryKey(),
  name: text('name').notNull(),
  createdAt: createdAt(),
  /** Every staff person must sign in with an authenticator code: without one they may only set it up. */
  staffMfaRequired: integer('staff_mfa_required', { mode: 'boolean' }).notNull().default(false),
});

// Every tenant-owned row names its organisation; queries always filter by it.
export const organisationRef = () =>
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
    // The permissions the key holds; null for an owner key (every key made before scopes is one).
    scopes: text('scopes', { mode: 'json' }).$type<Permission[]>(),
    // The sites the key reaches (doors, devices, check-ins there); null for every site.
    siteIds: text('site_ids', { mode: 'json' }).$type<string[]>(),
    createdAt: createdAt(),
    revokedAt: integer('revoked_at'),
    // When the key was last used, to the minute: which integrations are alive, which keys to revoke.
    lastUsedAt: integer('last_used_at'),
  },
  (t) => [uniqueIndex('api_keys_hash').on(t.keyHash), index('api_keys_org').on(t.organisationId)],
);
