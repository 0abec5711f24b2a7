// Tables of devices: enrollment codes, the door agents and the signed commands sent to them.
import { index, integer, sqliteTable, text, uniqueIndex } from 'drizzle-orm/sqlite-core';
import type { CommandAction } from '../../core/commands.ts';
import { sites } from '../access/tables.ts';
import { createdAt } from '../db/columns.ts';
import { organisationRef } from '../organisation/tables.ts';

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
    gpioDriver: text('gpio_driver'),
    gpioSimulatedFallback: integer('gpio_simulated_fallback', { mode: 'boolean' }),
    /** The door's own broker password, as mosquitto's `$7$` PBKDF2-SHA512 hash (username = device id); null = enrolled before broker identities. */
    mqttPasswordHash: text('mqtt_password_hash'),
    createdAt: createdAt(),
    revokedAt: integer('revoked_at'),
  },
  (t) => [uniqueIndex('devices_token').on(t.tokenHash), index('devices_org').on(t.organisationId)],
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
