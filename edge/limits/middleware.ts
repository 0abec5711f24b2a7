// Limits as middleware, for routes whose failures are what guessing looks like.
import { createMiddleware } from 'hono/factory';
import type { RateLimitName } from '../../core/rate-limits.ts';
import type { AppEnv } from '../env.ts';
import { allowed, clientAddress, hit, tooMany } from './counter.ts';

/** Refuses an address already over `name`'s limit (429), and counts the request against it when its answer is a failure. */
export const limitFailures = (name: RateLimitName, isFailure: (status: number) => boolean) =>
  createMiddleware<AppEnv>(async (c, next) => {
    const ip = clientAddress((h) => c.req.header(h));
    const verdict = await allowed(c.var.db, name, ip);
    if (!verdict.allowed) throw tooMany(name, verdict.retryAfterSeconds);
    await next();
    if (isFailure(c.res.status)) await hit(c.var.db, name, ip);
  });
