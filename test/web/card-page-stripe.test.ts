// The update-card page with Stripe, in Chromium: the Payment Element in setup mode and
// stripe.confirmSetup, with the fake Stripe.js and the loopback Stripe API of ./stripe-browser.ts.
import type { BrowserContext, Page } from 'playwright-core';
import { afterEach, describe, expect, it } from 'vitest';
import { PUBLISHABLE_KEY, stripePageSession, WEBHOOK_SECRET } from './stripe-browser.ts';
import { cardOf, invoiceOf, loopbackContext, mailboxCardLink, memberInDunning, memberOf, paymentsOf } from './support.ts';

describe('the update-card page with Stripe', () => {
  const s = stripePageSession();
  let context: BrowserContext | undefined;
  afterEach(async () => {
    await context?.close();
    context = undefined;
  });

  /** A member whose renewal was hard-declined with `declinedCard`, on the update-card page of their card notice. */
  async function onCardPage(name: string, email: string, declinedCard: string) {
    const m = await memberInDunning(s.gym, s.planId, name, email, s.stripe.saveCard(s.gym.api, WEBHOOK_SECRET, declinedCard));
    expect(await memberOf(s.gym, m.memberId)).toMatchObject({ status: 'suspended', suspension: 'payment_overdue' });
    const link = await mailboxCardLink(s.gym, email);
    const opened = await loopbackContext(s.browser, s.stripe.route);
    context = opened.context;
    const page: Page = await context.newPage();
    const response = await page.goto(link);
    expect(response?.status()).toBe(200);
    expect(await response?.headerValue('content-security-policy')).toMatch(/script-src 'nonce-[^']+' https:\/\/js\.stripe\.com;/);
    await page.locator('#payment-element[data-mounted="payment"]').waitFor({ timeout: 15_000 });
    const setupId = (await page.locator('#payment').getAttribute('data-setup-intent'))!;
    const setup = await s.stripe.setupIntent(setupId);
    expect(setup).toMatchObject({ status: 'requires_payment_method', usage: 'off_session', payment_method: null });
    await expect(page.locator('#payment-element').getAttribute('data-client-secret')).resolves.toBe(setup.client_secret);
    return { ...m, link, page, setupId, clientSecret: setup.client_secret as string, escaped: opened.escaped };
  }

  it('a member whose card was refused as lost confirms a new card: Stripe.js returns to the page that says it is saved, the card is saved once and the invoice is paid at once', async () => {
    const m = await onCardPage('Kanya S.', 'kanya@example.com', 'pm_card_chargeDeclinedLostCard');
    await expect(m.page.locator('h1').textContent()).resolves.toMatch(/^Update your card for /);
    await expect(m.page.locator('.current-card').textContent()).resolves.toContain('ending 9987');

    await m.page.locator('select[name=test-card]').selectOption('pm_card_visa');
    await m.page.getByRole('button', { name: 'Save card' }).click();
    await m.page.waitForURL(/\/done\?/, { timeout: 15_000 });
    const back = new URL(m.page.url());
    expect(back.pathname).toBe(`${new URL(m.link).pathname}/done`);
    expect(Object.fromEntries(back.searchParams)).toEqual({ setup_intent: m.setupId, setup_intent_client_secret: m.clientSecret, redirect_status: 'succeeded' });
    await expect(m.page.locator('h1').textContent()).resolves.toBe('Card saved');
    await expect(m.page.locator('.outcome').textContent()).resolves.toContain('Your Visa ending 4242 is saved');
    const paid = m.page.locator('.invoice[data-status="paid"]');
    await expect(paid.textContent()).resolves.toContain(`Invoice ${m.invoice.number}`);
    await expect(paid.textContent()).resolves.toContain('is paid with this card');

    expect(s.stripe.confirms.filter((c) => c.intent === m.setupId).map((c) => [c.paymentMethod, c.publishableKey])).toEqual([['pm_card_visa', PUBLISHABLE_KEY]]);
    const setup = await s.stripe.setupIntent(m.setupId);
    expect(setup).toMatchObject({ status: 'succeeded', last_setup_error: null });
    expect(await cardOf(s.gym, m.memberId)).toMatchObject({ provider: 'stripe', paymentMethodId: setup.payment_method, brand: 'visa', last4: '4242' });
    expect(await invoiceOf(s.gym, m.memberId)).toMatchObject({ id: m.invoice.id, status: 'paid', amountRemaining: 0 });
    expect(await memberOf(s.gym, m.memberId)).toMatchObject({ status: 'active', suspension: null });

    // Stripe's webhook for the same setup, and the return page reloaded: the card is already saved, nothing is charged again.
    expect((await s.stripe.deliverSetupSucceeded(s.gym.api, WEBHOOK_SECRET, m.setupId)).outcome).toBe('card_saved');
    await m.page.reload();
    await expect(m.page.locator('h1').textContent()).resolves.toBe('Card saved');
    expect((await paymentsOf(s.gym, m.invoice.id)).map((p) => [p.attempt, p.status]).sort()).toEqual([
      [1, 'failed'],
      [2, 'succeeded'],
    ]);

    // The link is used up.
    const again = await m.page.goto(m.link);
    expect(again?.status()).toBe(410);
    await expect(m.page.locator('h1').textContent()).resolves.toBe('Link already used');
    expect(m.escaped).toEqual([]);
  });

  it('a card declined when confirmed shows Stripe’s message on the page and saves nothing; the link opens again on the same setup', async () => {
    const m = await onCardPage('Niran T.', 'niran@example.com', 'pm_card_chargeDeclinedStolenCard');

    await m.page.locator('select[name=test-card]').selectOption('pm_card_chargeDeclined');
    await m.page.getByRole('button', { name: 'Save card' }).click();
    await m.page.locator('#pay-error', { hasText: 'Your card was declined.' }).waitFor({ timeout: 15_000 });
    expect(m.page.url()).toBe(m.link);
    await expect(m.page.getByRole('button', { name: 'Save card' }).isEnabled()).resolves.toBe(true);

    expect(await s.stripe.setupIntent(m.setupId)).toMatchObject({ status: 'requires_payment_method', payment_method: null, last_setup_error: { code: 'card_declined', decline_code: 'generic_decline' } });
    expect(await cardOf(s.gym, m.memberId)).toMatchObject({ last4: '9979' });
    expect(await invoiceOf(s.gym, m.memberId)).toMatchObject({ id: m.invoice.id, status: 'open', amountRemaining: 199_000 });
    expect(await paymentsOf(s.gym, m.invoice.id)).toHaveLength(1);
    expect(await memberOf(s.gym, m.memberId)).toMatchObject({ status: 'suspended', suspension: 'payment_overdue' });

    // Opened again: the same setup, with its last decline; the link was not used up.
    const again = await m.page.goto(m.link);
    expect(again?.status()).toBe(200);
    await expect(m.page.locator('#payment').getAttribute('data-setup-intent')).resolves.toBe(m.setupId);
    await expect(m.page.locator('p.error').first().textContent()).resolves.toContain('Last try: Your card was declined.');
    expect(m.escaped).toEqual([]);
  });
});
