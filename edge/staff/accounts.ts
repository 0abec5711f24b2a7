// What a staff person does with their own account, as functions the API (/v1/auth/*) and the
// staff pages (/staff/*) both call: accept an invitation, sign in and out, set up an
// authenticator. Wrong answers are counted per address and per account (core/rate-limits.ts) and
// recorded in the audit log of each organisation the account belongs to.
import { and, asc, eq, isNull, lt, or, sql } from 'drizzle-orm';
import type { Context } from 'hono';
import type { RateLimitName } from '../../core/rate-limits.ts';
import { sessionVerdict } from '../../core/sessions.ts';
import { recordAuditEvent, requestOrigin } from '../audit/index.ts';
import { organisations } from '../db/schema.ts';
import type { AppEnv, Db, StaffSessionContext } from '../env.ts';
import { newId, sha256Hex } from '../lib/ids.ts';
import { ApiProblem, conflict, invalid } from '../lib/problem.ts';
import { iso } from '../lib/time.ts';
import { allowed, clientAddress, hit, tooMany } from '../limits/index.ts';
import { Password } from '../../core/contracts/staff.ts';
import { fieldErrors } from '../../core/contracts/common.ts';
import { hashPassword, verifyNothing, verifyPassword } from './passwords.ts';
import { newRecoveryCodes, normaliseRecoveryCode } from './recovery-codes.ts';
import { permissionsOf } from './roles.ts';
import { clearSessionCookie, csrfTokenOf, requireSecondFactorSession, setSessionCookie, startSession } from './sessions.ts';
import { staffInvitations, staffMembers, passkeyCount, staffRecoveryCodes, staffSessions, staffUsers } from './tables.ts';
import { checkTotp, newTotpSecret, totpUri } from './totp.ts';

const invalidCredentials = () => new ApiProblem(401, 'invalid-credentials', 'Wrong email or password', 'The email or password is wrong.', [{ field: 'password', reason: 'does not match the email' }]);
const codeReused = () => new ApiProblem(401, 'code-reused', 'Code already used', 'This authenticator code was already used: wait for the next one.', [{ field: 'code', reason: 'already used' }]);
const noAccess = (field: string, detail: string) => new ApiProblem(403, 'no-access', 'No access', detail, [{ field, reason: 'no enabled staff membership' }]);

/** The organisations a person may work in: enabled memberships, oldest first. */
export async function membershipsOf(db: Db, userId: string) {
  return db
    .select({ id: organisations.id, name: organisations.name, roles: staffMembers.roles, mfaRequired: organisations.staffMfaRequired })
    .from(staffMembers)
    .innerJoin(organisations, eq(organisations.id, staffMembers.organisationId))
    .where(and(eq(staffMembers.userId, userId), isNull(staffMembers.disabledAt)))
    .orderBy(asc(staffMembers.createdAt));
}

/** The session as GET /v1/auth/session answers it. */
export async function sessionOut(db: Db, staff: Pick<StaffSessionContext, 'session' | 'user' | 'token'>, now = Date.now()) {
  const orgs = await membershipsOf(db, staff.user.id);
  const found = orgs.find((o) => o.id === staff.session.organisationId);
  if (!found) throw new ApiProblem(401, 'session-ended', 'Session ended', 'Your access to this organisation was disabled: sign in again.');
  const { mfaRequired, ...here } = found;
  const verdict = sessionVerdict(staff.session, now);
  return {
    id: staff.session.id,
    user: staff.user,
    organisation: here,
    permissions: await permissionsOf(db, here.id, here.roles),
    mfaSetupRequired: mfaRequired && !staff.session.mfa,
    organisations: orgs.map(({ mfaRequired: _, ...o }) => o),
    csrfToken: await csrfTokenOf(staff.token),
    createdAt: iso(staff.session.createdAt),
    expiresAt: iso(verdict.live ? verdict.expiresAt : now),
  };
}

export function staffSessionOut(r: typeof staffSessions.$inferSelect, currentId: string, now: number) {
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

/** Refuses before any work when the address or the account has failed too often. */
export async function notLockedOut(db: Db, checks: Array<[RateLimitName, string]>) {
  for (const [name, subject] of checks) {
    const verdict = await allowed(db, name, subject);
    if (!verdict.allowed) throw tooMany(name, verdict.retryAfterSeconds);
  }
}

/** Records an account event in the audit log of each organisation given. */
export async function auditAccount(
  c: Context<AppEnv>,
  user: { id: string; name: string },
  organisationIds: string[],
  action: string,
  outcome: 'succeeded' | 'refused',
  status: number,
  change: { before?: Record<string, unknown>; after?: Record<string, unknown> } = {},
) {
  for (const organisationId of organisationIds) {
    await recordAuditEvent(c.var.db, { organisationId, actorType: 'staff_user', actorId: user.id, actorName: user.name, action, resourceType: 'auth', resourceId: user.id, outcome, status, ...requestOrigin(c), ...change });
  }
}

/** Checks the second factor: a 6-digit authenticator code (each step once) or an unused recovery code. */
async function secondFactor(db: Db, user: typeof staffUsers.$inferSelect, code: string, now: number): Promise<ApiProblem | null> {
  if (/^\d{6}$/.test(code.replace(/\s/g, ''))) {
    const check = checkTotp(user.totpSecret!, code, now, user.totpLastStep);
    if (!check.ok) return check.reason === 'reused' ? codeReused() : new ApiProblem(401, 'invalid-code', 'Wrong code', 'The authenticator code is wrong or too old.', [{ field: 'code', reason: 'wrong or expired' }]);
    // Conditional, so two sign-ins racing with the same code cannot both pass.
    const claimed = await db
      .update(staffUsers)
      .set({ totpLastStep: check.step })
      .where(and(eq(staffUsers.id, user.id), or(isNull(staffUsers.totpLastStep), lt(staffUsers.totpLastStep, check.step))))
      .returning({ id: staffUsers.id });
    return claimed.length > 0 ? null : codeReused();
  }
  const used = await db
    .update(staffRecoveryCodes)
    .set({ usedAt: now })
    .where(and(eq(staffRecoveryCodes.userId, user.id), eq(staffRecoveryCodes.codeHash, await sha256Hex(normaliseRecoveryCode(code))), isNull(staffRecoveryCodes.usedAt)))
    .returning({ id: staffRecoveryCodes.id });
  return used.length > 0 ? null : new ApiProblem(401, 'invalid-code', 'Wrong code', 'The recovery code is wrong or was already used.', [{ field: 'code', reason: 'wrong or already used' }]);
}

export type SignInRequest = { email: string; password: string; code?: string | undefined; organisationId?: string | undefined };

/** Checks password and code, starts a session, sets its cookie and answers it; or throws the refusal. */
export async function signInStaff(c: Context<AppEnv>, body: SignInRequest) {
  const db = c.var.db;
  const now = Date.now();
  const email = body.email.trim().toLowerCase();
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
    if (user) await auditAccount(c, user, orgs.map((o) => o.id), 'auth.sign-in', 'refused', problem.status);
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
  return openSession(c, user, body.organisationId, user.totpSecret ? 'password+code' : 'password', now);
}

/** How a person proved who they are: all but a bare password count as two factors. */
export type SignInMethod = 'password' | 'password+code' | 'passkey';

/**
 * After the person proved who they are: a session in the organisation asked for (else their
 * first), its cookie set, and the session as answered.
 */
export async function openSession(c: Context<AppEnv>, user: { id: string; name: string; email: string }, organisationId: string | undefined, method: SignInMethod, now = Date.now()) {
  const db = c.var.db;
  const orgs = await membershipsOf(db, user.id);
  const target = organisationId ? orgs.find((o) => o.id === organisationId) : orgs[0];
  if (!target) {
    await auditAccount(c, user, orgs.map((o) => o.id), 'auth.sign-in', 'refused', 403);
    throw organisationId
      ? noAccess('organisationId', 'You are not on the staff of that organisation, or your access there is disabled.')
      : noAccess('email', 'Your access to every organisation was disabled.');
  }
  const origin = requestOrigin(c);
  const { token, session } = await startSession(db, { userId: user.id, organisationId: target.id, mfa: method !== 'password', ip: origin.ip, userAgent: origin.userAgent }, now);
  setSessionCookie(c, token);
  await auditAccount(c, user, [target.id], 'auth.sign-in', 'succeeded', 201, { after: { method } });
  return sessionOut(db, { session, token, user: { id: user.id, name: user.name, email: user.email, mfa: await hasSecondFactor(db, user.id) } }, now);
}

/** Whether the person has an authenticator app or a passkey. */
export async function hasSecondFactor(db: Db, userId: string): Promise<boolean> {
  const [row] = await db.select({ totp: staffUsers.totpSecret, passkeys: passkeyCount(staffUsers.id) }).from(staffUsers).where(eq(staffUsers.id, userId));
  return Boolean(row && (row.totp !== null || row.passkeys > 0));
}

type InvitationRow = typeof staffInvitations.$inferSelect;

/** The invitation behind a link, with the gym's name and whether its email has an account; or why it cannot be used. */
export async function invitationByToken(db: Db, token: string, now = Date.now()): Promise<{ invitation: InvitationRow; gymName: string; hasAccount: boolean } | { problem: ApiProblem }> {
  const [row] = token ? await db.select({ invitation: staffInvitations, gymName: organisations.name }).from(staffInvitations).innerJoin(organisations, eq(organisations.id, staffInvitations.organisationId)).where(eq(staffInvitations.tokenHash, await sha256Hex(token))) : [];
  const gone = (slug: string, title: string, why: string) => ({ problem: new ApiProblem(410, slug, title, `${why} Ask the gym for a new invitation.`, [{ field: 'token', reason: why }]) });
  if (!row) return { problem: new ApiProblem(404, 'invitation-unknown', 'Unknown invitation', 'This invitation link is unknown. Ask the gym for a new invitation.', [{ field: 'token', reason: 'unknown' }]) };
  const inv = row.invitation;
  if (inv.revokedAt !== null) return gone('invitation-revoked', 'Invitation withdrawn', 'The invitation was withdrawn.');
  if (inv.acceptedAt !== null) return gone('invitation-used', 'Invitation already used', 'The invitation was already used.');
  if (inv.expiresAt <= now) return gone('invitation-expired', 'Invitation expired', `The invitation expired at ${iso(inv.expiresAt)}.`);
  const [user] = await db.select({ id: staffUsers.id }).from(staffUsers).where(eq(staffUsers.email, inv.email));
  return { invitation: inv, gymName: row.gymName, hasAccount: Boolean(user) };
}

/**
 * Accepts an invitation: a new account with this password, or, for an email that has one, that
 * account's password; then the membership, in one transaction with using up the invitation.
 */
export async function acceptStaffInvitation(c: Context<AppEnv>, token: string, password: string) {
  const db = c.var.db;
  const now = Date.now();
  const ip = clientAddress((h) => c.req.header(h));
  await notLockedOut(db, [['invitationFailuresPerIp', ip]]);
  const found = await invitationByToken(db, token, now);
  if ('problem' in found) {
    await hit(db, 'invitationFailuresPerIp', ip);
    throw found.problem;
  }
  const inv = found.invitation;
  const [existing] = await db.select().from(staffUsers).where(eq(staffUsers.email, inv.email));
  if (existing) {
    await notLockedOut(db, [['signInFailuresPerAccount', inv.email]]);
    if (!(await verifyPassword(password, existing.passwordHash))) {
      await hit(db, 'signInFailuresPerAccount', inv.email);
      throw new ApiProblem(401, 'invalid-credentials', 'Wrong password', `You already have an account as ${inv.email}: enter its password to join.`, [{ field: 'password', reason: 'does not match your existing account' }]);
    }
  } else {
    const strong = Password.safeParse(password);
    if (!strong.success) throw invalid(fieldErrors(strong.error, 'password'));
  }
  const userId = existing?.id ?? newId('usr', now);
  const passwordHash = existing ? null : await hashPassword(password);
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
  if ((results[0] as unknown[]).length === 0) {
    throw new ApiProblem(410, 'invitation-used', 'Invitation already used', 'The invitation was already used. Ask the gym for a new invitation.', [{ field: 'token', reason: 'The invitation was already used.' }]);
  }
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
  return { userId, organisationId: inv.organisationId, staffMemberId: member!.id, newAccount: !existing, gymName: found.gymName };
}

/** A new authenticator secret waiting for its first code. */
export async function startTotpFor(db: Db, staff: StaffSessionContext) {
  requireSecondFactorSession(staff);
  const secret = newTotpSecret();
  await db.update(staffUsers).set({ totpPending: secret }).where(eq(staffUsers.id, staff.user.id));
  return { secret, uri: totpUri(secret, staff.user.email) };
}

/** The secret being set up, if any (the set-up page shows it again after a wrong code). */
export async function pendingTotpSecret(db: Db, userId: string): Promise<string | null> {
  const [user] = await db.select({ pending: staffUsers.totpPending }).from(staffUsers).where(eq(staffUsers.id, userId));
  return user?.pending ?? null;
}

/** Turns the authenticator on with its current code and answers new recovery codes (shown once). */
export async function confirmTotpFor(c: Context<AppEnv>, staff: StaffSessionContext, code: string) {
  requireSecondFactorSession(staff);
  const db = c.var.db;
  const now = Date.now();
  const [user] = await db.select().from(staffUsers).where(eq(staffUsers.id, staff.user.id));
  if (!user?.totpPending) throw conflict('code', 'no authenticator is being set up: start with POST /v1/auth/totp');
  await notLockedOut(db, [['signInFailuresPerAccount', user.email]]);
  const check = /^\d{6}$/.test(code.trim()) ? checkTotp(user.totpPending, code, now, null) : ({ ok: false } as const);
  if (!check.ok) {
    await hit(db, 'signInFailuresPerAccount', user.email);
    throw new ApiProblem(401, 'invalid-code', 'Wrong code', 'The code does not match the new authenticator: check the app shows gymgate and try the current code.', [{ field: 'code', reason: 'wrong or expired' }]);
  }
  const codes = newRecoveryCodes();
  const hashes = await Promise.all(codes.map((c) => sha256Hex(normaliseRecoveryCode(c))));
  await db.batch([
    db.update(staffUsers).set({ totpSecret: user.totpPending, totpPending: null, totpLastStep: check.step }).where(eq(staffUsers.id, user.id)),
    // The code just given proves the authenticator: this session now counts as two factors.
    db.update(staffSessions).set({ mfa: true }).where(eq(staffSessions.id, staff.session.id)),
    db.delete(staffRecoveryCodes).where(eq(staffRecoveryCodes.userId, user.id)),
    db.insert(staffRecoveryCodes).values(hashes.map((codeHash) => ({ id: newId('rec', now), userId: user.id, codeHash }))),
  ] as const);
  await auditAccount(c, staff.user, [staff.session.organisationId], 'auth.totp.confirm', 'succeeded', 200);
  return { recoveryCodes: codes };
}

/** Ends the current session and clears its cookie. */
export async function endSession(c: Context<AppEnv>, staff: StaffSessionContext) {
  await c.var.db.update(staffSessions).set({ revokedAt: Date.now() }).where(eq(staffSessions.id, staff.session.id));
  clearSessionCookie(c);
  await auditAccount(c, staff.user, [staff.session.organisationId], 'auth.sign-out', 'succeeded', 200);
}
