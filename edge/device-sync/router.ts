import { OpenAPIHono } from '@hono/zod-openapi';
import { and, asc, eq, inArray } from 'drizzle-orm';
import type { EntitlementSnapshot } from '../../core/contracts/wire.ts';
import { checkins, credentials, devices, doors, members, sites } from '../db/schema.ts';
import type { AppEnv, Db } from '../env.ts';
import { notFound } from '../lib/problem.ts';
import { getSnapshot, uploadCheckins } from './routes.ts';

// D1 allows 100 bound parameters per statement.
const chunks = <T>(items: T[], size = 90): T[][] => {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
};

export async function buildSnapshot(db: Db, siteId: string, now: number): Promise<EntitlementSnapshot | null> {
  // One batch is one transaction, so the version and the rows it describes are consistent.
  const [siteRows, doorRows, rows] = await db.batch([
    db.select().from(sites).where(eq(sites.id, siteId)),
    db.select({ id: doors.id, name: doors.name }).from(doors).where(eq(doors.siteId, siteId)).orderBy(asc(doors.id)),
    db
      .select({ key: credentials.key, memberId: members.id, status: members.status })
      .from(credentials)
      .innerJoin(members, eq(members.id, credentials.memberId))
      .innerJoin(sites, eq(sites.organisationId, credentials.organisationId))
      .where(eq(sites.id, siteId))
      .orderBy(asc(members.id), asc(credentials.key)),
  ]);
  const site = siteRows[0];
  if (!site) return null;
  const memberIndex = new Map<string, number>();
  const snapshotMembers: EntitlementSnapshot['members'] = [];
  const snapshotCredentials: EntitlementSnapshot['credentials'] = [];
  for (const r of rows) {
    let index = memberIndex.get(r.memberId);
    if (index === undefined) {
      index = snapshotMembers.length;
      memberIndex.set(r.memberId, index);
      snapshotMembers.push({ id: r.memberId, status: r.status });
    }
    snapshotCredentials.push([r.key, index]);
  }
  return {
    siteId,
    version: site.entitlementVersion,
    serverTime: now,
    doors: doorRows,
    members: snapshotMembers,
    credentials: snapshotCredentials,
  };
}

const agentVersionOf = (userAgent: string | undefined) => /gymgate-agent\/(\S{1,40})/.exec(userAgent ?? '')?.[1] ?? null;

export const deviceSyncRouter = new OpenAPIHono<AppEnv>()
  .openapi(getSnapshot, async (c) => {
    const device = c.var.device;
    const now = Date.now();
    const snapshot = await buildSnapshot(c.var.db, device.siteId, now);
    if (!snapshot) throw notFound('Site', device.siteId);
    const reported = Number(c.req.header('x-entitlement-version'));
    await c.var.db
      .update(devices)
      .set({
        lastSeenAt: now,
        agentVersion: agentVersionOf(c.req.header('user-agent')),
        ...(Number.isInteger(reported) ? { entitlementVersion: reported } : {}),
      })
      .where(eq(devices.id, device.id));
    return c.json(snapshot, 200);
  })
  .openapi(uploadCheckins, async (c) => {
    const { events } = c.req.valid('json');
    const device = c.var.device;
    const db = c.var.db;
    const now = Date.now();
    // Keep references only to this site's doors and this organisation's members; an event about
    // something deleted since is still kept, with the reference cleared.
    const knownDoors = new Set(
      (await db.select({ id: doors.id }).from(doors).where(eq(doors.siteId, device.siteId))).map((d) => d.id),
    );
    const memberIds = [...new Set(events.map((e) => e.memberId).filter((m): m is string => m !== null))];
    const knownMembers = new Set<string>();
    for (const ids of chunks(memberIds)) {
      const found = await db
        .select({ id: members.id })
        .from(members)
        .where(and(eq(members.organisationId, device.organisationId), inArray(members.id, ids)));
      for (const m of found) knownMembers.add(m.id);
    }
    const inserts = events.map((e) =>
      db
        .insert(checkins)
        .values({
          id: e.id,
          organisationId: device.organisationId,
          siteId: device.siteId,
          doorId: e.doorId && knownDoors.has(e.doorId) ? e.doorId : null,
          deviceId: device.id,
          memberId: e.memberId && knownMembers.has(e.memberId) ? e.memberId : null,
          credentialKey: e.credentialKey,
          granted: e.granted,
          reason: e.reason,
          explanation: e.explanation,
          occurredAt: e.occurredAt,
          receivedAt: now,
        })
        .onConflictDoNothing(),
    );
    const touch = db.update(devices).set({ lastSeenAt: now }).where(eq(devices.id, device.id));
    const results = await db.batch([touch, ...inserts] as [typeof touch, ...typeof inserts]);
    const accepted = results.slice(1).reduce((n, r) => n + ((r as D1Result).meta?.changes ?? 0), 0);
    return c.json({ accepted, duplicates: events.length - accepted }, 200);
  });
