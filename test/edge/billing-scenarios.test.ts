// Multi-month billing scenarios through the API and the run functions, with a clock the test
// moves: exact invoices (numbers, lines, amounts) and the membership status the doors get.
import { describe, expect, it } from 'vitest';
import { billingGym, bkk, bkkMidnight, expectLedgerHolds, invoicesOf, memberOf, process, run, saveSimulatedCard, setClock, subscribe, summary, useBillingClock, VAT7 } from './billing-helpers.ts';

useBillingClock();

/** A billing gym whose dunning grace is the plan's, so validUntil is paid-through + the plan's grace days. */
const planGraceGym = (plan: Record<string, unknown> = {}, env?: Parameters<typeof billingGym>[1]) => billingGym(plan, env, { dunningGraceDays: Number(plan.graceDays ?? 0) });

describe('joining mid-month', () => {
  it('invoices the first period with the joining fee at once, then renews on the anchor day', async () => {
    const g = await planGraceGym({ joiningFee: 50_000, graceDays: 3 });
    await saveSimulatedCard(g, g.member.id);
    const created = await g.api('POST', '/v1/subscriptions', { payerId: g.member.id, planId: g.plan.id, startDate: '2030-01-15' });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    // Signed up ahead of the start: nothing is billed and the door stays shut until the first day.
    expect(created.body).toMatchObject({ status: 'active', paidThrough: null, validUntil: '2030-01-15', timezone: 'Asia/Bangkok', nextReviewOn: '2030-01-15' });
    await run(g, bkk('2030-01-14', '23:59'));
    expect(await invoicesOf(g, g.member.id)).toEqual([]);
    await run(g, bkk('2030-01-15', '03:17'));
    const sub = await g.api('GET', `/v1/subscriptions/${created.body.id}`);
    expect(sub.body).toMatchObject({ status: 'active', paidThrough: '2030-02-15', validUntil: '2030-02-18', nextReviewOn: '2030-02-15' });

    let invoices = await invoicesOf(g, g.member.id);
    expect(invoices.map(summary)).toEqual([
      {
        number: 'INV-000001',
        status: 'paid',
        period: { start: '2030-01-15', end: '2030-02-15' },
        lines: [
          ['plan', 'Monthly', 199_000, 13_019],
          ['joining_fee', 'Joining fee (Monthly)', 50_000, 3_271],
        ],
        total: 249_000,
        amountDue: 249_000,
        amountRemaining: 0,
      },
    ]);
    expect(await memberOf(g, g.member.id)).toMatchObject({ status: 'active', validUntil: bkkMidnight('2030-02-18'), validFrom: bkkMidnight('2030-01-15') });

    // Nothing is due before the anchor day; on it, the next period is invoiced and charged.
    expect(await run(g, bkk('2030-02-14'))).toEqual([]);
    const results = await run(g, bkk('2030-02-15', '03:17'));
    expect(results).toHaveLength(1);
    invoices = await invoicesOf(g, g.member.id);
    expect(invoices.map(summary)[1]).toEqual({
      number: 'INV-000002',
      status: 'paid',
      period: { start: '2030-02-15', end: '2030-03-15' },
      lines: [['plan', 'Monthly', 199_000, 13_019]],
      total: 199_000,
      amountDue: 199_000,
      amountRemaining: 0,
    });
    expect(await memberOf(g, g.member.id)).toMatchObject({ status: 'active', validUntil: bkkMidnight('2030-03-18') });
    await expectLedgerHolds(g, g.member.id);
  });
});

describe('changing plan', () => {
  it('invoices an upgrade at once, credits a downgrade on the next invoice, and moves the access profile', async () => {
    const g = await planGraceGym();
    const premiumProfile = (await g.api('POST', '/v1/access-profiles', { name: 'Premium', doorGroups: ['general', 'studio'] })).body;
    const basicProfile = (await g.api('POST', '/v1/access-profiles', { name: 'Basic', doorGroups: ['general'] })).body;
    await g.api('PATCH', `/v1/plans/${g.plan.id}`, { accessProfileId: basicProfile.id });
    const premium = (await g.api('POST', '/v1/plans', { name: 'Premium', currency: 'THB', price: 299_000, interval: 'monthly', taxRate: VAT7, accessProfileId: premiumProfile.id })).body;
    await saveSimulatedCard(g, g.member.id);
    const sub = await subscribe(g);
    expect((await memberOf(g, g.member.id)).accessProfileId).toBe(basicProfile.id);

    // 1 February: 14 of the 31 days of the period are left.
    await process(g, sub.id, bkk('2030-02-01'));
    const up = await g.api('POST', `/v1/subscriptions/${sub.id}/change-plan`, { planId: premium.id, timing: 'now' });
    expect(up.status, JSON.stringify(up.body)).toBe(200);
    expect(up.body).toMatchObject({ planId: premium.id, price: 299_000, status: 'active', paidThrough: '2030-02-15' });
    let invoices = await invoicesOf(g, g.member.id);
    expect(summary(invoices[1])).toEqual({
      number: 'INV-000002',
      status: 'paid',
      period: null,
      lines: [
        ['proration', 'Unused time on Monthly (14 of 31 days from 2030-02-01)', -89_871, -5_879],
        ['proration', 'Remaining time on Premium (14 of 31 days from 2030-02-01)', 135_032, 8_834],
      ],
      total: 45_161,
      amountDue: 45_161,
      amountRemaining: 0,
    });
    expect(invoices[1].reason).toBe('proration');
    expect((await memberOf(g, g.member.id)).accessProfileId).toBe(premiumProfile.id);

    await run(g, bkk('2030-02-15'));
    // 1 March: 14 of 28 days left; the downgrade's net credit waits for the next invoice.
    await process(g, sub.id, bkk('2030-03-01'));
    const down = await g.api('POST', `/v1/subscriptions/${sub.id}/change-plan`, { planId: g.plan.id });
    expect(down.status, JSON.stringify(down.body)).toBe(200);
    expect(down.body.pendingProrations.map((l: any) => l.amount)).toEqual([-149_500, 99_500]);
    expect(await invoicesOf(g, g.member.id)).toHaveLength(3);

    await run(g, bkk('2030-03-15'));
    invoices = await invoicesOf(g, g.member.id);
    expect(invoices.map(summary).slice(2)).toEqual([
      {
        number: 'INV-000003',
        status: 'paid',
        period: { start: '2030-02-15', end: '2030-03-15' },
        lines: [['plan', 'Premium', 299_000, 19_561]],
        total: 299_000,
        amountDue: 299_000,
        amountRemaining: 0,
      },
      {
        number: 'INV-000004',
        status: 'paid',
        period: { start: '2030-03-15', end: '2030-04-15' },
        lines: [
          ['plan', 'Monthly', 199_000, 13_019],
          ['proration', 'Unused time on Premium (14 of 28 days from 2030-03-01)', -149_500, -9_780],
          ['proration', 'Remaining time on Monthly (14 of 28 days from 2030-03-01)', 99_500, 6_509],
        ],
        total: 149_000,
        amountDue: 149_000,
        amountRemaining: 0,
      },
    ]);
    expect((await g.api('GET', `/v1/subscriptions/${sub.id}`)).body.pendingProrations).toEqual([]);
    expect((await memberOf(g, g.member.id)).accessProfileId).toBe(basicProfile.id);
    await expectLedgerHolds(g, g.member.id);
  });
});

describe('trials and plan changes at the period end', () => {
  it('bills nothing during the trial, then bills from its end; a period-end change applies from the next period', async () => {
    const g = await planGraceGym({ trialDays: 14, graceDays: 2 });
    const premium = (await g.api('POST', '/v1/plans', { name: 'Premium', currency: 'THB', price: 299_000, interval: 'monthly', taxRate: VAT7 })).body;
    await saveSimulatedCard(g, g.member.id);
    const sub = await subscribe(g);
    expect(sub).toMatchObject({ status: 'trialing', trialEnd: '2030-01-29', paidThrough: null, validUntil: '2030-01-31', nextReviewOn: '2030-01-29' });
    expect(await memberOf(g, g.member.id)).toMatchObject({ status: 'trialing', validUntil: bkkMidnight('2030-01-31') });
    expect(await invoicesOf(g, g.member.id)).toEqual([]);

    await run(g, bkk('2030-01-29'));
    // Anchored on the trial's end: 29 January, then the 28th of February (clamped), then 29 March.
    expect((await invoicesOf(g, g.member.id)).map(summary)).toEqual([
      { number: 'INV-000001', status: 'paid', period: { start: '2030-01-29', end: '2030-02-28' }, lines: [['plan', 'Monthly', 199_000, 13_019]], total: 199_000, amountDue: 199_000, amountRemaining: 0 },
    ]);
    expect(await memberOf(g, g.member.id)).toMatchObject({ status: 'active', validUntil: bkkMidnight('2030-03-02') });

    await process(g, sub.id, bkk('2030-02-10'));
    const change = await g.api('POST', `/v1/subscriptions/${sub.id}/change-plan`, { planId: premium.id, timing: 'period_end' });
    expect(change.body).toMatchObject({ planId: g.plan.id, pendingPlan: { planId: premium.id, from: '2030-02-28' }, pendingProrations: [] });
    expect(await invoicesOf(g, g.member.id)).toHaveLength(1);

    await run(g, bkk('2030-02-28'));
    const renewal = (await invoicesOf(g, g.member.id))[1];
    expect(summary(renewal)).toMatchObject({ number: 'INV-000002', period: { start: '2030-02-28', end: '2030-03-29' }, lines: [['plan', 'Premium', 299_000, 19_561]] });
    expect((await g.api('GET', `/v1/subscriptions/${sub.id}`)).body).toMatchObject({ planId: premium.id, pendingPlan: null, price: 299_000, paidThrough: '2030-03-29' });
    await expectLedgerHolds(g, g.member.id);
  });
});

describe('freezing', () => {
  it('charges the freeze fee instead of the plan, shuts the door, and keeps the paid days for afterwards', async () => {
    const g = await planGraceGym({ freezeFee: 20_000 });
    await saveSimulatedCard(g, g.member.id);
    const sub = await subscribe(g);
    await run(g, bkk('2030-02-15'));
    await process(g, sub.id, bkk('2030-02-20'));
    const frozen = await g.api('POST', `/v1/subscriptions/${sub.id}/freeze`, { from: '2030-03-01', to: '2030-04-01' });
    expect(frozen.status, JSON.stringify(frozen.body)).toBe(200);
    expect(frozen.body).toMatchObject({ status: 'active', freeze: { from: '2030-03-01', to: '2030-04-01' }, nextReviewOn: '2030-03-01' });

    await run(g, bkk('2030-03-01'));
    expect(await memberOf(g, g.member.id)).toMatchObject({ status: 'frozen' });
    let invoices = await invoicesOf(g, g.member.id);
    expect(summary(invoices[2])).toEqual({
      number: 'INV-000003',
      status: 'paid',
      period: { start: '2030-03-01', end: '2030-04-01' },
      lines: [['freeze_fee', 'Freeze fee (Monthly)', 20_000, 1_308]],
      total: 20_000,
      amountDue: 20_000,
      amountRemaining: 0,
    });
    // The plan is not billed on 15 March while frozen.
    expect(await run(g, bkk('2030-03-15'))).toEqual([]);

    // 14 paid days were left on 1 March: the membership resumes paid to 15 April, and bills from then.
    await run(g, bkk('2030-04-01'));
    expect((await g.api('GET', `/v1/subscriptions/${sub.id}`)).body).toMatchObject({ status: 'active', freeze: null, paidThrough: '2030-04-15', nextReviewOn: '2030-04-15' });
    expect(await memberOf(g, g.member.id)).toMatchObject({ status: 'active', validUntil: bkkMidnight('2030-04-15') });
    await run(g, bkk('2030-04-15'));
    invoices = await invoicesOf(g, g.member.id);
    expect(invoices.map((i) => [i.number, i.reason, i.period?.start, i.total])).toEqual([
      ['INV-000001', 'plan', '2030-01-15', 199_000],
      ['INV-000002', 'plan', '2030-02-15', 199_000],
      ['INV-000003', 'freeze_fee', '2030-03-01', 20_000],
      ['INV-000004', 'plan', '2030-04-15', 199_000],
    ]);
    await expectLedgerHolds(g, g.member.id);
  });
});

describe('cancelling', () => {
  it('ends no earlier than the minimum term nor before the notice runs out, prorating a last short period', async () => {
    const g = await planGraceGym({ minimumTermMonths: 3, noticePeriod: { unit: 'months', count: 1 } });
    await saveSimulatedCard(g, g.member.id);
    const sub = await subscribe(g);

    // On 1 February a month's notice would end on 1 March, but the minimum term runs to 15 April.
    await process(g, sub.id, bkk('2030-02-01'));
    const early = await g.api('POST', `/v1/subscriptions/${sub.id}/cancel`, {});
    expect(early.body).toMatchObject({ status: 'cancelled', cancellation: { requestedOn: '2030-02-01', endsOn: '2030-04-15' } });
    expect(await memberOf(g, g.member.id)).toMatchObject({ status: 'cancelled' });
    const withdrawn = await g.api('POST', `/v1/subscriptions/${sub.id}/withdraw-cancellation`);
    expect(withdrawn.body).toMatchObject({ status: 'active', cancellation: null });
    expect((await g.api('POST', `/v1/subscriptions/${sub.id}/withdraw-cancellation`)).status).toBe(409);

    await run(g, bkk('2030-02-15'));
    await run(g, bkk('2030-03-15'));
    // On 20 March the notice (to 20 April) outlasts the minimum term.
    await process(g, sub.id, bkk('2030-03-20'));
    const late = await g.api('POST', `/v1/subscriptions/${sub.id}/cancel`, {});
    expect(late.body).toMatchObject({ status: 'cancelled', cancellation: { requestedOn: '2030-03-20', endsOn: '2030-04-20' }, nextReviewOn: '2030-04-15' });

    await run(g, bkk('2030-04-15'));
    const last = (await invoicesOf(g, g.member.id))[3];
    expect(summary(last)).toEqual({
      number: 'INV-000004',
      status: 'paid',
      period: { start: '2030-04-15', end: '2030-05-15' },
      lines: [['plan', 'Monthly (5 of 30 days)', 33_167, 2_170]],
      total: 33_167,
      amountDue: 33_167,
      amountRemaining: 0,
    });
    expect(await memberOf(g, g.member.id)).toMatchObject({ status: 'cancelled', validUntil: bkkMidnight('2030-04-20') });

    await run(g, bkk('2030-04-20'));
    expect((await g.api('GET', `/v1/subscriptions/${sub.id}`)).body).toMatchObject({ status: 'ended', nextReviewOn: null });
    expect(await memberOf(g, g.member.id)).toMatchObject({ status: 'ended', validUntil: bkkMidnight('2030-04-20') });
    expect(await run(g, bkk('2030-05-15'))).toEqual([]);
    expect(await invoicesOf(g, g.member.id)).toHaveLength(4);
    // An ended membership takes no more changes.
    expect((await g.api('POST', `/v1/subscriptions/${sub.id}/cancel`, {})).status).toBe(409);
    await expectLedgerHolds(g, g.member.id);
  });
});

describe('credit notes and refunds', () => {
  it('refunds part of a paid invoice, credits the balance, pays a refund out of it, and uses the rest on the next invoice', async () => {
    const g = await planGraceGym();
    await saveSimulatedCard(g, g.member.id);
    await subscribe(g);
    const [first] = await invoicesOf(g, g.member.id);

    setClock(bkk('2030-01-20'));
    const refundNote = await g.api('POST', `/v1/invoices/${first.id}/credit-notes`, { lines: [{ invoiceLineId: 'line_1', amount: 50_000 }], outcome: 'refund', reason: 'service_not_provided' });
    expect(refundNote.status, JSON.stringify(refundNote.body)).toBe(201);
    expect(refundNote.body).toMatchObject({
      number: 'INV-CN-000001',
      invoiceNumber: 'INV-000001',
      total: 50_000,
      tax: 3_271,
      subtotal: 46_729,
      refund: { amount: 50_000, status: 'succeeded' },
    });
    expect(refundNote.body.refund.providerRefundId).toMatch(/^re_sim_/);
    await expectLedgerHolds(g, g.member.id);

    setClock(bkk('2030-01-21'));
    const creditNote = await g.api('POST', `/v1/invoices/${first.id}/credit-notes`, { lines: [{ invoiceLineId: 'line_1', amount: 30_000 }], outcome: 'credit_balance', reason: 'goodwill' });
    expect(creditNote.body).toMatchObject({ number: 'INV-CN-000002', refund: null });
    // More than is left on the line is refused, naming the field.
    const over = await g.api('POST', `/v1/invoices/${first.id}/credit-notes`, { lines: [{ invoiceLineId: 'line_1', amount: 119_001 }], outcome: 'credit_balance', reason: 'goodwill' });
    expect(over.status).toBe(409);
    expect(over.body.errors[0]).toMatchObject({ field: 'lines', reason: expect.stringMatching(/^over_credit/) });

    let balance = (await g.api('GET', `/v1/members/${g.member.id}/billing`)).body;
    expect(balance).toMatchObject({ creditBalance: 30_000, amountOwed: 0, outstanding: -30_000, paymentMethod: { brand: 'visa', last4: '4242' } });

    setClock(bkk('2030-01-25'));
    const [payment] = (await g.api('GET', `/v1/payments?payerId=${g.member.id}`)).body.data;
    expect((await g.api('POST', `/v1/payments/${payment.id}/refunds`, { amount: 30_001 })).status).toBe(409);
    const refund = await g.api('POST', `/v1/payments/${payment.id}/refunds`, { amount: 10_000 });
    expect(refund.status, JSON.stringify(refund.body)).toBe(201);
    expect(refund.body).toMatchObject({ amount: 10_000, status: 'succeeded', creditNoteId: null });
    await expectLedgerHolds(g, g.member.id);

    await run(g, bkk('2030-02-15'));
    const second = (await invoicesOf(g, g.member.id))[1];
    expect(second).toMatchObject({ number: 'INV-000002', total: 199_000, startingCreditBalance: 20_000, creditApplied: 20_000, amountDue: 179_000, amountPaid: 179_000, status: 'paid' });
    balance = (await g.api('GET', `/v1/members/${g.member.id}/billing`)).body;
    expect(balance).toMatchObject({ creditBalance: 0, amountOwed: 0 });
    const ledger = await expectLedgerHolds(g, g.member.id);
    expect({ invoiced: ledger.invoiced, credited: ledger.credited, paid: ledger.paid, refunded: ledger.refunded }).toEqual({
      invoiced: 398_000,
      credited: 80_000,
      paid: 378_000,
      refunded: 60_000,
    });
    const statement = (await g.api('GET', `/v1/members/${g.member.id}/statement`)).body;
    expect(statement.entries.map((e: any) => e.kind)).toEqual(['invoice', 'payment', 'credit_note', 'refund', 'credit_note', 'refund', 'invoice', 'payment']);
  });
});

describe('a refund across several payments', () => {
  it('goes back through one payment when one can take it all, else split over them newest first', async () => {
    const g = await planGraceGym();
    await saveSimulatedCard(g, g.member.id, 'pm_card_chargeDeclined');
    await subscribe(g);
    const [invoice] = await invoicesOf(g, g.member.id);
    expect(invoice).toMatchObject({ status: 'open', amountRemaining: 199_000 });
    // Paid in two parts: cash at the desk, then the rest on a new card.
    setClock(bkk('2030-01-16'));
    expect((await g.api('POST', `/v1/invoices/${invoice.id}/payments`, { amount: 100_000, method: 'cash', idempotencyKey: 'desk-1' })).status).toBe(201);
    setClock(bkk('2030-01-17'));
    await saveSimulatedCard(g, g.member.id, 'pm_card_visa');
    expect((await g.api('GET', `/v1/invoices/${invoice.id}`)).body).toMatchObject({ status: 'paid', amountRemaining: 0 });

    setClock(bkk('2030-01-20'));
    const note = await g.api('POST', `/v1/invoices/${invoice.id}/credit-notes`, { lines: [{ invoiceLineId: 'line_1', amount: 150_000 }], outcome: 'refund', reason: 'service_not_provided' });
    expect(note.status, JSON.stringify(note.body)).toBe(201);
    const refunds = note.body.refunds.map((r: any) => [r.amount, r.status, r.providerRefundId?.slice(0, 7) ?? null]);
    expect(refunds).toEqual([
      [99_000, 'succeeded', 're_sim_'],
      [51_000, 'succeeded', null],
    ]);
    expect(note.body.refund).toMatchObject({ amount: 99_000 });
    const listed = (await g.api('GET', `/v1/credit-notes?invoiceId=${invoice.id}`)).body.data[0];
    expect(listed.refunds.map((r: any) => r.amount)).toEqual([99_000, 51_000]);

    // A small one fits the cash payment alone.
    const small = await g.api('POST', `/v1/invoices/${invoice.id}/credit-notes`, { lines: [{ invoiceLineId: 'line_1', amount: 10_000 }], outcome: 'refund', reason: 'goodwill' });
    expect(small.body.refunds.map((r: any) => r.amount)).toEqual([10_000]);
    const ledger = await expectLedgerHolds(g, g.member.id);
    expect(ledger).toMatchObject({ paid: 199_000, refunded: 160_000, creditBalance: 0 });
  });
});

describe('payments that fail', () => {
  it('a declined first charge leaves the member past due without access; cash at the desk restores it', async () => {
    const g = await planGraceGym({ graceDays: 3 });
    await saveSimulatedCard(g, g.member.id, 'pm_card_chargeDeclinedInsufficientFunds');
    const sub = await subscribe(g);
    expect(sub).toMatchObject({ status: 'past_due', paidThrough: null, validUntil: '2030-01-15' });
    expect(await memberOf(g, g.member.id)).toMatchObject({ status: 'past_due', validUntil: bkkMidnight('2030-01-15') });
    const [invoice] = await invoicesOf(g, g.member.id);
    expect(invoice).toMatchObject({ number: 'INV-000001', status: 'open', amountRemaining: 199_000 });
    const [failed] = (await g.api('GET', `/v1/payments?invoiceId=${invoice.id}`)).body.data;
    expect(failed).toMatchObject({ status: 'failed', declineCode: 'insufficient_funds', hardDecline: false, attempt: 1 });
    const balance = (await g.api('GET', `/v1/members/${g.member.id}/billing`)).body;
    expect(balance).toMatchObject({ amountOwed: 199_000, openInvoices: [{ number: 'INV-000001', remaining: 199_000 }], dunning: { phase: 'retrying', attempts: 1, lastDeclineCode: 'insufficient_funds' } });

    const cash = await g.api('POST', `/v1/invoices/${invoice.id}/payments`, { amount: 199_000, method: 'cash', reference: 'R-0042', idempotencyKey: 'desk-1' });
    expect(cash.status, JSON.stringify(cash.body)).toBe(201);
    expect(cash.body).toMatchObject({ provider: 'manual', method: 'cash', status: 'succeeded', attempt: 2 });
    // The same key again records nothing more; without one, a paid invoice takes no payment.
    const again = await g.api('POST', `/v1/invoices/${invoice.id}/payments`, { amount: 199_000, method: 'cash', idempotencyKey: 'desk-1' });
    expect(again.body.id).toBe(cash.body.id);
    expect((await g.api('POST', `/v1/invoices/${invoice.id}/payments`, { amount: 199_000, method: 'cash' })).status).toBe(409);
    expect((await g.api('GET', `/v1/subscriptions/${sub.id}`)).body).toMatchObject({ status: 'active', paidThrough: '2030-02-15', validUntil: '2030-02-18' });
    expect(await memberOf(g, g.member.id)).toMatchObject({ status: 'active', validUntil: bkkMidnight('2030-02-18') });
    expect((await g.api('GET', `/v1/members/${g.member.id}/billing`)).body.dunning).toMatchObject({ phase: 'idle' });

    // The renewal fails too; a credit note takes part off, a bank transfer pays the rest.
    await run(g, bkk('2030-02-15'));
    expect(await memberOf(g, g.member.id)).toMatchObject({ status: 'past_due', validUntil: bkkMidnight('2030-02-18') });
    const second = (await invoicesOf(g, g.member.id))[1];
    const reduce = await g.api('POST', `/v1/invoices/${second.id}/credit-notes`, { lines: [{ invoiceLineId: 'line_1', amount: 99_000 }], outcome: 'reduce_outstanding', reason: 'goodwill' });
    expect(reduce.status).toBe(201);
    expect((await g.api('GET', `/v1/invoices/${second.id}`)).body).toMatchObject({ status: 'open', amountCredited: 99_000, amountRemaining: 100_000 });
    await g.api('POST', `/v1/invoices/${second.id}/payments`, { amount: 100_000, method: 'bank_transfer', reference: 'KBANK 123' });
    expect((await g.api('GET', `/v1/invoices/${second.id}`)).body).toMatchObject({ status: 'paid', amountPaid: 100_000, amountRemaining: 0 });
    expect(await memberOf(g, g.member.id)).toMatchObject({ status: 'active', validUntil: bkkMidnight('2030-03-18') });
    await expectLedgerHolds(g, g.member.id);
  });

  it('voids an unpaid invoice or writes it off', async () => {
    const g = await planGraceGym();
    const sub = await subscribe(g);
    // No card saved: the invoice waits, open, for a payment at the desk.
    const [invoice] = await invoicesOf(g, g.member.id);
    expect(invoice).toMatchObject({ status: 'open', amountRemaining: 199_000 });
    expect((await g.api('GET', `/v1/payments?invoiceId=${invoice.id}`)).body.data).toEqual([]);
    const written = await g.api('POST', `/v1/invoices/${invoice.id}/mark-uncollectible`);
    expect(written.body).toMatchObject({ status: 'uncollectible' });
    const voided = await g.api('POST', `/v1/invoices/${invoice.id}/void`);
    expect(voided.body).toMatchObject({ status: 'void', amountRemaining: 0 });
    expect((await g.api('POST', `/v1/invoices/${invoice.id}/void`)).status).toBe(409);
    // A void period is not billed again.
    await process(g, sub.id, bkk('2030-01-20'));
    expect(await invoicesOf(g, g.member.id)).toHaveLength(1);
    await expectLedgerHolds(g, g.member.id);
  });
});

describe('one-off charges and family plans', () => {
  it('puts pending items on the next invoice, charges a sale at once, and covers every member of a family plan', async () => {
    const g = await planGraceGym({ name: 'Family', price: 349_000, maxMembers: 2 });
    const partner = (await g.api('POST', '/v1/members', { name: 'Nok C.' })).body;
    await saveSimulatedCard(g, g.member.id);
    const sub = await subscribe(g, { memberIds: [g.member.id, partner.id] });
    expect(sub.memberIds).toEqual([g.member.id, partner.id]);
    for (const id of [g.member.id, partner.id]) expect(await memberOf(g, id)).toMatchObject({ status: 'active', validUntil: bkkMidnight('2030-02-15') });
    const taken = await g.api('POST', '/v1/subscriptions', { payerId: partner.id, planId: g.plan.id, startDate: '2030-01-15' });
    expect(taken.status).toBe(409);

    const pt = await g.api('POST', `/v1/members/${g.member.id}/pending-items`, { kind: 'pt_session', description: 'PT session with Coach K', quantity: 2, unitAmount: 120_000, currency: 'THB', taxRate: VAT7 });
    expect(pt.status, JSON.stringify(pt.body)).toBe(201);
    expect(pt.body).toMatchObject({ invoice: null, item: { invoiceId: null } });
    const fee = await g.api('POST', `/v1/members/${g.member.id}/pending-items`, { kind: 'late_cancel_fee', description: 'Late cancellation', unitAmount: 30_000, currency: 'THB' });
    expect((await g.api('DELETE', `/v1/pending-items/${fee.body.item.id}`)).status).toBe(200);
    const sale = await g.api('POST', `/v1/members/${g.member.id}/pending-items`, { kind: 'shop_sale', description: 'Shaker bottle', unitAmount: 35_000, currency: 'THB', taxRate: VAT7, chargeNow: true });
    expect(sale.body.invoice).toMatchObject({ number: 'INV-000002', reason: 'one_off', status: 'paid', total: 35_000 });
    expect((await g.api('GET', `/v1/members/${g.member.id}/pending-items`)).body.data.map((i: any) => i.description)).toEqual(['PT session with Coach K']);

    await run(g, bkk('2030-02-15'));
    const renewal = (await invoicesOf(g, g.member.id))[2];
    expect(summary(renewal)).toEqual({
      number: 'INV-000003',
      status: 'paid',
      period: { start: '2030-02-15', end: '2030-03-15' },
      lines: [
        ['plan', 'Family', 349_000, 22_832],
        ['one_off', 'PT session with Coach K', 240_000, 15_701],
      ],
      total: 589_000,
      amountDue: 589_000,
      amountRemaining: 0,
    });
    expect((await g.api('DELETE', `/v1/pending-items/${pt.body.item.id}`)).status).toBe(409);
    for (const id of [g.member.id, partner.id]) expect(await memberOf(g, id)).toMatchObject({ status: 'active', validUntil: bkkMidnight('2030-03-15') });
    await expectLedgerHolds(g, g.member.id);
  });
});

describe('family members joining and leaving', () => {
  it('adds members up to the plan size with the same access, refuses others with a reason, and ends the access of one who leaves', async () => {
    const g = await planGraceGym({ name: 'Family', price: 349_000, maxMembers: 3 });
    const partner = (await g.api('POST', '/v1/members', { name: 'Nok C.' })).body;
    const child = (await g.api('POST', '/v1/members', { name: 'Ton C.' })).body;
    const neighbour = (await g.api('POST', '/v1/members', { name: 'Lek D.' })).body;
    await saveSimulatedCard(g, g.member.id);
    const sub = await subscribe(g);
    expect(sub.memberIds).toEqual([g.member.id]);

    setClock(bkk('2030-01-20'));
    const added = await g.api('POST', `/v1/subscriptions/${sub.id}/members`, { memberId: partner.id });
    expect(added.status, JSON.stringify(added.body)).toBe(200);
    expect(added.body.memberIds).toEqual([g.member.id, partner.id]);
    expect(await memberOf(g, partner.id)).toMatchObject({ status: 'active', validUntil: bkkMidnight('2030-02-15') });
    expect((await g.api('POST', `/v1/subscriptions/${sub.id}/members`, { memberId: child.id })).status).toBe(200);

    // Full, already covered, unknown, or malformed: refused, nothing written.
    const full = await g.api('POST', `/v1/subscriptions/${sub.id}/members`, { memberId: neighbour.id });
    expect(full.status).toBe(409);
    expect(JSON.stringify(full.body)).toContain('family_full');
    expect((await g.api('POST', `/v1/subscriptions/${sub.id}/members`, { memberId: partner.id })).status).toBe(409);
    const unknown = await g.api('POST', `/v1/subscriptions/${sub.id}/members`, { memberId: 'mem_nobody' });
    expect(unknown.status).toBe(400);
    expect(JSON.stringify(unknown.body)).toContain('memberId');
    expect((await g.api('POST', `/v1/subscriptions/${sub.id}/members`, {})).status).toBe(400);
    expect(await memberOf(g, neighbour.id)).toMatchObject({ status: 'active', validUntil: null });

    const removed = await g.api('DELETE', `/v1/subscriptions/${sub.id}/members/${child.id}`);
    expect(removed.status, JSON.stringify(removed.body)).toBe(200);
    expect(removed.body.memberIds).toEqual([g.member.id, partner.id]);
    expect(await memberOf(g, child.id)).toMatchObject({ status: 'ended' });
    // Once left, the child may join another subscription.
    const own = await g.api('POST', '/v1/subscriptions', { payerId: child.id, planId: g.plan.id, startDate: '2030-01-20' });
    expect(own.status, JSON.stringify(own.body)).toBe(201);
    expect((await g.api('DELETE', `/v1/subscriptions/${sub.id}/members/${neighbour.id}`)).status).toBe(409);

    // The renewal covers who is on the subscription then, at the family price.
    await run(g, bkk('2030-02-15'));
    for (const id of [g.member.id, partner.id]) expect(await memberOf(g, id)).toMatchObject({ status: 'active', validUntil: bkkMidnight('2030-03-15') });
    expect((await invoicesOf(g, g.member.id)).map((i) => i.total)).toEqual([349_000, 349_000]);
  });
});

describe('invoice numbering', () => {
  it('uses the organisation prefix from the next invoice on, without a gap, and refuses a bad prefix', async () => {
    const g = await planGraceGym();
    await saveSimulatedCard(g, g.member.id);
    await subscribe(g);
    expect((await g.api('GET', '/v1/billing/settings')).body).toEqual({ invoicePrefix: 'INV' });
    const bad = await g.api('PUT', '/v1/billing/settings', { invoicePrefix: 'bkk-1' });
    expect(bad.status).toBe(400);
    expect(JSON.stringify(bad.body)).toContain('invoicePrefix');
    expect((await g.api('GET', '/v1/billing/settings')).body).toEqual({ invoicePrefix: 'INV' });
    expect((await g.api('PUT', '/v1/billing/settings', { invoicePrefix: 'BKK1' })).status).toBe(200);
    await run(g, bkk('2030-02-15'));
    expect((await invoicesOf(g, g.member.id)).map((i) => i.number)).toEqual(['BKK1-000002', 'INV-000001']);
  });
});

describe('runs that did not happen', () => {
  it('bills every period missed during an outage, oldest first, with consecutive numbers', async () => {
    const g = await planGraceGym();
    await saveSimulatedCard(g, g.member.id);
    const sub = await subscribe(g);
    // No run from 15 January until 20 April: February, March and April are still owed.
    const results = await run(g, bkk('2030-04-20', '03:17'));
    expect(results).toHaveLength(1);
    const invoices = await invoicesOf(g, g.member.id);
    expect(invoices.map((i) => [i.number, i.status, i.period?.start, i.total])).toEqual([
      ['INV-000001', 'paid', '2030-01-15', 199_000],
      ['INV-000002', 'paid', '2030-02-15', 199_000],
      ['INV-000003', 'paid', '2030-03-15', 199_000],
      ['INV-000004', 'paid', '2030-04-15', 199_000],
    ]);
    expect((await g.api('GET', `/v1/subscriptions/${sub.id}`)).body).toMatchObject({ status: 'active', paidThrough: '2030-05-15', nextReviewOn: '2030-05-15' });
    // Caught up: a second run the same day bills nothing more.
    await run(g, bkk('2030-04-20', '09:00'));
    expect(await invoicesOf(g, g.member.id)).toHaveLength(4);
    await expectLedgerHolds(g, g.member.id);
  });

  it('does not bill again a missed period whose invoice was voided', async () => {
    const g = await planGraceGym();
    await saveSimulatedCard(g, g.member.id, 'pm_card_chargeDeclined');
    const sub = await subscribe(g);
    const [first] = await invoicesOf(g, g.member.id);
    expect(first).toMatchObject({ status: 'open' });
    expect((await g.api('POST', `/v1/invoices/${first.id}/void`, {})).status).toBe(200);
    await saveSimulatedCard(g, g.member.id);
    await run(g, bkk('2030-03-20', '03:17'));
    const invoices = await invoicesOf(g, g.member.id);
    expect(invoices.map((i) => [i.status, i.period?.start])).toEqual([
      ['void', '2030-01-15'],
      ['paid', '2030-02-15'],
      ['paid', '2030-03-15'],
    ]);
    expect((await g.api('GET', `/v1/subscriptions/${sub.id}`)).body).toMatchObject({ paidThrough: '2030-04-15' });
  });
});

describe('credit balance spent by two invoices at once', () => {
  it('applies the credit once: the invoice finalised second sees what the first used', async () => {
    const g = await planGraceGym();
    await saveSimulatedCard(g, g.member.id);
    await subscribe(g);
    const [first] = await invoicesOf(g, g.member.id);
    setClock(bkk('2030-01-20'));
    const note = await g.api('POST', `/v1/invoices/${first.id}/credit-notes`, { lines: [{ invoiceLineId: 'line_1', amount: 40_000 }], outcome: 'credit_balance', reason: 'goodwill' });
    expect(note.status, JSON.stringify(note.body)).toBe(201);
    expect((await g.api('GET', `/v1/members/${g.member.id}/billing`)).body).toMatchObject({ creditBalance: 40_000 });

    // Two sales at the desk charged at the same instant, each larger than the credit.
    setClock(bkk('2030-01-20', '11:00'));
    const sales = await Promise.all(
      ['Shaker', 'Towel'].map((description) =>
        g.api('POST', `/v1/members/${g.member.id}/pending-items`, { kind: 'shop_sale', description, unitAmount: 60_000, currency: 'THB', chargeNow: true }),
      ),
    );
    for (const s of sales) expect(s.status, JSON.stringify(s.body)).toBe(201);
    const invoices = (await invoicesOf(g, g.member.id)).filter((i) => i.reason === 'one_off');
    expect(invoices).toHaveLength(2);
    expect(invoices.reduce((sum, i) => sum + i.creditApplied, 0)).toBe(40_000);
    expect(invoices.reduce((sum, i) => sum + i.amountDue, 0)).toBe(80_000);
    for (const i of invoices) expect(i.amountDue).toBe(i.total - i.creditApplied);
    const ledger = await expectLedgerHolds(g, g.member.id);
    expect(ledger).toMatchObject({ creditBalance: 0, amountOwed: 0 });
  });
});

describe('a price rise for running subscriptions', () => {
  it('keeps the old price until the owner applies the new one, then bills it from each next period', async () => {
    const g = await planGraceGym();
    const other = (await g.api('POST', '/v1/members', { name: 'Nok C.' })).body;
    await saveSimulatedCard(g, g.member.id);
    await saveSimulatedCard(g, other.id);
    const sub = await subscribe(g);
    const frozen = await subscribe(g, { payerId: other.id });
    setClock(bkk('2030-01-20'));
    expect((await g.api('POST', `/v1/subscriptions/${frozen.id}/freeze`, { from: '2030-01-20', to: '2030-03-01' })).status).toBe(200);

    expect((await g.api('PATCH', `/v1/plans/${g.plan.id}`, { price: 219_000 })).status).toBe(200);
    // Editing the plan alone changes no running subscription.
    expect((await g.api('GET', `/v1/subscriptions/${sub.id}`)).body).toMatchObject({ price: 199_000 });
    const rollout = await g.api('POST', `/v1/plans/${g.plan.id}/apply-price-to-subscriptions`, {});
    expect(rollout.status, JSON.stringify(rollout.body)).toBe(200);
    expect(rollout.body.moved).toEqual([{ subscriptionId: sub.id, from: '2030-02-15' }]);
    expect(rollout.body.skipped).toEqual([{ subscriptionId: frozen.id, reason: expect.stringMatching(/^cannot_change_plan/) }]);
    expect(rollout.body.nextAfter).toBeNull();
    // Already moved: a second call moves nothing again.
    expect((await g.api('POST', `/v1/plans/${g.plan.id}/apply-price-to-subscriptions`, {})).body.moved).toEqual([]);

    await run(g, bkk('2030-02-15'));
    const renewal = (await invoicesOf(g, g.member.id))[1];
    expect(renewal).toMatchObject({ period: { start: '2030-02-15', end: '2030-03-15' }, total: 219_000, status: 'paid' });
    expect((await g.api('GET', `/v1/subscriptions/${sub.id}`)).body).toMatchObject({ price: 219_000 });
    expect((await g.api('POST', '/v1/plans/plan_nothere/apply-price-to-subscriptions', {})).status).toBe(404);
  });
});
