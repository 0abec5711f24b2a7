// Staff accounts end to end through the Worker's app: invitations (signed by their random token,
// expiring, single-use), password and authenticator sign-in, session cookies with CSRF, roles as
// permissions, disabling, several organisations per person, and each refusal said and recorded.
import { env } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { BUILT_IN_ROLES } from '../../core/permissions.ts';
import { SESSION_IDLE_MS } from '../../core/sessions.ts';
import { hashPassword, PASSWORD_ITERATIONS, PASSWORD_ROUNDS, verifyPassword } from '../../edge/staff/passwords.ts';
import { stepOf, totpCode } from '../../edge/staff/totp.ts';
import { call, gym, newOrganisation } from './helpers.ts';

const PASSWORD = 'correct horse battery staple';
let counter = 0;
const uniqueEmail = (who: string) => `${who}.${Date.now()}.${counter++}@example.com`;

type Session = { cookie: string; csrf: string; body: any };

async function invite(token: string, body: Record<string, unknown>) {
  const res = await call('POST', '/v1/staff-invitations', { token, body });
  return { ...res, token: res.status === 201 ? new URL(res.body.acceptUrl).searchParams.get('token')! : '' };
}

async function join(owner: string, roles: string[], email = uniqueEmail('staff'), password = PASSWORD) {
  const inv = await invite(owner, { email, name: 'Nok S.', roles });
  expect(inv.status, JSON.stringify(inv.body)).toBe(201);
  const accepted = await call('POST', '/v1/auth/invitations/accept', { body: { token: inv.token, password } });
  expect(accepted.status, JSON.stringify(accepted.body)).toBe(201);
  return { email, invitation: inv.body, ...accepted.body } as { email: string; invitation: any; userId: string; staffMemberId: string; organisationId: string; newAccount: boolean };
}

const cookieOf = (headers: Headers) => /gg_session=([^;]*)/.exec(headers.get('set-cookie') ?? '')?.[1] ?? '';

async function signIn(body: Record<string, unknown>): Promise<Session & { status: number }> {
  const res = await call('POST', '/v1/auth/sign-in', { body });
  return { status: res.status, body: res.body, cookie: res.status === 201 ? `gg_session=${cookieOf(res.headers)}` : '', csrf: res.body?.csrfToken ?? '' };
}

/** A call with the session cookie, and on writes the CSRF token unless told otherwise. */
const as = (s: Session, method: string, path: string, body?: unknown, headers: Record<string, string> = { 'x-csrf-token': s.csrf }) =>
  call(method, path, { body, headers: { cookie: s.cookie, ...(method === 'GET' ? {} : headers) } });

const auditOf = (apiKey: string, query: string) => call('GET', `/v1/audit-events?${query}`, { token: apiKey });

describe('staff: invitation, sign-in, roles, disabling', () => {
  it('a front-desk person is invited by email, signs in, checks a member in, is refused a refund, and loses the session when disabled', async () => {
    const g = await gym();
    const email = uniqueEmail('nok');
    const inv = await invite(g.apiKey, { email: email.toUpperCase(), name: 'Nok S.', phone: '+66 81 234 5678', roles: ['front_desk'] });
    expect(inv.status, JSON.stringify(inv.body)).toBe(201);
    expect(inv.body).toMatchObject({ email, roles: ['front_desk'], siteIds: null, acceptedAt: null });
    expect(Date.parse(inv.body.expiresAt) - Date.now()).toBeGreaterThan(6.9 * 24 * 3_600_000);
    // The email in the outbox carries the same link.
    const mail = await env.DB.prepare('SELECT to_address, template, payload FROM notification_messages WHERE organisation_id = ? AND template = ?').bind(g.organisationId, 'staff_invitation').first<{ to_address: string; payload: string }>();
    expect(mail?.to_address).toBe(email);
    expect(JSON.parse(mail!.payload).acceptUrl).toBe(inv.body.acceptUrl);
    // The link is not kept in the audit log or the list.
    const listed = await call('GET', '/v1/staff-invitations', { token: g.apiKey });
    expect(listed.body.data[0]).not.toHaveProperty('acceptUrl');
    const created = (await auditOf(g.apiKey, 'action=staff-invitations.create')).body.data[0];
    expect(created.after.acceptUrl).toBe('[redacted]');

    const accepted = await call('POST', '/v1/auth/invitations/accept', { body: { token: inv.token, password: PASSWORD } });
    expect(accepted.status).toBe(201);
    expect(accepted.body.newAccount).toBe(true);

    const s = await signIn({ email, password: PASSWORD });
    expect(s.status, JSON.stringify(s.body)).toBe(201);
    expect(s.body.organisation).toEqual({ id: g.organisationId, name: 'Test Gym', roles: ['front_desk'] });
    expect(s.body.permissions).toEqual([...BUILT_IN_ROLES.front_desk].sort((a, b) => s.body.permissions.indexOf(a) - s.body.permissions.indexOf(b)));
    expect(s.body.permissions).not.toContain('payments:refund');
    const setCookie = (await call('POST', '/v1/auth/sign-in', { body: { email, password: PASSWORD } })).headers.get('set-cookie')!;
    expect(setCookie).toMatch(/HttpOnly/);
    expect(setCookie).toMatch(/SameSite=Lax/);

    // A front-desk action: a new member, with the session cookie and its CSRF token.
    const member = await as(s, 'POST', '/v1/members', { name: 'Walk-in Ploy' });
    expect(member.status, JSON.stringify(member.body)).toBe(201);
    // A refund is refused, saying which permission the role lacks, and recorded.
    const refund = await as(s, 'POST', '/v1/payments/pay_00000000000000000000/refunds', { amount: 100 });
    expect(refund.status).toBe(403);
    expect(refund.body.errors).toEqual([{ field: 'role', reason: 'your roles lack payments:refund' }]);
    // So are staff and keys.
    expect((await as(s, 'GET', '/v1/staff')).status).toBe(403);
    expect((await as(s, 'GET', '/v1/api-keys')).status).toBe(403);

    const events = (await auditOf(g.apiKey, `actorId=${accepted.body.userId}`)).body.data as any[];
    const byAction = (action: string) => events.find((e) => e.action === action);
    expect(byAction('members.create')).toMatchObject({ actor: { type: 'staff_user', id: accepted.body.userId, name: 'Nok S.' }, outcome: 'succeeded', after: { name: 'Walk-in Ploy' } });
    expect(byAction('payments.refunds')).toMatchObject({ outcome: 'refused', status: 403 });
    expect(byAction('auth.sign-in')).toMatchObject({ outcome: 'succeeded' });
    expect(byAction('staff-invitations.accept')).toMatchObject({ before: { acceptedAt: null }, after: { roles: ['front_desk'] } });

    // The owner disables Nok: the very next request with the session is refused.
    const disabled = await call('PATCH', `/v1/staff/${accepted.body.staffMemberId}`, { token: g.apiKey, body: { disabled: true } });
    expect(disabled.status, JSON.stringify(disabled.body)).toBe(200);
    expect(disabled.body.disabledAt).not.toBeNull();
    const after = await as(s, 'GET', '/v1/members');
    expect(after.status).toBe(401);
    expect(after.body.type).toMatch(/session-ended$/);
    expect(after.body.detail).toContain('disabled');
    const again = await signIn({ email, password: PASSWORD });
    expect(again.status).toBe(403);
    expect(again.body.errors).toEqual([{ field: 'email', reason: 'no enabled staff membership' }]);
    const change = (await auditOf(g.apiKey, `action=staff.update&resourceId=${accepted.body.staffMemberId}`)).body.data[0];
    expect(change).toMatchObject({ actor: { type: 'api_key' }, before: { disabledAt: null } });
    expect(change.after.disabledAt).toBe(disabled.body.disabledAt);
    // Enabled again, sign-in works, but the old session stays ended.
    expect((await call('PATCH', `/v1/staff/${accepted.body.staffMemberId}`, { token: g.apiKey, body: { disabled: false } })).status).toBe(200);
    expect((await as(s, 'GET', '/v1/members')).status).toBe(401);
    expect((await signIn({ email, password: PASSWORD })).status).toBe(201);
  });

  it('a role change applies on the next request', async () => {
    const g = await gym();
    const nok = await join(g.apiKey, ['trainer']);
    const s = await signIn({ email: nok.email, password: PASSWORD });
    expect((await as(s, 'GET', '/v1/invoices')).status).toBe(403);
    expect((await call('PATCH', `/v1/staff/${nok.staffMemberId}`, { token: g.apiKey, body: { roles: ['front_desk'] } })).status).toBe(200);
    expect((await as(s, 'GET', '/v1/invoices')).status).toBe(200);
  });

  it('an invitation link works once, until it expires or is withdrawn; nothing is made by a refused one', async () => {
    const g = await gym();
    const count = async () => (await env.DB.prepare('SELECT (SELECT count(*) FROM staff_users) + (SELECT count(*) FROM staff_members) AS n').first<{ n: number }>())!.n;
    const used = await join(g.apiKey, ['trainer']);
    const before = await count();
    const accept = (token: string, password = PASSWORD) => call('POST', '/v1/auth/invitations/accept', { body: { token, password } });

    const reuse = await accept(new URL(used.invitation.acceptUrl).searchParams.get('token')!);
    expect(reuse.status).toBe(410);
    expect(reuse.body.type).toMatch(/invitation-used$/);

    const withdrawn = await invite(g.apiKey, { email: uniqueEmail('w'), name: 'W', roles: ['trainer'] });
    expect((await call('POST', `/v1/staff-invitations/${withdrawn.body.id}/revoke`, { token: g.apiKey })).status).toBe(200);
    expect((await accept(withdrawn.token)).body.type).toMatch(/invitation-revoked$/);

    const late = await invite(g.apiKey, { email: uniqueEmail('late'), name: 'Late', roles: ['trainer'] });
    await env.DB.prepare('UPDATE staff_invitations SET expires_at = ? WHERE id = ?').bind(Date.now() - 1, late.body.id).run();
    const expired = await accept(late.token);
    expect(expired.status).toBe(410);
    expect(expired.body.type).toMatch(/invitation-expired$/);

    const unknown = await accept('ggi_madeup');
    expect(unknown.status).toBe(404);
    expect(unknown.body.errors).toEqual([{ field: 'token', reason: 'unknown' }]);

    const short = await invite(g.apiKey, { email: uniqueEmail('s'), name: 'S', roles: ['trainer'] });
    const weak = await accept(short.token, 'short');
    expect(weak.status).toBe(400);
    expect(weak.body.errors[0]).toMatchObject({ field: 'password', reason: 'must be at least 10 characters' });
    expect(await count()).toBe(before);
    // The weak attempt did not use the link up.
    expect((await accept(short.token)).status).toBe(201);
  });

  it('nobody gives more than they hold: a key with staff:manage alone cannot invite an owner', async () => {
    const g = await gym();
    const key = (await call('POST', '/v1/api-keys', { token: g.apiKey, body: { name: 'HR tool', scopes: ['staff:manage'] } })).body.secret;
    const res = await invite(key, { email: uniqueEmail('o'), name: 'O', roles: ['owner'] });
    expect(res.status).toBe(403);
    expect(res.body.errors[0].field).toBe('roles');
    const site = await invite(g.apiKey, { email: uniqueEmail('t'), name: 'T', roles: ['technician'], siteIds: ['site_0000000000000000'] });
    expect(site.status).toBe(400);
    expect(site.body.errors).toEqual([{ field: 'siteIds.0', reason: 'no site site_0000000000000000 in this organisation' }]);
    const onSite = await invite(g.apiKey, { email: uniqueEmail('t'), name: 'T', roles: ['technician'], siteIds: [g.site.id] });
    expect(onSite.status).toBe(201);
    expect(onSite.body.siteIds).toEqual([g.site.id]);
    // Only owners manage staff: a manager's role does not include it.
    expect(BUILT_IN_ROLES.manager).not.toContain('staff:manage');
  });
});

describe('staff: sign-in refusals, CSRF and sessions', () => {
  it('a wrong password and an unknown email get the same answer; the account locks after ten failures, even for the right password', async () => {
    const g = await gym();
    const nok = await join(g.apiKey, ['front_desk']);
    const wrong = await signIn({ email: nok.email, password: 'not the password' });
    const unknown = await signIn({ email: uniqueEmail('nobody'), password: 'not the password' });
    expect(wrong.status).toBe(401);
    expect(unknown.status).toBe(401);
    expect(unknown.body).toEqual(wrong.body);
    expect(wrong.body.errors).toEqual([{ field: 'password', reason: 'does not match the email' }]);
    const refused = (await auditOf(g.apiKey, `action=auth.sign-in&outcome=refused&actorId=${nok.userId}`)).body.data;
    expect(refused).toHaveLength(1);
    for (let i = 0; i < 9; i++) expect((await signIn({ email: nok.email, password: `wrong ${i}` })).status).toBe(401);
    const locked = await call('POST', '/v1/auth/sign-in', { body: { email: nok.email, password: PASSWORD } });
    expect(locked.status).toBe(429);
    expect(locked.body.detail).toMatch(/failed sign-ins for this account/);
    expect(Number(locked.headers.get('retry-after'))).toBeGreaterThan(0);
  });

  it('a write with the session cookie needs its CSRF token and this site as origin; reads do not', async () => {
    const g = await gym();
    const nok = await join(g.apiKey, ['front_desk']);
    const s = await signIn({ email: nok.email, password: PASSWORD });
    const members = async () => (await call('GET', '/v1/members?limit=200', { token: g.apiKey })).body.data.length;
    const before = await members();
    const missing = await as(s, 'POST', '/v1/members', { name: 'Forged' }, {});
    expect(missing.status).toBe(403);
    expect(missing.body.errors).toEqual([{ field: 'x-csrf-token', reason: 'missing' }]);
    const wrong = await as(s, 'POST', '/v1/members', { name: 'Forged' }, { 'x-csrf-token': 'guess' });
    expect(wrong.body.errors).toEqual([{ field: 'x-csrf-token', reason: 'does not match the session' }]);
    const crossSite = await as(s, 'POST', '/v1/members', { name: 'Forged' }, { 'x-csrf-token': s.csrf, origin: 'https://evil.example' });
    expect(crossSite.status).toBe(403);
    expect(crossSite.body.errors).toEqual([{ field: 'origin', reason: 'not this site' }]);
    expect(await members()).toBe(before);
    expect((await as(s, 'GET', '/v1/members')).status).toBe(200);
    // The session's own token, from GET /v1/auth/session, is the one that works.
    const current = await as(s, 'GET', '/v1/auth/session');
    expect(current.body.csrfToken).toBe(s.csrf);
    expect((await as(s, 'POST', '/v1/members', { name: 'Real' })).status).toBe(201);
  });

  it('sessions are listed and revocable; signing out, idling and a revoked session each end access', async () => {
    const g = await gym();
    const nok = await join(g.apiKey, ['front_desk']);
    const desk = await signIn({ email: nok.email, password: PASSWORD });
    const phone = await signIn({ email: nok.email, password: PASSWORD });
    const listed = await as(desk, 'GET', '/v1/auth/sessions');
    expect(listed.body.data.map((x: any) => x.current)).toEqual([true, false]);
    expect((await as(desk, 'DELETE', `/v1/auth/sessions/${phone.body.id}`)).status).toBe(200);
    expect((await as(phone, 'GET', '/v1/members')).status).toBe(401);
    expect((await as(desk, 'GET', '/v1/auth/sessions')).body.data).toHaveLength(1);
    // Another person's session id is not found.
    const other = await join(g.apiKey, ['front_desk']);
    const theirs = await signIn({ email: other.email, password: PASSWORD });
    expect((await as(desk, 'DELETE', `/v1/auth/sessions/${theirs.body.id}`)).status).toBe(404);
    expect((await as(theirs, 'GET', '/v1/members')).status).toBe(200);

    await env.DB.prepare('UPDATE staff_sessions SET last_seen_at = ? WHERE id = ?').bind(Date.now() - SESSION_IDLE_MS - 1, theirs.body.id).run();
    const idle = await as(theirs, 'GET', '/v1/members');
    expect(idle.status).toBe(401);
    expect(idle.body.detail).toContain('unused for too long');

    expect((await as(desk, 'POST', '/v1/auth/sign-out')).status).toBe(200);
    expect((await as(desk, 'GET', '/v1/auth/session')).status).toBe(401);
    expect((await call('GET', '/v1/auth/session')).status).toBe(401);
  });

  it('one person on the staff of two gyms signs in to either, switches, and never reaches the other through the wrong one', async () => {
    const a = await gym();
    const b = await newOrganisation('Other Gym');
    const email = uniqueEmail('ploy');
    const inA = await join(a.apiKey, ['manager'], email);
    const invB = await invite(b.apiKey, { email, name: 'Ploy', roles: ['front_desk'] });
    // Joining B with an existing account needs that account's password.
    const wrong = await call('POST', '/v1/auth/invitations/accept', { body: { token: invB.token, password: 'another password here' } });
    expect(wrong.status).toBe(401);
    const inB = await call('POST', '/v1/auth/invitations/accept', { body: { token: invB.token, password: PASSWORD } });
    expect(inB.status).toBe(201);
    expect(inB.body).toMatchObject({ userId: inA.userId, newAccount: false, organisationId: b.organisationId });

    const s = await signIn({ email, password: PASSWORD });
    expect(s.body.organisation.id).toBe(a.organisationId);
    expect(s.body.organisations.map((o: any) => o.id)).toEqual([a.organisationId, b.organisationId]);
    // In A: A's member is there; B's API is not reachable with this session.
    expect((await as(s, 'GET', `/v1/members/${a.member.id}`)).status).toBe(200);
    const switched = await as(s, 'POST', '/v1/auth/session/organisation', { organisationId: b.organisationId });
    expect(switched.status).toBe(200);
    expect(switched.body.permissions).not.toContain('plans:write');
    // Now in B (as front desk): A's member is not found, and A's staff list is refused.
    expect((await as(s, 'GET', `/v1/members/${a.member.id}`)).status).toBe(404);
    const direct = await signIn({ email, password: PASSWORD, organisationId: b.organisationId });
    expect(direct.body.organisation).toMatchObject({ id: b.organisationId, roles: ['front_desk'] });
    const notHers = await signIn({ email, password: PASSWORD, organisationId: (await newOrganisation('Third')).organisationId });
    expect(notHers.status).toBe(403);
    expect(notHers.body.errors).toEqual([{ field: 'organisationId', reason: 'no enabled staff membership' }]);
    // Disabled in B only: A still works.
    await call('PATCH', `/v1/staff/${inB.body.staffMemberId}`, { token: b.apiKey, body: { disabled: true } });
    expect((await as(s, 'GET', '/v1/members')).status).toBe(401);
    expect((await signIn({ email, password: PASSWORD })).body.organisation.id).toBe(a.organisationId);
  });
});

describe('staff: authenticator codes and recovery codes', () => {
  it('sets up an authenticator; sign-in then needs a code, refuses a wrong or replayed one, and takes each recovery code once', async () => {
    const g = await gym();
    const nok = await join(g.apiKey, ['owner']);
    const s = await signIn({ email: nok.email, password: PASSWORD });
    const setup = await as(s, 'POST', '/v1/auth/totp');
    expect(setup.status).toBe(200);
    expect(setup.body.uri).toMatch(/^otpauth:\/\/totp\/gymgate:.*secret=/);
    const secret = setup.body.secret as string;
    const wrong = await as(s, 'POST', '/v1/auth/totp/confirm', { code: '000000' === totpCode(secret, Date.now()) ? '111111' : '000000' });
    expect(wrong.status).toBe(401);
    const now = Date.now();
    const confirmed = await as(s, 'POST', '/v1/auth/totp/confirm', { code: totpCode(secret, now) });
    expect(confirmed.status, JSON.stringify(confirmed.body)).toBe(200);
    const codes = confirmed.body.recoveryCodes as string[];
    expect(codes).toHaveLength(10);
    expect(new Set(codes).size).toBe(10);
    expect((await call('GET', `/v1/staff/${nok.staffMemberId}`, { token: g.apiKey })).body.mfa).toBe(true);

    const noCode = await signIn({ email: nok.email, password: PASSWORD });
    expect(noCode.status).toBe(401);
    expect(noCode.body.type).toMatch(/mfa-required$/);
    // The code that confirmed the setup was spent: within its 30 seconds it is refused.
    const replay = await signIn({ email: nok.email, password: PASSWORD, code: totpCode(secret, now) });
    expect(replay.status).toBe(401);
    expect(replay.body.type).toMatch(/code-reused$/);
    // The next step's code (an authenticator a little ahead) works, once.
    const next = totpCode(secret, (stepOf(now) + 1) * 30_000);
    expect((await signIn({ email: nok.email, password: PASSWORD, code: next })).status).toBe(201);
    expect((await signIn({ email: nok.email, password: PASSWORD, code: next })).body.type).toMatch(/code-reused$/);
    const bad = await signIn({ email: nok.email, password: PASSWORD, code: 'aaaaa-bbbbb' });
    expect(bad.status).toBe(401);
    expect(bad.body.errors).toEqual([{ field: 'code', reason: 'wrong or already used' }]);
    // A recovery code, typed loosely, works once.
    const loose = codes[0]!.toUpperCase().replace('-', ' ');
    expect((await signIn({ email: nok.email, password: PASSWORD, code: loose })).status).toBe(201);
    expect((await signIn({ email: nok.email, password: PASSWORD, code: codes[0] })).status).toBe(401);
    // The wrong password is refused before any code is looked at.
    expect((await signIn({ email: nok.email, password: 'nope nope nope', code: codes[1] })).body.type).toMatch(/invalid-credentials$/);
    expect((await signIn({ email: nok.email, password: PASSWORD, code: codes[1] })).status).toBe(201);
  });
});

describe('staff: the owner requires an authenticator', () => {
  it('a person without one may sign in only to set one up; with it, they work as their role allows', async () => {
    const g = await gym();
    const nok = await join(g.apiKey, ['front_desk']);
    const required = await call('PATCH', '/v1/organisation', { token: g.apiKey, body: { staffMfaRequired: true } });
    expect(required.status).toBe(200);
    expect(required.body).toMatchObject({ name: 'Test Gym', staffMfaRequired: true });
    // Only an owner sets it: a manager's role lacks organisation:write.
    const manager = await join(g.apiKey, ['manager']);
    const ms = await signIn({ email: manager.email, password: PASSWORD });
    expect((await as(ms, 'PATCH', '/v1/organisation', { staffMfaRequired: false })).status).toBe(403);

    const s = await signIn({ email: nok.email, password: PASSWORD });
    expect(s.status).toBe(201);
    expect(s.body.mfaSetupRequired).toBe(true);
    const refused = await as(s, 'GET', '/v1/members');
    expect(refused.status).toBe(403);
    expect(refused.body.errors).toEqual([{ field: 'mfa', reason: 'this organisation requires an authenticator app' }]);
    expect((await as(s, 'POST', '/v1/members', { name: 'Not yet' })).status).toBe(403);

    const setup = await as(s, 'POST', '/v1/auth/totp');
    expect((await as(s, 'POST', '/v1/auth/totp/confirm', { code: totpCode(setup.body.secret, Date.now()) })).status).toBe(200);
    expect((await as(s, 'GET', '/v1/members')).status).toBe(200);
    expect((await as(s, 'GET', '/v1/auth/session')).body.mfaSetupRequired).toBe(false);
    const change = (await auditOf(g.apiKey, 'action=organisation.update')).body.data[0];
    expect(change).toMatchObject({ before: { staffMfaRequired: false }, after: { staffMfaRequired: true } });
  });
});

describe('staff: passwords', () => {
  it('hashes with 6 × 100,000 PBKDF2-SHA256 iterations, salted, and verifies in constant time', async () => {
    const started = performance.now();
    const hash = await hashPassword(PASSWORD);
    const ms = performance.now() - started;
    expect(hash).toMatch(new RegExp(`^pbkdf2-sha256\\$${PASSWORD_ROUNDS}x${PASSWORD_ITERATIONS}\\$[A-Za-z0-9+/=]{24}\\$[A-Za-z0-9+/=]{44}$`));
    expect(await hashPassword(PASSWORD)).not.toBe(hash);
    expect(await verifyPassword(PASSWORD, hash)).toBe(true);
    expect(await verifyPassword(`${PASSWORD}!`, hash)).toBe(false);
    expect(await verifyPassword(PASSWORD, 'pbkdf2-sha256$6x100001$AAAA$AAAA')).toBe(false);
    expect(await verifyPassword(PASSWORD, 'plain')).toBe(false);
    console.log(`password hash (${PASSWORD_ROUNDS} × ${PASSWORD_ITERATIONS} PBKDF2-SHA256 in workerd): ${ms.toFixed(0)} ms`);
  });
});
