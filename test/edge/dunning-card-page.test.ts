// The update-card page of card notices (/card/{token}): the links the update_card notice and the
// card-expiry reminder carry, saving a card through them (simulated test cards, and Stripe's
// SetupIntent with the Payment Element in setup mode), the immediate retry it brings, and links
// that are expired, used, unknown or another member's.
import { env } from 'cloudflare:test';
import { drizzle } from 'drizzle-orm/d1';
import { describe, expect, it } from 'vitest';
import * as schema from '../../edge/db/schema.ts';
import { createCardLink } from '../../edge/dunning/card-links.ts';
import { createPayLink } from '../../edge/dunning/pay-links.ts';
import { enqueueReminders } from '../../edge/dunning/reminders.ts';
import type { Env } from '../../edge/env.ts';
import { billingGym, bkk, invoicesOf, memberOf, run, saveSimulatedCard, setClock, SIMULATED, subscribe, useBillingClock, type BillingGym } from './billing-helpers.ts';
import { gym, requestPage } from './helpers.ts';
import { fakeControl, fakeEvents, fakeRequests } from './stripe-fake/harness.ts';
import { deliver, saveStripeCard, stripeEnv } from './stripe-billing-helpers.ts';

useBillingClock();

const PUBLIC = 'https://members.gym.example';
const db = () => drizzle(env.DB, { schema });
/** The page, with money's no-break spaces as plain ones. */
const page = async (g: BillingGym, method: 'GET' | 'POST', path: string, form?: Record<string, string>) => {
  const res = await requestPage(method, path, { ...(form ? { form } : {}), env: g.env });
  return { ...res, body: res.body.replace(/\u00a0/g, ' ') };
};
const h1 = (html: string) => html.match(/<h1>([^<]*)<\/h1>/)?.[1];

/** The links of a member's notices of one template (email copies), oldest first. */
async function noticeLinks(memberId: string, template: string, field: 'updateCardUrl' | 'payUrl' = 'updateCardUrl') {
  const rows = await env.DB.prepare(`SELECT payload FROM notification_messages WHERE member_id = ? AND template = ? AND channel = 'email' ORDER BY created_at`)
    .bind(memberId, template)
    .all<{ payload: string }>();
  return rows.results.map((r) => JSON.parse(r.payload)[field] as string | null);
}

const cardOf = async (g: BillingGym, memberId: string) => (await g.api('GET', `/v1/members/${memberId}/billing`)).body.paymentMethod;
const paymentsOf = async (g: BillingGym, invoiceId: string) => (await g.api('GET', `/v1/payments?invoiceId=${invoiceId}`)).body.data as any[];

/** A member whose renewal on 2030-02-15 is refused with a hard decline (lost card): suspended at once, asked to update the card. */
async function hardDeclined(g: BillingGym) {
  expect((await g.api('PUT', '/v1/dunning/policy', { policy: { graceDays: 0 } })).status).toBe(200);
  await saveSimulatedCard(g, g.member.id);
  await subscribe(g);
  await saveSimulatedCard(g, g.member.id, 'pm_card_chargeDeclinedLostCard');
  await run(g, bkk('2030-02-15'));
  const invoice = (await invoicesOf(g, g.member.id))[1];
  expect(invoice).toMatchObject({ status: 'open', amountRemaining: 199_000 });
  expect(await memberOf(g, g.member.id)).toMatchObject({ status: 'suspended', suspension: 'payment_overdue' });
  return invoice;
}

describe('the update-card page with the simulated processor', () => {
  it('the update_card notice links to it; saving a working card retries at once: paid, restored, the link used up', async () => {
    const g = await billingGym({}, { ...SIMULATED, PUBLIC_BASE_URL: `${PUBLIC}/` });
    const invoice = await hardDeclined(g);
    const [url] = await noticeLinks(g.member.id, 'update_card');
    expect(url).toMatch(new RegExp(`^${PUBLIC}/card/[0-9a-f]{64}$`));
    const path = new URL(url!).pathname;

    const shown = await page(g, 'GET', path);
    expect(shown.status).toBe(200);
    expect(shown.contentType).toMatch(/^text\/html/);
    expect(h1(shown.body)).toBe('Update your card for Test Gym');
    expect(shown.body).toContain('Card on file: Visa ending 9987.');
    expect(shown.body).toContain('Simulation.');
    expect(shown.body).toContain(`action="${path}/simulate"`);
    expect(shown.body).toContain('value="pm_card_visa">Visa ending 4242: payment succeeds</button>');
    // Opening the page changes nothing.
    expect(await paymentsOf(g, invoice.id)).toHaveLength(1);

    setClock(bkk('2030-02-15', '12:00'));
    const saved = await page(g, 'POST', `${path}/simulate`, { card: 'pm_card_visa' });
    expect(saved.status, saved.body).toBe(200);
    expect(h1(saved.body)).toBe('Card saved');
    expect(saved.body).toContain('Your Visa ending 4242 is saved');
    expect(saved.body).toContain(`Invoice ${invoice.number} (THB 1,990.00) is paid with this card.`);

    expect(await cardOf(g, g.member.id)).toMatchObject({ last4: '4242' });
    expect((await g.api('GET', `/v1/invoices/${invoice.id}`)).body).toMatchObject({ status: 'paid', amountRemaining: 0 });
    expect((await paymentsOf(g, invoice.id)).map((p) => [p.attempt, p.status]).sort()).toEqual([
      [1, 'failed'],
      [2, 'succeeded'],
    ]);
    expect(await memberOf(g, g.member.id)).toMatchObject({ status: 'active', suspension: null });
    expect((await g.api('GET', `/v1/members/${g.member.id}/dunning`)).body.state).toMatchObject({ phase: 'idle', suspended: false });

    // Used: a clear page, and a second submit saves nothing.
    const again = await page(g, 'GET', path);
    expect([again.status, h1(again.body)]).toEqual([410, 'Link already used']);
    const twice = await page(g, 'POST', `${path}/simulate`, { card: 'pm_card_mastercard' });
    expect([twice.status, h1(twice.body)]).toEqual([410, 'Link already used']);
    expect(await cardOf(g, g.member.id)).toMatchObject({ last4: '4242' });
    expect(await paymentsOf(g, invoice.id)).toHaveLength(2);
  });

  it('a card that is declined too is saved, and the page says the invoice is still open', async () => {
    const g = await billingGym({}, { ...SIMULATED, PUBLIC_BASE_URL: PUBLIC });
    const invoice = await hardDeclined(g);
    const path = new URL((await noticeLinks(g.member.id, 'update_card'))[0]!).pathname;
    const saved = await page(g, 'POST', `${path}/simulate`, { card: 'pm_card_chargeDeclinedInsufficientFunds' });
    expect(saved.status).toBe(200);
    expect(saved.body).toContain(`Invoice ${invoice.number} (THB 1,990.00) is still open: Your card has insufficient funds.`);
    expect((await g.api('GET', `/v1/invoices/${invoice.id}`)).body).toMatchObject({ status: 'open' });
    expect(await memberOf(g, g.member.id)).toMatchObject({ status: 'suspended' });
    // Not a test card: refused, nothing changes.
    const other = await createCardLink(db(), { organisationId: g.organisationId, memberId: g.member.id }, Date.now());
    const bad = await page(g, 'POST', `/card/${other}/simulate`, { card: 'pm_card_madeUp' });
    expect([bad.status, h1(bad.body)]).toEqual([400, 'Unknown card']);
    expect(await cardOf(g, g.member.id)).toMatchObject({ last4: '9995' });
  });

  it('expired, unknown and foreign links show a clear page and change nothing', async () => {
    const g = await billingGym({}, { ...SIMULATED, PUBLIC_BASE_URL: PUBLIC });
    const invoice = await hardDeclined(g);
    const card = await cardOf(g, g.member.id);
    const before = await paymentsOf(g, invoice.id);

    // Expired (links live thirty days).
    const expired = await createCardLink(db(), { organisationId: g.organisationId, memberId: g.member.id }, Date.now() - 31 * 86_400_000);
    const stale = await page(g, 'GET', `/card/${expired}`);
    expect([stale.status, h1(stale.body)]).toEqual([410, 'Link expired']);
    expect(stale.body).toContain('Your card was not changed.');
    expect((await page(g, 'POST', `/card/${expired}/simulate`, { card: 'pm_card_visa' })).status).toBe(410);

    // Unknown: a token nobody was sent, something that is not a token, a pay-now link's token.
    const payToken = await createPayLink(db(), { organisationId: g.organisationId, memberId: g.member.id, invoiceId: invoice.id }, Date.now());
    for (const token of ['0'.repeat(64), 'not-a-token', payToken]) {
      const res = await page(g, 'GET', `/card/${token}`);
      expect([res.status, h1(res.body)]).toEqual([404, 'Link not valid']);
      expect((await page(g, 'POST', `/card/${token}/simulate`, { card: 'pm_card_visa' })).status).toBe(404);
    }

    // Foreign: a link naming a member of another gym.
    const other = await gym();
    const foreign = await createCardLink(db(), { organisationId: g.organisationId, memberId: other.member.id }, Date.now());
    expect((await page(g, 'GET', `/card/${foreign}`)).status).toBe(404);
    const posted = await page(g, 'POST', `/card/${foreign}/simulate`, { card: 'pm_card_visa' });
    expect([posted.status, h1(posted.body)]).toEqual([404, 'Link not valid']);

    expect(await cardOf(g, g.member.id)).toEqual(card);
    expect(await paymentsOf(g, invoice.id)).toEqual(before);
    const otherCard = await env.DB.prepare('SELECT count(*) AS n FROM billing_customers WHERE member_id = ?').bind(other.member.id).first<{ n: number }>();
    expect(otherCard?.n).toBe(0);
  });
});

describe('card links in notices', () => {
  it('the card-expiry reminder links to the update-card page, which answers 200; the gym’s own payLinkBase comes first', async () => {
    const g = await billingGym();
    await saveSimulatedCard(g, g.member.id);
    await env.DB.prepare('UPDATE billing_customers SET card_last4 = ?, card_exp_month = 2, card_exp_year = 2030 WHERE member_id = ?').bind('4242', g.member.id).run();
    setClock(bkk('2030-02-10'));
    expect(await enqueueReminders(db(), bkk('2030-02-10'), PUBLIC)).toEqual({ renewals: 0, cards: 1 });
    const [url] = await noticeLinks(g.member.id, 'card_expiring');
    expect(url).toMatch(new RegExp(`^${PUBLIC}/card/[0-9a-f]{64}$`));
    const res = await page(g, 'GET', new URL(url!).pathname);
    expect(res.status).toBe(200);
    expect(h1(res.body)).toBe('Update your card for Test Gym');
    // The daily run meets the card again: no second notice, no second link.
    expect(await enqueueReminders(db(), bkk('2030-02-11'), PUBLIC)).toEqual({ renewals: 0, cards: 0 });
    const links = await env.DB.prepare('SELECT count(*) AS n FROM card_update_links WHERE member_id = ?').bind(g.member.id).first<{ n: number }>();
    expect(links?.n).toBe(1);

    // The organisation's payLinkBase wins over the Worker's address.
    const own = await billingGym();
    await own.api('PUT', '/v1/dunning/policy', { policy: {}, payLinkBase: 'https://pay.own-gym.example' });
    await saveSimulatedCard(own, own.member.id);
    await env.DB.prepare('UPDATE billing_customers SET card_last4 = ?, card_exp_month = 2, card_exp_year = 2030 WHERE member_id = ?').bind('4242', own.member.id).run();
    await enqueueReminders(db(), bkk('2030-02-12'), PUBLIC);
    expect((await noticeLinks(own.member.id, 'card_expiring'))[0]).toMatch(/^https:\/\/pay\.own-gym\.example\/card\/[0-9a-f]{64}$/);
  });

  it('with neither a payLinkBase nor PUBLIC_BASE_URL the notices still go out, without a link (never localhost)', async () => {
    // Unset whatever wrangler.toml may give the Worker.
    const g = await billingGym({}, { ...SIMULATED, PUBLIC_BASE_URL: '' });
    await hardDeclined(g);
    expect(await noticeLinks(g.member.id, 'update_card')).toEqual([null]);
    expect(await noticeLinks(g.member.id, 'payment_failed', 'payUrl')).toEqual([]);
    expect(await noticeLinks(g.member.id, 'suspended', 'payUrl')).toEqual([null]);
    await env.DB.prepare('UPDATE billing_customers SET card_last4 = ?, card_exp_month = 3, card_exp_year = 2030 WHERE member_id = ?').bind('9987', g.member.id).run();
    await enqueueReminders(db(), bkk('2030-03-05'), g.env.PUBLIC_BASE_URL);
    expect(await noticeLinks(g.member.id, 'card_expiring')).toEqual([null]);
    const texts = await env.DB.prepare(`SELECT payload FROM notification_messages WHERE member_id = ?`).bind(g.member.id).all<{ payload: string }>();
    expect(texts.results.length).toBeGreaterThanOrEqual(3);
    expect(texts.results.map((r) => r.payload).join('\n')).not.toMatch(/localhost|127\.0\.0\.1/);
    const cardLinks = await env.DB.prepare('SELECT count(*) AS n FROM card_update_links WHERE member_id = ?').bind(g.member.id).first<{ n: number }>();
    expect(cardLinks?.n).toBe(0);
  });
});

describe('the update-card page with Stripe', () => {
  it('mounts the Payment Element in setup mode for the member’s own SetupIntent; the return saves the card, retries at once and uses the link; the webhook then changes nothing', async () => {
    const { key, env: stripe } = stripeEnv('cardpage');
    const g = await billingGym({}, { ...stripe, STRIPE_PUBLISHABLE_KEY: 'pk_test_cardpage', PUBLIC_BASE_URL: PUBLIC });
    expect((await g.api('PUT', '/v1/dunning/policy', { policy: { graceDays: 0 } })).status).toBe(200);
    await saveStripeCard(g, key, g.member.id, 'pm_card_visa');
    await subscribe(g);
    await saveStripeCard(g, key, g.member.id, 'pm_card_chargeDeclinedStolenCard');
    await run(g, bkk('2030-02-15'));
    const invoice = (await invoicesOf(g, g.member.id))[1];
    expect(await memberOf(g, g.member.id)).toMatchObject({ status: 'suspended' });
    const path = new URL((await noticeLinks(g.member.id, 'update_card'))[0]!).pathname;

    const shown = await page(g, 'GET', path);
    expect(shown.status, shown.body).toBe(200);
    const setupId = shown.body.match(/data-setup-intent="(seti_[^"]+)"/)?.[1];
    expect(setupId).toBeDefined();
    expect(shown.body).toMatch(/data-client-secret="seti_[^"]+_secret_[^"]+"/);
    expect(shown.body).toContain('data-publishable-key="pk_test_cardpage"');
    expect(shown.body).toContain(`data-return-url="http://localhost${path}/done"`);
    expect(shown.body).toContain('stripe.confirmSetup(');
    expect(shown.headers.get('content-security-policy')).toMatch(/script-src 'nonce-[^']+' https:\/\/js\.stripe\.com/);
    // Opening the page again shows the same setup.
    expect((await page(g, 'GET', path)).body).toContain(`data-setup-intent="${setupId}"`);
    const setups = (await fakeRequests(key)).filter((r) => r.method === 'POST' && r.path === '/v1/setup_intents' && !r.replayed);
    expect(setups.filter((r) => String(r.idempotencyKey).startsWith('gymgate-card-link-'))).toHaveLength(1);

    // Another member's SetupIntent on this link's return page: nothing is saved.
    const stranger = (await g.api('POST', '/v1/members', { name: 'Nok C.', email: 'nok@example.com' })).body;
    const theirs = await g.api('POST', `/v1/members/${stranger.id}/payment-method/setup`, { returnUrl: 'https://gym.example/card-saved' });
    await fakeControl(key, 'POST', `/setup_intents/${theirs.body.setup.id}/succeed`, { payment_method: 'pm_card_visa' });
    const foreign = await page(g, 'GET', `${path}/done?setup_intent=${theirs.body.setup.id}`);
    expect([foreign.status, h1(foreign.body)]).toEqual([404, 'Link not valid']);
    expect(await cardOf(g, g.member.id)).toMatchObject({ last4: '9979' });
    expect(await cardOf(g, stranger.id)).toMatchObject({ paymentMethodId: null });

    // The member confirms the setup in Stripe.js; Stripe sends them to the return URL.
    setClock(bkk('2030-02-15', '12:00'));
    await fakeControl(key, 'POST', `/setup_intents/${setupId}/succeed`, { payment_method: 'pm_card_mastercard' });
    const done = await page(g, 'GET', `${path}/done?setup_intent=${setupId}&setup_intent_client_secret=x&redirect_status=succeeded`);
    expect(done.status, done.body).toBe(200);
    expect(h1(done.body)).toBe('Card saved');
    expect(done.body).toContain('Your Mastercard ending 4444 is saved');
    expect(done.body).toContain(`Invoice ${invoice.number} (THB 1,990.00) is paid with this card.`);
    expect((await g.api('GET', `/v1/invoices/${invoice.id}`)).body).toMatchObject({ status: 'paid' });
    expect(await memberOf(g, g.member.id)).toMatchObject({ status: 'active', suspension: null });
    expect((await page(g, 'GET', path)).status).toBe(410);

    // Stripe's setup_intent.succeeded for the same setup: the card is already saved, no second charge.
    const event = (await fakeEvents(key)).filter((e) => e.type === 'setup_intent.succeeded' && e.data.object.id === setupId).at(-1);
    expect((await deliver(g, event)).outcome).toBe('card_saved');
    const charges = (await fakeRequests(key)).filter((r) => r.method === 'POST' && r.path === '/v1/payment_intents' && !r.replayed && String(r.idempotencyKey).startsWith(invoice.id));
    expect(charges.map((r) => r.idempotencyKey)).toEqual([`${invoice.id}:attempt:1`, `${invoice.id}:attempt:2`]);
  });

  it('without a publishable key the page says online card update is not available and starts nothing', async () => {
    const { key, env: stripe } = stripeEnv('cardpagenokey');
    const g = await billingGym({}, { ...stripe, STRIPE_PUBLISHABLE_KEY: '' } as Partial<Env>);
    const token = await createCardLink(db(), { organisationId: g.organisationId, memberId: g.member.id }, Date.now());
    const res = await page(g, 'GET', `/card/${token}`);
    expect([res.status, h1(res.body)]).toEqual([503, 'Card update not available']);
    expect((await fakeRequests(key)).filter((r) => r.path === '/v1/setup_intents')).toEqual([]);
  });
});
