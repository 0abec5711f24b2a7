import { OpenAPIHono } from '@hono/zod-openapi';
import { sites } from '../../db/schema.ts';
import { writeWithChanges } from '../../entitlements/index.ts';
import type { AppEnv } from '../../env.ts';
import { newId } from '../../lib/ids.ts';
import { namedFields, ownedBy, pageOwned } from '../../lib/owned.ts';
import { atCallerSites, findAtSite, requireEverySite } from '../../lib/site-limits.ts';
import { iso } from '../../lib/time.ts';
import { createSite, getSite, listSites, updateSite } from './routes.ts';

export type SiteRow = typeof sites.$inferSelect;
export const siteOut = (s: SiteRow) => ({
  id: s.id,
  name: s.name,
  timezone: s.timezone,
  staffedHours: s.staffedHours ?? null,
  closures: s.closures ?? [],
  entitlementVersion: s.entitlementVersion,
  createdAt: iso(s.createdAt),
});

export const sitesRouter = new OpenAPIHono<AppEnv>()
  .openapi(listSites, async (c) => {
    return c.json(await pageOwned(c.var.db, sites, c.var.organisationId, c.req.valid('query'), siteOut, atCallerSites(c, sites.id)), 200);
  })
  .openapi(createSite, async (c) => {
    const body = c.req.valid('json');
    // A new site would be out of the creator's own reach: only someone at every site adds one.
    requireEverySite(c, 'siteId', 'A new site');
    const [row] = await c.var.db
      .insert(sites)
      .values({ id: newId('site'), organisationId: c.var.organisationId, ...body, createdAt: Date.now() })
      .returning();
    return c.json(siteOut(row!), 201);
  })
  .openapi(getSite, async (c) => {
    return c.json(siteOut(await findAtSite(c, sites, c.req.valid('param').id, 'Site', (s) => s.id)), 200);
  })
  .openapi(updateSite, async (c) => {
    const { id } = c.req.valid('param');
    const body = c.req.valid('json');
    const db = c.var.db;
    const scope = ownedBy(sites, id, c.var.organisationId);
    const current = await findAtSite(c, sites, id, 'Site', (s) => s.id);
    const changes: Partial<SiteRow> = namedFields(body);
    if (Object.keys(changes).length === 0) return c.json(siteOut(current), 200);
    const update = db.update(sites).set(changes).where(scope);
    // Time zone, staffed hours and closures are what doors decide by; the name is not.
    if (Object.keys(changes).every((k) => k === 'name')) await update;
    else await writeWithChanges(c, [update], { siteId: id }, [{ kind: 'site', entityId: id }]);
    const [row] = await db.select().from(sites).where(scope);
    return c.json(siteOut(row!), 200);
  });
