// Member sign-in and sessions. A member asks for a link (email) or a code (SMS) by their address;
// the answer is the same whether or not the gym has them, and the link or code goes out through the
// notification outbox in the member's language. A link works once for 15 minutes; a code once for
// 10 minutes and 5 tries. The session cookie (gg_member) is a different cookie from the staff one and
// is read only by /v1/me/* and /me: a member session never reaches a staff route, nor the other way.
import { and, desc, eq, isNotNull, isNull, sql } from 'drizzle-orm';
import type { Context } from 'hono';
import { MEMBER_CODE_ATTEMPTS, MEMBER_CODE_TTL_MS, MEMBER_LINK_TTL_MS, MEMBER_SESSION, sessionVerdict, SESSION_TOUCH_MS } from '../../core/sessions.ts';
import { recordAuditEvent, requestOrigin } from '../audit/index.ts';
import { members, organisations } from '../db/schema.ts';
import type { AppEnv, Db } from '../env.ts';
import { newId, newSecret, sha256Hex } from '../lib/ids.ts';
import { ApiProblem } from '../lib/problem.ts';
import { checkCsrf, csrfTokenOf, sessionCookie } from '../lib/session-cookie.ts';
import { iso } from '../lib/time.ts';
import { allowed, clientAddress, hit, tooMany } from '../limits/index.ts';
import { deliverInBackground, enqueueNotice, toE164 } from '../notifications/index.ts';
import { memberSessions, memberSignIns } from './tables.ts';

export const memberCookie = sessionCookie('gg_member', MEMBER_SESSION.absoluteMs);

type Found = { id: string; name: string; organisationId: string; locale: 'en' | 'th'; gymName: string };

/** The member of the organisation with this email (any case) or phone (any way of writing it). */
async function findMember(db: Db, organisationId: string, by: { email?: string | undefined; phone?: string | undefined }): Promise<Found | null> {
  const columns = { id: members.id, name: members.name, organisationId: members.organisationId, locale: members.locale, phone: members.phone, gymName: organisations.name };
  const base = db.select(columns).from(members).innerJoin(organisations, eq(organisations.id, members.organisationId));
  if (by.email) {
    const [row] = await base.where(and(eq(members.organisationId, organisationId), sql`lower(${members.email}) = ${by.email.trim().toLowerCase()}`)).limit(1);
    return row ?? null;
  }
  const wanted = toE164(by.phone ?? '');
  // Narrowed in SQL by the last digits, matched exactly after normalising both sides.
  const tail = wanted.replace(/\D/g, '').slice(-7);
  const rows = await base.where(and(eq(members.organisationId, organisationId), isNotNull(members.phone), sql`replace(replace(replace(${members.phone}, ' ', ''), '-', ''), ')', '') like ${`%${tail}`}`)).limit(20);
  return rows.find((r) => r.phone && toE164(r.phone) === wanted) ?? null;
}

const auditMember = (c: Context<AppEnv>, m: { id: string; name: string; organisationId: string }, action: string, outcome: 'succeeded' | 'refused', status: number) =>
  recordAuditEvent(c.var.db, { organisationId: m.organisationId, actorType: 'member', actorId: m.id, actorName: m.name, action, resourceType: 'member-auth', resourceId: m.id, outcome, status, ...requestOrigin(c) });

/** Sends a sign-in link (email) or code (SMS) when the address is a member's; answers alike either way. */
export async function startMemberSignIn(c: Context<AppEnv>, body: { organisationId: string; email?: string | undefined; phone?: string | undefined }) {
  const db = c.var.db;
  const now = Date.now();
  const channel = body.email ? ('email' as const) : ('sms' as const);
  const ttl = channel === 'email' ? MEMBER_LINK_TTL_MS : MEMBER_CODE_TTL_MS;
  const ip = clientAddress((h) => c.req.header(h));
  const perIp = await hit(db, 'memberSignInsPerIp', ip);
  if (!perIp.allowed) throw tooMany('memberSignInsPerIp', perIp.retryAfterSeconds);
  const address = `${body.organisationId}:${body.email?.trim().toLowerCase() ?? toE164(body.phone ?? '')}`;
  const perAddress = await hit(db, 'memberSignInsPerAddress', address);
  if (!perAddress.allowed) throw tooMany('memberSignInsPerAddress', perAddress.retryAfterSeconds);
  const member = await findMember(db, body.organisationId, body);
  if (member) {
    const id = newId('msi', now);
    const secret = channel === 'email' ? newSecret('ggm') : String(crypto.getRandomValues(new Uint32Array(1))[0]! % 1_000_000).padStart(6, '0');
    await db.insert(memberSignIns).values({ id, organisationId: member.organisationId, memberId: member.id, kind: channel === 'email' ? 'link' : 'code', secretHash: await secretHash(id, secret, channel), expiresAt: now + ttl, createdAt: now });
    const signInUrl = channel === 'email' ? `${c.env.PUBLIC_BASE_URL ?? new URL(c.req.url).origin}/me/sign-in?token=${secret}` : null;
    await enqueueNotice(db, {
      organisationId: member.organisationId,
      memberId: member.id,
      template: 'member_sign_in',
      data: { gymName: member.gymName, memberName: member.name, signInUrl, code: channel === 'sms' ? secret : null, expiresAt: now + ttl },
      locale: member.locale,
      channels: [channel],
      dedupeKey: `sign-in:${id}`,
    }, now);
    deliverInBackground(c, db, c.env, { organisationId: member.organisationId });
    await auditMember(c, member, `member-auth.${channel === 'email' ? 'link' : 'code'}.send`, 'succeeded', 202);
  }
  return { channel, expiresAt: iso(now + ttl) };
}

// A link token is ~190 random bits: its hash alone finds it. A code has a million values: it is
// hashed with its row's id, so the same code sent to two members is two different hashes.
const secretHash = (id: string, secret: string, channel: 'email' | 'sms') => sha256Hex(channel === 'email' ? secret : `${id}:${secret}`);

async function startMemberSession(c: Context<AppEnv>, member: { id: string; organisationId: string }, now: number) {
  const token = newSecret('ggms');
  const origin = requestOrigin(c);
  await c.var.db.insert(memberSessions).values({ id: newId('msn', now), organisationId: member.organisationId, memberId: member.id, tokenHash: await sha256Hex(token), createdAt: now, lastSeenAt: now, ip: origin.ip, userAgent: origin.userAgent });
  memberCookie.set(c, token);
  return token;
}

const linkProblem = (status: 404 | 410, slug: string, why: string) =>
  new ApiProblem(status, slug, status === 404 ? 'Unknown sign-in link' : 'Sign-in link no longer works', `${why} Ask for a new sign-in link.`, [{ field: 'token', reason: why }]);

/** Signs in with an emailed link: once, within its 15 minutes. */
export async function useMemberLink(c: Context<AppEnv>, token: string) {
  const db = c.var.db;
  const now = Date.now();
  const ip = clientAddress((h) => c.req.header(h));
  const gate = await allowed(db, 'memberLinkFailuresPerIp', ip);
  if (!gate.allowed) throw tooMany('memberLinkFailuresPerIp', gate.retryAfterSeconds);
  const refuse = async (problem: ApiProblem): Promise<never> => {
    await hit(db, 'memberLinkFailuresPerIp', ip);
    throw problem;
  };
  const [row] = await db.select().from(memberSignIns).where(and(eq(memberSignIns.secretHash, await sha256Hex(token)), eq(memberSignIns.kind, 'link')));
  if (!row) return refuse(linkProblem(404, 'sign-in-link-unknown', 'The sign-in link is unknown.'));
  if (row.usedAt !== null) return refuse(linkProblem(410, 'sign-in-link-used', 'The sign-in link was already used.'));
  if (row.expiresAt <= now) return refuse(linkProblem(410, 'sign-in-link-expired', 'The sign-in link has expired.'));
  const [used] = await db.update(memberSignIns).set({ usedAt: now }).where(and(eq(memberSignIns.id, row.id), isNull(memberSignIns.usedAt))).returning({ id: memberSignIns.id });
  if (!used) return refuse(linkProblem(410, 'sign-in-link-used', 'The sign-in link was already used.'));
  return signedIn(c, row, now);
}

/** Signs in with the SMS code: the member's latest live code, 5 tries. */
export async function verifyMemberCode(c: Context<AppEnv>, body: { organisationId: string; phone: string; code: string }) {
  const db = c.var.db;
  const now = Date.now();
  const ip = clientAddress((h) => c.req.header(h));
  const gate = await allowed(db, 'signInFailuresPerIp', ip);
  if (!gate.allowed) throw tooMany('signInFailuresPerIp', gate.retryAfterSeconds);
  const wrong = async (): Promise<never> => {
    await hit(db, 'signInFailuresPerIp', ip);
    throw new ApiProblem(401, 'invalid-code', 'Wrong code', 'The code is wrong, used or expired. Ask for a new one if it keeps failing.', [{ field: 'code', reason: 'wrong, used or expired' }]);
  };
  const member = await findMember(db, body.organisationId, { phone: body.phone });
  if (!member) return wrong();
  const [row] = await db
    .select()
    .from(memberSignIns)
    .where(and(eq(memberSignIns.organisationId, member.organisationId), eq(memberSignIns.memberId, member.id), eq(memberSignIns.kind, 'code')))
    .orderBy(desc(memberSignIns.id))
    .limit(1);
  if (!row || row.usedAt !== null || row.expiresAt <= now || row.failedAttempts >= MEMBER_CODE_ATTEMPTS) return wrong();
  if ((await secretHash(row.id, body.code.trim(), 'sms')) !== row.secretHash) {
    await db.update(memberSignIns).set({ failedAttempts: sql`${memberSignIns.failedAttempts} + 1` }).where(eq(memberSignIns.id, row.id));
    await auditMember(c, member, 'member-auth.sign-in', 'refused', 401);
    return wrong();
  }
  const [used] = await db.update(memberSignIns).set({ usedAt: now }).where(and(eq(memberSignIns.id, row.id), isNull(memberSignIns.usedAt))).returning({ id: memberSignIns.id });
  if (!used) return wrong();
  return signedIn(c, row, now);
}

async function signedIn(c: Context<AppEnv>, row: { memberId: string; organisationId: string }, now: number) {
  const token = await startMemberSession(c, { id: row.memberId, organisationId: row.organisationId }, now);
  const me = await resolveMemberToken(c, token, now);
  await auditMember(c, { id: me.member.id, name: me.member.name, organisationId: me.organisation.id }, 'member-auth.sign-in', 'succeeded', 201);
  return me;
}

export type MemberSessionContext = Awaited<ReturnType<typeof resolveMemberToken>>;

async function resolveMemberToken(c: Context<AppEnv>, token: string, now = Date.now()) {
  const [row] = await c.var.db
    .select({ session: memberSessions, member: { id: members.id, name: members.name, email: members.email, phone: members.phone, locale: members.locale }, organisation: { id: organisations.id, name: organisations.name } })
    .from(memberSessions)
    .innerJoin(members, and(eq(members.id, memberSessions.memberId), eq(members.organisationId, memberSessions.organisationId)))
    .innerJoin(organisations, eq(organisations.id, memberSessions.organisationId))
    .where(eq(memberSessions.tokenHash, await sha256Hex(token)))
    .limit(1);
  const ended = (why: string) => new ApiProblem(401, 'session-ended', 'Session ended', `The member session has ended (${why}): sign in again.`);
  if (!row) throw ended('unknown session');
  const verdict = sessionVerdict(row.session, now, MEMBER_SESSION);
  if (!verdict.live) throw ended(verdict.reason === 'revoked' ? 'signed out' : 'expired');
  if (now - row.session.lastSeenAt >= SESSION_TOUCH_MS) await c.var.db.update(memberSessions).set({ lastSeenAt: now }).where(eq(memberSessions.id, row.session.id));
  return { ...row, token, csrfToken: await csrfTokenOf(token), expiresAt: verdict.expiresAt };
}

/** The member behind the request's member cookie (CSRF checked on writes), or a 401 saying why not. */
export async function resolveMemberSession(c: Context<AppEnv>): Promise<MemberSessionContext> {
  const token = memberCookie.read(c);
  if (!token) throw new ApiProblem(401, 'unauthorized', 'Unauthorized', 'Sign in as a member first (a link by email or a code by SMS).');
  const me = await resolveMemberToken(c, token);
  await checkCsrf(c, token);
  return me;
}

export async function endMemberSession(c: Context<AppEnv>, me: MemberSessionContext) {
  await c.var.db.update(memberSessions).set({ revokedAt: Date.now() }).where(eq(memberSessions.id, me.session.id));
  memberCookie.clear(c);
  await auditMember(c, { id: me.member.id, name: me.member.name, organisationId: me.organisation.id }, 'member-auth.sign-out', 'succeeded', 200);
}

export const memberSessionOut = (me: MemberSessionContext) => ({
  id: me.session.id,
  member: { id: me.member.id, name: me.member.name, email: me.member.email, phone: me.member.phone },
  organisation: me.organisation,
  csrfToken: me.csrfToken,
  expiresAt: iso(me.expiresAt),
});
