import { OpenAPIHono } from '@hono/zod-openapi';
import { eq } from 'drizzle-orm';
import type { z } from 'zod';
import type { DoorUpdate } from '../../../core/contracts/api.ts';
import { doors, sites } from '../../db/schema.ts';
import { writeWithChanges } from '../../entitlements/index.ts';
import type { AppEnv } from '../../env.ts';
import { newId } from '../../lib/ids.ts';
import { matching, namedFields, ownedBy, pageOwned } from '../../lib/owned.ts';
import { invalidField } from '../../lib/problem.ts';
import { atCallerSites, findAtSite, requireSite } from '../../lib/site-limits.ts';
import { iso } from '../../lib/time.ts';
import { createDoor, deleteDoor, getDoor, listDoors, updateDoor } from './routes.ts';

type DoorRow = typeof doors.$inferSelect;
export const doorOut = (d: DoorRow) => ({
  id: d.id,
  siteId: d.siteId,
  name: d.name,
  group: d.group,
  mode: d.mode,
  unlockDuringStaffedHours: d.unlockDuringStaffedHours,
  antiPassbackSeconds: d.antiPassbackSeconds,
  maxOfflineHours: Math.round(d.maxOfflineSeconds / 3600),
  grantSeconds: d.grantSeconds,
  createdAt: iso(d.createdAt),
});

const columnsOf = (body: z.infer<typeof DoorUpdate>): Partial<DoorRow> => {
  const { maxOfflineHours, ...rest } = body;
  const out: Partial<DoorRow> = namedFields(rest);
  if (maxOfflineHours !== undefined) out.maxOfflineSeconds = maxOfflineHours * 3600;
  return out;
};

// Doors and their policies are part of the site's entitlements, so every door write is a change.
export const doorsRouter = new OpenAPIHono<AppEnv>()
  .openapi(listDoors, async (c) => {
    const { limit, cursor, ...filters } = c.req.valid('query');
    return c.json(await pageOwned(c.var.db, doors, c.var.organisationId, { limit, cursor }, doorOut, matching(doors, filters), atCallerSites(c, doors.siteId)), 200);
  })
  .openapi(createDoor, async (c) => {
    const { siteId, ...body } = c.req.valid('json');
    const db = c.var.db;
    const [site] = await db.select({ id: sites.id }).from(sites).where(ownedBy(sites, siteId, c.var.organisationId));
    if (!site) throw invalidField('siteId', `no site with id ${siteId}`);
    requireSite(c, siteId);
    const id = newId('door');
    const [inserted] = (await writeWithChanges(
      c,
      [db.insert(doors).values({ id, organisationId: c.var.organisationId, siteId, createdAt: Date.now(), ...columnsOf(body), name: body.name }).returning()],
      { siteId },
      [{ kind: 'door', entityId: id }],
    )) as [DoorRow[]];
    return c.json(doorOut(inserted[0]!), 201);
  })
  .openapi(getDoor, async (c) => {
    return c.json(doorOut(await findAtSite(c, doors, c.req.valid('param').id, 'Door')), 200);
  })
  .openapi(updateDoor, async (c) => {
    const { id } = c.req.valid('param');
    const changes = columnsOf(c.req.valid('json'));
    const db = c.var.db;
    const row = await findAtSite(c, doors, id, 'Door');
    if (Object.keys(changes).length === 0) return c.json(doorOut(row), 200);
    const [updated] = (await writeWithChanges(c, [db.update(doors).set(changes).where(eq(doors.id, id)).returning()], { siteId: row.siteId }, [
      { kind: 'door', entityId: id },
    ])) as [DoorRow[]];
    return c.json(doorOut(updated[0]!), 200);
  })
  .openapi(deleteDoor, async (c) => {
    const { id } = c.req.valid('param');
    const db = c.var.db;
    const row = await findAtSite(c, doors, id, 'Door');
    await writeWithChanges(c, [db.delete(doors).where(eq(doors.id, id))], { siteId: row.siteId }, [{ kind: 'door', entityId: id }]);
    return c.json({ id, deleted: true as const }, 200);
  });
