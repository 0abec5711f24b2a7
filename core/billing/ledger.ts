// A member's (payer's) account: every finalised invoice, credit note, payment and refund in time
// order with a running balance, what each invoice still asks, and the credit held.
//
// Allocation, applied in order (ties: invoice, void, credit note, payment, refund, then by id):
//   invoice finalised (total T): T ≥ 0 takes min(credit held, T) from the credit balance and
//     leaves the rest open; T < 0 adds −T to the credit balance.
//   invoice voided: its total leaves the books; whatever had been applied to it returns to credit.
//   credit note: reduce_outstanding comes off the invoice's open amount (any excess to credit);
//     credit_balance and refund add to credit (a refund note is then paid out by a refund).
//   payment: to its invoice (or the oldest open invoices), any excess to credit.
//   refund: out of the credit balance (below zero = money the member owes outside an invoice).
// Invariant, to the minor unit:
//   Σ invoiced − Σ credited = Σ paid − Σ refunded + outstanding
// where outstanding = Σ open invoice amounts − credit balance, computed from the allocation
// above, independently of the running balance.
import { z } from 'zod';
import { CreditNoteOutcome } from './credit-notes.ts';
import { assertMinorUnits } from './money.ts';

export const LedgerInvoice = z.object({
  number: z.string().nullable(),
  /** Null for a draft, which is not on the books. */
  finalisedAt: z.number().int().nullable(),
  total: z.number().int(),
  voidedAt: z.number().int().nullable(),
});
export type LedgerInvoice = z.infer<typeof LedgerInvoice>;

export const LedgerCreditNote = z.object({
  number: z.string().nullable(),
  invoiceNumber: z.string(),
  issuedAt: z.number().int(),
  total: z.number().int().min(1),
  outcome: CreditNoteOutcome,
  voided: z.boolean().default(false),
});
export type LedgerCreditNote = z.input<typeof LedgerCreditNote>;

export const Payment = z
  .object({
    id: z.string(),
    at: z.number().int(),
    amount: z.number().int().min(1),
    /** The invoice it paid; null for money on account (paid to the oldest open invoices first). */
    invoiceNumber: z.string().nullable(),
  })
  .meta({ id: 'Payment' });
export type Payment = z.infer<typeof Payment>;

export const Refund = z
  .object({
    id: z.string(),
    at: z.number().int(),
    amount: z.number().int().min(1),
    paymentId: z.string().nullable(),
    creditNoteNumber: z.string().nullable(),
  })
  .meta({ id: 'Refund' });
export type Refund = z.infer<typeof Refund>;

export type StatementEntry = {
  at: number;
  kind: 'invoice' | 'invoice_void' | 'credit_note' | 'payment' | 'refund';
  reference: string;
  description: string;
  /** Increases what the member owes. */
  debit: number;
  /** Decreases what the member owes. */
  credit: number;
  /** Running balance after the entry: positive = owed by the member, negative = credit held. */
  balance: number;
};

export type Ledger = {
  entries: StatementEntry[];
  invoiced: number;
  credited: number;
  paid: number;
  refunded: number;
  /** Open invoices with what each still asks, oldest first. */
  openInvoices: Array<{ number: string; remaining: number }>;
  /** Credit held for the member (pass to computeDraftInvoice as creditBalance). */
  creditBalance: number;
  /** What the member owes: open invoices plus any refund beyond the credit held. */
  amountOwed: number;
  /** amountOwed − creditBalance. */
  outstanding: number;
  /** Last running balance (equals outstanding when the books are consistent). */
  balance: number;
};

export type LedgerInput = {
  invoices: readonly LedgerInvoice[];
  creditNotes: readonly LedgerCreditNote[];
  payments: readonly Payment[];
  refunds: readonly Refund[];
};

const ORDER = { invoice: 0, invoice_void: 1, credit_note: 2, payment: 3, refund: 4 } as const;

type Event =
  | { kind: 'invoice'; at: number; ref: string; inv: LedgerInvoice }
  | { kind: 'invoice_void'; at: number; ref: string; inv: LedgerInvoice }
  | { kind: 'credit_note'; at: number; ref: string; note: LedgerCreditNote }
  | { kind: 'payment'; at: number; ref: string; payment: Payment }
  | { kind: 'refund'; at: number; ref: string; refund: Refund };

/** Builds the statement and balances from the member's documents, in time order. */
export function buildLedger(input: LedgerInput): Ledger {
  const events: Event[] = [];
  for (const inv of input.invoices) {
    if (inv.finalisedAt === null || inv.number === null) continue;
    events.push({ kind: 'invoice', at: inv.finalisedAt, ref: inv.number, inv });
    if (inv.voidedAt !== null) events.push({ kind: 'invoice_void', at: inv.voidedAt, ref: inv.number, inv });
  }
  input.creditNotes.forEach((note, i) => {
    if (!note.voided) events.push({ kind: 'credit_note', at: note.issuedAt, ref: note.number ?? `credit note ${i + 1}`, note });
  });
  for (const payment of input.payments) events.push({ kind: 'payment', at: payment.at, ref: payment.id, payment });
  for (const refund of input.refunds) events.push({ kind: 'refund', at: refund.at, ref: refund.id, refund });
  events.sort((a, b) => a.at - b.at || ORDER[a.kind] - ORDER[b.kind] || (a.ref < b.ref ? -1 : a.ref > b.ref ? 1 : 0));

  const open = new Map<string, number>();
  let credit = 0;
  let invoiced = 0;
  let credited = 0;
  let paid = 0;
  let refunded = 0;
  let balance = 0;
  const entries: StatementEntry[] = [];
  const entry = (e: Event, description: string, debit: number, creditAmount: number) => {
    balance = assertMinorUnits(balance + debit - creditAmount, 'balance');
    entries.push({ at: e.at, kind: e.kind, reference: e.ref, description, debit, credit: creditAmount, balance });
  };
  const payOpen = (number: string, amount: number): number => {
    const remaining = open.get(number) ?? 0;
    const applied = Math.min(amount, remaining);
    if (remaining > 0) open.set(number, remaining - applied);
    return amount - applied;
  };

  for (const e of events) {
    switch (e.kind) {
      case 'invoice': {
        const t = e.inv.total;
        invoiced += t;
        if (t >= 0) {
          const applied = Math.min(Math.max(credit, 0), t);
          credit -= applied;
          open.set(e.ref, t - applied);
        } else {
          credit += -t;
          open.set(e.ref, 0);
        }
        entry(e, `Invoice ${e.ref}`, Math.max(t, 0), Math.max(-t, 0));
        break;
      }
      case 'invoice_void': {
        const t = e.inv.total;
        invoiced -= t;
        credit += t - (open.get(e.ref) ?? 0);
        open.delete(e.ref);
        entry(e, `Invoice ${e.ref} voided`, Math.max(-t, 0), Math.max(t, 0));
        break;
      }
      case 'credit_note': {
        const c = e.note.total;
        credited += c;
        credit += e.note.outcome === 'reduce_outstanding' ? payOpen(e.note.invoiceNumber, c) : c;
        entry(e, `Credit note ${e.ref} on invoice ${e.note.invoiceNumber} (${e.note.outcome})`, 0, c);
        break;
      }
      case 'payment': {
        const p = e.payment.amount;
        paid += p;
        let rest = p;
        if (e.payment.invoiceNumber !== null) rest = payOpen(e.payment.invoiceNumber, rest);
        else for (const number of open.keys()) rest = payOpen(number, rest);
        credit += rest;
        entry(e, e.payment.invoiceNumber ? `Payment for invoice ${e.payment.invoiceNumber}` : 'Payment on account', 0, p);
        break;
      }
      case 'refund': {
        const r = e.refund.amount;
        refunded += r;
        credit -= r;
        entry(e, e.refund.creditNoteNumber ? `Refund for credit note ${e.refund.creditNoteNumber}` : 'Refund', r, 0);
        break;
      }
    }
  }
  // Map keeps insertion (finalisation) order, so open invoices come oldest first.
  const openInvoices = [...open].filter(([, remaining]) => remaining > 0).map(([number, remaining]) => ({ number, remaining }));
  const openTotal = openInvoices.reduce((s, o) => s + o.remaining, 0);
  const creditBalance = Math.max(credit, 0);
  const amountOwed = openTotal + Math.max(-credit, 0);
  return {
    entries,
    invoiced,
    credited,
    paid,
    refunded,
    openInvoices,
    creditBalance,
    amountOwed,
    outstanding: amountOwed - creditBalance,
    balance,
  };
}

export type LedgerCheck = {
  holds: boolean;
  /** Σ invoiced − Σ credited */
  left: number;
  /** Σ paid − Σ refunded + outstanding */
  right: number;
  /** The running balance agrees with outstanding. */
  balanceAgrees: boolean;
  /** Every amount is a safe integer and nothing is open below zero. */
  integral: boolean;
};

/** Σ invoiced − Σ credited = Σ paid − Σ refunded + outstanding, to the minor unit. */
export function checkLedger(ledger: Ledger): LedgerCheck {
  const left = ledger.invoiced - ledger.credited;
  const right = ledger.paid - ledger.refunded + ledger.outstanding;
  const numbers = [ledger.invoiced, ledger.credited, ledger.paid, ledger.refunded, ledger.creditBalance, ledger.amountOwed, ledger.outstanding, ledger.balance];
  for (const e of ledger.entries) numbers.push(e.debit, e.credit, e.balance);
  const integral =
    numbers.every(Number.isSafeInteger) &&
    ledger.openInvoices.every((o) => Number.isSafeInteger(o.remaining) && o.remaining > 0) &&
    ledger.creditBalance >= 0 &&
    ledger.amountOwed >= 0;
  const balanceAgrees = ledger.balance === ledger.outstanding;
  return { holds: left === right && balanceAgrees && integral, left, right, balanceAgrees, integral };
}
