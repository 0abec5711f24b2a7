import { OpenAPIHono } from '@hono/zod-openapi';
import { and, asc, eq, gt } from 'drizzle-orm';
import { sites } from '../db/schema.ts';
import type { AppEnv } from '../env.ts';
import { newId } from '../lib/ids.ts';
import { pageOf } from '../lib/pagination.ts';
import { notFound } from '../lib/problem.ts';
import { iso } from '../lib/time.ts';
import { createSite, getSite, listSites, updateSite } from './routes.ts';

export type SiteRow = typeof sites.$inferSelect;
export const siteOut = (s: SiteRow) => ({
  id: s.id,
  name: s.name,
  timezone: s.timezone,
  entitlementVersion: s.entitlementVersion,
  createdAt: iso(s.createdAt),
});

export const sitesRouter = new OpenAPIHono<AppEnv>()
  .openapi(listSites, async (c) => {
    const { limit, cursor } = c.req.valid('query');
    const rows = await c.var.db
      .select()
      .from(sites)
      .where(and(eq(sites.organisationId, c.var.organisationId), cursor ? gt(sites.id, cursor) : undefined))
      .orderBy(asc(sites.id))
      .limit(limit + 1);
    return c.json(pageOf(rows, limit, siteOut, (r) => r.id), 200);
  })
  .openapi(createSite, async (c) => {
    const body = c.req.valid('json');
    const [row] = await c.var.db
      .insert(sites)
      .values({ id: newId('site'), organisationId: c.var.organisationId, ...body, createdAt: Date.now() })
      .returning();
    return c.json(siteOut(row!), 201);
  })
  .openapi(getSite, async (c) => {
    const { id } = c.req.valid('param');
    const [row] = await c.var.db
      .select()
      .from(sites)
      .where(and(eq(sites.id, id), eq(sites.organisationId, c.var.organisationId)));
    if (!row) throw notFound('Site', id);
    return c.json(siteOut(row), 200);
  })
  .openapi(updateSite, async (c) => {
    const { id } = c.req.valid('param');
    const body = c.req.valid('json');
    const scope = and(eq(sites.id, id), eq(sites.organisationId, c.var.organisationId));
    const [row] =
      Object.keys(body).length === 0
        ? await c.var.db.select().from(sites).where(scope)
        : await c.var.db.update(sites).set(body).where(scope).returning();
    if (!row) throw notFound('Site', id);
    return c.json(siteOut(row), 200);
  });
