import { OpenAPIHono } from '@hono/zod-openapi';
import { and, desc, eq, gte, lt, or } from 'drizzle-orm';
import type { AccessReason } from '../../core/access.ts';
import { checkins } from '../db/schema.ts';
import type { AppEnv } from '../env.ts';
import { pageOf } from '../lib/pagination.ts';
import { invalidField } from '../lib/problem.ts';
import { iso } from '../lib/time.ts';
import { listCheckins } from './routes.ts';

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

export const checkinsRouter = new OpenAPIHono<AppEnv>().openapi(listCheckins, async (c) => {
  const q = c.req.valid('query');
  const after = q.cursor ? parseCursor(q.cursor) : null;
  const rows = await c.var.db
    .select()
    .from(checkins)
    .where(
      and(
        eq(checkins.organisationId, c.var.organisationId),
        q.memberId ? eq(checkins.memberId, q.memberId) : undefined,
        q.siteId ? eq(checkins.siteId, q.siteId) : undefined,
        q.doorId ? eq(checkins.doorId, q.doorId) : undefined,
        q.granted ? eq(checkins.granted, q.granted === 'true') : undefined,
        q.from ? gte(checkins.occurredAt, Date.parse(q.from)) : undefined,
        q.to ? lt(checkins.occurredAt, Date.parse(q.to)) : undefined,
        after
          ? or(lt(checkins.occurredAt, after.at), and(eq(checkins.occurredAt, after.at), lt(checkins.id, after.id)))
          : undefined,
      ),
    )
    .orderBy(desc(checkins.occurredAt), desc(checkins.id))
    .limit(q.limit + 1);
  return c.json(pageOf(rows, q.limit, checkinOut, (r) => `${r.occurredAt}.${r.id}`), 200);
});
