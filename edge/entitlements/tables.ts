// Tables of entitlements: the per-site change log doors sync deltas from.
import { integer, primaryKey, sqliteTable, text } from 'drizzle-orm/sqlite-core';
import { sites } from '../access/tables.ts';

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
