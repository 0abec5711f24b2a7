import { OpenAPIHono } from '@hono/zod-openapi';
import { and, desc, eq, gte, inArray, lt, or, type SQL } from 'drizzle-orm';
import type { AccessReason } from '../../core/access.ts';
import { checkins, doorAlarms, doors, members } from '../db/schema.ts';
import type { AppEnv, Db } from '../env.ts';
import { pageOf } from '../lib/pagination.ts';
import { invalidField, notFound } from '../lib/problem.ts';
import { iso } from '../lib/time.ts';
import { listAlarms, listCheckins, listDoorAlarms } from './routes.ts';
import { atCallerSites, requireSite } from '../lib/site-limits.ts';
import { ownedBy } from '../lib/owned.ts';

type CheckinRow = typeof checkins.$inferSelect;
const checkinOut = (r: CheckinRow) => ({
  id: r.id,
  siteId: r.siteId,
  doorId: r.doorId,
  deviceId: r.deviceId,
  memberId: r.memberId,
  credentialKey: r.credentialKey,
  granted: r.granted,
  reason: r.reason as AccessReason,
  explanation: r.explanation,
  occurredAt: iso(r.occurredAt),
  receivedAt: iso(r.receivedAt),
});

// Cursor: "<occurredAt ms>.<id>" of the last row, since events are ordered newest first.
const parseCursor = (cursor: string) => {
  const m = /^(\d{1,15})\.([0-9a-f-]{36})$/.exec(cursor);
  if (!m) throw invalidField('cursor', 'not a cursor returned by this endpoint');
  return { at: Number(m[1]), id: m[2] as string };
};

/** Rows after the cursor in newest-first order (check-ins and alarms page the same way). */
const afterCursor = (cursor: string | undefined, table: typeof checkins | typeof doorAlarms) => {
  if (!cursor) return undefined;
  const after = parseCursor(cursor);
  return or(lt(table.occurredAt, after.at), and(eq(table.occurredAt, after.at), lt(table.id, after.id)));
};
const cursorOf = (r: { occurredAt: number; id: string }) => `${r.occurredAt}.${r.id}`;

export const checkinsRouter = new OpenAPIHono<AppEnv>().openapi(listCheckins, async (c) => {
  const q = c.req.valid('query');
  const rows = await c.var.db
    .select()
    .from(checkins)
    .where(
      and(
        eq(checkins.organisationId, c.var.organisationId),
        q.memberId ? eq(checkins.memberId, q.memberId) : undefined,
        q.siteId ? eq(checkins.siteId, q.siteId) : undefined,
        atCallerSites(c, checkins.siteId),
        q.doorId ? eq(checkins.doorId, q.doorId) : undefined,
        q.granted ? eq(checkins.granted, q.granted === 'true') : undefined,
        q.from ? gte(checkins.occurredAt, Date.parse(q.from)) : undefined,
        q.to ? lt(checkins.occurredAt, Date.parse(q.to)) : undefined,
        afterCursor(q.cursor, checkins),
      ),
    )
    .orderBy(desc(checkins.occurredAt), desc(checkins.id))
    .limit(q.limit + 1);
  const page = pageOf(rows, q.limit, checkinOut, cursorOf);
  if (q.expand !== 'names') return c.json(page, 200);
  const names = await namesOf(c.var.db, c.var.organisationId, page.data);
  return c.json({ ...page, data: page.data.map((e) => ({ ...e, memberName: e.memberId ? (names.members.get(e.memberId) ?? null) : null, doorName: e.doorId ? (names.doors.get(e.doorId) ?? null) : null })) }, 200);
});

/** The member and door names of a page of check-ins (at most a page's worth of ids, in chunks D1 accepts). */
async function namesOf(db: Db, organisationId: string, events: Array<{ memberId: string | null; doorId: string | null }>) {
  const memberIds = [...new Set(events.flatMap((e) => (e.memberId ? [e.memberId] : [])))];
  const doorIds = [...new Set(events.flatMap((e) => (e.doorId ? [e.doorId] : [])))];
  const out = { members: new Map<string, string>(), doors: new Map<string, string>() };
  for (let i = 0; i < memberIds.length; i += 90) {
    const found = await db.select({ id: members.id, name: members.name }).from(members).where(and(eq(members.organisationId, organisationId), inArray(members.id, memberIds.slice(i, i + 90))));
    for (const m of found) out.members.set(m.id, m.name);
  }
  for (let i = 0; i < doorIds.length; i += 90) {
    const found = await db.select({ id: doors.id, name: doors.name }).from(doors).where(and(eq(doors.organisationId, organisationId), inArray(doors.id, doorIds.slice(i, i + 90))));
    for (const d of found) out.doors.set(d.id, d.name);
  }
  return out;
}

type AlarmRow = typeof doorAlarms.$inferSelect;
const alarmOut = (r: AlarmRow) => ({
  id: r.id,
  siteId: r.siteId,
  doorId: r.doorId,
  deviceId: r.deviceId,
  type: r.type,
  openForMs: r.openForMs,
  occurredAt: iso(r.occurredAt),
  receivedAt: iso(r.receivedAt),
});

type AlarmQuery = { limit: number; cursor?: string | undefined; siteId?: string | undefined; doorId?: string | undefined; type?: AlarmRow['type'] | undefined; since?: string | undefined };

/** The organisation's alarms, newest first, with the same cursor form as check-ins. */
async function alarmPage(db: Db, organisationId: string, q: AlarmQuery, atSites: SQL | undefined) {
  const rows = await db
    .select()
    .from(doorAlarms)
    .where(
      and(
        eq(doorAlarms.organisationId, organisationId),
        q.siteId ? eq(doorAlarms.siteId, q.siteId) : undefined,
        atSites,
        q.doorId ? eq(doorAlarms.doorId, q.doorId) : undefined,
        q.type ? eq(doorAlarms.type, q.type) : undefined,
        q.since ? gte(doorAlarms.occurredAt, Date.parse(q.since)) : undefined,
        afterCursor(q.cursor, doorAlarms),
      ),
    )
    .orderBy(desc(doorAlarms.occurredAt), desc(doorAlarms.id))
    .limit(q.limit + 1);
  return pageOf(rows, q.limit, alarmOut, cursorOf);
}

export const alarmsRouter = new OpenAPIHono<AppEnv>()
  .openapi(listAlarms, async (c) => c.json(await alarmPage(c.var.db, c.var.organisationId, c.req.valid('query'), atCallerSites(c, doorAlarms.siteId)), 200))
  .openapi(listDoorAlarms, async (c) => {
    const { id } = c.req.valid('param');
    const [door] = await c.var.db
      .select({ id: doors.id, siteId: doors.siteId })
      .from(doors)
      .where(ownedBy(doors, id, c.var.organisationId));
    if (!door) throw notFound('Door', id);
    requireSite(c, door.siteId);
    return c.json(await alarmPage(c.var.db, c.var.organisationId, { ...c.req.valid('query'), doorId: id }, undefined), 200);
  });
