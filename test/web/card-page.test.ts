// The update-card page of card notices in Chromium, with the simulated processor and the dev mailbox.
import { describe, expect, it } from 'vitest';
import { cardOf, invoiceOf, mailboxCardLink, memberInDunning, memberOf, paymentsOf, simulatedCard, simulatedPageSession } from './support.ts';

describe('the update-card page with the simulated processor', () => {
  const s = simulatedPageSession();

  it('a member whose card was refused as lost saves a working test card: the failed invoice is paid at once and the member is active again', async () => {
    const email = 'somchai@example.com';
    const m = await memberInDunning(s.gym, s.planId, 'Somchai P.', email, simulatedCard(s.gym, 'pm_card_chargeDeclinedLostCard'));
    expect(await memberOf(s.gym, m.memberId)).toMatchObject({ status: 'suspended', suspension: 'payment_overdue' });
    expect(m.invoice).toMatchObject({ status: 'open', amountRemaining: 199_000 });
    const link = await mailboxCardLink(s.gym, email);
    expect(link.startsWith(`${s.gym.api}/card/`)).toBe(true);

    const opened = await s.page.goto(link);
    expect(opened?.status()).toBe(200);
    await expect(s.page.locator('h1').textContent()).resolves.toMatch(/^Update your card for /);
    await expect(s.page.locator('.current-card').textContent()).resolves.toContain('ending 9987');
    await expect(s.page.locator('.simulation').textContent()).resolves.toMatch(/no money moves/);
    await expect(s.page.locator('form button').count()).resolves.toBe(5);
    await s.page.getByRole('button', { name: 'Visa ending 4242: payment succeeds' }).click();
    await s.page.waitForURL(/\/simulate$/);

    await expect(s.page.locator('h1').textContent()).resolves.toBe('Card saved');
    await expect(s.page.locator('.outcome').textContent()).resolves.toContain('Visa ending 4242 is saved');
    const paid = s.page.locator('.invoice[data-status="paid"]');
    await expect(paid.textContent()).resolves.toContain(`Invoice ${m.invoice.number}`);
    await expect(paid.textContent()).resolves.toContain('is paid with this card');

    expect(await invoiceOf(s.gym, m.memberId)).toMatchObject({ id: m.invoice.id, status: 'paid', amountRemaining: 0 });
    expect((await paymentsOf(s.gym, m.invoice.id)).map((p) => [p.attempt, p.status]).sort()).toEqual([
      [1, 'failed'],
      [2, 'succeeded'],
    ]);
    expect(await memberOf(s.gym, m.memberId)).toMatchObject({ status: 'active', suspension: null });
    expect(await cardOf(s.gym, m.memberId)).toMatchObject({ last4: '4242' });

    // The link is used up: a clear s.page, nothing more charged.
    const again = await s.page.goto(link);
    expect(again?.status()).toBe(410);
    await expect(s.page.locator('h1').textContent()).resolves.toBe('Link already used');
    expect(await paymentsOf(s.gym, m.invoice.id)).toHaveLength(2);
    expect(s.escaped).toEqual([]);
  });
});
