// Property test of the whole billing stack through the API and the run functions: random
// histories of renewals, declines, desk payments, sales, credit notes, voids and refunds for one
// payer, with a clock that moves. After each history the books balance to the minor unit
// (Σ invoiced − Σ credited = Σ paid − Σ refunded + outstanding), invoice numbers are gap-free, every
// invoice agrees with the ledger, and no finalised invoice changed after it was finalised.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { runDunning } from '../../edge/dunning/run.ts';
import { billingDeps, billingGym, bkk, expectLedgerHolds, invoicesOf, run, saveSimulatedCard, setClock, subscribe, useBillingClock, type BillingGym } from './billing-helpers.ts';

useBillingClock();

const pct = fc.integer({ min: 1, max: 100 });
const which = fc.nat({ max: 20 });
const op = fc.oneof(
  fc.record({ type: fc.constant('days' as const), days: fc.integer({ min: 5, max: 45 }) }),
  fc.record({ type: fc.constant('card' as const), card: fc.constantFrom('pm_card_visa', 'pm_card_chargeDeclined', 'pm_card_chargeDeclinedInsufficientFunds') }),
  fc.record({ type: fc.constant('desk' as const), which, pct }),
  fc.record({ type: fc.constant('sale' as const), amount: fc.integer({ min: 1, max: 300_000 }), now: fc.boolean() }),
  fc.record({ type: fc.constant('credit' as const), which, pct, outcome: fc.constantFrom('refund', 'credit_balance', 'reduce_outstanding') }),
  fc.record({ type: fc.constant('void' as const), which }),
  fc.record({ type: fc.constant('refund' as const), which, pct }),
);
type Op = typeof op extends fc.Arbitrary<infer T> ? T : never;

const FROZEN_FIELDS = ['number', 'currency', 'lines', 'subtotal', 'tax', 'total', 'startingCreditBalance', 'creditApplied', 'amountDue', 'endingCreditBalance', 'finalisedAt'] as const;
const frozenPart = (inv: any) => Object.fromEntries(FROZEN_FIELDS.map((k) => [k, inv[k]]));
const pick = <T,>(xs: T[], i: number): T | undefined => (xs.length ? xs[i % xs.length] : undefined);

async function apply(g: BillingGym, o: Op, clock: { now: number }, seen: Map<string, unknown>) {
  const invoices = await invoicesOf(g, g.member.id);
  for (const inv of invoices) if (inv.number && !seen.has(inv.id)) seen.set(inv.id, frozenPart(inv));
  switch (o.type) {
    case 'days': {
      clock.now += o.days * 86_400_000;
      await run(g, clock.now);
      await runDunning(billingDeps(g.env), clock.now, { organisationId: g.organisationId });
      return;
    }
    case 'card':
      await saveSimulatedCard(g, g.member.id, o.card);
      return;
    case 'desk': {
      const inv = pick(invoices.filter((i) => i.status === 'open' || i.status === 'uncollectible'), o.which);
      if (!inv) return;
      const amount = Math.max(1, Math.floor((inv.amountRemaining * o.pct) / 100));
      expect((await g.api('POST', `/v1/invoices/${inv.id}/payments`, { amount, method: 'cash' })).status).toBe(201);
      return;
    }
    case 'sale': {
      const res = await g.api('POST', `/v1/members/${g.member.id}/pending-items`, { kind: 'shop_sale', description: 'Shop', unitAmount: o.amount, currency: 'THB', chargeNow: o.now });
      expect(res.status, JSON.stringify(res.body)).toBe(201);
      return;
    }
    case 'credit': {
      const inv = pick(invoices.filter((i) => i.number && i.status !== 'void' && i.total > 0), o.which);
      if (!inv) return;
      const line = pick(inv.lines as any[], o.which);
      const amount = Math.max(1, Math.floor((line.amount * o.pct) / 100));
      const res = await g.api('POST', `/v1/invoices/${inv.id}/credit-notes`, { lines: [{ invoiceLineId: line.id, amount }], outcome: o.outcome, reason: 'other' });
      // Refused when it would credit more than is left (a clear 409), else issued.
      expect([201, 409], JSON.stringify(res.body)).toContain(res.status);
      return;
    }
    case 'void': {
      const inv = pick(invoices.filter((i) => i.status === 'open'), o.which);
      if (!inv) return;
      expect([200, 409]).toContain((await g.api('POST', `/v1/invoices/${inv.id}/void`)).status);
      return;
    }
    case 'refund': {
      const payments = ((await g.api('GET', `/v1/payments?payerId=${g.member.id}`)).body.data as any[]).filter((p) => p.status === 'succeeded');
      const payment = pick(payments, o.which);
      const balance = (await g.api('GET', `/v1/members/${g.member.id}/billing`)).body;
      if (!payment || balance.creditBalance <= 0) return;
      const amount = Math.max(1, Math.floor((Math.min(balance.creditBalance, payment.amount - payment.amountRefunded) * o.pct) / 100));
      if (amount > payment.amount - payment.amountRefunded) return;
      expect([201, 409]).toContain((await g.api('POST', `/v1/payments/${payment.id}/refunds`, { amount })).status);
      return;
    }
  }
}

describe('billing over random histories', () => {
  it('balances to the minor unit, numbers invoices without gaps and never changes a finalised invoice', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(op, { minLength: 6, maxLength: 16 }), async (ops) => {
        // Every history starts on the same day (the previous one left the clock days ahead).
        const clock = { now: bkk('2030-01-15') };
        setClock(clock.now);
        const g = await billingGym();
        await saveSimulatedCard(g, g.member.id);
        await subscribe(g);
        const seen = new Map<string, unknown>();
        for (const o of ops) {
          // Each step is its own request, a second after the last (the ledger orders by time).
          clock.now += 1000;
          setClock(clock.now);
          await apply(g, o, clock, seen);
        }

        const ledger = await expectLedgerHolds(g, g.member.id);
        const invoices = await invoicesOf(g, g.member.id);
        const numbers = invoices.map((i) => i.number).filter((n): n is string => n !== null);
        expect(numbers).toEqual(numbers.map((_, i) => `INV-${String(i + 1).padStart(6, '0')}`));
        for (const inv of invoices) {
          if (seen.has(inv.id)) expect(frozenPart(inv), inv.number).toEqual(seen.get(inv.id));
          if (inv.status !== 'void') expect(inv.amountRemaining, inv.number).toBe(inv.amountDue - inv.amountPaid - inv.amountCredited);
        }
        const open = new Map(ledger.openInvoices.map((o) => [o.number, o.remaining]));
        for (const inv of invoices.filter((i) => i.status === 'open' || i.status === 'uncollectible')) expect(open.get(inv.number) ?? 0, inv.number).toBe(inv.amountRemaining);
      }),
      { numRuns: 30 },
    );
  }, 180_000);
});
