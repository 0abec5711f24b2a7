// Abuse limits of the member pages: a pay-now or update-card link answers a member's handful of
// requests, not a script's; an address that keeps opening unknown or expired links (guessing
// tokens) is refused for a while. The refusal is a page in the member's language, never a 5xx.
import { drizzle } from 'drizzle-orm/d1';
import type { MiddlewareHandler } from 'hono';
import * as schema from '../db/schema.ts';
import type { AppEnv } from '../env.ts';
import { allowed, clientAddress, hit, type Verdict } from '../limits/index.ts';
import { viewFor } from './page-locale.ts';
import { notice } from './pay-page-html.ts';

const refused = (c: Parameters<MiddlewareHandler<AppEnv>>[0], v: Verdict) => {
  if (v.allowed) return null;
  const res = notice(viewFor(c), 'tooManyRequests', 429);
  res.headers.set('retry-after', String(v.retryAfterSeconds));
  return res;
};

/** For /pay/:token… and /card/:token…: per link, and unknown or expired links per address. */
export const limitLinkPages: MiddlewareHandler<AppEnv> = async (c, next) => {
  const token = /^\/(?:pay|card)\/([^/]+)/.exec(c.req.path)?.[1];
  if (!token) return next();
  const db = drizzle(c.env.DB, { schema });
  const ip = clientAddress((name) => c.req.header(name));
  const stop = refused(c, await allowed(db, 'memberLinkFailuresPerIp', ip)) ?? refused(c, await hit(db, 'memberLinkRequests', token));
  if (stop) return stop;
  await next();
  // 404: no such link; 410: expired or used. Both are what guessing looks like.
  if (c.res.status === 404 || c.res.status === 410) await hit(db, 'memberLinkFailuresPerIp', ip);
};
