import { recordAuditEvent, requestOrigin } from '../../audit/index.ts';
import { OpenAPIHono } from '@hono/zod-openapi';
import { and, eq, getTableColumns, gt, isNull, sql, type SQL } from 'drizzle-orm';
import type { SQLiteColumn } from 'drizzle-orm/sqlite-core';
import { devices, enrollmentCodes, sites } from '../../db/schema.ts';
import { newDevicePassword } from '../broker/identity.ts';
import { commandPublicKey } from '../../lib/signing.ts';
import type { AppEnv, Env } from '../../env.ts';
import { newEnrollmentCode, newId, newSecret, normaliseEnrollmentCode, sha256Hex } from '../../lib/ids.ts';
import { ApiProblem, invalidField } from '../../lib/problem.ts';
import { localStamp } from '../../../core/schedule.ts';
import { iso } from '../../lib/time.ts';
import { topicPrefix } from '../../entitlements/index.ts';
import { createEnrollmentCode, enrollDevice } from './routes.ts';
import { requireSite } from '../../lib/site-limits.ts';
import { ownedBy } from '../../lib/owned.ts';

/** Where the door finds the broker, as its own user (the device id) with its own password. */
const deviceMqtt = (env: Env, deviceId: string, password: string) => {
  const url = env.DEVICE_MQTT_URL || env.MQTT_URL;
  return url ? { url, username: deviceId, password } : null;
};

export const enrollmentRouter = new OpenAPIHono<AppEnv>()
  .openapi(createEnrollmentCode, async (c) => {
    const { siteId, ttlMinutes } = c.req.valid('json');
    const db = c.var.db;
    const [site] = await db
      .select({ id: sites.id })
      .from(sites)
      .where(ownedBy(sites, siteId, c.var.organisationId));
    if (!site) throw invalidField('siteId', `no site with id ${siteId}`);
    requireSite(c, siteId);
    const code = newEnrollmentCode();
    const now = Date.now();
    const row = {
      id: newId('enr'),
      organisationId: c.var.organisationId,
      siteId,
      codeHash: await sha256Hex(normaliseEnrollmentCode(code)),
      expiresAt: now + ttlMinutes * 60_000,
      createdAt: now,
    };
    await db.insert(enrollmentCodes).values(row);
    return c.json({ id: row.id, siteId, code, expiresAt: iso(row.expiresAt) }, 201);
  });

/** Unauthenticated: the one-time code is the credential. */
export const enrollExchangeRouter = new OpenAPIHono<AppEnv>().openapi(enrollDevice, async (c) => {
  const { code, name, agentVersion } = c.req.valid('json');
  const db = c.var.db;
  const codeHash = await sha256Hex(normaliseEnrollmentCode(code));
  const now = Date.now();
  const deviceId = newId('dev');
  const deviceToken = newSecret('ggd');
  const broker = await newDevicePassword();
  const usable = and(eq(enrollmentCodes.codeHash, codeHash), isNull(enrollmentCodes.usedAt), gt(enrollmentCodes.expiresAt, now));
  // Claim the code and create the device in one batch (one transaction): both statements see the
  // code as usable or neither does, so a code can never yield two devices. Insert … select needs
  // every device column in table order; the ones not given here are null.
  const given: Record<string, SQL.Aliased | SQLiteColumn> = {
    id: sql`${deviceId}`.as('id'),
    organisationId: enrollmentCodes.organisationId,
    siteId: enrollmentCodes.siteId,
    name: sql`${name ?? `Door device ${deviceId.slice(-4)}`}`.as('name'),
    tokenHash: sql`${await sha256Hex(deviceToken)}`.as('token_hash'),
    mqttPasswordHash: sql`${broker.hash}`.as('mqtt_password_hash'),
    agentVersion: sql`${agentVersion ?? null}`.as('agent_version'),
    lastSeenAt: sql`${now}`.as('last_seen_at'),
    createdAt: sql`${now}`.as('created_at'),
  };
  const fields = Object.fromEntries(
    Object.entries(getTableColumns(devices)).map(([key, column]) => [key, given[key] ?? sql`null`.as(column.name)]),
  );
  const [, claimed] = await db.batch([
    db.insert(devices).select(db.select(fields).from(enrollmentCodes).where(usable) as never),
    db
      .update(enrollmentCodes)
      .set({ usedAt: now, deviceId })
      .where(usable)
      .returning({ organisationId: enrollmentCodes.organisationId, siteId: enrollmentCodes.siteId }),
  ]);
  const grant = claimed[0];
  if (!grant) {
    const [known] = await db.select().from(enrollmentCodes).where(eq(enrollmentCodes.codeHash, codeHash));
    if (!known) throw invalidField('code', 'no such enrollment code; check it was typed correctly');
    if (known.usedAt !== null) {
      throw new ApiProblem(409, 'enrollment-code-used', 'Enrollment code already used', 'This code was already used to provision a device; ask for a new one.', [
        { field: 'code', reason: 'already used' },
      ]);
    }
    // The technician reads the site's clock, not UTC.
    const [site] = await db.select({ timezone: sites.timezone }).from(sites).where(eq(sites.id, known.siteId));
    const expiredAt = site ? localStamp(known.expiresAt, site.timezone) : iso(known.expiresAt);
    throw new ApiProblem(410, 'enrollment-code-expired', 'Enrollment code expired', `This code expired at ${expiredAt}; ask for a new one.`, [
      { field: 'code', reason: 'expired' },
    ]);
  }
  // The door speaks for itself from here on: its enrollment is its first audit event.
  await recordAuditEvent(db, {
    organisationId: grant.organisationId,
    actorType: 'device',
    actorId: deviceId,
    actorName: name ?? null,
    action: 'devices.enroll',
    resourceType: 'devices',
    resourceId: deviceId,
    outcome: 'succeeded',
    status: 201,
    ...requestOrigin(c),
    before: null,
    after: { id: deviceId, siteId: grant.siteId, name: name ?? null, agentVersion: agentVersion ?? null },
  });
  return c.json(
    {
      deviceId,
      deviceToken,
      organisationId: grant.organisationId,
      siteId: grant.siteId,
      topicPrefix: `${topicPrefix(c.env)}/${grant.organisationId}`,
      mqtt: deviceMqtt(c.env, deviceId, broker.password),
      commandPublicKey: commandPublicKey(c.env.COMMAND_SIGNING_KEY),
    },
    201,
  );
});
