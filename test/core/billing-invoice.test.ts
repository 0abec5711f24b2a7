import { describe, expect, it } from 'vitest';
import { formatCreditNoteNumber, issueCreditNote, refundAllocation, type CreditNote } from '../../core/billing/credit-notes.ts';
import {
  computeDraftInvoice,
  formatInvoiceNumber,
  invoiceProblems,
  transitionInvoice,
  type DraftInvoiceInput,
  type Invoice,
  type InvoiceAction,
} from '../../core/billing/invoice.ts';
import type { PlanPrice } from '../../core/billing/proration.ts';
import type { TaxRate } from '../../core/billing/tax.ts';

const VAT7: TaxRate = { name: 'VAT 7%', basisPoints: 700, mode: 'inclusive' };
const US_SALES: TaxRate = { name: 'Sales tax 8.25%', basisPoints: 825, mode: 'exclusive' };
const JCT: TaxRate = { name: '消費税 10%', basisPoints: 1000, mode: 'inclusive' };
const T0 = Date.UTC(2026, 2, 1, 3);

const THB_PLAN: PlanPrice = { planId: 'plan_premium', name: 'Premium monthly', unitAmount: 199000, quantity: 1, taxRate: VAT7 };
const APRIL = { start: '2026-04-01', end: '2026-05-01' };

function draft(input: DraftInvoiceInput): Invoice {
  const r = computeDraftInvoice(input);
  if (!r.ok) throw new Error(r.detail);
  expect(invoiceProblems(r.invoice)).toEqual([]);
  return r.invoice;
}

function step(invoice: Invoice, action: InvoiceAction): Invoice {
  const r = transitionInvoice(invoice, action);
  if (!r.ok) throw new Error(`${r.reason}: ${r.detail}`);
  expect(invoiceProblems(r.invoice)).toEqual([]);
  return r.invoice;
}

const firstThbInvoice = () =>
  draft({
    currency: 'THB',
    period: APRIL,
    plan: THB_PLAN,
    joiningFee: { description: 'Joining fee', amount: 99000, taxRate: VAT7 },
  });

describe('draft invoices', () => {
  it('THB first invoice: plan and joining fee, VAT 7 % included, per-line rounding', () => {
    const inv = firstThbInvoice();
    expect(inv.lines.map((l) => [l.id, l.kind, l.quantity, l.unitAmount, l.net, l.tax, l.total])).toEqual([
      ['line_1', 'plan', 1, 199000, 185981, 13019, 199000],
      ['line_2', 'joining_fee', 1, 99000, 92523, 6477, 99000],
    ]);
    expect(inv).toMatchObject({ status: 'draft', number: null, subtotal: 278504, tax: 19496, total: 298000, amountDue: 298000, amountRemaining: 298000 });
  });

  it('USD exclusive: plan, PT sessions, an untaxed late-cancel fee, and credit from the balance', () => {
    const inv = draft({
      currency: 'USD',
      period: APRIL,
      plan: { planId: 'plan_std', name: 'Standard', unitAmount: 4999, quantity: 1, taxRate: US_SALES },
      pendingItems: [
        { id: 'pi_pt', kind: 'pt_session', description: 'PT session', quantity: 2, unitAmount: 3500, taxRate: US_SALES },
        { id: 'pi_late', kind: 'late_cancel_fee', description: 'Late cancel: Spin 18:00', quantity: 1, unitAmount: 1000, taxRate: null },
      ],
      creditBalance: 2000,
    });
    expect(inv.lines.map((l) => [l.kind, l.oneOffKind, l.sourceId, l.amount, l.tax, l.total])).toEqual([
      ['plan', null, 'plan_std', 4999, 412, 5411],
      ['one_off', 'pt_session', 'pi_pt', 7000, 578, 7578], // 577.5 → 578
      ['one_off', 'late_cancel_fee', 'pi_late', 1000, 0, 1000],
    ]);
    expect(inv).toMatchObject({ subtotal: 12999, tax: 990, total: 13989, creditApplied: 2000, amountDue: 11989, endingCreditBalance: 0 });
  });

  it('JPY zero-decimal with a shop sale', () => {
    const inv = draft({
      currency: 'JPY',
      period: APRIL,
      plan: { planId: 'plan_jp', name: 'レギュラー会員', unitAmount: 9800, quantity: 1, taxRate: JCT },
      pendingItems: [{ id: 'pi_shop', kind: 'shop_sale', description: 'Protein bar', quantity: 3, unitAmount: 330, taxRate: JCT }],
    });
    expect(inv.lines.map((l) => [l.net, l.tax, l.total])).toEqual([
      [8909, 891, 9800], // 890.9
      [900, 90, 990],
    ]);
    expect(inv).toMatchObject({ subtotal: 9809, tax: 981, total: 10790, amountDue: 10790 });
  });

  it('a frozen period is charged the freeze fee, not the plan', () => {
    const inv = draft({ currency: 'THB', period: APRIL, plan: null, freezeFee: { description: 'Freeze fee', amount: 30000, taxRate: VAT7 } });
    expect(inv.lines.map((l) => [l.kind, l.total, l.tax])).toEqual([['freeze_fee', 30000, 1963]]); // 1962.6
    expect(computeDraftInvoice({ currency: 'THB', period: APRIL, plan: THB_PLAN, freezeFee: { description: 'Freeze fee', amount: 30000, taxRate: VAT7 } })).toMatchObject({
      ok: false,
      reason: 'plan_and_freeze_fee',
    });
  });

  it('charges a short final period by whole days', () => {
    const inv = draft({ currency: 'THB', period: APRIL, plan: THB_PLAN, planFraction: { days: 10, periodDays: 30 } });
    expect(inv.lines[0]).toMatchObject({ description: 'Premium monthly (10 of 30 days)', quantity: 1, unitAmount: 66333, total: 66333 });
  });

  it('never asks a negative amount: excess credit carries forward as balance', () => {
    const inv = draft({
      currency: 'THB',
      period: null,
      plan: null,
      prorations: [
        { kind: 'proration', side: 'credit_unused', planId: 'plan_premium', description: 'Unused time on Premium', amount: -109129, taxRate: VAT7, period: { start: '2026-03-15', end: '2026-04-01' }, fraction: { days: 17, periodDays: 31 } },
        { kind: 'proration', side: 'charge_remaining', planId: 'plan_basic', description: 'Remaining time on Basic', amount: 70742, taxRate: VAT7, period: { start: '2026-03-15', end: '2026-04-01' }, fraction: { days: 17, periodDays: 31 } },
      ],
      creditBalance: 500,
    });
    expect(inv).toMatchObject({ total: -38387, amountDue: 0, creditApplied: 0, startingCreditBalance: 500, endingCreditBalance: 38887 });
  });

  it('refuses malformed input with the field named', () => {
    expect(computeDraftInvoice({ currency: 'THB', period: APRIL, plan: { ...THB_PLAN, unitAmount: 1.5 } })).toMatchObject({ ok: false, reason: 'invalid_input', detail: expect.stringContaining('plan.unitAmount') });
  });
});

describe('invoice numbers', () => {
  it('formats {prefix}-{000001}', () => {
    expect(formatInvoiceNumber('GG', 1)).toBe('GG-000001');
    expect(formatInvoiceNumber('BKK-1', 1234567)).toBe('BKK-1-1234567');
    expect(formatCreditNoteNumber('GG', 12)).toBe('GG-CN-000012');
    expect(() => formatInvoiceNumber('gg', 1)).toThrow();
    expect(() => formatInvoiceNumber('GG', 0)).toThrow(RangeError);
  });
});

describe('invoice lifecycle', () => {
  it('draft → open → paid, by partial payments', () => {
    let inv = firstThbInvoice();
    inv = step(inv, { type: 'finalise', number: 'GG-000001', at: T0 });
    expect(inv).toMatchObject({ status: 'open', number: 'GG-000001', finalisedAt: T0 });
    inv = step(inv, { type: 'record_payment', amount: 100000, at: T0 + 1 });
    expect(inv).toMatchObject({ status: 'open', amountPaid: 100000, amountRemaining: 198000 });
    inv = step(inv, { type: 'record_payment', amount: 198000, at: T0 + 2 });
    expect(inv).toMatchObject({ status: 'paid', paidAt: T0 + 2, amountRemaining: 0 });
  });

  it('a draft can be revised; a finalised invoice cannot', () => {
    const inv = firstThbInvoice();
    const revised = step(inv, { type: 'revise', input: { currency: 'THB', period: APRIL, plan: THB_PLAN } });
    expect(revised.total).toBe(199000);
    const open = step(revised, { type: 'finalise', number: 'GG-000002', at: T0 });
    expect(transitionInvoice(open, { type: 'revise', input: { currency: 'THB', period: APRIL, plan: null } })).toMatchObject({ ok: false, reason: 'finalised_is_immutable' });
    expect(transitionInvoice(open, { type: 'finalise', number: 'GG-000003', at: T0 })).toMatchObject({ ok: false, reason: 'finalised_is_immutable' });
  });

  it('refuses illegal moves with a reason', () => {
    const d = firstThbInvoice();
    expect(transitionInvoice(d, { type: 'void', at: T0 })).toMatchObject({ ok: false, reason: 'draft_is_deleted_not_voided' });
    expect(transitionInvoice(d, { type: 'record_payment', amount: 1, at: T0 })).toMatchObject({ ok: false, reason: 'not_finalised' });
    expect(transitionInvoice(d, { type: 'mark_uncollectible', at: T0 })).toMatchObject({ ok: false, reason: 'not_finalised' });
    expect(transitionInvoice(d, { type: 'finalise', number: 'not a number', at: T0 })).toMatchObject({ ok: false, reason: 'bad_number' });

    const open = step(d, { type: 'finalise', number: 'GG-000001', at: T0 });
    expect(transitionInvoice(open, { type: 'record_payment', amount: 298001, at: T0 })).toMatchObject({ ok: false, reason: 'exceeds_remaining' });
    const part = step(open, { type: 'record_payment', amount: 1000, at: T0 });
    expect(transitionInvoice(part, { type: 'void', at: T0 })).toMatchObject({ ok: false, reason: 'has_payments_or_credits' });

    const paid = step(part, { type: 'record_payment', amount: 297000, at: T0 });
    for (const action of [
      { type: 'void', at: T0 },
      { type: 'mark_uncollectible', at: T0 },
      { type: 'record_payment', amount: 1, at: T0 },
      { type: 'revise', input: { currency: 'THB', period: APRIL, plan: null } },
    ] as InvoiceAction[]) {
      expect(transitionInvoice(paid, action)).toMatchObject({ ok: false, reason: 'invoice_paid' });
    }
    const voided = step(open, { type: 'void', at: T0 + 5 });
    expect(voided).toMatchObject({ status: 'void', voidedAt: T0 + 5, amountRemaining: 0 });
    expect(transitionInvoice(voided, { type: 'record_payment', amount: 1, at: T0 })).toMatchObject({ ok: false, reason: 'invoice_void' });
  });

  it('open → uncollectible, which may still be paid', () => {
    let inv = step(firstThbInvoice(), { type: 'finalise', number: 'GG-000001', at: T0 });
    inv = step(inv, { type: 'mark_uncollectible', at: T0 + 1 });
    expect(transitionInvoice(inv, { type: 'mark_uncollectible', at: T0 + 2 })).toMatchObject({ ok: false, reason: 'already_uncollectible' });
    inv = step(inv, { type: 'record_payment', amount: 298000, at: T0 + 3 });
    expect(inv.status).toBe('paid');
  });

  it('finalising an invoice with nothing due marks it paid', () => {
    const inv = draft({ currency: 'THB', period: APRIL, plan: THB_PLAN, creditBalance: 250000 });
    expect(inv).toMatchObject({ creditApplied: 199000, amountDue: 0, endingCreditBalance: 51000 });
    expect(step(inv, { type: 'finalise', number: 'GG-000009', at: T0 })).toMatchObject({ status: 'paid', paidAt: T0 });
  });
});

describe('credit notes', () => {
  const paidInvoice = () => {
    let inv = step(firstThbInvoice(), { type: 'finalise', number: 'GG-000001', at: T0 });
    inv = step(inv, { type: 'record_payment', amount: 298000, at: T0 });
    return inv;
  };
  const issue = (invoice: Invoice, existing: CreditNote[], lines: Array<{ invoiceLineId: string; amount: number }>, outcome: CreditNote['outcome']) =>
    issueCreditNote({ invoice, existing, lines, outcome, reason: 'billing_error', at: T0 + 10 });

  it('credits a whole line with its exact tax, then refuses over-crediting it', () => {
    const inv = paidInvoice();
    const r = issue(inv, [], [{ invoiceLineId: 'line_2', amount: 99000 }], 'refund');
    expect(r).toMatchObject({ ok: true, creditNote: { invoiceNumber: 'GG-000001', subtotal: 92523, tax: 6477, total: 99000, outcome: 'refund' } });
    if (!r.ok) return;
    const again = issue(inv, [r.creditNote], [{ invoiceLineId: 'line_2', amount: 1 }], 'credit_balance');
    expect(again).toMatchObject({ ok: false, reason: 'over_credit', detail: 'line line_2 (Joining fee) has 0 left to credit of 99000; 1 asked' });
  });

  it('splits partial credits so that the parts add up to the line exactly', () => {
    const inv = paidInvoice();
    const first = issue(inv, [], [{ invoiceLineId: 'line_1', amount: 50000 }], 'credit_balance');
    expect(first).toMatchObject({ ok: true, creditNote: { subtotal: 46729, tax: 3271 } }); // 50000 × 13019 / 199000 = 3271.1
    if (!first.ok) return;
    expect(issue(inv, [first.creditNote], [{ invoiceLineId: 'line_1', amount: 149001 }], 'credit_balance')).toMatchObject({ ok: false, reason: 'over_credit' });
    const rest = issue(inv, [first.creditNote], [{ invoiceLineId: 'line_1', amount: 149000 }], 'credit_balance');
    expect(rest).toMatchObject({ ok: true, creditNote: { subtotal: 185981 - 46729, tax: 13019 - 3271 } });
  });

  it('checks the outcome against what was paid and what is outstanding', () => {
    const open = step(firstThbInvoice(), { type: 'finalise', number: 'GG-000001', at: T0 });
    expect(issue(open, [], [{ invoiceLineId: 'line_1', amount: 1000 }], 'refund')).toMatchObject({ ok: false, reason: 'exceeds_refundable' });
    const reduce = issue(open, [], [{ invoiceLineId: 'line_2', amount: 99000 }], 'reduce_outstanding');
    expect(reduce.ok).toBe(true);
    const reduced = step(open, { type: 'apply_credit_note', amount: 99000, at: T0 });
    expect(reduced).toMatchObject({ status: 'open', amountRemaining: 199000, amountCredited: 99000 });
    const paid = step(reduced, { type: 'record_payment', amount: 199000, at: T0 });
    expect(issue(paid, reduce.ok ? [reduce.creditNote] : [], [{ invoiceLineId: 'line_1', amount: 1 }], 'reduce_outstanding')).toMatchObject({ ok: false, reason: 'exceeds_outstanding' });
  });

  it('refuses drafts, unknown and repeated lines', () => {
    const d = firstThbInvoice();
    expect(issue(d, [], [{ invoiceLineId: 'line_1', amount: 1 }], 'credit_balance')).toMatchObject({ ok: false, reason: 'invoice_not_finalised' });
    const inv = paidInvoice();
    expect(issue(inv, [], [{ invoiceLineId: 'line_9', amount: 1 }], 'credit_balance')).toMatchObject({ ok: false, reason: 'unknown_line' });
    expect(issue(inv, [], [{ invoiceLineId: 'line_1', amount: 1 }, { invoiceLineId: 'line_1', amount: 1 }], 'credit_balance')).toMatchObject({ ok: false, reason: 'duplicate_line' });
    expect(issue(inv, [], [], 'credit_balance')).toMatchObject({ ok: false, reason: 'invalid_request' });
    expect(issue(inv, [], [{ invoiceLineId: 'line_1', amount: 0 }], 'credit_balance')).toMatchObject({ ok: false, reason: 'invalid_request' });
  });
});

describe('refundAllocation', () => {
  const pay = (id: string, amount: number, amountRefunded = 0) => ({ id, amount, amountRefunded });
  const ids = (parts: ReturnType<typeof refundAllocation<ReturnType<typeof pay>>>) => parts.map((p) => [p.payment.id, p.amount]);

  it('uses the oldest payment that can take the whole refund', () => {
    expect(ids(refundAllocation([pay('a', 50_000), pay('b', 80_000), pay('c', 90_000)], 60_000))).toEqual([['b', 60_000]]);
  });
  it('splits newest first when no payment can take it all, counting what was refunded before', () => {
    expect(ids(refundAllocation([pay('a', 50_000), pay('b', 80_000, 60_000)], 60_000))).toEqual([
      ['b', 20_000],
      ['a', 40_000],
    ]);
  });
  it('refuses (empty) more than the payments have left', () => {
    expect(refundAllocation([pay('a', 50_000, 10_000), pay('b', 20_000)], 60_001)).toEqual([]);
    expect(refundAllocation([], 1)).toEqual([]);
  });
});
