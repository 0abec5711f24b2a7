// Member accounts through the Worker's app: a member asks for a sign-in link or an SMS code (the
// same answer for addresses that are nobody's), signs in once with it, sees the invoices they pay
// and nothing else, and their session and a staff session never stand in for each other.
import { env } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { MEMBER_CODE_ATTEMPTS, MEMBER_LINK_TTL_MS } from '../../core/sessions.ts';
import { billingGym, invoicesOf, saveSimulatedCard, setClock, subscribe, useBillingClock } from './billing-helpers.ts';
import { call, staffSession } from './helpers.ts';

useBillingClock();

const memberCookieOf = (headers: Headers) => /gg_member=[^;]*/.exec(headers.get('set-cookie') ?? '')?.[0] ?? '';

/** What the outbox holds for the member's latest sign-in notice. */
async function sent(memberId: string) {
  const row = await env.DB.prepare("SELECT channel, to_address, locale, payload FROM notification_messages WHERE template = 'member_sign_in' AND member_id = ? ORDER BY id DESC LIMIT 1")
    .bind(memberId)
    .first<{ channel: string; to_address: string; locale: string; payload: string }>();
  return row ? { ...row, payload: JSON.parse(row.payload) as { signInUrl: string | null; code: string | null } } : null;
}

describe('member accounts', () => {
  it('a member signs in by emailed link and sees only the invoices they pay; the link works once; sessions never cross', async () => {
    const g = await billingGym({ name: 'Family', maxMembers: 3 });
    await saveSimulatedCard(g, g.member.id);
    const sub = await subscribe(g);
    const other = (await g.api('POST', '/v1/members', { name: 'Anan W.', email: 'anan@example.com' })).body;
    await saveSimulatedCard(g, other.id);
    await subscribe(g, { payerId: other.id });
    const kid = (await g.api('POST', '/v1/members', { name: 'Kid P.', email: 'kid@example.com' })).body;
    expect((await g.api('POST', `/v1/subscriptions/${sub.id}/members`, { memberId: kid.id })).status).toBe(200);

    const start = await call('POST', '/v1/member-auth/start', { body: { organisationId: g.organisationId, email: 'SOMCHAI@example.com' } });
    expect(start.status, JSON.stringify(start.body)).toBe(202);
    const nobody = await call('POST', '/v1/member-auth/start', { body: { organisationId: g.organisationId, email: 'nobody@example.com' } });
    expect(nobody.status).toBe(202);
    expect(Object.keys(nobody.body)).toEqual(Object.keys(start.body));
    const mail = await sent(g.member.id);
    expect(mail).toMatchObject({ channel: 'email', to_address: 'somchai@example.com' });
    const token = new URL(mail!.payload.signInUrl!).searchParams.get('token')!;

    const signedIn = await call('POST', '/v1/member-auth/link', { body: { token } });
    expect(signedIn.status, JSON.stringify(signedIn.body)).toBe(201);
    expect(signedIn.body.member).toMatchObject({ id: g.member.id, name: 'Somchai P.' });
    const cookie = memberCookieOf(signedIn.headers);
    expect(signedIn.headers.get('set-cookie')).toMatch(/HttpOnly/);

    const mine = await call('GET', '/v1/me/invoices', { headers: { cookie } });
    expect(mine.status).toBe(200);
    const expected = (await invoicesOf(g, g.member.id)).map((i: any) => i.id).sort();
    expect(expected.length).toBeGreaterThan(0);
    expect(mine.body.data.map((i: any) => i.id).sort()).toEqual(expected);
    const othersIds = (await invoicesOf(g, other.id)).map((i: any) => i.id);
    expect(mine.body.data.some((i: any) => othersIds.includes(i.id))).toBe(false);

    const again = await call('POST', '/v1/member-auth/link', { body: { token } });
    expect(again.status).toBe(410);
    expect(again.body.type).toMatch(/sign-in-link-used$/);

    // A member session never reaches a staff route, and a staff session never reaches /v1/me.
    expect((await call('GET', '/v1/members', { headers: { cookie } })).status).toBe(401);
    expect((await call('GET', `/v1/invoices/${expected[0]}`, { headers: { cookie } })).status).toBe(401);
    const staff = await staffSession(g.apiKey, ['owner']);
    expect((await call('GET', '/v1/me', { headers: staff.headers })).status).toBe(401);
    expect((await call('GET', '/v1/me/invoices', { token: g.apiKey })).status).toBe(401);

    // The family member on Somchai's subscription pays nothing: sees no invoice.
    await call('POST', '/v1/member-auth/start', { body: { organisationId: g.organisationId, email: 'kid@example.com' } });
    const kidToken = new URL((await sent(kid.id))!.payload.signInUrl!).searchParams.get('token')!;
    const kidCookie = memberCookieOf((await call('POST', '/v1/member-auth/link', { body: { token: kidToken } })).headers);
    expect((await call('GET', '/v1/me/invoices', { headers: { cookie: kidCookie } })).body.data).toEqual([]);

    // Signing out needs the session's CSRF token, then ends it.
    expect((await call('POST', '/v1/me/sign-out', { headers: { cookie } })).status).toBe(403);
    expect((await call('POST', '/v1/me/sign-out', { headers: { cookie, 'x-csrf-token': signedIn.body.csrfToken } })).status).toBe(200);
    expect((await call('GET', '/v1/me', { headers: { cookie } })).status).toBe(401);

    const audit = (await g.api('GET', `/v1/audit-events?actorType=member&actorId=${g.member.id}`)).body.data.map((e: any) => `${e.action} ${e.outcome}`);
    expect(audit).toEqual(expect.arrayContaining(['member-auth.link.send succeeded', 'member-auth.sign-in succeeded', 'member-auth.sign-out succeeded']));
  });

  it('a link expires after 15 minutes', async () => {
    const g = await billingGym();
    await call('POST', '/v1/member-auth/start', { body: { organisationId: g.organisationId, email: 'somchai@example.com' } });
    const token = new URL((await sent(g.member.id))!.payload.signInUrl!).searchParams.get('token')!;
    setClock(Date.now() + MEMBER_LINK_TTL_MS);
    const late = await call('POST', '/v1/member-auth/link', { body: { token } });
    expect(late.status).toBe(410);
    expect(late.body.type).toMatch(/sign-in-link-expired$/);
    expect((await call('POST', '/v1/member-auth/link', { body: { token: 'ggm_unknown' } })).status).toBe(404);
  });

  it('an SMS code signs in once; wrong codes count, and after five the code is dead', async () => {
    const g = await billingGym();
    const malee = (await g.api('POST', '/v1/members', { name: 'Malee S.', phone: '+66 81 234 5678', locale: 'th' })).body;
    const ask = () => call('POST', '/v1/member-auth/start', { body: { organisationId: g.organisationId, phone: '081-234-5678' } });
    const verify = (code: string) => call('POST', '/v1/member-auth/verify', { body: { organisationId: g.organisationId, phone: '0812345678', code } });
    expect((await ask()).body.channel).toBe('sms');
    const sms = await sent(malee.id);
    expect(sms).toMatchObject({ channel: 'sms', to_address: '+66812345678', locale: 'th' });
    const code = sms!.payload.code!;
    const wrong = code === '000000' ? '111111' : '000000';
    const refused = await verify(wrong);
    expect(refused.status).toBe(401);
    expect(refused.body.errors).toEqual([{ field: 'code', reason: 'wrong, used or expired' }]);
    const ok = await verify(code);
    expect(ok.status).toBe(201);
    expect(ok.body.member.id).toBe(malee.id);
    expect((await verify(code)).status).toBe(401);

    await ask();
    const next = (await sent(malee.id))!.payload.code!;
    const bad = next === '000000' ? '111111' : '000000';
    for (let i = 0; i < MEMBER_CODE_ATTEMPTS; i++) expect((await verify(bad)).status).toBe(401);
    expect((await verify(next)).status).toBe(401);
  });

  it('asking too often for one address is refused with a clear 429', async () => {
    const g = await billingGym();
    let last = await call('POST', '/v1/member-auth/start', { body: { organisationId: g.organisationId, email: 'somchai@example.com' } });
    for (let i = 0; i < 10 && last.status === 202; i++) last = await call('POST', '/v1/member-auth/start', { body: { organisationId: g.organisationId, email: 'somchai@example.com' } });
    expect(last.status).toBe(429);
    expect(last.body.detail).toMatch(/sign-in requests for this address/);
  });
});
