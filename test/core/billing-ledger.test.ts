import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { creditableByLine, issueCreditNote, type CreditNote, type CreditNoteOutcome } from '../../core/billing/credit-notes.ts';
import { computeDraftInvoice, formatInvoiceNumber, invoiceProblems, transitionInvoice, type Invoice, type PendingItem } from '../../core/billing/invoice.ts';
import { buildLedger, checkLedger, type LedgerCreditNote, type LedgerInvoice, type Payment, type Refund } from '../../core/billing/ledger.ts';
import type { TaxRate } from '../../core/billing/tax.ts';

const T0 = Date.UTC(2026, 0, 1);
const VAT7: TaxRate = { name: 'VAT 7%', basisPoints: 700, mode: 'inclusive' };

describe('ledger statement', () => {
  it('orders documents by time with a running balance and states the invariant', () => {
    const ledger = buildLedger({
      invoices: [
        { number: 'GG-000001', finalisedAt: T0, total: 298000, voidedAt: null },
        { number: 'GG-000002', finalisedAt: T0 + 30, total: 199000, voidedAt: null },
        { number: null, finalisedAt: null, total: 5000, voidedAt: null }, // a draft is not on the books
      ],
      creditNotes: [{ number: 'GG-CN-000001', invoiceNumber: 'GG-000001', issuedAt: T0 + 20, total: 99000, outcome: 'refund' }],
      payments: [
        { id: 'pay_1', at: T0 + 10, amount: 298000, invoiceNumber: 'GG-000001' },
        { id: 'pay_2', at: T0 + 40, amount: 50000, invoiceNumber: null },
      ],
      refunds: [{ id: 're_1', at: T0 + 21, amount: 99000, paymentId: 'pay_1', creditNoteNumber: 'GG-CN-000001' }],
    });
    expect(ledger.entries.map((e) => [e.kind, e.reference, e.debit, e.credit, e.balance])).toEqual([
      ['invoice', 'GG-000001', 298000, 0, 298000],
      ['payment', 'pay_1', 0, 298000, 0],
      ['credit_note', 'GG-CN-000001', 0, 99000, -99000],
      ['refund', 're_1', 99000, 0, 0],
      ['invoice', 'GG-000002', 199000, 0, 199000],
      ['payment', 'pay_2', 0, 50000, 149000],
    ]);
    expect(ledger).toMatchObject({ invoiced: 497000, credited: 99000, paid: 348000, refunded: 99000, openInvoices: [{ number: 'GG-000002', remaining: 149000 }], creditBalance: 0, amountOwed: 149000, outstanding: 149000 });
    expect(checkLedger(ledger)).toMatchObject({ holds: true, left: 398000, right: 398000 });
  });

  it('applies held credit to the next invoice and returns it when that invoice is voided', () => {
    const ledger = buildLedger({
      invoices: [
        { number: 'GG-000001', finalisedAt: T0, total: 100000, voidedAt: null },
        { number: 'GG-000002', finalisedAt: T0 + 20, total: 50000, voidedAt: T0 + 30 },
      ],
      creditNotes: [{ number: 'GG-CN-000001', invoiceNumber: 'GG-000001', issuedAt: T0 + 15, total: 30000, outcome: 'credit_balance' }],
      payments: [{ id: 'pay_1', at: T0 + 10, amount: 100000, invoiceNumber: 'GG-000001' }],
      refunds: [],
    });
    expect(ledger).toMatchObject({ creditBalance: 30000, amountOwed: 0, outstanding: -30000, balance: -30000, openInvoices: [] });
    expect(checkLedger(ledger).holds).toBe(true);
  });
});

// Random histories built through the real modules, as the Worker would: draft with the member's
// credit balance, finalise, pay (to an invoice or on account, sometimes overpaying), credit notes
// with each outcome (a refund note is paid out by a refund), refunds of payments, voids and
// write-offs.
const taxRate = fc.option(
  fc.record({ name: fc.constant<string>('tax'), basisPoints: fc.integer({ min: 0, max: 2500 }), mode: fc.constantFrom('inclusive' as const, 'exclusive' as const) }),
  { nil: null },
);
const lineArb = fc.record({ unitAmount: fc.integer({ min: -30_000, max: 500_000 }), quantity: fc.integer({ min: 1, max: 3 }), taxRate });
const pct = fc.integer({ min: 1, max: 100 });
const op = fc.oneof(
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('invoice' as const), lines: fc.array(lineArb, { minLength: 1, maxLength: 4 }) }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('pay' as const), which: fc.nat(), pct, extra: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 5000 })) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('pay_on_account' as const), amount: fc.integer({ min: 1, max: 400_000 }) }) },
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant('credit' as const),
      which: fc.nat(),
      line: fc.nat(),
      pct,
      outcome: fc.constantFrom<CreditNoteOutcome>('refund', 'credit_balance', 'reduce_outstanding'),
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('refund_payment' as const), which: fc.nat(), pct }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('void' as const), which: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('uncollectible' as const), which: fc.nat() }) },
);

type Op = typeof op extends fc.Arbitrary<infer T> ? T : never;
type Doc = { invoice: Invoice; voidedAt: number | null };

function simulate(ops: readonly Op[]) {
  const docs: Doc[] = [];
  const notes: CreditNote[] = [];
  const payments: Payment[] = [];
  const refunds: Refund[] = [];
  let t = T0;
  let noteSeq = 0;
  const ledgerNow = () =>
    buildLedger({
      invoices: docs.map<LedgerInvoice>((d) => ({ number: d.invoice.number, finalisedAt: d.invoice.finalisedAt, total: d.invoice.total, voidedAt: d.voidedAt })),
      creditNotes: notes.map<LedgerCreditNote>((n) => ({ number: n.number, invoiceNumber: n.invoiceNumber, issuedAt: n.issuedAt, total: n.total, outcome: n.outcome })),
      payments,
      refunds,
    });
  const pick = <T,>(items: T[], which: number): T | undefined => (items.length ? items[which % items.length] : undefined);
  const apply = (doc: Doc, action: Parameters<typeof transitionInvoice>[1]) => {
    const r = transitionInvoice(doc.invoice, action);
    if (!r.ok) throw new Error(`${action.type}: ${r.reason}: ${r.detail}`);
    doc.invoice = r.invoice;
  };

  for (const o of ops) {
    t += 1 + ('which' in o ? o.which % 5_000 : 0); // strictly increasing: no ties between the model and the ledger
    switch (o.kind) {
      case 'invoice': {
        const items: PendingItem[] = o.lines.map((l, i) => ({
          id: `pi_${docs.length}_${i}`,
          kind: 'shop_sale',
          description: `Item ${i}`,
          ...l,
        }));
        const r = computeDraftInvoice({ currency: 'THB', period: null, plan: null, pendingItems: items, creditBalance: ledgerNow().creditBalance });
        if (!r.ok) throw new Error(r.detail);
        const doc: Doc = { invoice: r.invoice, voidedAt: null };
        apply(doc, { type: 'finalise', number: formatInvoiceNumber('GG', docs.length + 1), at: t });
        docs.push(doc);
        break;
      }
      case 'pay': {
        const doc = pick(docs.filter((d) => d.invoice.amountRemaining > 0), o.which);
        if (!doc) break;
        // Part of what remains, or all of it plus an overpayment that goes to credit.
        const toInvoice = o.extra > 0 ? doc.invoice.amountRemaining : Math.max(1, Math.floor((doc.invoice.amountRemaining * o.pct) / 100));
        apply(doc, { type: 'record_payment', amount: toInvoice, at: t });
        payments.push({ id: `pay_${payments.length}`, at: t, amount: toInvoice + o.extra, invoiceNumber: doc.invoice.number });
        break;
      }
      case 'pay_on_account': {
        // Money on account settles the oldest open invoices first; the rest is credit.
        let rest = o.amount;
        for (const doc of docs) {
          if (rest === 0) break;
          const x = Math.min(rest, doc.invoice.amountRemaining);
          if (x > 0) {
            apply(doc, { type: 'record_payment', amount: x, at: t });
            rest -= x;
          }
        }
        payments.push({ id: `pay_${payments.length}`, at: t, amount: o.amount, invoiceNumber: null });
        break;
      }
      case 'credit': {
        const doc = pick(docs.filter((d) => d.invoice.status !== 'void'), o.which);
        if (!doc) break;
        const left = creditableByLine(doc.invoice, notes);
        const line = pick(doc.invoice.lines.filter((l) => (left.get(l.id)?.total ?? 0) > 0), o.line);
        if (!line) break;
        const amount = Math.max(1, Math.floor(((left.get(line.id)?.total ?? 0) * o.pct) / 100));
        const r = issueCreditNote({ invoice: doc.invoice, existing: notes, lines: [{ invoiceLineId: line.id, amount }], outcome: o.outcome, reason: 'other', at: t });
        if (!r.ok) {
          expect(['exceeds_outstanding', 'exceeds_refundable']).toContain(r.reason);
          break;
        }
        const note = { ...r.creditNote, number: `GG-CN-${String(++noteSeq).padStart(6, '0')}` };
        notes.push(note);
        if (note.outcome === 'reduce_outstanding') apply(doc, { type: 'apply_credit_note', amount: note.total, at: t });
        if (note.outcome === 'refund') refunds.push({ id: `re_${refunds.length}`, at: t + 1, amount: note.total, paymentId: null, creditNoteNumber: note.number });
        t += 1;
        break;
      }
      case 'refund_payment': {
        const payment = pick(payments, o.which);
        if (!payment) break;
        const already = refunds.filter((r) => r.paymentId === payment.id).reduce((s, r) => s + r.amount, 0);
        const amount = Math.floor(((payment.amount - already) * o.pct) / 100);
        if (amount > 0) refunds.push({ id: `re_${refunds.length}`, at: t, amount, paymentId: payment.id, creditNoteNumber: null });
        break;
      }
      case 'void': {
        const doc = pick(docs, o.which);
        if (!doc) break;
        const r = transitionInvoice(doc.invoice, { type: 'void', at: t });
        if (r.ok) {
          doc.invoice = r.invoice;
          doc.voidedAt = t;
        }
        break;
      }
      case 'uncollectible': {
        const doc = pick(docs, o.which);
        if (!doc) break;
        const r = transitionInvoice(doc.invoice, { type: 'mark_uncollectible', at: t });
        if (r.ok) doc.invoice = r.invoice;
        break;
      }
    }
  }
  return { docs, notes, payments, refunds, ledger: ledgerNow() };
}

describe('ledger invariant over random histories', () => {
  it('Σ invoiced − Σ credited = Σ paid − Σ refunded + outstanding, and the books agree with every invoice', () => {
    fc.assert(
      fc.property(fc.array(op, { maxLength: 40 }), (ops) => {
        const { docs, notes, ledger } = simulate(ops);
        const check = checkLedger(ledger);
        expect(check).toMatchObject({ holds: true, integral: true, balanceAgrees: true });
        expect(check.left).toBe(check.right);

        const open = new Map(ledger.openInvoices.map((o) => [o.number, o.remaining]));
        for (const { invoice } of docs) {
          expect(invoiceProblems(invoice)).toEqual([]);
          expect(open.get(invoice.number ?? '') ?? 0).toBe(invoice.amountRemaining);
          // Credit notes never take more than a line had, net and tax each, and sum exactly.
          for (const line of invoice.lines) {
            const credited = notes.flatMap((n) => (n.invoiceNumber === invoice.number ? n.lines : [])).filter((l) => l.invoiceLineId === line.id);
            const sum = (k: 'net' | 'tax' | 'amount') => credited.reduce((s, l) => s + l[k], 0);
            if (credited.length === 0) continue;
            expect(sum('amount')).toBeLessThanOrEqual(line.total);
            expect(sum('net')).toBeLessThanOrEqual(line.net);
            expect(sum('tax')).toBeLessThanOrEqual(line.tax);
            expect(sum('net') + sum('tax')).toBe(sum('amount'));
            if (sum('amount') === line.total) expect([sum('net'), sum('tax')]).toEqual([line.net, line.tax]);
          }
        }
        for (const n of notes) {
          expect(n.subtotal + n.tax).toBe(n.total);
          expect(n.lines.reduce((s, l) => s + l.amount, 0)).toBe(n.total);
        }
        const totalInvoiced = docs.filter((d) => d.voidedAt === null).reduce((s, d) => s + d.invoice.total, 0);
        expect(ledger.invoiced).toBe(totalInvoiced);
      }),
      { numRuns: 300 },
    );
  });

  it('holds for arbitrary documents too, in any order, with ties and unknown references', () => {
    const time = fc.integer({ min: 0, max: 20 }).map((n) => T0 + n);
    const number = fc.integer({ min: 1, max: 6 }).map((n) => `GG-${String(n).padStart(6, '0')}`);
    const docs = fc.record({
      invoices: fc.uniqueArray(
        fc.record({ number, finalisedAt: time, total: fc.integer({ min: -100_000, max: 1_000_000 }), voidAfter: fc.option(fc.integer({ min: 0, max: 10 }), { nil: null }) }),
        { selector: (i) => i.number, maxLength: 6 },
      ),
      creditNotes: fc.array(
        fc.record({ number: fc.constant(null), invoiceNumber: number, issuedAt: time, total: fc.integer({ min: 1, max: 300_000 }), outcome: fc.constantFrom<CreditNoteOutcome>('refund', 'credit_balance', 'reduce_outstanding'), voided: fc.boolean() }),
        { maxLength: 8 },
      ),
      payments: fc.array(fc.record({ id: fc.uuid(), at: time, amount: fc.integer({ min: 1, max: 500_000 }), invoiceNumber: fc.option(number, { nil: null }) }), { maxLength: 8 }),
      refunds: fc.array(fc.record({ id: fc.uuid(), at: time, amount: fc.integer({ min: 1, max: 200_000 }), paymentId: fc.constant(null), creditNoteNumber: fc.constant(null) }), { maxLength: 5 }),
    });
    fc.assert(
      fc.property(docs, (d) => {
        const ledger = buildLedger({
          invoices: d.invoices.map((i) => ({ number: i.number, finalisedAt: i.finalisedAt, total: i.total, voidedAt: i.voidAfter === null ? null : i.finalisedAt + i.voidAfter })),
          creditNotes: d.creditNotes,
          payments: d.payments,
          refunds: d.refunds,
        });
        expect(checkLedger(ledger)).toMatchObject({ holds: true });
        const last = ledger.entries.at(-1);
        expect(last?.balance ?? 0).toBe(ledger.outstanding);
      }),
      { numRuns: 500 },
    );
  });

  it('a refund note needs a payment behind it; the model never refunds money that was not paid', () => {
    const { ledger } = simulate([
      { kind: 'invoice', lines: [{ unitAmount: 199000, quantity: 1, taxRate: VAT7 }] },
      { kind: 'credit', which: 0, line: 0, pct: 50, outcome: 'refund' },
    ]);
    expect(ledger).toMatchObject({ refunded: 0, credited: 0, amountOwed: 199000 });
  });
});
