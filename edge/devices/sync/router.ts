import { recordAuditEvent, requestOrigin } from '../../audit/index.ts';
import { iso } from '../../lib/time.ts';
import { OpenAPIHono } from '@hono/zod-openapi';
import { and, eq, isNull, sql } from 'drizzle-orm';
import { checkins, commands, devices, doorAlarms, doors, members, sites } from '../../db/schema.ts';
import { buildSnapshot, currentHash, entitlementUpdate, writeWithChanges } from '../../entitlements/index.ts';
import type { AppEnv, Db } from '../../env.ts';
import { field, inJson, insertRows } from '../../lib/json-rows.ts';
import { ApiProblem, notFound } from '../../lib/problem.ts';
import { ackCommand, getEntitlements, getSnapshot, postHeartbeat, uploadAlarms, uploadCheckins, whoami } from './routes.ts';

const agentVersionOf = (userAgent: string | undefined) => /gymgate-agent\/(\S{1,40})/.exec(userAgent ?? '')?.[1] ?? null;

/** Every device call says the device is alive and which version it holds. */
async function touch(db: Db, deviceId: string, headers: { userAgent?: string | undefined; version?: string | undefined }, now: number) {
  const reported = Number(headers.version);
  const agentVersion = agentVersionOf(headers.userAgent);
  await db
    .update(devices)
    .set({
      lastSeenAt: now,
      ...(agentVersion ? { agentVersion } : {}),
      ...(headers.version !== undefined && Number.isInteger(reported) ? { entitlementVersion: reported } : {}),
    })
    .where(eq(devices.id, deviceId));
}

/**
 * Event ids are the device's own: a repeat of an event it uploaded before is a duplicate (retries
 * after a lost answer), but the same id with other content is refused whole, naming the event,
 * so nothing of the batch is written and the agent sets that one event aside.
 */
async function refuseReusedIds<T extends typeof checkins | typeof doorAlarms, R extends { id: string; deviceId: string }>(
  db: Db,
  table: T,
  deviceId: string,
  rows: R[],
  content: (row: any) => string,
): Promise<void> {
  const known = new Map<string, string>();
  const found = (await db.select().from(table as typeof checkins).where(and(eq(table.deviceId, deviceId), inJson(table.id, rows.map((r) => r.id))))) as unknown[];
  for (const row of found) known.set((row as { id: string }).id, content(row));
  // In order, so an id repeated within the batch with other content is refused too.
  const errors = rows.flatMap((row, i) => {
    const before = known.get(row.id);
    if (before === undefined) known.set(row.id, content(row));
    return before !== undefined && before !== content(row) ? [{ field: `events.${i}.id`, reason: 'this device already uploaded a different event with this id' }] : [];
  });
  if (errors.length > 0) {
    throw new ApiProblem(422, 'event-id-reused', 'Event id reused', 'Each event a device uploads needs its own id; these ids were used before for other events. Nothing of this batch was stored.', errors);
  }
}

/** The uploaded row's door when it is one of this site's doors, else null (deleted since, or not this site's). */
const siteDoor = (siteId: string) => sql`(select ${doors.id} from ${doors} where ${doors.id} = ${field('door_id')} and ${doors.siteId} = ${siteId})`;

export const deviceSyncRouter = new OpenAPIHono<AppEnv>()
  .openapi(whoami, async (c) => {
    const device = c.var.device;
    const [site] = await c.var.db.select({ version: sites.entitlementVersion }).from(sites).where(eq(sites.id, device.siteId));
    if (!site) throw notFound('Site', device.siteId);
    return c.json({ deviceId: device.id, siteId: device.siteId, serverTime: Date.now(), entitlementVersion: site.version }, 200);
  })
  .openapi(getSnapshot, async (c) => {
    const device = c.var.device;
    const now = Date.now();
    const snapshot = await buildSnapshot(c.var.db, device.siteId, now);
    if (!snapshot) throw notFound('Site', device.siteId);
    await touch(c.var.db, device.id, { userAgent: c.req.header('user-agent'), version: c.req.header('x-entitlement-version') }, now);
    return c.json(snapshot, 200);
  })
  .openapi(getEntitlements, async (c) => {
    const device = c.var.device;
    const { since } = c.req.valid('query');
    const now = Date.now();
    const update = await entitlementUpdate(c.var.db, device.siteId, since ?? null, now);
    if (!update) throw notFound('Site', device.siteId);
    await touch(c.var.db, device.id, { userAgent: c.req.header('user-agent'), version: c.req.header('x-entitlement-version') }, now);
    return c.json(update, 200);
  })
  .openapi(postHeartbeat, async (c) => {
    const device = c.var.device;
    const beat = c.req.valid('json');
    const now = Date.now();
    await c.var.db
      .update(devices)
      .set({
        lastSeenAt: now,
        lastHeartbeatAt: now,
        agentVersion: beat.agentVersion,
        entitlementVersion: beat.entitlementVersion,
        entitlementHash: beat.entitlementHash,
        uptimeSeconds: Math.round(beat.uptimeSeconds),
        clockOffsetMs: beat.clockOffsetMs === null ? null : Math.round(beat.clockOffsetMs),
        mqttConnected: beat.mqttConnected,
        reconnectsLastHour: beat.reconnectsLastHour,
        outboxPending: beat.outboxPending,
        // An agent that does not report its GPIO leaves it unknown rather than keeping an older report.
        gpioDriver: beat.gpio?.driver ?? null,
        gpioSimulatedFallback: beat.gpio?.simulatedFallback ?? null,
      })
      .where(eq(devices.id, device.id));
    const current = await currentHash(c.var.db, device.siteId, now);
    if (!current) throw notFound('Site', device.siteId);
    return c.json({ serverTime: now, entitlementVersion: current.version, entitlementHash: current.hash }, 200);
  })
  .openapi(ackCommand, async (c) => {
    const { id } = c.req.valid('param');
    const ack = c.req.valid('json');
    const device = c.var.device;
    const [row] = await c.var.db
      .update(commands)
      .set({ status: ack.status, resultReason: ack.reason ?? null, resultDetail: ack.detail ?? null, ackedAt: Date.now() })
      .where(and(eq(commands.id, id), eq(commands.deviceId, device.id), isNull(commands.ackedAt)))
      .returning({ id: commands.id, status: commands.status, ackedAt: commands.ackedAt });
    if (row) {
      await recordAuditEvent(c.var.db, {
        organisationId: device.organisationId,
        actorType: 'device',
        actorId: device.id,
        actorName: null,
        action: 'commands.ack',
        resourceType: 'commands',
        resourceId: id,
        outcome: 'succeeded',
        status: 200,
        ...requestOrigin(c),
        // Only an unacknowledged command is acknowledged (the update's condition).
        before: { ackedAt: null },
        after: { ackedAt: iso(row.ackedAt!), status: ack.status, resultReason: ack.reason ?? null },
      });
      return c.json({ id: row.id, status: row.status }, 200);
    }
    // A repeated acknowledgement (QoS 1 can deliver twice) is answered with what was recorded.
    const [known] = await c.var.db
      .select({ id: commands.id, status: commands.status })
      .from(commands)
      .where(and(eq(commands.id, id), eq(commands.deviceId, device.id)));
    if (!known) throw notFound('Command', id);
    return c.json(known, 200);
  })
  .openapi(uploadCheckins, async (c) => {
    const { events } = c.req.valid('json');
    const device = c.var.device;
    const db = c.var.db;
    const now = Date.now();
    const rows = events.map((e) => ({
      id: e.id,
      organisationId: device.organisationId,
      siteId: device.siteId,
      doorId: e.doorId,
      deviceId: device.id,
      memberId: e.memberId,
      credentialKey: e.credentialKey,
      granted: e.granted,
      reason: e.reason,
      explanation: e.explanation,
      usesPass: e.granted && e.usesPass,
      occurredAt: e.occurredAt,
      receivedAt: now,
    }));
    // What the door said, not the references kept (a door or member deleted between an upload and
    // its retry clears them), so a genuine retry always matches.
    const checkinContent = (r: Omit<typeof checkins.$inferSelect, 'receivedAt'>) =>
      JSON.stringify([r.credentialKey, Boolean(r.granted), r.reason, r.explanation, Boolean(r.usesPass), r.occurredAt]);
    await refuseReusedIds(db, checkins, device.id, rows, checkinContent);
    // The whole batch is one statement: references are kept only to this site's doors and this
    // organisation's members (an event about something deleted since is kept, with the reference
    // cleared), and an event already stored is skipped.
    const insert = insertRows(db, checkins, rows, {
      set: {
        doorId: siteDoor(device.siteId),
        memberId: sql`(select ${members.id} from ${members} where ${members.id} = ${field('member_id')} and ${members.organisationId} = ${device.organisationId})`,
      },
      onConflictDoNothing: true,
      returning: 'member_id AS memberId, uses_pass AS usesPass',
    });
    const touchDevice = db.update(devices).set({ lastSeenAt: now }).where(eq(devices.id, device.id));
    const [, written] = await db.batch([touchDevice, insert]);
    const inserted = ((written as { results?: Array<{ memberId: string | null; usesPass: number }> }).results ?? []).map((r) => ({ memberId: r.memberId, usesPass: Boolean(r.usesPass) }));

    // Pass entries used at the door are counted here too, once per event, so every door of the
    // organisation learns the new balance.
    const passUses = new Map<string, number>();
    for (const e of inserted) if (e.usesPass && e.memberId) passUses.set(e.memberId, (passUses.get(e.memberId) ?? 0) + 1);
    if (passUses.size > 0) {
      await writeWithChanges(
        c,
        [...passUses].map(([memberId, n]) =>
          db
            .update(members)
            .set({ entriesLeft: sql`max(0, ${members.entriesLeft} - ${n})`, updatedAt: now })
            .where(and(eq(members.id, memberId), sql`${members.entriesLeft} is not null`)),
        ),
        { organisationId: device.organisationId },
        [...passUses.keys()].map((memberId) => ({ kind: 'member' as const, entityId: memberId })),
      );
    }
    return c.json({ accepted: inserted.length, duplicates: events.length - inserted.length }, 200);
  })
  .openapi(uploadAlarms, async (c) => {
    const { events } = c.req.valid('json');
    const device = c.var.device;
    const db = c.var.db;
    const now = Date.now();
    const rows = events.map((e) => ({
      id: e.id,
      organisationId: device.organisationId,
      siteId: device.siteId,
      doorId: e.doorId,
      deviceId: device.id,
      type: e.type,
      openForMs: e.openForMs,
      occurredAt: e.occurredAt,
      receivedAt: now,
    }));
    await refuseReusedIds(db, doorAlarms, device.id, rows, (r) => JSON.stringify([r.type, r.openForMs, r.occurredAt]));
    // As with check-ins: one statement, and an alarm about a door deleted since is kept, with the reference cleared.
    const insert = insertRows(db, doorAlarms, rows, { set: { doorId: siteDoor(device.siteId) }, onConflictDoNothing: true, returning: 'id' });
    const touchDevice = db.update(devices).set({ lastSeenAt: now }).where(eq(devices.id, device.id));
    const [, written] = await db.batch([touchDevice, insert]);
    const accepted = ((written as { results?: unknown[] }).results ?? []).length;
    return c.json({ accepted, duplicates: events.length - accepted }, 200);
  });
