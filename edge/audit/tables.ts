// The audit log's one table. Rows are only ever inserted: the migration that creates it adds
// triggers refusing UPDATE and DELETE, so not even the Worker's own code can rewrite history.
import { index, integer, sqliteTable, text } from 'drizzle-orm/sqlite-core';
import { AUDIT_ACTOR_TYPES, AUDIT_OUTCOMES } from '../../core/contracts/audit.ts';
import { organisationRef } from '../organisation/tables.ts';

export const auditEvents = sqliteTable(
  'audit_events',
  {
    // aud_<time><random>: ids sort by time, so the id is the newest-first cursor.
    id: text('id').primaryKey(),
    organisationId: organisationRef(),
    occurredAt: integer('occurred_at').notNull(),
    actorType: text('actor_type', { enum: AUDIT_ACTOR_TYPES }).notNull(),
    actorId: text('actor_id'),
    actorName: text('actor_name'),
    action: text('action').notNull(),
    resourceType: text('resource_type').notNull(),
    resourceId: text('resource_id'),
    outcome: text('outcome', { enum: AUDIT_OUTCOMES }).notNull(),
    status: integer('status').notNull(),
    method: text('method').notNull(),
    path: text('path').notNull(),
    ip: text('ip'),
    userAgent: text('user_agent'),
    before: text('before', { mode: 'json' }).$type<Record<string, unknown>>(),
    after: text('after', { mode: 'json' }).$type<Record<string, unknown>>(),
  },
  (t) => [
    index('audit_events_org').on(t.organisationId, t.id),
    index('audit_events_resource').on(t.organisationId, t.resourceType, t.resourceId),
    index('audit_events_actor').on(t.organisationId, t.actorId),
  ],
);
