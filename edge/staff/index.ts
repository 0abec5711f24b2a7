// The staff subsystem: people who run a gym, their memberships in organisations (roles, sites,
// disabled), invitations, passwords and authenticator codes, and sessions. The owner API reaches
// it through authenticateStaff (a session cookie instead of a key); everything else is its routes.
import { createMiddleware } from 'hono/factory';
import type { AppEnv } from '../env.ts';
import { resolveSession } from './sessions.ts';

export { authRouter } from './auth-router.ts';
export { staffRouter } from './router.ts';
export { rolesRouter } from './roles.ts';
export { staffPagesRouter } from './pages/router.ts';
export { authenticateStaff, sessionCookieOf } from './sessions.ts';

/** The /v1/auth/* routes that are reached before signing in. */
const SIGNED_OUT_PATHS = new Set(['/v1/auth/sign-in', '/v1/auth/invitations/accept', '/v1/auth/passkeys/sign-in-options', '/v1/auth/passkeys/sign-in']);
export const isSignedOutPath = (path: string) => SIGNED_OUT_PATHS.has(path);

/** /v1/auth/*: a live session (and on writes its CSRF token), except on the signed-out routes. */
export const requireStaffSession = createMiddleware<AppEnv>(async (c, next) => {
  if (isSignedOutPath(c.req.path)) return next();
  const staff = await resolveSession(c);
  c.set('staff', staff);
  c.set('organisationId', staff.session.organisationId);
  c.set('actor', { type: 'staff_user', id: staff.user.id, name: staff.user.name });
  await next();
});
