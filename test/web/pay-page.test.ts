// The pay-now page of dunning notices in Chromium, with the simulated processor and the dev mailbox.
import { describe, expect, it } from 'vitest';
import { expireLink, invoiceOf, memberInDunning, memberOf, paymentsOf, simulatedCard, simulatedPageSession } from './support.ts';

describe('the pay-now page with the simulated processor', () => {
  const s = simulatedPageSession();

  it('a suspended member pays with the success outcome: paid, active again, and the link is used up', async () => {
    const m = await memberInDunning(s.gym, s.planId, 'Somchai P.', 'somchai@example.com', simulatedCard(s.gym, 'pm_card_chargeDeclinedInsufficientFunds'));
    expect(await memberOf(s.gym, m.memberId)).toMatchObject({ status: 'suspended', suspension: 'payment_overdue' });
    expect(m.links.length).toBeGreaterThanOrEqual(2);
    const [link, other] = m.links as [string, string];

    await s.page.goto(link);
    await expect(s.page.locator('.amount').textContent()).resolves.toContain('1,990.00');
    await s.page.getByRole('button', { name: 'Pay by card' }).click();
    await expect(s.page.locator('.simulation').textContent()).resolves.toMatch(/no money moves/);
    const intent = await s.page.locator('#payment').getAttribute('data-payment-intent');
    expect(intent).toMatch(/^pi_sim_/);
    // The simulated processor's outcomes are all offered.
    for (const label of ['Payment succeeds', 'Card declined', 'Insufficient funds', 'Expired card', 'Bank asks for authentication']) {
      await expect(s.page.getByRole('button', { name: label }).count()).resolves.toBe(1);
    }
    await s.page.getByRole('button', { name: 'Payment succeeds' }).click();
    await s.page.waitForURL(/\/done$/);
    await expect(s.page.locator('h1').textContent()).resolves.toBe('Payment received');
    await expect(s.page.locator('.outcome').getAttribute('data-status')).resolves.toBe('succeeded');

    expect(await invoiceOf(s.gym, m.memberId)).toMatchObject({ id: m.invoice.id, status: 'paid', amountRemaining: 0 });
    expect(await memberOf(s.gym, m.memberId)).toMatchObject({ status: 'active', suspension: null });
    expect((await paymentsOf(s.gym, m.invoice.id)).filter((p) => p.status === 'succeeded')).toHaveLength(1);

    // The link is used; another notice's link to the same invoice finds nothing to pay.
    const again = await s.page.goto(link);
    expect(again?.status()).toBe(410);
    await expect(s.page.locator('h1').textContent()).resolves.toBe('Link already used');
    await s.page.goto(other);
    await expect(s.page.locator('h1').textContent()).resolves.toBe('Nothing to pay');
    expect(s.escaped).toEqual([]);
  });

  it('a decline shows the reason and keeps the invoice open; coming back reuses the same payment; an expired link charges nothing', async () => {
    const m = await memberInDunning(s.gym, s.planId, 'Nok C.', 'nok@example.com', simulatedCard(s.gym, 'pm_card_chargeDeclined'));
    const [link, other] = m.links as [string, string];
    await s.page.goto(link);
    await s.page.getByRole('button', { name: 'Pay by card' }).click();
    const intent = await s.page.locator('#payment').getAttribute('data-payment-intent');
    await s.page.getByRole('button', { name: 'Insufficient funds' }).click();
    await s.page.waitForURL(/\/done$/);
    await expect(s.page.locator('h1').textContent()).resolves.toBe('Payment declined');
    await expect(s.page.locator('.outcome').textContent()).resolves.toContain('Your card has insufficient funds.');
    expect(await invoiceOf(s.gym, m.memberId)).toMatchObject({ status: 'open', amountRemaining: 199_000 });
    expect(await memberOf(s.gym, m.memberId)).toMatchObject({ status: 'suspended' });

    // Try again: the same payment, with the last decline shown.
    await s.page.getByRole('link', { name: 'Try again' }).click();
    await expect(s.page.locator('#payment').getAttribute('data-payment-intent')).resolves.toBe(intent);
    await expect(s.page.locator('.error').first().textContent()).resolves.toContain('insufficient funds');
    await s.page.getByRole('button', { name: 'Expired card' }).click();
    await s.page.waitForURL(/\/done$/);
    await expect(s.page.locator('.outcome').textContent()).resolves.toContain('Your card has expired.');

    // A closed tab: opening the link again goes straight back to the same payment.
    const fresh = await s.context.newPage();
    await fresh.goto(link);
    await expect(fresh.locator('#payment').getAttribute('data-payment-intent')).resolves.toBe(intent);
    await fresh.close();
    const payNow = (await paymentsOf(s.gym, m.invoice.id)).filter((p) => p.method === 'card' && p.attempt > 1);
    expect(payNow).toEqual([expect.objectContaining({ status: 'failed' })]);

    // Expired: a clear s.page, and nothing started.
    await expireLink(s.gym, other);
    const before = (await paymentsOf(s.gym, m.invoice.id)).length;
    const expired = await s.page.goto(other);
    expect(expired?.status()).toBe(410);
    await expect(s.page.locator('h1').textContent()).resolves.toBe('Link expired');
    await expect(s.page.locator('body').textContent()).resolves.toContain('Nothing was charged');
    expect(await paymentsOf(s.gym, m.invoice.id)).toHaveLength(before);
    expect(s.escaped).toEqual([]);
  });

  it('PromptPay (THB) offers the simulated QR scan, and a card on the same link is refused once it started', async () => {
    const m = await memberInDunning(s.gym, s.planId, 'Pim T.', 'pim@example.com', simulatedCard(s.gym, 'pm_card_chargeDeclined'));
    const link = m.links[0]!;
    await s.page.goto(link);
    await s.page.getByRole('button', { name: 'Pay with PromptPay' }).click();
    await expect(s.page.locator('#payment').getAttribute('data-method')).resolves.toBe('promptpay');
    await expect(s.page.locator('form button').allTextContents()).resolves.toEqual(['Simulate scanning the PromptPay QR code']);
    // The same link by card, from another tab: one payment per link.
    const other = await s.context.newPage();
    const res = await other.request.post(link, { form: { method: 'card' } });
    expect(res.status()).toBe(410);
    await other.close();
    await s.page.getByRole('button', { name: 'Simulate scanning the PromptPay QR code' }).click();
    await s.page.waitForURL(/\/done$/);
    await expect(s.page.locator('.outcome').getAttribute('data-status')).resolves.toBe('succeeded');
    expect(await invoiceOf(s.gym, m.memberId)).toMatchObject({ status: 'paid' });
    expect((await paymentsOf(s.gym, m.invoice.id)).filter((p) => p.method === 'promptpay')).toEqual([expect.objectContaining({ status: 'succeeded' })]);
    expect(await memberOf(s.gym, m.memberId)).toMatchObject({ status: 'active', suspension: null });
  });

  it('the dev mailbox lists the sent notice with its pay link, and the link opens the pay page', async () => {
    const m = await memberInDunning(s.gym, s.planId, 'Malee S.', 'malee@example.com', simulatedCard(s.gym, 'pm_card_chargeDeclinedExpiredCard'));
    await s.page.goto(`${s.gym.api}/dev/mailbox`);
    const notice = s.page.locator('article.msg', { has: s.page.locator('.to', { hasText: 'malee@example.com' }) }).first();
    await expect(notice.locator('.subject').textContent()).resolves.toBeTruthy();
    const body = (await notice.locator('pre.body').textContent()) ?? '';
    const link = body.match(/https?:\/\/\S+\/pay\/[0-9a-f]{64}/)?.[0];
    expect(m.links).toContain(link);
    await s.page.goto(link!);
    await expect(s.page.locator('h1').textContent()).resolves.toMatch(/^Pay /);
    await expect(s.page.locator('body').textContent()).resolves.toContain(m.invoice.number);
    expect(s.escaped).toEqual([]);
  });
});
