// Passkeys through the Worker's app, for what needs no authenticator: who may ask for options, the
// relying party they name, and answers that must be refused with nothing stored (another person's
// challenge, a used one, a forged attestation, an unknown passkey, a malformed body), the limit on
// started sign-ins. Chromium's virtual authenticator makes real passkeys in test/web/passkey-pages.
import { env } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { RATE_LIMITS } from '../../core/rate-limits.ts';
import { call, gym, memberSession, staffSession } from './helpers.ts';

const b64url = (text: string) => btoa(text).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
const clientData = (type: 'webauthn.create' | 'webauthn.get', challenge: string, origin = 'http://localhost') => b64url(JSON.stringify({ type, challenge, origin, crossOrigin: false }));

/** An answer shaped like PublicKeyCredential.toJSON() whose attestation is not a real authenticator's. */
const forgedRegistration = (challenge: string) => ({
  id: 'AAAA',
  rawId: 'AAAA',
  type: 'public-key',
  response: { clientDataJSON: clientData('webauthn.create', challenge), attestationObject: b64url('not cbor'), transports: ['internal'] },
  clientExtensionResults: {},
});
const forgedAssertion = (challenge: string, id = 'bm8tc3VjaC1wYXNza2V5') => ({
  id,
  rawId: id,
  type: 'public-key',
  response: { clientDataJSON: clientData('webauthn.get', challenge), authenticatorData: b64url('x'.repeat(37)), signature: b64url('sig') },
  clientExtensionResults: {},
});

describe('passkeys: options and refusals', () => {
  it('options name this site; only a signed-in person may start adding one; a member session reaches none of it', async () => {
    const g = await gym();
    const s = await staffSession(g.apiKey, ['front_desk']);
    const options = await call('POST', '/v1/auth/passkeys/registration-options', { headers: s.headers });
    expect(options.status, JSON.stringify(options.body)).toBe(200);
    expect(options.body).toMatchObject({ rp: { id: 'localhost', name: 'gymgate' }, user: { name: s.email }, attestation: 'none', authenticatorSelection: { residentKey: 'required', userVerification: 'required' } });
    expect(options.body.pubKeyCredParams.map((p: { alg: number }) => p.alg)).toEqual([-7, -257]);
    // A configured address wins over the request's.
    const configured = await call('POST', '/v1/auth/passkeys/sign-in-options', { env: { WEBAUTHN_ORIGIN: 'https://gym.example' } });
    expect(configured.body).toMatchObject({ rpId: 'gym.example', userVerification: 'required' });
    expect(configured.body.challenge).toMatch(/^[A-Za-z0-9_-]{43}$/);

    expect((await call('POST', '/v1/auth/passkeys/registration-options')).status).toBe(401);
    expect((await call('GET', '/v1/auth/passkeys', { token: g.apiKey })).status).toBe(401);
    const member = await memberSession(g.organisationId, g.member.id);
    expect((await call('POST', '/v1/auth/passkeys/registration-options', { headers: member })).status).toBe(401);
    // A write without the CSRF token is refused before any challenge is made.
    const noCsrf = await call('POST', '/v1/auth/passkeys/registration-options', { headers: { cookie: s.headers.cookie } });
    expect(noCsrf.status).toBe(403);
  });

  it('a forged attestation, another person’s challenge or a used one is refused, each recorded, and nothing is stored', async () => {
    const g = await gym();
    const nok = await staffSession(g.apiKey, ['front_desk']);
    const ton = await staffSession(g.apiKey, ['technician']);
    const tonsChallenge = (await call('POST', '/v1/auth/passkeys/registration-options', { headers: ton.headers })).body.challenge;
    const stolen = await call('POST', '/v1/auth/passkeys', { headers: nok.headers, body: { response: forgedRegistration(tonsChallenge) } });
    expect(stolen.status).toBe(401);
    expect(stolen.body.type).toMatch(/passkey-refused$/);
    expect(stolen.body.errors[0]).toMatchObject({ field: 'response' });
    expect(stolen.body.errors[0].reason).toContain('challenge');

    const mine = (await call('POST', '/v1/auth/passkeys/registration-options', { headers: nok.headers })).body.challenge;
    const forged = await call('POST', '/v1/auth/passkeys', { headers: nok.headers, body: { name: 'Fake', response: forgedRegistration(mine) } });
    expect(forged.status).toBe(401);
    expect(forged.body.errors[0].reason).not.toContain('challenge');
    // Its challenge went with the first try.
    const again = await call('POST', '/v1/auth/passkeys', { headers: nok.headers, body: { name: 'Fake', response: forgedRegistration(mine) } });
    expect(again.body.errors[0].reason).toContain('challenge');
    expect((await call('GET', '/v1/auth/passkeys', { headers: nok.headers })).body).toEqual({ data: [] });

    const refused = await call('GET', `/v1/audit-events?action=auth.passkey.register&actorId=${nok.userId}`, { token: g.apiKey });
    expect(refused.body.data.map((e: { outcome: string; status: number }) => [e.outcome, e.status])).toEqual([
      ['refused', 401],
      ['refused', 401],
      ['refused', 401],
    ]);
  });

  it('an unknown passkey, a used challenge and a malformed answer do not sign in', async () => {
    const started = await call('POST', '/v1/auth/passkeys/sign-in-options');
    const unknown = await call('POST', '/v1/auth/passkeys/sign-in', { body: { response: forgedAssertion(started.body.challenge) } });
    expect(unknown.status).toBe(401);
    expect(unknown.body.errors[0].reason).toContain('not known');
    expect(unknown.headers.get('set-cookie')).toBeNull();

    const malformed = await call('POST', '/v1/auth/passkeys/sign-in', { body: { response: { ...forgedAssertion('x'), type: 'password' } } });
    expect(malformed.status).toBe(400);
    expect(malformed.body.errors).toEqual([{ field: 'response.type', reason: 'must be "public-key"' }]);
    const noSignature = await call('POST', '/v1/auth/passkeys/sign-in', { body: { response: { ...forgedAssertion('x'), response: { clientDataJSON: 'e30' } } } });
    expect(noSignature.status).toBe(400);
    expect(noSignature.body.errors.map((e: { field: string }) => e.field)).toEqual(['response.response.authenticatorData', 'response.response.signature']);
  });

  it('sign-ins started from one address are limited', async () => {
    const headers = { 'cf-connecting-ip': '203.0.113.77' };
    for (let i = 0; i < RATE_LIMITS.passkeyChallengesPerIp.limit; i++) {
      expect((await call('POST', '/v1/auth/passkeys/sign-in-options', { headers })).status).toBe(200);
    }
    const limited = await call('POST', '/v1/auth/passkeys/sign-in-options', { headers });
    expect(limited.status).toBe(429);
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0);
    expect((await call('POST', '/v1/auth/passkeys/sign-in-options', { headers: { 'cf-connecting-ip': '203.0.113.78' } })).status).toBe(200);
  });

  it('a password-only session of someone who has a passkey changes no second factor and, where two factors are required, does nothing', async () => {
    const g = await gym();
    expect((await call('PATCH', '/v1/organisation', { token: g.apiKey, body: { staffMfaRequired: true } })).status).toBe(200);
    const s = await staffSession(g.apiKey, ['owner']);
    // Their passkey (made elsewhere): the row is all the check reads.
    await env.DB.prepare("INSERT INTO staff_passkeys (id, user_id, credential_id, public_key, counter, name, created_at) VALUES (?, ?, ?, 'x', 0, 'Phone', ?)")
      .bind(`pky_${Date.now()}aa`, s.userId, `cred${Date.now()}`, Date.now())
      .run();
    const passkeyId = (await call('GET', '/v1/auth/passkeys', { headers: s.headers })).body.data[0].id;
    for (const [method, path] of [['POST', '/v1/auth/passkeys/registration-options'], ['POST', '/v1/auth/totp'], ['DELETE', `/v1/auth/passkeys/${passkeyId}`]] as const) {
      const res = await call(method, path, { headers: s.headers });
      expect(res.status, `${method} ${path}`).toBe(403);
      expect(res.body.type).toMatch(/second-factor-needed$/);
    }
    expect((await call('GET', '/v1/members', { headers: s.headers })).body.type).toMatch(/mfa-setup-required$/);
    expect((await call('GET', '/v1/auth/passkeys', { headers: s.headers })).body.data).toHaveLength(1);
  });
});
