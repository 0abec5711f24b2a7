// Staff sessions: a random token in an HttpOnly, SameSite=Lax cookie (Secure, and __Host- named,
// over https), only its hash in D1. A write made with the cookie must carry the session's CSRF
// token, derived from the session token, so a page on another site can neither read nor forge it.
// Every request re-reads the session and the person's membership: revoking a session or disabling
// the person ends access on their very next request.
import { and, eq, isNull, sql } from 'drizzle-orm';
import type { Context } from 'hono';
import { SESSION_ABSOLUTE_MS, SESSION_TOUCH_MS, sessionVerdict } from '../../core/sessions.ts';
import type { AppEnv, Db, StaffSessionContext } from '../env.ts';
import { newId, newSecret, sha256Hex } from '../lib/ids.ts';
import { ApiProblem } from '../lib/problem.ts';
import { checkCsrf, csrfTokenOf, sessionCookie } from '../lib/session-cookie.ts';
import { organisations } from '../db/schema.ts';
import { permissionsOf } from './roles.ts';
import { staffMembers, passkeyCount, staffSessions, staffUsers } from './tables.ts';

const cookie = sessionCookie('gg_session', SESSION_ABSOLUTE_MS);
export const sessionCookieOf = cookie.read;
export const setSessionCookie = cookie.set;
export const clearSessionCookie = cookie.clear;
export { csrfTokenOf };

export const sessionExpired = (reason: string) =>
  new ApiProblem(401, 'session-ended', 'Session ended', `The session has ended (${reason}): sign in again.`);

export async function startSession(db: Db, s: { userId: string; organisationId: string; mfa: boolean; ip: string | null; userAgent: string | null }, now = Date.now()) {
  const token = newSecret('ggs');
  const [row] = await db
    .insert(staffSessions)
    .values({ id: newId('ses', now), userId: s.userId, organisationId: s.organisationId, mfa: s.mfa, tokenHash: await sha256Hex(token), createdAt: now, lastSeenAt: now, ip: s.ip, userAgent: s.userAgent })
    .returning();
  return { token, session: row! };
}

/**
 * The signed-in person behind the request's cookie, or a 401 saying why not. Writes must carry the
 * CSRF token (403 otherwise, nothing done), and a cross-site Origin is refused outright.
 */
export async function resolveSession(c: Context<AppEnv>, now = Date.now()): Promise<StaffSessionContext> {
  const token = sessionCookieOf(c);
  if (!token) throw new ApiProblem(401, 'unauthorized', 'Unauthorized', 'Sign in first, or send an API key as `Authorization: Bearer <key>`.');
  const [row] = await c.var.db
    .select({
      session: staffSessions,
      user: staffUsers,
      member: staffMembers,
      organisationName: organisations.name,
      mfaRequired: organisations.staffMfaRequired,
      passkeys: passkeyCount(staffSessions.userId),
    })
    .from(staffSessions)
    .innerJoin(staffUsers, eq(staffUsers.id, staffSessions.userId))
    .innerJoin(organisations, eq(organisations.id, staffSessions.organisationId))
    .leftJoin(staffMembers, and(eq(staffMembers.userId, staffSessions.userId), eq(staffMembers.organisationId, staffSessions.organisationId)))
    .where(eq(staffSessions.tokenHash, await sha256Hex(token)))
    .limit(1);
  if (!row) throw sessionExpired('unknown session');
  if (!row.member || row.member.disabledAt !== null) throw sessionExpired('access to this organisation was disabled');
  const verdict = sessionVerdict(row.session, now);
  if (!verdict.live) throw sessionExpired(verdict.reason === 'idle' ? 'unused for too long' : verdict.reason === 'expired' ? 'too old' : 'signed out or revoked');
  await checkCsrf(c, token);
  if (now - row.session.lastSeenAt >= SESSION_TOUCH_MS) {
    await c.var.db.update(staffSessions).set({ lastSeenAt: now }).where(eq(staffSessions.id, row.session.id));
    row.session.lastSeenAt = now;
  }
  return {
    session: row.session,
    user: { id: row.user.id, name: row.user.name, email: row.user.email, mfa: row.user.totpSecret !== null || row.passkeys > 0 },
    totp: row.user.totpSecret !== null,
    organisationName: row.organisationName,
    // A person with a passkey who signed in with only their password must sign in with it (or a code).
    mfaSetupRequired: row.mfaRequired && !row.session.mfa,
    member: { id: row.member.id, roles: row.member.roles, siteIds: row.member.siteIds ?? null },
    permissions: await permissionsOf(c.var.db, row.session.organisationId, row.member.roles),
    token,
  };
}

/** Owner API authentication by session cookie: the membership's roles are the caller's permissions. */
export async function authenticateStaff(c: Context<AppEnv>): Promise<void> {
  const staff = await resolveSession(c);
  // The organisation requires an authenticator and this person has none yet: their session may only
  // set one up (/v1/auth/totp, or the /staff page), nothing of the organisation's.
  if (staff.mfaSetupRequired) {
    throw new ApiProblem(403, 'mfa-setup-required', 'Authenticator app required', `${staff.organisationName} requires a second factor for staff: set up an authenticator app or a passkey on the staff page (or POST /v1/auth/totp), or sign in with your passkey or authenticator code.`, [
      { field: 'mfa', reason: 'this organisation requires an authenticator app' },
    ]);
  }
  c.set('organisationId', staff.session.organisationId);
  c.set('scopes', staff.permissions);
  c.set('siteIds', staff.member.siteIds);
  c.set('actor', { type: 'staff_user', id: staff.user.id, name: staff.user.name });
  c.set('staff', staff);
}

/** Ends every live session of a person in one organisation (disabled), or everywhere. */
export async function revokeSessions(db: Db, userId: string, organisationId: string | null, now = Date.now()): Promise<number> {
  const result = await db
    .update(staffSessions)
    .set({ revokedAt: now })
    .where(and(eq(staffSessions.userId, userId), isNull(staffSessions.revokedAt), organisationId ? eq(staffSessions.organisationId, organisationId) : undefined));
  return result.meta.changes ?? 0;
}

/**
 * Changing a person's second factors (adding or removing a passkey, setting up an authenticator)
 * takes a session started with one, once they have one: else a stolen password alone would add
 * the thief's own factor and pass the organisation's two-factor rule.
 */
export function requireSecondFactorSession(staff: Pick<StaffSessionContext, 'user' | 'session'>): void {
  if (staff.user.mfa && !staff.session.mfa) {
    throw new ApiProblem(403, 'second-factor-needed', 'Sign in with your second factor', 'You signed in with only your password: sign in with your passkey or authenticator code to change your passkeys or authenticator.', [
      { field: 'session', reason: 'signed in without a second factor' },
    ]);
  }
}
