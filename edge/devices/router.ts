import { OpenAPIHono } from '@hono/zod-openapi';
import { and, asc, eq, gt, isNull } from 'drizzle-orm';
import { devices } from '../db/schema.ts';
import type { AppEnv } from '../env.ts';
import { pageOf } from '../lib/pagination.ts';
import { notFound } from '../lib/problem.ts';
import { iso, isoOrNull } from '../lib/time.ts';
import { getDevice, listDevices, revokeDevice } from './routes.ts';

type DeviceRow = typeof devices.$inferSelect;
const deviceOut = (d: DeviceRow) => ({
  id: d.id,
  siteId: d.siteId,
  name: d.name,
  agentVersion: d.agentVersion,
  entitlementVersion: d.entitlementVersion,
  lastSeenAt: isoOrNull(d.lastSeenAt),
  createdAt: iso(d.createdAt),
  revokedAt: isoOrNull(d.revokedAt),
});

export const devicesRouter = new OpenAPIHono<AppEnv>()
  .openapi(listDevices, async (c) => {
    const { limit, cursor, siteId } = c.req.valid('query');
    const rows = await c.var.db
      .select()
      .from(devices)
      .where(
        and(
          eq(devices.organisationId, c.var.organisationId),
          siteId ? eq(devices.siteId, siteId) : undefined,
          cursor ? gt(devices.id, cursor) : undefined,
        ),
      )
      .orderBy(asc(devices.id))
      .limit(limit + 1);
    return c.json(pageOf(rows, limit, deviceOut, (r) => r.id), 200);
  })
  .openapi(getDevice, async (c) => {
    const { id } = c.req.valid('param');
    const [row] = await c.var.db
      .select()
      .from(devices)
      .where(and(eq(devices.id, id), eq(devices.organisationId, c.var.organisationId)));
    if (!row) throw notFound('Device', id);
    return c.json(deviceOut(row), 200);
  })
  .openapi(revokeDevice, async (c) => {
    const { id } = c.req.valid('param');
    const [row] = await c.var.db
      .update(devices)
      .set({ revokedAt: Date.now() })
      .where(and(eq(devices.id, id), eq(devices.organisationId, c.var.organisationId), isNull(devices.revokedAt)))
      .returning();
    if (!row) throw notFound('Device', id);
    return c.json(deviceOut(row), 200);
  });
