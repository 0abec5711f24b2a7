// The people's own side of the staff subsystem (/v1/auth/*): accepting an invitation, signing in
// and out, their session and sessions, and their authenticator. Wrong answers are counted per
// address and per account (core/rate-limits.ts) and recorded in the audit log of each
// organisation the account belongs to.
import { OpenAPIHono } from '@hono/zod-openapi';
import { and, asc, eq, isNull, lt, or } from 'drizzle-orm';
import type { Context } from 'hono';
import { sessionVerdict } from '../../core/sessions.ts';
import { expandScopes } from '../../core/permissions.ts';
import { recordAuditEvent, requestOrigin } from '../audit/index.ts';
import { organisations } from '../db/schema.ts';
import type { AppEnv, Db, StaffSessionContext } from '../env.ts';
import { newId, sha256Hex } from '../lib/ids.ts';
import { ApiProblem, conflict, notFound } from '../lib/problem.ts';
import { iso } from '../lib/time.ts';
import { allowed, clientAddress, hit, tooMany } from '../limits/index.ts';
import type { RateLimitName } from '../../core/rate-limits.ts';
import { hashPassword, verifyNothing, verifyPassword } from './passwords.ts';
import { newRecoveryCodes, normaliseRecoveryCode } from './recovery-codes.ts';
import { clearSessionCookie, csrfTokenOf, setSessionCookie, startSession } from './sessions.ts';
import { staffInvitations, staffMembers, staffRecoveryCodes, staffSessions, staffUsers } from './tables.ts';
import { checkTotp, newTotpSecret, totpUri } from './totp.ts';
import { acceptInvitation, confirmTotp, getSession, listSessions, revokeSession, signIn, signOut, startTotp, switchOrganisation } from './routes.ts';

const invalidCredentials = () => new ApiProblem(401, 'invalid-credentials', 'Wrong email or password', 'The email or password is wrong.', [{ field: 'password', reason: 'does not match the email' }]);

/** The organisations a person may work in: enabled memberships, oldest first. */
async function membershipsOf(db: Db, userId: string) {
  return db
    .select({ id: organisations.id, name: organisations.name, roles: staffMembers.roles })
    .from(staffMembers)
    .innerJoin(organisations, eq(organisations.id, staffMembers.organisationId))
    .where(and(eq(staffMembers.userId, userId), isNull(staffMembers.disabledAt)))
    .orderBy(asc(staffMembers.createdAt));
}

async function sessionOut(db: Db, staff: Pick<StaffSessionContext, 'session' | 'user' | 'token'>, now = Date.now()) {
  const orgs = await membershipsOf(db, staff.user.id);
  const here = orgs.find((o) => o.id === staff.session.organisationId);
  if (!here) throw new ApiProblem(401, 'session-ended', 'Session ended', 'Your access to this organisation was disabled: sign in again.');
  const verdict = sessionVerdict(staff.session, now);
  return {
    id: staff.session.id,
    user: staff.user,
    organisation: here,
    permissions: expandScopes(here.roles),
    organisations: orgs,
    csrfToken: await csrfTokenOf(staff.token),
    createdAt: iso(staff.session.createdAt),
    expiresAt: iso(verdict.live ? verdict.expiresAt : now),
  };
}

/** Refuses before any work when the address or the account has failed too often. */
async function notLockedOut(db: Db, checks: Array<[RateLimitName, string]>) {
  for (const [name, subject] of checks) {
    const verdict = await allowed(db, name, subject);
    if (!verdict.allowed) throw tooMany(name, verdict.retryAfterSeconds);
  }
}

/** Records a sign-in attempt in the audit log of each organisation the person belongs to. */
async function auditSignIn(c: Context<AppEnv>, user: { id: string; name: string }, organisationIds: string[], action: string, outcome: 'succeeded' | 'refused', status: number) {
  for (const organisationId of organisationIds) {
    await recordAuditEvent(c.var.db, { organisationId, actorType: 'staff_user', actorId: user.id, actorName: user.name, action, resourceType: 'auth', resourceId: user.id, outcome, status, ...requestOrigin(c) });
  }
}

/** Checks the second factor: a 6-digit authenticator code (each step once) or an unused recovery code. */
async function secondFactor(db: Db, user: typeof staffUsers.$inferSelect, code: string, now: number): Promise<ApiProblem | null> {
  if (/^\d{6}$/.test(code.replace(/\s/g, ''))) {
    const check = checkTotp(user.totpSecret!, code, now, user.totpLastStep);
    if (!check.ok) {
      return check.reason === 'reused'
        ? new ApiProblem(401, 'code-reused', 'Code already used', 'This authenticator code was already used: wait for the next one.', [{ field: 'code', reason: 'already used' }])
        : new ApiProblem(401, 'invalid-code', 'Wrong code', 'The authenticator code is wrong or too old.', [{ field: 'code', reason: 'wrong or expired' }]);
    }
    // Conditional, so two sign-ins racing with the same code cannot both pass.
    const claimed = await db
      .update(staffUsers)
      .set({ totpLastStep: check.step })
      .where(and(eq(staffUsers.id, user.id), or(isNull(staffUsers.totpLastStep), lt(staffUsers.totpLastStep, check.step))))
      .returning({ id: staffUsers.id });
    return claimed.length > 0 ? null : new ApiProblem(401, 'code-reused', 'Code already used', 'This authenticator code was already used: wait for the next one.', [{ field: 'code', reason: 'already used' }]);
  }
  const used = await db
    .update(staffRecoveryCodes)
    .set({ usedAt: now })
    .where(and(eq(staffRecoveryCodes.userId, user.id), eq(staffRecoveryCodes.codeHash, await sha256Hex(normaliseRecoveryCode(code))), isNull(staffRecoveryCodes.usedAt)))
    .returning({ id: staffRecoveryCodes.id });
  return used.length > 0 ? null : new ApiProblem(401, 'invalid-code', 'Wrong code', 'The recovery code is wrong or was already used.', [{ field: 'code', reason: 'wrong or already used' }]);
}

export const authRouter = new OpenAPIHono<AppEnv>()
  .openapi(signIn, async (c) => {
    const body = c.req.valid('json');
    const db = c.var.db;
    const now = Date.now();
    const email = body.email.toLowerCase();
    const ip = clientAddress((h) => c.req.header(h));
    await notLockedOut(db, [
      ['signInFailuresPerIp', ip],
      ['signInFailuresPerAccount', email],
    ]);
    const [user] = await db.select().from(staffUsers).where(eq(staffUsers.email, email));
    const orgs = user ? await membershipsOf(db, user.id) : [];
    const fail = async (problem: ApiProblem): Promise<never> => {
      await hit(db, 'signInFailuresPerIp', ip);
      await hit(db, 'signInFailuresPerAccount', email);
      if (user) await auditSignIn(c, user, orgs.map((o) => o.id), 'auth.sign-in', 'refused', problem.status);
      throw problem;
    };
    if (!user) {
      await verifyNothing(body.password);
      return fail(invalidCredentials());
    }
    if (!(await verifyPassword(body.password, user.passwordHash))) return fail(invalidCredentials());
    if (user.totpSecret) {
      if (!body.code) {
        throw new ApiProblem(401, 'mfa-required', 'Code needed', 'Enter the 6-digit code from your authenticator app, or one of your recovery codes.', [{ field: 'code', reason: 'required for this account' }]);
      }
      const refused = await secondFactor(db, user, body.code, now);
      if (refused) return fail(refused);
    }
    const target = body.organisationId ? orgs.find((o) => o.id === body.organisationId) : orgs[0];
    if (!target) {
      const detail = body.organisationId ? 'You are not on the staff of that organisation, or your access there is disabled.' : 'Your access to every organisation was disabled.';
      await auditSignIn(c, user, orgs.map((o) => o.id), 'auth.sign-in', 'refused', 403);
      throw new ApiProblem(403, 'no-access', 'No access', detail, [{ field: body.organisationId ? 'organisationId' : 'email', reason: 'no enabled staff membership' }]);
    }
    const origin = requestOrigin(c);
    const { token, session } = await startSession(db, { userId: user.id, organisationId: target.id, ip: origin.ip, userAgent: origin.userAgent }, now);
    setSessionCookie(c, token);
    await auditSignIn(c, user, [target.id], 'auth.sign-in', 'succeeded', 201);
    return c.json(await sessionOut(db, { session, token, user: { id: user.id, name: user.name, email: user.email, mfa: user.totpSecret !== null } }, now), 201);
  })
  .openapi(acceptInvitation, async (c) => {
    const { token, password } = c.req.valid('json');
    const db = c.var.db;
    const now = Date.now();
    const ip = clientAddress((h) => c.req.header(h));
    await notLockedOut(db, [['invitationFailuresPerIp', ip]]);
    const refuse = async (problem: ApiProblem): Promise<never> => {
      await hit(db, 'invitationFailuresPerIp', ip);
      throw problem;
    };
    const [inv] = await db.select().from(staffInvitations).where(eq(staffInvitations.tokenHash, await sha256Hex(token)));
    const gone = (slug: string, title: string, why: string) => new ApiProblem(410, slug, title, `${why} Ask the gym for a new invitation.`, [{ field: 'token', reason: why }]);
    if (!inv) return refuse(new ApiProblem(404, 'invitation-unknown', 'Unknown invitation', 'This invitation link is unknown. Ask the gym for a new invitation.', [{ field: 'token', reason: 'unknown' }]));
    if (inv.revokedAt !== null) return refuse(gone('invitation-revoked', 'Invitation withdrawn', 'The invitation was withdrawn.'));
    if (inv.acceptedAt !== null) return refuse(gone('invitation-used', 'Invitation already used', 'The invitation was already used.'));
    if (inv.expiresAt <= now) return refuse(gone('invitation-expired', 'Invitation expired', `The invitation expired at ${iso(inv.expiresAt)}.`));

    const [existing] = await db.select().from(staffUsers).where(eq(staffUsers.email, inv.email));
    if (existing) {
      await notLockedOut(db, [['signInFailuresPerAccount', inv.email]]);
      if (!(await verifyPassword(password, existing.passwordHash))) {
        await hit(db, 'signInFailuresPerAccount', inv.email);
        throw new ApiProblem(401, 'invalid-credentials', 'Wrong password', `You already have an account as ${inv.email}: enter its password to join.`, [{ field: 'password', reason: 'does not match your existing account' }]);
      }
    }
    const userId = existing?.id ?? newId('usr', now);
    const passwordHash = existing ? null : await hashPassword(password);
    // One transaction: the invitation is used exactly when the account and membership are made.
    const results = await db.batch([
      db
        .update(staffInvitations)
        .set({ acceptedAt: now })
        .where(and(eq(staffInvitations.id, inv.id), isNull(staffInvitations.acceptedAt), isNull(staffInvitations.revokedAt)))
        .returning({ id: staffInvitations.id }),
      ...(passwordHash ? [db.insert(staffUsers).values({ id: userId, email: inv.email, name: inv.name, phone: inv.phone, passwordHash, createdAt: now }).onConflictDoNothing()] : []),
      db
        .insert(staffMembers)
        .values({ id: newId('stf', now), organisationId: inv.organisationId, userId, roles: inv.roles, siteIds: inv.siteIds, createdAt: now })
        // A person disabled here and invited again comes back with the new roles.
        .onConflictDoUpdate({ target: [staffMembers.organisationId, staffMembers.userId], set: { roles: inv.roles, siteIds: inv.siteIds, disabledAt: null } }),
    ] as const);
    if ((results[0] as unknown[]).length === 0) return refuse(gone('invitation-used', 'Invitation already used', 'The invitation was already used.'));
    const [member] = await db.select({ id: staffMembers.id }).from(staffMembers).where(and(eq(staffMembers.organisationId, inv.organisationId), eq(staffMembers.userId, userId)));
    await recordAuditEvent(db, {
      organisationId: inv.organisationId,
      actorType: 'staff_user',
      actorId: userId,
      actorName: existing?.name ?? inv.name,
      action: 'staff-invitations.accept',
      resourceType: 'staff-invitations',
      resourceId: inv.id,
      outcome: 'succeeded',
      status: 201,
      ...requestOrigin(c),
      before: { acceptedAt: null },
      after: { acceptedAt: iso(now), staffMemberId: member!.id, roles: inv.roles },
    });
    return c.json({ userId, organisationId: inv.organisationId, staffMemberId: member!.id, newAccount: !existing }, 201);
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
    const staff = c.var.staff;
    await c.var.db.update(staffSessions).set({ revokedAt: Date.now() }).where(eq(staffSessions.id, staff.session.id));
    clearSessionCookie(c);
    await auditSignIn(c, staff.user, [staff.session.organisationId], 'auth.sign-out', 'succeeded', 200);
    return c.json({ id: staff.session.id, signedOut: true as const }, 200);
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
  .openapi(startTotp, async (c) => {
    const staff = c.var.staff;
    const secret = newTotpSecret();
    await c.var.db.update(staffUsers).set({ totpPending: secret }).where(eq(staffUsers.id, staff.user.id));
    return c.json({ secret, uri: totpUri(secret, staff.user.email) }, 200);
  })
  .openapi(confirmTotp, async (c) => {
    const { code } = c.req.valid('json');
    const staff = c.var.staff;
    const db = c.var.db;
    const now = Date.now();
    const [user] = await db.select().from(staffUsers).where(eq(staffUsers.id, staff.user.id));
    if (!user?.totpPending) throw conflict('code', 'no authenticator is being set up: start with POST /v1/auth/totp');
    await notLockedOut(db, [['signInFailuresPerAccount', user.email]]);
    const check = checkTotp(user.totpPending, code, now, null);
    if (!check.ok) {
      await hit(db, 'signInFailuresPerAccount', user.email);
      throw new ApiProblem(401, 'invalid-code', 'Wrong code', 'The code does not match the new authenticator: check the app shows gymgate and try the current code.', [{ field: 'code', reason: 'wrong or expired' }]);
    }
    const codes = newRecoveryCodes();
    const hashes = await Promise.all(codes.map((code) => sha256Hex(normaliseRecoveryCode(code))));
    await db.batch([
      db.update(staffUsers).set({ totpSecret: user.totpPending, totpPending: null, totpLastStep: check.step }).where(eq(staffUsers.id, user.id)),
      db.delete(staffRecoveryCodes).where(eq(staffRecoveryCodes.userId, user.id)),
      db.insert(staffRecoveryCodes).values(hashes.map((codeHash) => ({ id: newId('rec', now), userId: user.id, codeHash }))),
    ] as const);
    await auditSignIn(c, staff.user, [staff.session.organisationId], 'auth.totp.confirm', 'succeeded', 200);
    return c.json({ recoveryCodes: codes }, 200);
  });

function staffSessionOut(r: typeof staffSessions.$inferSelect, currentId: string, now: number) {
  const verdict = sessionVerdict(r, now);
  return {
    id: r.id,
    organisationId: r.organisationId,
    createdAt: iso(r.createdAt),
    lastSeenAt: iso(r.lastSeenAt),
    expiresAt: iso(verdict.live ? verdict.expiresAt : (r.revokedAt ?? now)),
    ip: r.ip,
    userAgent: r.userAgent,
    current: r.id === currentId,
  };
}
