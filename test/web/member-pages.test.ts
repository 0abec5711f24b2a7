// A member signs in by emailed link in Chromium against the Worker under `wrangler dev`: asks for
// the link on the sign-in page, opens it from the dev mailbox, presses the button and sees the
// invoices they pay and no one else's; the link is used up; Thai and English, phone and desktop,
// axe-core on every page.
import type { Page } from 'playwright-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { waitUntil } from '../../edge/dev/processes.ts';
import { TestGym } from '../e2e/gym.ts';
import { checkAtPhoneAndDesktop, gymInBrowser, invoiceOf, simulatedCard } from './support.ts';



/** A member with a working test card, billed for a month today. */
async function billedMember(gym: TestGym, planId: string, name: string, email: string) {
  const member = await gym.call<{ id: string }>('POST', '/v1/members', { name, email });
  const setup = await gym.call<{ setup: { id: string } }>('POST', `/v1/members/${member.id}/payment-method/setup`, { returnUrl: `${gym.api}/card-saved` });
  await simulatedCard(gym, 'pm_card_visa')(member.id, setup.setup.id);
  await gym.call('POST', '/v1/subscriptions', { payerId: member.id, planId, startDate: new Date().toISOString().slice(0, 10) });
  return member.id;
}

/** The sign-in link in the dev mailbox's latest email to `email`. */
async function signInLink(gym: TestGym, email: string) {
  let link = '';
  await waitUntil(
    async () => {
      await fetch(`${gym.api}/cdn-cgi/handler/scheduled?cron=${encodeURIComponent('*/5 * * * *')}`);
      const html = await (await fetch(`${gym.api}/dev/mailbox`)).text();
      const article = html.split('<article').find((a) => a.includes(`<strong class="to">${email}</strong>`) && a.includes('/me/sign-in?token='));
      link = /https?:\/\/[^\s<"]+\/me\/sign-in\?token=ggm_[0-9a-z]+/.exec(article ?? '')?.[0] ?? '';
      return link !== '';
    },
    `a sign-in email to ${email}`,
    30_000,
    250,
  );
  return link;
}

describe('member pages in Chromium', () => {
  const s = gymInBrowser();
  let gym: TestGym;
  let escaped: string[];
  let page: Page;
  beforeAll(() => {
    ({ gym, escaped, page } = s);
  });

  it('a member signs in by emailed link and sees only the invoices they pay', async () => {
    const plan = await gym.call<{ id: string }>('POST', '/v1/plans', { name: 'Monthly', currency: 'THB', price: 199_000, interval: 'monthly' });
    const somchai = await billedMember(gym, plan.id, 'Somchai P.', 'somchai@example.com');
    const anan = await billedMember(gym, plan.id, 'Anan W.', 'anan@example.com');
    await fetch(`${gym.api}/cdn-cgi/handler/scheduled?cron=${encodeURIComponent('17 3 * * *')}`);
    let mine: Awaited<ReturnType<typeof invoiceOf>>;
    let theirs: Awaited<ReturnType<typeof invoiceOf>>;
    await waitUntil(async () => Boolean((mine = await invoiceOf(gym, somchai)) && (theirs = await invoiceOf(gym, anan))), 'both first invoices', 30_000, 250);
    const org = await gym.call<{ id: string }>('GET', '/v1/organisation');

    // Ask for a link on the sign-in page.
    expect((await page.goto(`${gym.api}/me/sign-in?gym=${org.id}`))?.status()).toBe(200);
    await checkAtPhoneAndDesktop(page);
    await page.getByLabel('Email').fill('somchai@example.com');
    await page.getByRole('button', { name: 'Email me a sign-in link' }).click();
    await expect(page.getByRole('status').textContent()).resolves.toContain('a sign-in link is on its way');
    const link = await signInLink(gym, 'somchai@example.com');

    // Opening the link does not use it: the button does.
    expect((await page.goto(link))?.status()).toBe(200);
    await checkAtPhoneAndDesktop(page);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL(/\/me$/);
    await expect(page.locator('.who').textContent()).resolves.toBe('Signed in as Somchai P.');
    const rows = page.locator('tr.invoice');
    await expect(rows.count()).resolves.toBe(1);
    await expect(rows.first().getAttribute('data-id')).resolves.toBe(mine!.id);
    await expect(page.locator(`tr.invoice[data-id="${theirs!.id}"]`).count()).resolves.toBe(0);
    await expect(rows.first().textContent()).resolves.toContain(mine!.number);
    await checkAtPhoneAndDesktop(page);
    // In Thai.
    await page.goto(`${gym.api}/me?lang=th`);
    await expect(page.locator('h1').textContent()).resolves.toMatch(/ใบแจ้งหนี้ของคุณ$/);
    await checkAtPhoneAndDesktop(page);
    await page.goto(`${gym.api}/me?lang=en`);

    // The member session is not a staff session: the owner API refuses it.
    const staffApi = await page.request.get(`${gym.api}/v1/members`);
    expect(staffApi.status()).toBe(401);

    // The link is used up; signing out ends the session.
    await page.goto(link);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await expect(page.getByRole('alert').textContent()).resolves.toBe('This sign-in link was already used. Ask for a new one.');
    await page.goto(`${gym.api}/me`);
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.waitForURL(/\/me\/sign-in$/);
    await page.goto(`${gym.api}/me`);
    await page.waitForURL(/\/me\/sign-in$/);
    expect(escaped).toEqual([]);
  });
});
