import { OpenAPIHono } from '@hono/zod-openapi';
import { and, asc, eq, gt } from 'drizzle-orm';
import { doors, sites } from '../db/schema.ts';
import type { AppEnv } from '../env.ts';
import { newId } from '../lib/ids.ts';
import { pageOf } from '../lib/pagination.ts';
import { invalidField, notFound } from '../lib/problem.ts';
import { iso } from '../lib/time.ts';
import { announceEntitlementChanges, bumpSiteVersions } from '../notify/entitlements.ts';
import { createDoor, deleteDoor, getDoor, listDoors, updateDoor } from './routes.ts';

type DoorRow = typeof doors.$inferSelect;
const doorOut = (d: DoorRow) => ({ id: d.id, siteId: d.siteId, name: d.name, createdAt: iso(d.createdAt) });

// The door list is part of a site's entitlement snapshot, so door changes bump the site version.
export const doorsRouter = new OpenAPIHono<AppEnv>()
  .openapi(listDoors, async (c) => {
    const { limit, cursor, siteId } = c.req.valid('query');
    const rows = await c.var.db
      .select()
      .from(doors)
      .where(
        and(
          eq(doors.organisationId, c.var.organisationId),
          siteId ? eq(doors.siteId, siteId) : undefined,
          cursor ? gt(doors.id, cursor) : undefined,
        ),
      )
      .orderBy(asc(doors.id))
      .limit(limit + 1);
    return c.json(pageOf(rows, limit, doorOut, (r) => r.id), 200);
  })
  .openapi(createDoor, async (c) => {
    const { siteId, name } = c.req.valid('json');
    const db = c.var.db;
    const [site] = await db
      .select({ id: sites.id })
      .from(sites)
      .where(and(eq(sites.id, siteId), eq(sites.organisationId, c.var.organisationId)));
    if (!site) throw invalidField('siteId', `no site with id ${siteId}`);
    const [inserted, bumped] = await db.batch([
      db.insert(doors).values({ id: newId('door'), organisationId: c.var.organisationId, siteId, name, createdAt: Date.now() }).returning(),
      bumpSiteVersions(db, { siteId }),
    ]);
    c.executionCtx.waitUntil(announceEntitlementChanges(c.env, bumped));
    return c.json(doorOut(inserted[0]!), 201);
  })
  .openapi(getDoor, async (c) => {
    const { id } = c.req.valid('param');
    const [row] = await c.var.db
      .select()
      .from(doors)
      .where(and(eq(doors.id, id), eq(doors.organisationId, c.var.organisationId)));
    if (!row) throw notFound('Door', id);
    return c.json(doorOut(row), 200);
  })
  .openapi(updateDoor, async (c) => {
    const { id } = c.req.valid('param');
    const { name } = c.req.valid('json');
    const db = c.var.db;
    const [row] = await db
      .select()
      .from(doors)
      .where(and(eq(doors.id, id), eq(doors.organisationId, c.var.organisationId)));
    if (!row) throw notFound('Door', id);
    const [updated, bumped] = await db.batch([
      db.update(doors).set({ name }).where(eq(doors.id, id)).returning(),
      bumpSiteVersions(db, { siteId: row.siteId }),
    ]);
    c.executionCtx.waitUntil(announceEntitlementChanges(c.env, bumped));
    return c.json(doorOut(updated[0]!), 200);
  })
  .openapi(deleteDoor, async (c) => {
    const { id } = c.req.valid('param');
    const db = c.var.db;
    const [row] = await db
      .select()
      .from(doors)
      .where(and(eq(doors.id, id), eq(doors.organisationId, c.var.organisationId)));
    if (!row) throw notFound('Door', id);
    const [, bumped] = await db.batch([db.delete(doors).where(eq(doors.id, id)), bumpSiteVersions(db, { siteId: row.siteId })]);
    c.executionCtx.waitUntil(announceEntitlementChanges(c.env, bumped));
    return c.json({ id, deleted: true as const }, 200);
  });
