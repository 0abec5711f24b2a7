import { OpenAPIHono } from '@hono/zod-openapi';
import { and, desc, eq, gt } from 'drizzle-orm';
import { decideAccess, SERVER_CLOCK } from '../../core/access.ts';
import { credentialKey } from '../../core/credential-key.ts';
import { DEFAULT_PROFILE } from '../../core/entitlement.ts';
import { localTime } from '../../core/schedule.ts';
import { accessProfiles, bookings, checkins, credentials, doors, members, sites } from '../db/schema.ts';
import type { AppEnv } from '../env.ts';
import { notFound } from '../lib/problem.ts';
import { requireSite } from '../lib/site-limits.ts';
import { iso } from '../lib/time.ts';
import { accessProfile, doorPolicy, memberAccess, schedulesOf, sitePolicy } from '../entitlements/index.ts';
import { explainAccess } from './routes.ts';

const DAY = 86_400_000;

export const accessRouter = new OpenAPIHono<AppEnv>().openapi(explainAccess, async (c) => {
  const body = c.req.valid('json');
  const db = c.var.db;
  const org = c.var.organisationId;
  const at = body.at ? Date.parse(body.at) : Date.now();
  const key =
    body.credential.kind === 'key'
      ? body.credential.key
      : credentialKey(body.credential.kind === 'wiegand' ? { kind: 'wiegand', facilityCode: body.credential.facilityCode, cardNumber: body.credential.cardNumber } : { kind: 'raw', rawId: body.credential.rawId });

  const [doorRow] = await db.select().from(doors).where(and(eq(doors.id, body.doorId), eq(doors.organisationId, org)));
  if (!doorRow) throw notFound('Door', body.doorId);
  requireSite(c, doorRow.siteId);
  const [site] = await db.select().from(sites).where(eq(sites.id, doorRow.siteId));
  if (!site) throw notFound('Site', doorRow.siteId);
  const [holder] = await db
    .select({ member: members })
    .from(credentials)
    .innerJoin(members, eq(members.id, credentials.memberId))
    .where(and(eq(credentials.organisationId, org), eq(credentials.key, key)));

  let profileRow: typeof accessProfiles.$inferSelect | undefined;
  let history = { lastGrantAtDoor: null as number | null, grantsToday: 0 };
  let member;
  if (holder) {
    const m = holder.member;
    if (m.accessProfileId) [profileRow] = await db.select().from(accessProfiles).where(eq(accessProfiles.id, m.accessProfileId));
    const [memberBookings, recent] = await db.batch([
      db.select().from(bookings).where(eq(bookings.memberId, m.id)),
      db
        .select({ doorId: checkins.doorId, siteId: checkins.siteId, occurredAt: checkins.occurredAt })
        .from(checkins)
        .where(and(eq(checkins.memberId, m.id), eq(checkins.granted, true), gt(checkins.occurredAt, at - DAY)))
        .orderBy(desc(checkins.occurredAt)),
    ]);
    member = memberAccess(m, new Map(profileRow ? [[profileRow.id, 1]] : []), memberBookings);
    const today = localTime(at, site.timezone).date;
    const before = recent.filter((e) => e.occurredAt <= at);
    history = {
      lastGrantAtDoor: before.find((e) => e.doorId === doorRow.id)?.occurredAt ?? null,
      grantsToday: before.filter((e) => e.siteId === site.id && localTime(e.occurredAt, site.timezone).date === today).length,
    };
  }
  const decision = decideAccess({
    read: { ok: true, credentialKey: key },
    door: doorPolicy(doorRow),
    site: sitePolicy(site),
    member,
    profile: profileRow ? accessProfile(profileRow) : DEFAULT_PROFILE,
    schedules: schedulesOf(site, profileRow ? [profileRow] : []),
    at,
    state: SERVER_CLOCK,
    history,
  });
  return c.json(
    { granted: decision.granted, reason: decision.reason, explanation: decision.explanation, memberId: decision.memberId, credentialKey: key, doorId: doorRow.id, at: iso(at) },
    200,
  );
});
