// Session cookies, one way for every kind of session (staff, member): a random token in an
// HttpOnly, SameSite=Lax cookie (Secure and __Host- named over https), and for writes the CSRF
// checks: the browser's Sec-Fetch-Site or Origin must be this site, and the session's CSRF token
// (derived from its secret, so nothing more is stored) must come as X-CSRF-Token or a form's _csrf.
import type { Context } from 'hono';
import { deleteCookie, getCookie, setCookie } from 'hono/cookie';
import type { AppEnv } from '../env.ts';
import { sha256Hex } from './ids.ts';
import { ApiProblem, forbidden } from './problem.ts';

const isHttps = (c: Context<AppEnv>) => new URL(c.req.url).protocol === 'https:';

/** A session cookie called `name` (`__Host-name` over https; plain http is only ever a local dev server). */
export function sessionCookie(name: string, maxAgeMs: number) {
  const nameOf = (c: Context<AppEnv>) => (isHttps(c) ? `__Host-${name}` : name);
  return {
    read: (c: Context<AppEnv>): string | undefined => getCookie(c, nameOf(c)),
    set: (c: Context<AppEnv>, token: string) => setCookie(c, nameOf(c), token, { httpOnly: true, secure: isHttps(c), sameSite: 'Lax', path: '/', maxAge: Math.floor(maxAgeMs / 1000) }),
    clear: (c: Context<AppEnv>) => deleteCookie(c, nameOf(c), { path: '/', secure: isHttps(c) }),
  };
}

/** The CSRF token of a session: derived from its secret. */
export const csrfTokenOf = async (sessionToken: string) => (await sha256Hex(`csrf:${sessionToken}`)).slice(0, 43);

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * Whether a write came from a page of another site: the browser's own Sec-Fetch-Site where it
 * sends one, else an Origin that is not this host (a proxy in front, such as wrangler dev's, may
 * rewrite the request's URL, so the Host header counts as this site too).
 */
function fromAnotherSite(c: Context<AppEnv>): boolean {
  const site = c.req.header('sec-fetch-site');
  if (site) return site !== 'same-origin' && site !== 'none';
  const origin = c.req.header('origin');
  if (!origin || origin === new URL(c.req.url).origin) return false;
  try {
    return new URL(origin).host !== c.req.header('host');
  } catch {
    return true;
  }
}

/** Refuses (403, nothing done) a write made with session `token` from another site or without its CSRF token. */
export async function checkCsrf(c: Context<AppEnv>, token: string): Promise<void> {
  if (SAFE_METHODS.has(c.req.method)) return;
  if (fromAnotherSite(c)) throw forbidden(`A write from another site (${c.req.header('origin') ?? c.req.header('sec-fetch-site')}) is refused.`, 'origin', 'not this site');
  // API callers send it as a header; the pages' forms as the _csrf field.
  const form = /^application\/x-www-form-urlencoded\b/i.test(c.req.header('content-type') ?? '') ? await c.req.parseBody() : {};
  const sent = c.req.header('x-csrf-token') ?? (typeof form._csrf === 'string' ? form._csrf : undefined);
  if (sent !== (await csrfTokenOf(token))) {
    throw new ApiProblem(403, 'csrf', 'CSRF token missing or wrong', 'A write made with a session cookie must send the session’s CSRF token as the X-CSRF-Token header.', [
      { field: 'x-csrf-token', reason: sent ? 'does not match the session' : 'missing' },
    ]);
  }
}
