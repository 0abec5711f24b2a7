// The pay-now page with Stripe, in Chromium: the Worker's Stripe adapter talks to a loopback fake of
// Stripe's API, and a fake Stripe.js stands in for js.stripe.com (see ./stripe-browser.ts).
import { describe, expect, it } from 'vitest';
import { PUBLISHABLE_KEY, stripePageSession, WEBHOOK_SECRET } from './stripe-browser.ts';
import { invoiceOf, loopbackContext, memberInDunning, memberOf } from './support.ts';

describe('the pay-now page with Stripe', () => {
  const s = stripePageSession();

  it('mounts the Payment Element with the intent’s client secret; a decline stays on the page; a success shows the outcome on return', async () => {
    const m = await memberInDunning(s.gym, s.planId, 'Arthit K.', 'arthit@example.com', s.stripe.saveCard(s.gym.api, WEBHOOK_SECRET, 'pm_card_chargeDeclinedInsufficientFunds'));
    expect(await memberOf(s.gym, m.memberId)).toMatchObject({ status: 'suspended', suspension: 'payment_overdue' });
    const { context, escaped } = await loopbackContext(s.browser, s.stripe.route);
    const page = await context.newPage();
    await page.goto(m.links[0]!);
    const [response] = await Promise.all([page.waitForResponse((r) => r.request().method() === 'POST'), page.getByRole('button', { name: 'Pay by card' }).click()]);
    const csp = (await response.headerValue('content-security-policy')) ?? '';
    expect(csp).toMatch(/script-src 'nonce-[^']+' https:\/\/js\.stripe\.com;/);
    expect(csp).toContain("default-src 'none'");

    await page.locator('#payment-element[data-mounted="payment"]').waitFor({ timeout: 15_000 });
    const intentId = (await page.locator('#payment').getAttribute('data-payment-intent'))!;
    const intent = await s.stripe.intent(intentId);
    expect(intent).toMatchObject({ status: 'requires_payment_method', amount: 199_000, currency: 'thb', payment_method_types: ['card'] });
    expect(intent.metadata).toMatchObject({ gymgate_invoice_id: m.invoice.id });
    await expect(page.locator('#payment-element').getAttribute('data-client-secret')).resolves.toBe(intent.client_secret);
    await expect(page.evaluate('window.__fakeStripe.publishableKey')).resolves.toBe(PUBLISHABLE_KEY);

    // Declined: Stripe.js answers with an error, the member stays and tries again.
    await page.locator('select[name=test-card]').selectOption('pm_card_chargeDeclinedInsufficientFunds');
    await page.getByRole('button', { name: /^Pay / }).click();
    await page.locator('#pay-error', { hasText: 'Your card has insufficient funds.' }).waitFor({ timeout: 15_000 });
    expect(page.url()).toBe(m.links[0]);
    expect(await invoiceOf(s.gym, m.memberId)).toMatchObject({ status: 'open' });

    await page.locator('select[name=test-card]').selectOption('pm_card_visa');
    await page.getByRole('button', { name: /^Pay / }).click();
    await page.waitForURL(/\/done\?/, { timeout: 15_000 });
    expect(new URL(page.url()).searchParams.get('payment_intent')).toBe(intentId);
    await expect(page.locator('h1').textContent()).resolves.toBe('Payment received');
    await expect(page.locator('.outcome').getAttribute('data-status')).resolves.toBe('succeeded');
    expect(s.stripe.confirms.map((c) => [c.intent, c.paymentMethod, c.publishableKey])).toEqual([
      [intentId, 'pm_card_chargeDeclinedInsufficientFunds', PUBLISHABLE_KEY],
      [intentId, 'pm_card_visa', PUBLISHABLE_KEY],
    ]);
    expect(await invoiceOf(s.gym, m.memberId)).toMatchObject({ status: 'paid', amountRemaining: 0 });
    expect(await memberOf(s.gym, m.memberId)).toMatchObject({ status: 'active', suspension: null });
    expect(escaped).toEqual([]);
    await context.close();
  });

  it('PromptPay mounts the element for a PromptPay intent, and opening the link again brings back the same intent', async () => {
    const m = await memberInDunning(s.gym, s.planId, 'Ploy W.', 'ploy@example.com', s.stripe.saveCard(s.gym.api, WEBHOOK_SECRET, 'pm_card_chargeDeclined'));
    const { context, escaped } = await loopbackContext(s.browser, s.stripe.route);
    const page = await context.newPage();
    await page.goto(m.links[0]!);
    await page.getByRole('button', { name: 'Pay with PromptPay' }).click();
    await page.locator('#payment-element[data-mounted="payment"]').waitFor({ timeout: 15_000 });
    const intentId = (await page.locator('#payment').getAttribute('data-payment-intent'))!;
    const intent = await s.stripe.intent(intentId);
    expect(intent).toMatchObject({ payment_method_types: ['promptpay'], currency: 'thb', amount: 199_000 });
    await expect(page.locator('body').textContent()).resolves.toContain('PromptPay QR code');

    // The tab closed and the link opened again: the same intent, fetched from Stripe, not a new one.
    await page.close();
    const back = await context.newPage();
    await back.goto(m.links[0]!);
    await back.locator('#payment-element[data-mounted="payment"]').waitFor({ timeout: 15_000 });
    await expect(back.locator('#payment').getAttribute('data-payment-intent')).resolves.toBe(intentId);
    await expect(back.locator('#payment-element').getAttribute('data-client-secret')).resolves.toBe(intent.client_secret);
    expect(escaped).toEqual([]);
    await context.close();
  });
});
