// The people's own side of the staff subsystem (/v1/auth/*): accepting an invitation, signing in
// and out, their session and sessions, and their authenticator. The work is in ./accounts.ts,
// shared with the staff pages.
import { OpenAPIHono } from '@hono/zod-openapi';
import { and, asc, eq, isNull } from 'drizzle-orm';
import { sessionVerdict } from '../../core/sessions.ts';
import type { AppEnv } from '../env.ts';
import { ApiProblem, notFound } from '../lib/problem.ts';
import { acceptStaffInvitation, confirmTotpFor, endSession, membershipsOf, sessionOut, signInStaff, startTotpFor, staffSessionOut } from './accounts.ts';
import { clearSessionCookie } from './sessions.ts';
import { staffSessions } from './tables.ts';
import { addPasskey, listPasskeys as listPasskeysRoute, passkeyRegistrationOptions, passkeySignIn, passkeySignInOptions, removePasskey as removePasskeyRoute } from './routes.ts';
import { acceptInvitation, confirmTotp, getSession, listSessions, revokeSession, signIn, signOut, startTotp, switchOrganisation } from './routes.ts';
import * as passkeys from './passkeys.ts';

export const authRouter = new OpenAPIHono<AppEnv>()
  .openapi(signIn, async (c) => c.json(await signInStaff(c, c.req.valid('json')), 201))
  .openapi(acceptInvitation, async (c) => {
    const { token, password } = c.req.valid('json');
    const { gymName: _, ...accepted } = await acceptStaffInvitation(c, token, password);
    return c.json(accepted, 201);
  })
  .openapi(getSession, async (c) => c.json(await sessionOut(c.var.db, c.var.staff), 200))
  .openapi(switchOrganisation, async (c) => {
    const { organisationId } = c.req.valid('json');
    const staff = c.var.staff;
    const orgs = await membershipsOf(c.var.db, staff.user.id);
    if (!orgs.some((o) => o.id === organisationId)) {
      throw new ApiProblem(403, 'no-access', 'No access', 'You are not on the staff of that organisation, or your access there is disabled.', [{ field: 'organisationId', reason: 'no enabled staff membership' }]);
    }
    const [session] = await c.var.db.update(staffSessions).set({ organisationId }).where(eq(staffSessions.id, staff.session.id)).returning();
    return c.json(await sessionOut(c.var.db, { ...staff, session: session! }), 200);
  })
  .openapi(signOut, async (c) => {
    await endSession(c, c.var.staff);
    return c.json({ id: c.var.staff.session.id, signedOut: true as const }, 200);
  })
  .openapi(listSessions, async (c) => {
    const staff = c.var.staff;
    const now = Date.now();
    const rows = await c.var.db.select().from(staffSessions).where(and(eq(staffSessions.userId, staff.user.id), isNull(staffSessions.revokedAt))).orderBy(asc(staffSessions.id));
    return c.json({ data: rows.filter((r) => sessionVerdict(r, now).live).map((r) => staffSessionOut(r, staff.session.id, now)) }, 200);
  })
  .openapi(revokeSession, async (c) => {
    const { id } = c.req.valid('param');
    const staff = c.var.staff;
    const now = Date.now();
    const [row] = await c.var.db
      .update(staffSessions)
      .set({ revokedAt: now })
      .where(and(eq(staffSessions.id, id), eq(staffSessions.userId, staff.user.id), isNull(staffSessions.revokedAt)))
      .returning();
    if (!row) throw notFound('Session', id);
    if (row.id === staff.session.id) clearSessionCookie(c);
    return c.json(staffSessionOut(row, staff.session.id, now), 200);
  })
  .openapi(startTotp, async (c) => c.json(await startTotpFor(c.var.db, c.var.staff), 200))
  .openapi(confirmTotp, async (c) => c.json(await confirmTotpFor(c, c.var.staff, c.req.valid('json').code), 200))
  .openapi(passkeyRegistrationOptions, async (c) => c.json(await passkeys.passkeyRegistrationOptions(c, c.var.staff), 200))
  .openapi(addPasskey, async (c) => c.json(await passkeys.registerPasskey(c, c.var.staff, c.req.valid('json')), 201))
  .openapi(listPasskeysRoute, async (c) => c.json({ data: await passkeys.listPasskeys(c.var.db, c.var.staff.user.id) }, 200))
  .openapi(removePasskeyRoute, async (c) => c.json(await passkeys.removePasskey(c, c.var.staff, c.req.valid('param').id), 200))
  .openapi(passkeySignInOptions, async (c) => c.json(await passkeys.passkeySignInOptions(c), 200))
  .openapi(passkeySignIn, async (c) => c.json(await passkeys.signInWithPasskey(c, c.req.valid('json')), 201));
