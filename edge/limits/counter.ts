// Rate-limit counters in D1: exact across every Worker instance, and they work the same under
// `wrangler dev` and in the tests. A hit is one upsert that answers the new count.
import { eq, lt, sql } from 'drizzle-orm';
import { RATE_LIMITS, verdict, windowOf, type RateLimitName } from '../../core/rate-limits.ts';
import type { Db } from '../env.ts';
import { ApiProblem } from '../lib/problem.ts';
import { rateCounters } from './tables.ts';

export type Verdict = ReturnType<typeof verdict>;

const keyOf = (name: RateLimitName, subject: string, now: number) => `${name}:${subject}:${windowOf(RATE_LIMITS[name], now).startsAt}`;

/** Counts one hit of `name` for `subject` and says whether it is within the limit. */
export async function hit(db: Db, name: RateLimitName, subject: string, now = Date.now()): Promise<Verdict> {
  const limit = RATE_LIMITS[name];
  const [row] = await db
    .insert(rateCounters)
    .values({ key: keyOf(name, subject, now), hits: 1, windowEndsAt: windowOf(limit, now).endsAt })
    .onConflictDoUpdate({ target: rateCounters.key, set: { hits: sql`${rateCounters.hits} + 1` } })
    .returning({ hits: rateCounters.hits });
  return verdict(limit, row?.hits ?? 1, now);
}

/** Whether one more attempt is allowed, without counting it (for limits that count only failures). */
export async function allowed(db: Db, name: RateLimitName, subject: string, now = Date.now()): Promise<Verdict> {
  const [row] = await db.select({ hits: rateCounters.hits }).from(rateCounters).where(eq(rateCounters.key, keyOf(name, subject, now)));
  return verdict(RATE_LIMITS[name], (row?.hits ?? 0) + 1, now);
}

/** The 429 a refused caller gets: what was too many, and when to try again (also as Retry-After). */
export function tooMany(name: RateLimitName, retryAfterSeconds: number): ApiProblem {
  const minutes = Math.ceil(retryAfterSeconds / 60);
  const wait = retryAfterSeconds < 60 ? `${retryAfterSeconds} seconds` : `${minutes} minute${minutes === 1 ? '' : 's'}`;
  return new ApiProblem(429, 'rate-limited', 'Too many requests', `Too many ${RATE_LIMITS[name].what}: try again in ${wait}.`, undefined, { 'retry-after': String(retryAfterSeconds) });
}

/** The caller's address as Cloudflare reports it ("local" where no edge set one, e.g. a test calling the app directly). */
export const clientAddress = (header: (name: string) => string | undefined) => header('cf-connecting-ip') ?? 'local';

/** Daily housekeeping: counters whose window has ended. */
export async function pruneRateCounters(db: Db, now = Date.now()): Promise<number> {
  const result = await db.delete(rateCounters).where(lt(rateCounters.windowEndsAt, now));
  return result.meta.changes ?? 0;
}
