// Bearer authentication. Owner API keys and device tokens are stored only as SHA-256 hashes.
import { and, eq, isNull } from 'drizzle-orm';
import type { Context } from 'hono';
import { createMiddleware } from 'hono/factory';
import { clientAddress, hit, tooMany } from '../limits/index.ts';
import { authenticateStaff, sessionCookieOf } from '../staff/index.ts';
import { apiKeys, devices } from '../db/schema.ts';
import type { AppEnv } from '../env.ts';
import { sha256Hex } from '../lib/ids.ts';
import { ApiProblem, unauthorized } from '../lib/problem.ts';
import { DEVICE_REVOKED } from '../../core/contracts/wire.ts';

/** How finely a key's last use is kept. */
export const LAST_USED_RESOLUTION_MS = 60_000;

const bearer = (header: string | undefined): string => {
  const match = header ? /^Bearer\s+(\S+)$/i.exec(header) : null;
  if (!match?.[1]) throw unauthorized('Send the key as `Authorization: Bearer <key>`.');
  return match[1];
};

/** Reads the Worker makes of its own owner API (the audit trail's before and after), as one organisation. */
const ownReads = new WeakMap<Request, string>();
/** Marks a GET request as the Worker's own read for `organisationId`: it passes without a key. */
export function ownRead(request: Request, organisationId: string): Request {
  ownReads.set(request, organisationId);
  return request;
}

/**
 * An unknown bearer secret: counted against the caller's address, and refused with 429 once it has
 * sent too many. Keys and tokens are ~190 random bits, so this bounds noise and scanning rather
 * than guessing; a caller with a valid secret is never locked out by others behind its address.
 */
async function unknownBearer(c: Context<AppEnv>, detail: string): Promise<never> {
  const verdict = await hit(c.var.db, 'bearerFailuresPerIp', clientAddress((h) => c.req.header(h)));
  if (!verdict.allowed) throw tooMany('bearerFailuresPerIp', verdict.retryAfterSeconds);
  throw unauthorized(detail);
}

export const requireOwnerKey = createMiddleware<AppEnv>(async (c, next) => {
  const own = c.req.method === 'GET' ? ownReads.get(c.req.raw) : undefined;
  if (own) {
    c.set('organisationId', own);
    c.set('scopes', null);
    c.set('siteIds', null);
    c.set('actor', { type: 'system', id: null, name: 'audit trail' });
    return next();
  }
  // The web apps call the API with the staff person's session cookie; integrations with a key.
  if (!c.req.header('authorization') && sessionCookieOf(c)) {
    await authenticateStaff(c);
    return next();
  }
  const secret = bearer(c.req.header('authorization'));
  const [key] = await c.var.db
    .select({ id: apiKeys.id, name: apiKeys.name, organisationId: apiKeys.organisationId, scopes: apiKeys.scopes, siteIds: apiKeys.siteIds, lastUsedAt: apiKeys.lastUsedAt })
    .from(apiKeys)
    .where(and(eq(apiKeys.keyHash, await sha256Hex(secret)), isNull(apiKeys.revokedAt)))
    .limit(1);
  if (!key) return unknownBearer(c, 'The API key is unknown or revoked.');
  c.set('organisationId', key.organisationId);
  c.set('scopes', key.scopes ?? null);
  c.set('siteIds', key.siteIds ?? null);
  c.set('actor', { type: 'api_key', id: key.id, name: key.name });
  // Written at most once a minute per key, so a busy integration does not write on every request.
  const now = Date.now();
  if (key.lastUsedAt === null || now - key.lastUsedAt >= LAST_USED_RESOLUTION_MS) {
    await c.var.db.update(apiKeys).set({ lastUsedAt: now }).where(eq(apiKeys.id, key.id));
  }
  await next();
});

export const requireDeviceToken = createMiddleware<AppEnv>(async (c, next) => {
  const secret = bearer(c.req.header('authorization'));
  const [device] = await c.var.db
    .select({ id: devices.id, organisationId: devices.organisationId, siteId: devices.siteId, revokedAt: devices.revokedAt })
    .from(devices)
    .where(eq(devices.tokenHash, await sha256Hex(secret)))
    .limit(1);
  if (!device) return unknownBearer(c, 'The device token is unknown.');
  // Said apart from an unknown token: only the holder of this device's own token can hear it, and
  // it tells the agent to wipe its cache and stop granting (device/agent.ts).
  if (device.revokedAt !== null) {
    throw new ApiProblem(401, DEVICE_REVOKED, 'Device revoked', `This door device was revoked at ${new Date(device.revokedAt).toISOString()}: it must not grant access. Provision it again to use it.`);
  }
  const verdict = await hit(c.var.db, 'deviceRequests', device.id);
  if (!verdict.allowed) throw tooMany('deviceRequests', verdict.retryAfterSeconds);
  c.set('device', { id: device.id, organisationId: device.organisationId, siteId: device.siteId });
  await next();
});
