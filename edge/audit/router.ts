import { OpenAPIHono } from '@hono/zod-openapi';
import { gte, lt } from 'drizzle-orm';
import type { AppEnv } from '../env.ts';
import { matching, pageOwned } from '../lib/owned.ts';
import { iso } from '../lib/time.ts';
import { listAuditEvents } from './routes.ts';
import { auditEvents } from './tables.ts';

type AuditRow = typeof auditEvents.$inferSelect;
const auditEventOut = (r: AuditRow) => ({
  id: r.id,
  occurredAt: iso(r.occurredAt),
  actor: { type: r.actorType, id: r.actorId, name: r.actorName },
  action: r.action,
  resourceType: r.resourceType,
  resourceId: r.resourceId,
  outcome: r.outcome,
  status: r.status,
  request: { method: r.method, path: r.path, ip: r.ip, userAgent: r.userAgent },
  before: r.before,
  after: r.after,
});

export const auditRouter = new OpenAPIHono<AppEnv>().openapi(listAuditEvents, async (c) => {
  const { limit, cursor, from, to, ...filters } = c.req.valid('query');
  const page = await pageOwned(
    c.var.db,
    auditEvents,
    c.var.organisationId,
    { limit, cursor, newestFirst: true },
    auditEventOut,
    matching(auditEvents, filters),
    from ? gte(auditEvents.occurredAt, Date.parse(from)) : undefined,
    to ? lt(auditEvents.occurredAt, Date.parse(to)) : undefined,
  );
  return c.json(page, 200);
});
