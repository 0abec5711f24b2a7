// Staff accounts in Chromium against the Worker under `wrangler dev`: a front-desk person is
// invited by email, accepts on the invitation page, signs in, sets up an authenticator app, checks
// a member in through the API with the session, is refused a refund, signs in again with a code,
// and is disabled by the owner, which ends the session on the next page load. Thai and English, phone
// and desktop sizes, axe-core on every page; the audit log shows each step with who did it.
import { Secret, TOTP } from 'otpauth';
import type { Page } from 'playwright-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { waitUntil } from '../../edge/dev/processes.ts';
import { TestGym } from '../e2e/gym.ts';
import { checkAtPhoneAndDesktop, gymInBrowser, sessionApi as api } from './support.ts';

const PASSWORD = 'sunrise over the river';

const totp = (secret: string) => new TOTP({ issuer: 'gymgate', algorithm: 'SHA1', digits: 6, period: 30, secret: Secret.fromBase32(secret) });

/** The invitation link in the dev mailbox's email to `email`. */
async function invitationLink(gym: TestGym, email: string): Promise<string> {
  let link = '';
  await waitUntil(
    async () => {
      // The frequent run delivers what waitUntil did not.
      await fetch(`${gym.api}/cdn-cgi/handler/scheduled?cron=${encodeURIComponent('*/5 * * * *')}`);
      const html = await (await fetch(`${gym.api}/dev/mailbox`)).text();
      const article = html.split('<article').find((a) => a.includes(`<strong class="to">${email}</strong>`));
      link = /https?:\/\/[^\s<"]+\/staff\/invitation\?token=ggi_[0-9a-z]+/.exec(article ?? '')?.[0] ?? '';
      return link !== '';
    },
    `an invitation email to ${email}`,
    30_000,
    250,
  );
  return link;
}

describe('staff pages in Chromium', () => {
  const s = gymInBrowser();
  let gym: TestGym;
  let escaped: string[];
  let page: Page;
  beforeAll(() => {
    ({ gym, escaped, page } = s);
  });

  it('a front-desk person is invited, sets a password and an authenticator, works the desk, is refused a refund, and is cut off when disabled', async () => {
    const email = 'nok@example.com';
    const invitation = await gym.call('POST', '/v1/staff-invitations', { email, name: 'Nok S.', roles: ['front_desk'] });
    const link = await invitationLink(gym, email);
    expect(link).toBe(invitation.acceptUrl);

    // The invitation page, and a password the server refuses (the browser's own check switched off).
    expect((await page.goto(link))?.status()).toBe(200);
    await expect(page.locator('h1').textContent()).resolves.toMatch(/^Join E2E Gym .* on gymgate$/);
    await expect(page.locator('main').textContent()).resolves.toContain('Your roles: front desk.');
    await checkAtPhoneAndDesktop(page);
    await page.evaluate('document.querySelector("form").noValidate = true');
    await page.getByLabel('Choose a password').fill('short');
    await page.getByRole('button', { name: 'Accept the invitation' }).click();
    await expect(page.getByRole('alert').textContent()).resolves.toBe('The password must be at least 10 characters.');
    await checkAtPhoneAndDesktop(page);
    await page.getByLabel('Choose a password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Accept the invitation' }).click();
    await expect(page.locator('h1').textContent()).resolves.toBe('You are on the staff');
    // The link is used up.
    expect((await page.goto(link))?.status()).toBe(410);
    await expect(page.getByRole('alert').textContent()).resolves.toContain('already used');

    // Sign in with the password, then set up the authenticator app.
    await page.goto(`${gym.api}/staff/sign-in`);
    await checkAtPhoneAndDesktop(page);
    await page.getByLabel('Email').fill(email);
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await page.waitForURL(/\/staff$/);
    await expect(page.locator('.who').textContent()).resolves.toBe('Signed in as Nok S. (nok@example.com).');
    await expect(page.locator('.mfa').getAttribute('data-mfa')).resolves.toBe('off');
    await checkAtPhoneAndDesktop(page);
    await page.getByRole('button', { name: 'Set up an authenticator app' }).click();
    const secret = (await page.locator('.totp-secret').textContent())!;
    await checkAtPhoneAndDesktop(page);
    await page.getByLabel('The 6-digit code the app shows now').fill(totp(secret).generate());
    await page.getByRole('button', { name: 'Turn on' }).click();
    await expect(page.locator('h1').textContent()).resolves.toBe('Authenticator app is on');
    await expect(page.locator('ul.codes li').count()).resolves.toBe(10);
    await checkAtPhoneAndDesktop(page);

    // A front-desk action through the API with the session: a walk-in member. A refund is refused.
    const walkIn = await api(page, 'POST', '/v1/members', { name: 'Walk-in Ploy' });
    expect(walkIn.status).toBe(201);
    const refund = await api(page, 'POST', '/v1/payments/pay_0000000000000000/refunds', { amount: 100 });
    expect(refund.status).toBe(403);
    expect(refund.body.errors).toEqual([{ field: 'role', reason: 'your roles lack payments:refund' }]);

    // Signing in again needs the code; the next 30-second code works.
    await page.goto(`${gym.api}/staff`);
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.waitForURL(/\/staff\/sign-in$/);
    await page.getByLabel('Email').fill(email);
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await expect(page.getByRole('alert').textContent()).resolves.toBe('Enter the code from your authenticator app, or a recovery code.');
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByLabel('Authenticator or recovery code').fill(totp(secret).generate({ timestamp: Date.now() + 30_000 }));
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await page.waitForURL(/\/staff$/);
    await expect(page.locator('.mfa').getAttribute('data-mfa')).resolves.toBe('on');

    // The owner disables Nok: the next page load is the sign-in page, saying the session ended.
    const nok = (await gym.call('GET', '/v1/staff')).data.find((s: any) => s.email === email);
    await gym.call('PATCH', `/v1/staff/${nok.id}`, { disabled: true });
    await page.reload();
    await page.waitForURL(/\/staff\/sign-in\?ended=1$/);
    await expect(page.getByRole('alert').textContent()).resolves.toBe('Your session has ended. Please sign in again.');
    expect((await api(page, 'GET', '/v1/members')).status).toBe(401);

    // Who did what, in the audit log.
    const events = (await gym.call('GET', `/v1/audit-events?actorId=${nok.userId}&limit=200`)).data as any[];
    const actions = events.map((e) => `${e.action} ${e.outcome}`);
    for (const expected of ['staff-invitations.accept succeeded', 'auth.sign-in succeeded', 'auth.totp.confirm succeeded', 'members.create succeeded', 'payments.refunds refused', 'auth.sign-out succeeded']) {
      expect(actions).toContain(expected);
    }
    expect(events.find((e) => e.action === 'members.create')).toMatchObject({ actor: { type: 'staff_user', name: 'Nok S.' }, after: { name: 'Walk-in Ploy' } });
    const disabled = (await gym.call('GET', `/v1/audit-events?action=staff.update&resourceId=${nok.id}`)).data[0];
    expect(disabled).toMatchObject({ actor: { type: 'api_key' }, before: { disabledAt: null } });
    expect(escaped).toEqual([]);
  });

  it('the sign-in page speaks Thai, says a wrong password in Thai, and fits a phone', async () => {
    expect((await page.goto(`${gym.api}/staff/sign-in?lang=th`))?.status()).toBe(200);
    await expect(page.locator('html').getAttribute('lang')).resolves.toBe('th');
    await expect(page.locator('h1').textContent()).resolves.toBe('เข้าสู่ระบบสำหรับพนักงาน');
    await page.getByLabel('อีเมล').fill('nobody@example.com');
    await page.getByLabel('รหัสผ่าน', { exact: true }).fill('not the password');
    await page.getByRole('button', { name: 'เข้าสู่ระบบ', exact: true }).click();
    await expect(page.getByRole('alert').textContent()).resolves.toBe('อีเมลหรือรหัสผ่านไม่ถูกต้อง');
    await checkAtPhoneAndDesktop(page);
    // The choice holds on the next page without ?lang.
    await page.goto(`${gym.api}/staff/invitation?token=ggi_unknown`);
    await expect(page.getByRole('alert').textContent()).resolves.toBe('ไม่พบลิงก์คำเชิญนี้ โปรดขอคำเชิญใหม่จากยิม');
    await checkAtPhoneAndDesktop(page);
    expect(escaped).toEqual([]);
  });
});
