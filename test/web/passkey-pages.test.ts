// Passkeys in Chromium with its virtual authenticator (DevTools protocol), against the Worker under
// `wrangler dev`. Pages are opened at http://localhost:<port>: Chromium refuses WebAuthn on IP
// origins. A front-desk person at a gym that requires two factors signs in with a password (the
// session may do nothing), adds a passkey on /staff (which makes that session two-factor), signs
// out and back in with the passkey alone, works the desk; a replayed answer, a passkey made on
// another origin and a removed passkey are refused, each in the audit log.
import type { CDPSession, Page } from 'playwright-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { TestGym } from '../e2e/gym.ts';
import { checkAtPhoneAndDesktop, gymInBrowser, sessionApi as api } from './support.ts';

const PASSWORD = 'tide comes in twice';
const OTHER_ORIGIN = 'http://localhost:9999';

/**
 * navigator.credentials.create() or .get() with the server's options, run in the page: the
 * credential's JSON. (A string: the test's own TypeScript has no DOM.)
 */
const credential = (page: Page, kind: 'create' | 'get', options: unknown) =>
  page.evaluate<unknown>(
    `navigator.credentials.${kind}({ publicKey: PublicKeyCredential.parse${kind === 'create' ? 'Creation' : 'Request'}OptionsFromJSON(${JSON.stringify(options)}) }).then((c) => c.toJSON())`,
  );

describe('passkeys in Chromium', () => {
  const s = gymInBrowser();
  let gym: TestGym;
  let page: Page;
  let escaped: string[];
  let base: string;
  let cdp: CDPSession;
  beforeAll(async () => {
    ({ gym, page, escaped } = s);
    base = `http://localhost:${gym.apiPort}`;
    cdp = await page.context().newCDPSession(page);
    await cdp.send('WebAuthn.enable');
    await cdp.send('WebAuthn.addVirtualAuthenticator', {
      options: { protocol: 'ctap2', transport: 'internal', hasResidentKey: true, hasUserVerification: true, isUserVerified: true, automaticPresenceSimulation: true },
    });
  });

  it('a person adds a passkey, signs in with it alone, and a replayed, foreign or removed passkey is refused', async () => {
    const email = 'ploy@example.com';
    expect((await gym.call('PATCH', '/v1/organisation', { staffMfaRequired: true })).staffMfaRequired).toBe(true);
    const invitation = await gym.call('POST', '/v1/staff-invitations', { email, name: 'Ploy K.', roles: ['front_desk'] });
    const accept = await fetch(`${gym.api}/v1/auth/invitations/accept`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ token: new URL(invitation.acceptUrl).searchParams.get('token'), password: PASSWORD }),
    });
    expect(accept.status).toBe(201);

    // Password only: the session exists, but the gym requires two factors.
    await page.goto(`${base}/staff/sign-in`);
    await expect(page.getByRole('button', { name: 'Sign in with a passkey' }).isVisible()).resolves.toBe(true);
    await checkAtPhoneAndDesktop(page);
    await page.getByLabel('Email').fill(email);
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await page.waitForURL(`${base}/staff`);
    await expect(page.getByRole('alert').textContent()).resolves.toContain('requires');
    expect((await api(page, 'GET', '/v1/members')).body.type).toMatch(/mfa-setup-required$/);
    await expect(page.locator('.passkeys-none').textContent()).resolves.toBe('You have no passkeys yet.');

    // A passkey made on another origin (same host name, another port) is refused on its origin.
    const foreignOptions = (await api(page, 'POST', '/v1/auth/passkeys/registration-options')).body;
    expect(foreignOptions.rp.id).toBe('localhost');
    await page.route(`${OTHER_ORIGIN}/**`, (route) => route.fulfill({ contentType: 'text/html', body: '<!doctype html><title>elsewhere</title>' }));
    await page.goto(`${OTHER_ORIGIN}/`);
    const foreign = await credential(page, 'create', foreignOptions);
    await page.goto(`${base}/staff`);
    const refused = await api(page, 'POST', '/v1/auth/passkeys', { response: foreign });
    expect(refused.status).toBe(401);
    expect(refused.body.type).toMatch(/passkey-refused$/);
    expect(refused.body.errors[0].reason).toContain(OTHER_ORIGIN);
    expect((await api(page, 'GET', '/v1/auth/passkeys')).body.data).toEqual([]);

    // The real one, through the page's button.
    await page.getByLabel('Name for the new passkey (optional)').fill('Desk laptop');
    await page.getByRole('button', { name: 'Add a passkey' }).click();
    await page.waitForURL(`${base}/staff?passkey=added`);
    await expect(page.locator('.passkey-name').allTextContents()).resolves.toEqual(['Desk laptop']);
    await checkAtPhoneAndDesktop(page);
    // Adding it took the person's verification: this session now counts as two factors.
    expect((await api(page, 'GET', '/v1/members')).status).toBe(200);

    // Signed out, then in with the passkey alone.
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.waitForURL(`${base}/staff/sign-in`);
    await page.getByRole('button', { name: 'Sign in with a passkey' }).click();
    await page.waitForURL(`${base}/staff`);
    await expect(page.locator('.who').textContent()).resolves.toBe('Signed in as Ploy K. (ploy@example.com).');
    const session = (await api(page, 'GET', '/v1/auth/session')).body;
    expect(session).toMatchObject({ mfaSetupRequired: false, user: { email, mfa: true }, organisation: { roles: ['front_desk'] } });
    const listed = await gym.call<{ data: Array<{ email: string; mfa: boolean }> }>('GET', '/v1/staff');
    expect(listed.data.find((m) => m.email === email)?.mfa).toBe(true);
    const member = await api(page, 'POST', '/v1/members', { name: 'Walk-in Wan' });
    expect(member.status).toBe(201);

    // One answer signs in once: its challenge is used up.
    const options = (await (await page.request.post(`${base}/v1/auth/passkeys/sign-in-options`)).json()) as unknown;
    const answer = await credential(page, 'get', options);
    const first = await page.request.post(`${base}/v1/auth/passkeys/sign-in`, { data: { response: answer } });
    expect(first.status()).toBe(201);
    const replay = await page.request.post(`${base}/v1/auth/passkeys/sign-in`, { data: { response: answer } });
    expect(replay.status()).toBe(401);
    expect(((await replay.json()) as { errors: Array<{ field: string }> }).errors[0]!.field).toBe('response');

    // Removed (a lost laptop): it signs in no more, and the page says so in words.
    const passkeyId = (await api(page, 'GET', '/v1/auth/passkeys')).body.data[0].id;
    await page.goto(`${base}/staff`);
    await page.getByRole('button', { name: 'Remove Desk laptop' }).click();
    await page.waitForURL(`${base}/staff`);
    await expect(page.locator('.passkeys-none').count()).resolves.toBe(1);
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.waitForURL(`${base}/staff/sign-in`);
    await page.getByRole('button', { name: 'Sign in with a passkey' }).click();
    await expect(page.getByRole('alert').textContent()).resolves.toBe('The passkey was not accepted. If you removed it, sign in with your password.');
    expect(page.url()).toBe(`${base}/staff/sign-in`);

    // The Thai sign-in page speaks Thai on its button too.
    await page.goto(`${base}/staff/sign-in?lang=th`);
    await expect(page.getByRole('button', { name: 'เข้าสู่ระบบด้วยพาสคีย์' }).isVisible()).resolves.toBe(true);
    await checkAtPhoneAndDesktop(page);
    await page.goto(`${base}/staff/sign-in?lang=en`);

    // The audit log: the refused foreign passkey, the added one, the passkey sign-ins (refused too) and the removal.
    const events = (await gym.call<{ data: Array<{ action: string; outcome: string; actor: { name: string }; after: Record<string, unknown> | null; before: Record<string, unknown> | null }> }>('GET', '/v1/audit-events?limit=200')).data;
    const mine = events.filter((e) => e.actor.name === 'Ploy K.');
    expect(mine.find((e) => e.action === 'auth.passkey.register' && e.outcome === 'refused')).toBeTruthy();
    expect(mine.find((e) => e.action === 'auth.passkey.register' && e.outcome === 'succeeded')?.after).toEqual({ passkeyId, name: 'Desk laptop' });
    expect(mine.filter((e) => e.action === 'auth.sign-in' && e.outcome === 'succeeded').map((e) => e.after?.method)).toEqual(expect.arrayContaining(['password', 'passkey']));
    expect(mine.find((e) => e.action === 'auth.sign-in' && e.outcome === 'refused' && e.after?.method === 'passkey')?.after?.reason).toContain('challenge');
    expect(mine.find((e) => e.action === 'auth.passkey.remove')?.before).toEqual({ passkeyId, name: 'Desk laptop' });
    expect(mine.find((e) => e.action === 'members.create')).toBeTruthy();
    expect(escaped).toEqual([]);
  });
});
