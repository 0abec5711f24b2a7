// The audit trail of the owner API. Every write through it becomes one event (who, what, when,
// from where, and the changed fields before and after), and so does every refused attempt. It is
// one middleware over the routes' own contracts, so a new route is audited without a line of its
// own: the action comes from the route's path, the states from the resource's GET route.
import type { Context } from 'hono';
import { createMiddleware } from 'hono/factory';
import type { AppEnv, Db } from '../env.ts';
import { newId } from '../lib/ids.ts';
import { auditEvents } from './tables.ts';

/** What the trail needs from the app: the route a request matched, and the resource as a GET of it answers. */
export type AuditHooks = {
  /** The route template (e.g. /v1/members/{id}) and its permission, or undefined for no route. */
  routeOf: (method: string, path: string) => { template: string; permission: string | undefined } | undefined;
  /** The JSON a GET of `path` answers the caller's organisation, or null when it answers anything but 200. */
  read: (c: Context<AppEnv>, path: string) => Promise<Record<string, unknown> | null>;
};

/** Operations that change nothing: reads, and the access explanation (asked by POST). */
const changesNothing = (permission: string) => permission.endsWith(':read') || permission === 'access:explain';

/**
 * The action a write is recorded as, from its route: the path's nouns joined by dots and, unless the
 * path ends in its own verb or noun (invoices/{id}/void), what the method does to them.
 */
export function actionOf(method: string, template: string) {
  const parts = template.split('/').slice(2);
  const nouns = parts.filter((p) => !p.startsWith('{'));
  const last = parts[parts.length - 1] ?? '';
  const verb = { GET: 'read', DELETE: 'delete', PATCH: 'update', PUT: 'set' }[method] ?? (parts.length === 1 || last.startsWith('{') ? 'create' : null);
  return { action: verb ? [...nouns, verb].join('.') : nouns.join('.'), resourceType: nouns[0] ?? 'unknown', idParamAt: parts[1]?.startsWith('{') ? 1 : -1 };
}

const SECRET_FIELD = /secret|token|password|hash|verifier|^pin$|^code$|^acceptUrl$|recoveryCodes/i;
const REDACTED = '[redacted]';

/** A copy with secrets, PIN verifiers and one-time codes replaced, at any depth. */
export function redact(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(redact);
  if (typeof value !== 'object' || value === null) return value;
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, SECRET_FIELD.test(k) && v !== null ? REDACTED : redact(v)]));
}

/** The fields whose values differ, before and after (a creation has no before, a deletion no after). */
export function changedFields(before: Record<string, unknown> | null, after: Record<string, unknown> | null) {
  if (!before || !after) return { before: before && (redact(before) as Record<string, unknown>), after: after && (redact(after) as Record<string, unknown>) };
  const keys = [...new Set([...Object.keys(before), ...Object.keys(after)])].filter((k) => JSON.stringify(before[k]) !== JSON.stringify(after[k]));
  const pick = (o: Record<string, unknown>) => redact(Object.fromEntries(keys.filter((k) => k in o).map((k) => [k, o[k]]))) as Record<string, unknown>;
  return { before: pick(before), after: pick(after) };
}

// Only what Cloudflare's edge sets: X-Forwarded-For is whatever the caller wrote.
const clientIp = (c: Context<AppEnv>) => c.req.header('cf-connecting-ip') ?? null;

/** Where a request came from, as an audit event records it. */
export const requestOrigin = (c: Context<AppEnv>) => ({ method: c.req.method, path: c.req.path, ip: clientIp(c), userAgent: c.req.header('user-agent')?.slice(0, 300) ?? null });

export type AuditRecord = Omit<typeof auditEvents.$inferInsert, 'id' | 'occurredAt'> & { occurredAt?: number };

/** Appends one event. A failure to record is logged and does not undo the write it describes. */
export async function recordAuditEvent(db: Db, event: AuditRecord): Promise<void> {
  const occurredAt = event.occurredAt ?? Date.now();
  try {
    await db.insert(auditEvents).values({ ...event, id: newId('aud', occurredAt), occurredAt });
  } catch (error) {
    console.error(JSON.stringify({ msg: 'audit event not recorded', action: event.action, resourceId: event.resourceId, error: String(error) }));
  }
}

/**
 * A change of the resource at its own path (PATCH /v1/members/{id}) that answers the resource as
 * its GET does (the same fields as the state before) is its own after: no second read. Anything
 * else (a PIN set, an action's summary) is read again.
 */
async function answeredAsRead(c: Context<AppEnv>, readPath: string, before: Record<string, unknown> | null): Promise<Record<string, unknown> | null> {
  if (!before || c.req.method !== 'PATCH' || c.req.path !== readPath || c.res.status !== 200 || !(c.res.headers.get('content-type') ?? '').includes('json')) return null;
  const body = (await c.res.clone().json()) as unknown;
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return null;
  const keys = Object.keys(body);
  const same = keys.length === Object.keys(before).length && keys.every((k) => k in before);
  return same ? (body as Record<string, unknown>) : null;
}

/** Owner API middleware: runs after authentication (it needs the actor) and before the permission check (it records refusals). */
export const auditTrail = (hooks: AuditHooks) =>
  createMiddleware<AppEnv>(async (c, next) => {
    const method = c.req.method;
    const route = hooks.routeOf(method, c.req.path);
    const actor = c.var.actor;
    if (!route?.permission || !actor) return next();
    const { action, resourceType, idParamAt } = actionOf(method, route.template);
    const concrete = c.req.path.split('/').slice(2);
    const pathId = idParamAt > 0 ? (concrete[idParamAt] ?? null) : null;
    const writes = method !== 'GET' && !changesNothing(route.permission);
    // The resource's own GET: /v1/members/{id} for anything under it, the path itself for a singleton (PUT /v1/dunning/policy).
    const readPath = pathId ? `/v1/${concrete[0]}/${pathId}` : method === 'POST' ? null : c.req.path;
    const readable = writes && readPath !== null && hooks.routeOf('GET', readPath) !== undefined;
    const before = readable ? await hooks.read(c, readPath!) : null;

    await next();

    const status = c.res.status;
    const refused = status === 403;
    if (!refused && (!writes || status >= 300)) return;
    let after: Record<string, unknown> | null = null;
    let resourceId = pathId;
    if (!refused && readable) after = (await answeredAsRead(c, readPath!, before)) ?? (await hooks.read(c, readPath!));
    else if (!refused && (c.res.headers.get('content-type') ?? '').includes('json')) {
      // A creation answers the new resource: that is its after, and its id the resource's.
      const body = (await c.res.clone().json()) as Record<string, unknown>;
      after = body;
      if (!resourceId && typeof body.id === 'string') resourceId = body.id;
    }
    const fields = refused ? { before: null, after: null } : changedFields(before, after);
    await recordAuditEvent(c.var.db, {
      organisationId: c.var.organisationId,
      actorType: actor.type,
      actorId: actor.id,
      actorName: actor.name,
      action,
      resourceType,
      resourceId,
      outcome: refused ? 'refused' : 'succeeded',
      status,
      ...requestOrigin(c),
      ...fields,
    });
  });
