import { OpenAPIHono } from '@hono/zod-openapi';
import { and, asc, eq, gt, isNull } from 'drizzle-orm';
import { SIMULATED_FALLBACK_PROBLEM } from '../../core/contracts/wire.ts';
import { devices, sites } from '../db/schema.ts';
import type { AppEnv } from '../env.ts';
import { pageOf } from '../lib/pagination.ts';
import { notFound } from '../lib/problem.ts';
import { iso, isoOrNull } from '../lib/time.ts';
import { getDevice, listDevices, revokeDevice } from './routes.ts';
import { atCallerSites, findAtSite, requireSite } from '../lib/site-limits.ts';
import { ownedBy } from '../lib/owned.ts';

type DeviceRow = typeof devices.$inferSelect;

/** A device heard from within this long is online (heartbeats come every 30 s). */
export const ONLINE_WINDOW_MS = 90_000;
export const FLAPPING_RECONNECTS_PER_HOUR = 5;

export const deviceOut = (d: DeviceRow, siteVersion: number | null, now = Date.now()) => ({
  id: d.id,
  siteId: d.siteId,
  name: d.name,
  agentVersion: d.agentVersion,
  online: d.revokedAt === null && d.lastSeenAt !== null && now - d.lastSeenAt < ONLINE_WINDOW_MS,
  lastSeenAt: isoOrNull(d.lastSeenAt),
  entitlementVersion: d.entitlementVersion,
  versionLag: siteVersion === null || d.entitlementVersion === null ? null : Math.max(0, siteVersion - d.entitlementVersion),
  clockOffsetMs: d.clockOffsetMs,
  uptimeSeconds: d.uptimeSeconds,
  mqttConnected: d.mqttConnected,
  reconnectsLastHour: d.reconnectsLastHour,
  flapping: (d.reconnectsLastHour ?? 0) >= FLAPPING_RECONNECTS_PER_HOUR,
  outboxPending: d.outboxPending,
  gpioDriver: d.gpioDriver,
  problems: d.gpioSimulatedFallback ? [SIMULATED_FALLBACK_PROBLEM] : [],
  createdAt: iso(d.createdAt),
  revokedAt: isoOrNull(d.revokedAt),
});

const withSiteVersion = { device: devices, siteVersion: sites.entitlementVersion };

export const devicesRouter = new OpenAPIHono<AppEnv>()
  .openapi(listDevices, async (c) => {
    const { limit, cursor, siteId } = c.req.valid('query');
    const rows = await c.var.db
      .select(withSiteVersion)
      .from(devices)
      .innerJoin(sites, eq(sites.id, devices.siteId))
      .where(
        and(
          eq(devices.organisationId, c.var.organisationId),
          siteId ? eq(devices.siteId, siteId) : undefined,
          atCallerSites(c, devices.siteId),
          cursor ? gt(devices.id, cursor) : undefined,
        ),
      )
      .orderBy(asc(devices.id))
      .limit(limit + 1);
    return c.json(pageOf(rows, limit, (r) => deviceOut(r.device, r.siteVersion), (r) => r.device.id), 200);
  })
  .openapi(getDevice, async (c) => {
    const { id } = c.req.valid('param');
    const [row] = await c.var.db
      .select(withSiteVersion)
      .from(devices)
      .innerJoin(sites, eq(sites.id, devices.siteId))
      .where(ownedBy(devices, id, c.var.organisationId));
    if (!row) throw notFound('Device', id);
    requireSite(c, row.device.siteId);
    return c.json(deviceOut(row.device, row.siteVersion), 200);
  })
  .openapi(revokeDevice, async (c) => {
    const { id } = c.req.valid('param');
    await findAtSite(c, devices, id, 'Device');
    const [row] = await c.var.db
      .update(devices)
      .set({ revokedAt: Date.now() })
      .where(ownedBy(devices, id, c.var.organisationId, isNull(devices.revokedAt)))
      .returning();
    if (!row) throw notFound('Device', id);
    return c.json(deviceOut(row, null), 200);
  });
