// The Worker's HTTP surface: the owner API under /v1 (API keys), the device protocol under
// /v1/device and /v1/enroll (device tokens, one-time codes) and the OpenAPI document.
import { OpenAPIHono } from '@hono/zod-openapi';
import { drizzle } from 'drizzle-orm/d1';
import { createMiddleware } from 'hono/factory';
import { fieldErrors } from '../core/contracts/common.ts';
import { usePlainMessages } from '../core/contracts/messages.ts';
import { grants, PERMISSIONS, type Permission } from '../core/permissions.ts';
import { auditRouter, auditTrail } from './audit/index.ts';
import { ownRead, requireDeviceToken, requireOwnerKey } from './auth/index.ts';
import { accessProfilesRouter, accessRouter, doorsRouter, sitesRouter } from './access/index.ts';
import { billingRouters } from './billing/index.ts';
import { brokerRouter, commandsRouter, devicesRouter, deviceSyncRouter, enrollExchangeRouter, enrollmentRouter, requireBrokerSecret } from './devices/index.ts';
import { alarmsRouter, checkinsRouter } from './checkins/index.ts';
import { credentialsRouter, membersRouter } from './members/index.ts';
import * as schema from './db/schema.ts';
import { cardPageRouter, dunningRouter, limitLinkPages, payPageRouter } from './dunning/index.ts';
import { limitFailures } from './limits/index.ts';
import type { AppEnv } from './env.ts';
import { notificationsRouter } from './notifications/index.ts';
import { organisationRouter } from './organisation/index.ts';
import { authRouter, requireStaffSession, rolesRouter, staffPagesRouter, staffRouter } from './staff/index.ts';
import { memberAccountsRouter, memberPagesRouter } from './member-accounts/index.ts';
import { problems } from './lib/openapi.ts';
import { ApiProblem, forbidden, invalid, renderProblem, toProblem } from './lib/problem.ts';
import { wireSubsystems } from './wiring.ts';

export const API_VERSION = '0.1.0';

// Every entry point (requests, the queue consumer, the crons) loads this module first.
wireSubsystems();

const withDb = createMiddleware<AppEnv>(async (c, next) => {
  c.set('db', drizzle(c.env.DB, { schema }));
  await next();
});

const PUBLIC_PATHS = new Set(['/v1/enroll', '/v1/webhooks/stripe']);
/** Paths of the owner API (organisation API keys), as opposed to devices, the broker and public endpoints. */
const isOwnerPath = (path: string) => !(PUBLIC_PATHS.has(path) || path.startsWith('/v1/device/') || path.startsWith('/v1/broker/') || path.startsWith('/v1/auth/') || isMemberPath(path));
/** Member sign-in and the member's own data: the member session, never a key or a staff session. */
const isMemberPath = (path: string) => path.startsWith('/v1/member-auth/') || path === '/v1/me' || path.startsWith('/v1/me/');
const ownerOnly = createMiddleware<AppEnv>(async (c, next) => {
  if (!isOwnerPath(c.req.path)) return next();
  return requireOwnerKey(c, next);
});

/** Paths whose callers are upgraded apart from the Worker (door agents, brokers, Stripe): fields they do not know of are ignored there. */
const tolerant = (path: string) => path.startsWith('/v1/device/') || path === '/v1/enroll' || path.startsWith('/v1/broker/') || path.startsWith('/v1/webhooks/');

/** Fields of `raw` that validation dropped: what the schema does not know, as dotted paths. */
function unknownFields(raw: unknown, parsed: unknown, path: string[] = []): string[] {
  if (Array.isArray(raw) && Array.isArray(parsed)) return raw.flatMap((item, i) => unknownFields(item, parsed[i], [...path, String(i)]));
  const isPlain = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
  if (!isPlain(raw) || !isPlain(parsed)) return [];
  return Object.keys(raw).flatMap((key) => (key in parsed ? unknownFields(raw[key], parsed[key], [...path, key]) : [[...path, key].join('.')]));
}

/** Owner API writes send JSON: a body in another type is refused, saying which type to send. */
const jsonOnly = createMiddleware<AppEnv>(async (c, next) => {
  const hasBody = c.req.header('content-length') ? Number(c.req.header('content-length')) > 0 : c.req.raw.body !== null;
  if (['POST', 'PUT', 'PATCH'].includes(c.req.method) && hasBody && !tolerant(c.req.path) && !/^application\/(.+\+)?json\b/i.test(c.req.header('content-type') ?? '')) {
    throw new ApiProblem(415, 'unsupported-media-type', 'Unsupported media type', 'Send the body as JSON with the header `Content-Type: application/json`.', [
      { field: 'content-type', reason: `must be application/json, got ${c.req.header('content-type') ?? 'none'}` },
    ]);
  }
  await next();
});

export function createApp() {
  usePlainMessages();
  const app = new OpenAPIHono<AppEnv>({
    // Validation failures become 400 problems naming each field; `target` tells body from query.
    // On the owner API a field or query parameter the schema does not know is refused too (as
    // Stripe refuses an unknown parameter), instead of being silently dropped.
    defaultHook: async (result, c) => {
      const prefix = result.target === 'json' ? '' : result.target === 'param' ? 'path' : result.target;
      if (!result.success) {
        // An invalid body names its unknown top-level fields too, not only what is missing or wrong.
        const known = result.target === 'json' && !tolerant(c.req.path) ? routeOf(c.req.method, c.req.path)?.body : null;
        const raw = (result as { data?: unknown }).data;
        const unknown = known && raw && typeof raw === 'object' && !Array.isArray(raw) ? Object.keys(raw).filter((k) => !known.has(k)) : [];
        throw invalid([...fieldErrors(result.error, prefix), ...unknown.map((field) => ({ field, reason: 'unknown field' }))]);
      }
      if (tolerant(c.req.path) || result.target !== 'json') return;
      // A request without a body was validated as {} (its optional fields left out): nothing unknown in it.
      const body = (await c.req.text()).trim();
      const unknown = body === '' ? [] : unknownFields(JSON.parse(body), result.data);
      if (unknown.length > 0) throw invalid(unknown.map((field) => ({ field, reason: 'unknown field' })));
    },
  });

  // What each route declares (query parameters; a JSON object body's top-level fields, null when the
  // body is not a plain object schema), from the same route definitions as the OpenAPI document.
  let routeShapes: Array<{ method: string; template: string; pattern: RegExp; params: number; names: Set<string>; body: Set<string> | null; permission: string | undefined }> | undefined;
  const shapeKeys = (schema: unknown) => {
    const shape = (schema as { shape?: object } | undefined)?.shape;
    return shape ? new Set(Object.keys(shape)) : null;
  };
  function routeOf(method: string, path: string) {
    routeShapes ??= app.openAPIRegistry.definitions
      .flatMap((d) => (d.type === 'route' ? [d.route] : []))
      .map((r) => ({
        method: r.method.toUpperCase(),
        template: r.path,
        pattern: new RegExp(`^${r.path.replace(/\{[^}]+\}/g, '[^/]+')}$`),
        params: (r.path.match(/\{/g) ?? []).length,
        names: shapeKeys(r.request?.query) ?? new Set<string>(),
        body: shapeKeys((r.request?.body?.content as Record<string, { schema?: unknown }> | undefined)?.['application/json']?.schema),
        permission: (r as { 'x-permission'?: string })['x-permission'],
      }))
      .sort((a, b) => a.params - b.params);
    return routeShapes.find((r) => r.method === method && r.pattern.test(path));
  }

  // Query parameters a route does not declare (every route, with or without a query schema).
  const queryGuard = createMiddleware<AppEnv>(async (c, next) => {
    const given = Object.keys(c.req.queries());
    if (given.length > 0 && !tolerant(c.req.path)) {
      const route = routeOf(c.req.method, c.req.path);
      const unknown = route ? given.filter((name) => !route.names.has(name)) : [];
      if (unknown.length > 0) throw invalid(unknown.map((name) => ({ field: `query.${name}`, reason: 'unknown query parameter' })));
    }
    await next();
  });

  // The owner API: the key must hold the permission the route declares (its x-permission).
  const permitted = createMiddleware<AppEnv>(async (c, next) => {
    if (!isOwnerPath(c.req.path)) return next();
    const route = routeOf(c.req.method, c.req.path);
    if (!route) return next();
    const needed = route.permission as Permission | undefined;
    // A route without a permission is a mistake in its contract: refuse rather than allow.
    if (!needed || !(PERMISSIONS as readonly string[]).includes(needed)) throw new ApiProblem(500, 'route-without-permission', 'Route declares no permission');
    if (!grants(c.var.scopes, needed)) {
      if (c.var.actor.type === 'staff_user') {
        throw forbidden(`Your role here may not do this: it needs the permission ${needed}. Ask the owner if your job needs it.`, 'role', `your roles lack ${needed}`);
      }
      throw forbidden(`This API key may not do this: it needs the permission ${needed}, which the key was not given.`, 'authorization', `the key lacks ${needed}`);
    }
    await next();
  });

  app.use('/v1/*', withDb);
  app.use('/staff', withDb);
  app.use('/me', withDb);
  app.use('/me/*', withDb);
  app.use('/staff/*', withDb);
  app.use('/v1/*', jsonOnly);
  app.use('/v1/*', queryGuard);
  // Enrollment codes are typed by people, so short enough to guess at: wrong ones are counted per address.
  app.use('/v1/enroll', limitFailures('enrollFailuresPerIp', (status) => [400, 404, 409, 410].includes(status)));
  app.use('/pay/*', limitLinkPages);
  app.use('/card/*', limitLinkPages);
  app.use('/v1/device/*', requireDeviceToken);
  app.use('/v1/broker/*', requireBrokerSecret);
  app.use('/v1/auth/*', requireStaffSession);
  app.use('/v1/*', ownerOnly);
  app.use(
    '/v1/*',
    auditTrail({
      routeOf: (method, path) => (isOwnerPath(path) ? routeOf(method, path) : undefined),
      read: async (c, path) => {
        let ctx: Parameters<typeof app.fetch>[2];
        try {
          ctx = c.executionCtx;
        } catch {
          ctx = undefined;
        }
        const res = await app.fetch(ownRead(new Request(new URL(path, c.req.url)), c.var.organisationId), c.env, ctx);
        return res.status === 200 ? ((await res.json()) as Record<string, unknown>) : null;
      },
    }),
  );
  app.use('/v1/*', permitted);

  const routers = [
    organisationRouter,
    sitesRouter,
    doorsRouter,
    accessProfilesRouter,
    membersRouter,
    credentialsRouter,
    enrollmentRouter,
    enrollExchangeRouter,
    devicesRouter,
    checkinsRouter,
    alarmsRouter,
    commandsRouter,
    accessRouter,
    deviceSyncRouter,
    ...billingRouters,
    notificationsRouter,
    auditRouter,
    staffRouter,
    rolesRouter,
    authRouter,
    dunningRouter,
    payPageRouter,
    staffPagesRouter,
    memberAccountsRouter,
    memberPagesRouter,
    cardPageRouter,
    brokerRouter,
  ];
  for (const router of routers) app.route('/', router);
  // Every owner operation may answer 403 for a key without its permission: documented once, here.
  for (const d of app.openAPIRegistry.definitions) {
    if (d.type !== 'route' || !(PERMISSIONS as readonly string[]).includes((d.route as { 'x-permission'?: string })['x-permission'] ?? '')) continue;
    (d.route.responses as Record<number, unknown>)[403] ??= problems(403)[403];
  }

  app.openAPIRegistry.registerComponent('securitySchemes', 'ownerKey', {
    type: 'http',
    scheme: 'bearer',
    description: 'Organisation API key (`gg_live_…`)',
  });
  app.openAPIRegistry.registerComponent('securitySchemes', 'staffSession', {
    type: 'apiKey',
    in: 'cookie',
    name: '__Host-gg_session',
    description: 'A staff session from POST /v1/auth/sign-in (gg_session on a local http server). Writes also send X-CSRF-Token.',
  });
  app.openAPIRegistry.registerComponent('securitySchemes', 'memberSession', {
    type: 'apiKey',
    in: 'cookie',
    name: '__Host-gg_member',
    description: 'A member session from /v1/member-auth/link or /v1/member-auth/verify (gg_member on a local http server). Reaches /v1/me only.',
  });
  app.openAPIRegistry.registerComponent('securitySchemes', 'deviceToken', {
    type: 'http',
    scheme: 'bearer',
    description: 'Door device token from enrollment (`ggd_…`)',
  });
  app.openAPIRegistry.registerComponent('securitySchemes', 'brokerSecret', {
    type: 'http',
    scheme: 'bearer',
    description: 'BROKER_AUTH_SECRET, shared with the MQTT broker that asks who its clients are',
  });
  app.doc31('/openapi.json', {
    openapi: '3.1.0',
    info: {
      title: 'gymgate API',
      version: API_VERSION,
      description: 'Members, sites, doors, cards and check-ins for gym door access. Errors are application/problem+json.',
    },
  });

  app.get('/health', (c) => c.json({ ok: true, version: API_VERSION }));
  app.notFound(() => renderProblem(new ApiProblem(404, 'not-found', 'No such endpoint')));
  app.onError((err, c) => {
    const problem = toProblem(err);
    if (problem.status >= 500) console.error(JSON.stringify({ msg: 'request failed', path: c.req.path, error: String(err), stack: (err as Error).stack }));
    return renderProblem(problem);
  });
  return app;
}
