// The Worker's HTTP surface: the owner API under /v1 (API keys), the device protocol under
// /v1/device and /v1/enroll (device tokens, one-time codes) and the OpenAPI document.
import { OpenAPIHono } from '@hono/zod-openapi';
import { drizzle } from 'drizzle-orm/d1';
import { createMiddleware } from 'hono/factory';
import { fieldErrors } from '../core/contracts/common.ts';
import { requireDeviceToken, requireOwnerKey } from './auth/middleware.ts';
import { accessProfilesRouter } from './access-profiles/router.ts';
import { accessRouter } from './access/router.ts';
import { billingRouter } from './billing/router.ts';
import { brokerRouter, requireBrokerSecret } from './broker/router.ts';
import { alarmsRouter, checkinsRouter } from './checkins/router.ts';
import { commandsRouter } from './commands/router.ts';
import { credentialsRouter } from './credentials/router.ts';
import * as schema from './db/schema.ts';
import { deviceSyncRouter } from './device-sync/router.ts';
import { devicesRouter } from './devices/router.ts';
import { doorsRouter } from './doors/router.ts';
import { cardPageRouter, dunningRouter, payPageRouter } from './dunning/router.ts';
import { enrollExchangeRouter, enrollmentRouter } from './enrollment/router.ts';
import type { AppEnv } from './env.ts';
import { membersRouter } from './members/router.ts';
import { notificationsRouter } from './notifications/router.ts';
import { organisationRouter } from './organisation/router.ts';
import { ApiProblem, invalid, renderProblem, toProblem } from './lib/problem.ts';
import { sitesRouter } from './sites/router.ts';

export const API_VERSION = '0.1.0';

const withDb = createMiddleware<AppEnv>(async (c, next) => {
  c.set('db', drizzle(c.env.DB, { schema }));
  await next();
});

const PUBLIC_PATHS = new Set(['/v1/enroll', '/v1/webhooks/stripe']);
const ownerOnly = createMiddleware<AppEnv>(async (c, next) => {
  if (PUBLIC_PATHS.has(c.req.path) || c.req.path.startsWith('/v1/device/') || c.req.path.startsWith('/v1/broker/')) return next();
  return requireOwnerKey(c, next);
});

export function createApp() {
  const app = new OpenAPIHono<AppEnv>({
    // Validation failures become 400 problems naming each field; `target` tells body from query.
    defaultHook: (result) => {
      if (!result.success) {
        throw invalid(fieldErrors(result.error, result.target === 'json' ? '' : result.target === 'param' ? 'path' : result.target));
      }
    },
  });

  app.use('/v1/*', withDb);
  app.use('/v1/device/*', requireDeviceToken);
  app.use('/v1/broker/*', requireBrokerSecret);
  app.use('/v1/*', ownerOnly);

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
    billingRouter,
    notificationsRouter,
    dunningRouter,
    payPageRouter,
    cardPageRouter,
    brokerRouter,
  ];
  for (const router of routers) app.route('/', router);

  app.openAPIRegistry.registerComponent('securitySchemes', 'ownerKey', {
    type: 'http',
    scheme: 'bearer',
    description: 'Organisation API key (`gg_live_…`)',
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
