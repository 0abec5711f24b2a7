// Browser tests of gymgate's web pages: Debian's Chromium driven by playwright-core against the real
// Worker under `wrangler dev` with a fresh local D1 (the e2e TestGym). The browser only reaches
// loopback: every other request is answered by a test route or aborted and recorded.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { chromium, type Browser, type BrowserContext, type Page, type Route } from 'playwright-core';
import { afterAll, beforeAll, expect } from 'vitest';
import { BIN, run, waitUntil } from '../../edge/dev/processes.ts';
import { TestGym } from '../e2e/gym.ts';

export const CHROMIUM = process.env.CHROMIUM_BIN ?? '/usr/bin/chromium';

export function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update'] });
}

const AXE_SOURCE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

/**
 * axe-core's WCAG 2 A and AA rules on the page as it stands: each violation as "rule: target…".
 * Evaluated through the DevTools protocol, so the pages' own CSP (no scripts) does not stop it.
 */
export async function axeViolations(page: Page): Promise<string[]> {
  await page.evaluate(AXE_SOURCE);
  const options = { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] } };
  // A string, run in the page: the test's own TypeScript has no DOM.
  return page.evaluate<string[]>(
    `axe.run(document, ${JSON.stringify(options)}).then((r) => r.violations.map((v) => v.id + ': ' + v.nodes.map((n) => n.target.join(' ')).join(', ')))`,
  );
}

/** Whether the page fits its viewport's width (nothing to scroll sideways on a phone). */
export const fitsWidth = (page: Page) => page.evaluate<boolean>('document.documentElement.scrollWidth <= window.innerWidth');

export type OffHost = (route: Route) => Promise<boolean>;

/**
 * A browser context whose requests stay on this machine: loopback goes through, `offHost` may
 * answer others (a fake Stripe.js), and whatever it leaves is aborted and listed in `escaped`.
 */
export async function loopbackContext(browser: Browser, offHost: OffHost = async () => false): Promise<{ context: BrowserContext; escaped: string[] }> {
  const context = await browser.newContext();
  const escaped: string[] = [];
  await context.route('**/*', async (route) => {
    const url = new URL(route.request().url());
    if (url.hostname === '127.0.0.1' || url.hostname === 'localhost') return route.continue();
    if (await offHost(route)) return;
    escaped.push(url.toString());
    await route.abort('blockedbyclient');
  });
  return { context, escaped };
}

/** A gym for the pay-now page: suspension at the first failed charge, pay links to this Worker. */
export async function startPayGym(vars: Record<string, string>) {
  const gym = new TestGym('embedded', { DEV_MAILBOX: 'on', ...vars });
  await gym.start();
  await gym.call('PUT', '/v1/dunning/policy', { policy: { graceDays: 0 }, payLinkBase: gym.api });
  const vat = { name: 'VAT 7%', basisPoints: 700, mode: 'inclusive' };
  const plan = await gym.call('POST', '/v1/plans', { name: 'Monthly', currency: 'THB', price: 199_000, interval: 'monthly', taxRate: vat });
  return { gym, planId: plan.id as string };
}

/**
 * For a describe block: a gym on the simulated processor (startPayGym) and a loopback Chromium
 * page, started before its tests and stopped after. Read the fields inside the tests.
 */
export function simulatedPageSession() {
  const s = { gym: null as unknown as TestGym, planId: '', browser: null as unknown as Browser, context: null as unknown as BrowserContext, escaped: [] as string[], page: null as unknown as Page };
  beforeAll(async () => {
    [{ gym: s.gym, planId: s.planId }, s.browser] = await Promise.all([startPayGym({ PAYMENT_PROVIDER: 'simulated' }), launchChromium()]);
    ({ context: s.context, escaped: s.escaped } = await loopbackContext(s.browser));
    s.page = await s.context.newPage();
  });
  afterAll(async () => {
    await s.browser?.close();
    await s.gym?.stop();
  });
  return s;
}

export type Invoice = { id: string; number: string; status: string; amountRemaining: number };
export type Member = { id: string; status: string; suspension: string | null };

export const invoiceOf = async (gym: TestGym, memberId: string) => (await gym.call<{ data: Invoice[] }>('GET', `/v1/invoices?payerId=${memberId}`)).data[0];
export const memberOf = (gym: TestGym, memberId: string) => gym.call<Member>('GET', `/v1/members/${memberId}`);
export type Card = { provider: string; paymentMethodId: string | null; brand: string | null; last4: string | null };
/** The card billing charges the member off-session. */
export const cardOf = async (gym: TestGym, memberId: string) => (await gym.call<{ paymentMethod: Card | null }>('GET', `/v1/members/${memberId}/billing`)).paymentMethod;
export const paymentsOf = async (gym: TestGym, invoiceId: string) =>
  (await gym.call<{ data: Array<{ method: string; status: string; attempt: number }> }>('GET', `/v1/payments?invoiceId=${invoiceId}`)).data;

/** Pay-now links (or, with kind 'card', update-card links) in the notices the dev mailbox holds for `email`, oldest first. */
export async function mailboxPayLinks(gym: TestGym, email: string, kind: 'pay' | 'card' = 'pay'): Promise<string[]> {
  const html = await (await fetch(`${gym.api}/dev/mailbox`)).text();
  const links: string[] = [];
  for (const article of html.split('<article').slice(1)) {
    if (!article.includes(`<strong class="to">${email}</strong>`)) continue;
    const body = article.slice(article.indexOf('<pre class="body">'), article.indexOf('</pre>'));
    for (const m of body.matchAll(new RegExp(`https?://[^\\s<]+/${kind}/[0-9a-f]{64}`, 'g'))) if (!links.includes(m[0])) links.push(m[0]);
  }
  return links.reverse();
}

/** The update-card link of the first card notice the dev mailbox holds for `email`, once there is one. */
export async function mailboxCardLink(gym: TestGym, email: string): Promise<string> {
  let links: string[] = [];
  await waitUntil(async () => (links = await mailboxPayLinks(gym, email, 'card')).length > 0, `an update-card notice for ${email}`, 30_000, 250);
  return links[0]!;
}

/** Completes a member's card setup the way the processor would, with a test card. */
export type SaveCard = (memberId: string, setupId: string) => Promise<void>;

export const simulatedCard =
  (gym: TestGym, paymentMethodId: string): SaveCard =>
  async (memberId, setupId) => {
    await gym.call('POST', `/v1/members/${memberId}/payment-method/simulated-completion`, { setupId, paymentMethodId });
  };

/**
 * A member whose first renewal charge is declined (the card `saveCard` saves): the daily run
 * invoices and charges, dunning suspends and sends its notices with pay links to the dev mailbox.
 */
export async function memberInDunning(gym: TestGym, planId: string, name: string, email: string, saveCard: SaveCard, fields: Record<string, unknown> = {}) {
  const member = await gym.call<{ id: string }>('POST', '/v1/members', { name, email, ...fields });
  const setup = await gym.call<{ setup: { id: string } }>('POST', `/v1/members/${member.id}/payment-method/setup`, { returnUrl: `${gym.api}/card-saved` });
  await saveCard(member.id, setup.setup.id);
  // Today's UTC date is due whatever the organisation's time zone.
  await gym.call('POST', '/v1/subscriptions', { payerId: member.id, planId, startDate: new Date().toISOString().slice(0, 10) });
  await fetch(`${gym.api}/cdn-cgi/handler/scheduled?cron=${encodeURIComponent('17 3 * * *')}`);
  let links: string[] = [];
  await waitUntil(
    async () => {
      // The frequent run delivers notices to the dev mailbox.
      await fetch(`${gym.api}/cdn-cgi/handler/scheduled?cron=${encodeURIComponent('*/5 * * * *')}`);
      links = await mailboxPayLinks(gym, email);
      return links.length > 0;
    },
    `a dunning notice with a pay link for ${email}`,
    30_000,
    250,
  );
  const invoice = await invoiceOf(gym, member.id);
  if (!invoice) throw new Error(`no invoice for ${name}`);
  return { memberId: member.id, invoice, links };
}

/** Moves a link's expiry into the past, as if its fourteen days had gone by. */
export async function expireLink(gym: TestGym, url: string): Promise<void> {
  const token = new URL(url).pathname.split('/').pop()!;
  const hash = createHash('sha256').update(token).digest('hex');
  const args = ['d1', 'execute', 'gymgate', '--local', '--persist-to', gym.persistDir, '--command', `UPDATE dunning_pay_links SET expires_at = 1 WHERE token_hash = '${hash}'`];
  // The running `wrangler dev` holds the same local database: a write from a second process can
  // meet it busy and fail; it goes through on a later try.
  for (let attempt = 1; ; attempt++) {
    try {
      await run(BIN('wrangler'), args);
      return;
    } catch (error) {
      if (attempt >= 5) throw error;
      await new Promise((resolve) => setTimeout(resolve, 500 * attempt));
    }
  }
}

const PHONE_SIZE = { width: 360, height: 740 };
const DESKTOP_SIZE = { width: 1280, height: 800 };

/** The page fits a phone's width and a desktop's, and passes axe-core at both. */
export async function checkAtPhoneAndDesktop(page: Page) {
  for (const size of [PHONE_SIZE, DESKTOP_SIZE]) {
    await page.setViewportSize(size);
    expect(await fitsWidth(page), `${page.url()} at ${size.width}px`).toBe(true);
    expect(await axeViolations(page), `${page.url()} at ${size.width}px`).toEqual([]);
  }
}

/**
 * For a describe block: a gym (simulated processor, dev mailbox) and a loopback Chromium page,
 * started before its tests and stopped after. Read the fields inside the tests.
 */
export function gymInBrowser() {
  const s = { gym: null as unknown as TestGym, browser: null as unknown as Browser, escaped: [] as string[], page: null as unknown as Page };
  beforeAll(async () => {
    s.gym = new TestGym('embedded', { DEV_MAILBOX: 'on', PAYMENT_PROVIDER: 'simulated' });
    [, s.browser] = await Promise.all([s.gym.start(), launchChromium()]);
    const { context, escaped } = await loopbackContext(s.browser);
    s.escaped = escaped;
    s.page = await context.newPage();
  });
  afterAll(async () => {
    await s.browser?.close();
    await s.gym?.stop();
  });
  return s;
}

/**
 * The API with the browser's session cookie, as the staff web app calls it: the CSRF token from
 * the session. (Through the context's request client, which shares the browser's cookies: the
 * pages' CSP lets no script of theirs call out.)
 */
export async function sessionApi(page: Page, method: string, path: string, body?: unknown): Promise<{ status: number; body: any }> {
  const base = new URL(page.url()).origin;
  const session = await page.request.get(`${base}/v1/auth/session`);
  const csrf = session.ok() ? ((await session.json()) as { csrfToken: string }).csrfToken : '';
  const res = await page.request.fetch(`${base}${path}`, { method, headers: { 'content-type': 'application/json', 'x-csrf-token': csrf }, ...(body === undefined ? {} : { data: JSON.stringify(body) }) });
  return { status: res.status(), body: await res.json() };
}
