// Tables of what doors report: check-ins and door alarms.
import { index, integer, primaryKey, sqliteTable, text } from 'drizzle-orm/sqlite-core';
import { DOOR_ALARM_TYPES } from '../../core/contracts/wire.ts';
import { sites } from '../access/tables.ts';
import { organisationRef } from '../organisation/tables.ts';

/** Check-ins uploaded by the agents; `id` is the agent's event id, unique per device (uploads are idempotent). */
export const checkins = sqliteTable(
  'checkins',
  {
    id: text('id').notNull(),
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
    // Scoped to the device: another door (or organisation) reusing an id can never suppress this one's event.
    primaryKey({ columns: [t.deviceId, t.id] }),
    index('checkins_org_time').on(t.organisationId, t.occurredAt),
    index('checkins_member_time').on(t.memberId, t.occurredAt),
  ],
);

/** Door sensor alarms uploaded by the agents; the id is the agent's event id, unique per device (uploads are idempotent). */
export const doorAlarms = sqliteTable(
  'door_alarms',
  {
    id: text('id').notNull(),
    organisationId: organisationRef(),
    siteId: text('site_id')
      .notNull()
      .references(() => sites.id),
    doorId: text('door_id'),
    deviceId: text('device_id').notNull(),
    type: text('type', { enum: DOOR_ALARM_TYPES }).notNull(),
    openForMs: integer('open_for_ms'),
    occurredAt: integer('occurred_at').notNull(),
    receivedAt: integer('received_at').notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.deviceId, t.id] }),
    index('door_alarms_org_time').on(t.organisationId, t.occurredAt),
    index('door_alarms_door_time').on(t.doorId, t.occurredAt),
  ],
);
