// Credit notes: the only correction of a finalised invoice. Each line credits part of one
// invoice line, never more than what is still creditable on it (its total less earlier credit
// notes); the money goes back as a refund, onto the member's credit balance, or off what the
// invoice still has outstanding.
//
// Tax on a credited amount follows the invoice line: crediting everything left on a line credits
// exactly the tax left on it; a partial credit takes the line's tax share
// round(amount × lineTax / lineTotal) (half away from zero), kept within what is left of the
// line's tax and net so that, over any number of credit notes, net and tax credited never exceed
// the line's and both reach it exactly when the line is fully credited.
import { z } from 'zod';
import { Currency, mulDivRound } from './money.ts';
import { InvoicePrefix, type Invoice, type InvoiceLine } from './invoice.ts';
import { refuse, type Outcome } from './result.ts';

export const CREDIT_NOTE_OUTCOMES = ['refund', 'credit_balance', 'reduce_outstanding'] as const;
export const CreditNoteOutcome = z.enum(CREDIT_NOTE_OUTCOMES).meta({
  id: 'CreditNoteOutcome',
  description: 'refund: paid back to the card; credit_balance: kept for the next invoices; reduce_outstanding: taken off what the invoice still asks',
});
export type CreditNoteOutcome = z.infer<typeof CreditNoteOutcome>;

export const CREDIT_NOTE_REASONS = ['duplicate', 'billing_error', 'service_not_provided', 'goodwill', 'other'] as const;
export const CreditNoteReason = z.enum(CREDIT_NOTE_REASONS).meta({ id: 'CreditNoteReason' });
export type CreditNoteReason = z.infer<typeof CreditNoteReason>;

export const CreditNoteLineRequest = z.object({
  invoiceLineId: z.string().min(1),
  /** Amount to credit including tax, in minor units. */
  amount: z.number().int().min(1).max(Number.MAX_SAFE_INTEGER),
  description: z.string().min(1).max(200).optional(),
});
export type CreditNoteLineRequest = z.infer<typeof CreditNoteLineRequest>;

export const CreditNoteLine = z
  .object({
    invoiceLineId: z.string(),
    description: z.string(),
    net: z.number().int(),
    tax: z.number().int(),
    /** net + tax. */
    amount: z.number().int(),
  })
  .meta({ id: 'CreditNoteLine' });
export type CreditNoteLine = z.infer<typeof CreditNoteLine>;

export const CreditNote = z
  .object({
    /** `{prefix}-CN-{000001}`, allocated by the database; null until issued. */
    number: z.string().nullable(),
    invoiceNumber: z.string(),
    currency: Currency,
    outcome: CreditNoteOutcome,
    reason: CreditNoteReason,
    memo: z.string().max(500).nullable(),
    lines: z.array(CreditNoteLine).min(1),
    subtotal: z.number().int(),
    tax: z.number().int(),
    total: z.number().int().min(1),
    issuedAt: z.number().int(),
    /** A void credit note no longer counts. */
    voided: z.boolean(),
  })
  .meta({ id: 'CreditNote' });
export type CreditNote = z.infer<typeof CreditNote>;

export type Creditable = { total: number; net: number; tax: number };

/** What is still creditable on each line of an invoice, given the credit notes already issued against it. */
export function creditableByLine(invoice: Invoice, existing: readonly CreditNote[]): Map<string, Creditable> {
  const left = new Map<string, Creditable>();
  for (const line of invoice.lines) {
    left.set(line.id, line.total > 0 ? { total: line.total, net: line.net, tax: line.tax } : { total: 0, net: 0, tax: 0 });
  }
  for (const note of existing) {
    if (note.voided || note.invoiceNumber !== invoice.number) continue;
    for (const l of note.lines) {
      const c = left.get(l.invoiceLineId);
      if (c) left.set(l.invoiceLineId, { total: c.total - l.amount, net: c.net - l.net, tax: c.tax - l.tax });
    }
  }
  return left;
}

/** Splits a credited amount of one line into net and tax (see the top of this file). */
export function splitCredit(line: Pick<InvoiceLine, 'total' | 'tax'>, left: Creditable, amount: number): { net: number; tax: number } {
  if (amount === left.total) return { net: left.net, tax: left.tax };
  const share = line.total === 0 ? 0 : mulDivRound(amount, line.tax, line.total);
  const tax = Math.min(Math.max(share, amount - left.net, 0), left.tax);
  return { net: amount - tax, tax };
}

export const CREDIT_NOTE_REFUSALS = [
  'invalid_request',
  'invoice_not_finalised',
  'unknown_line',
  'duplicate_line',
  'over_credit',
  'exceeds_outstanding',
  'exceeds_refundable',
] as const;
export type CreditNoteRefusal = (typeof CREDIT_NOTE_REFUSALS)[number];

export type CreditNoteRequest = {
  invoice: Invoice;
  /** Credit notes already issued against this invoice (others are ignored). */
  existing: readonly CreditNote[];
  lines: readonly CreditNoteLineRequest[];
  outcome: CreditNoteOutcome;
  reason: CreditNoteReason;
  memo?: string | null;
  at: number;
};

/**
 * Builds a credit note against a finalised invoice, or refuses: the invoice must be open, paid or
 * uncollectible; every line must exist, appear once and stay within what is creditable; a
 * reduce_outstanding note cannot exceed what the invoice still asks, and a refund cannot exceed
 * what was paid less earlier refunds.
 */
export function issueCreditNote(req: CreditNoteRequest): Outcome<{ creditNote: CreditNote }, CreditNoteRefusal> {
  const { invoice } = req;
  const parsedLines = z.array(CreditNoteLineRequest).min(1).safeParse(req.lines);
  if (!parsedLines.success) {
    const issue = parsedLines.error.issues[0];
    return refuse('invalid_request', `lines.${issue?.path.join('.')}: ${issue?.message}`);
  }
  if (invoice.status === 'draft' || invoice.status === 'void' || invoice.number === null) {
    return refuse('invoice_not_finalised', `a ${invoice.status} invoice cannot be credited${invoice.status === 'draft' ? '; edit the draft instead' : ''}`);
  }
  const left = creditableByLine(invoice, req.existing);
  const seen = new Set<string>();
  const lines: CreditNoteLine[] = [];
  for (const request of parsedLines.data) {
    const line = invoice.lines.find((l) => l.id === request.invoiceLineId);
    const remaining = left.get(request.invoiceLineId);
    if (!line || !remaining) return refuse('unknown_line', `invoice ${invoice.number} has no line ${request.invoiceLineId}`);
    if (seen.has(line.id)) return refuse('duplicate_line', `line ${line.id} appears twice; credit it once with the sum`);
    seen.add(line.id);
    if (request.amount > remaining.total) {
      return refuse(
        'over_credit',
        `line ${line.id} (${line.description}) has ${remaining.total} left to credit of ${Math.max(line.total, 0)}; ${request.amount} asked`,
      );
    }
    const { net, tax } = splitCredit(line, remaining, request.amount);
    lines.push({ invoiceLineId: line.id, description: request.description ?? `Credit: ${line.description}`, net, tax, amount: request.amount });
  }
  const subtotal = lines.reduce((s, l) => s + l.net, 0);
  const tax = lines.reduce((s, l) => s + l.tax, 0);
  const total = subtotal + tax;

  if (req.outcome === 'reduce_outstanding' && total > invoice.amountRemaining) {
    return refuse('exceeds_outstanding', `invoice ${invoice.number} has ${invoice.amountRemaining} outstanding; ${total} cannot be taken off it (refund or credit the rest)`);
  }
  if (req.outcome === 'refund') {
    const refunded = req.existing
      .filter((n) => !n.voided && n.invoiceNumber === invoice.number && n.outcome === 'refund')
      .reduce((s, n) => s + n.total, 0);
    const refundable = invoice.amountPaid - refunded;
    if (total > refundable) {
      return refuse('exceeds_refundable', `invoice ${invoice.number} has ${refundable} paid and not yet refunded; ${total} cannot be refunded (credit the balance instead)`);
    }
  }
  return {
    ok: true,
    creditNote: {
      number: null,
      invoiceNumber: invoice.number,
      currency: invoice.currency,
      outcome: req.outcome,
      reason: req.reason,
      memo: req.memo ?? null,
      lines,
      subtotal,
      tax,
      total,
      issuedAt: req.at,
      voided: false,
    },
  };
}

/** `{prefix}-CN-{000001}`; the sequence is the organisation's own, separate from invoices. */
export function formatCreditNoteNumber(prefix: string, sequence: number): string {
  InvoicePrefix.parse(prefix);
  if (!Number.isSafeInteger(sequence) || sequence < 1) throw new RangeError('credit note sequence numbers start at 1');
  return `${prefix}-CN-${String(sequence).padStart(6, '0')}`;
}

/**
 * Which payments a refund of `total` goes back through: one payment that can take all of it
 * (the oldest such), otherwise the newest payments first, each up to what it has left. Empty when
 * the payments together have less than `total` left.
 */
export function refundAllocation<P extends { amount: number; amountRefunded: number }>(oldestFirst: P[], total: number): Array<{ payment: P; amount: number }> {
  const whole = oldestFirst.find((p) => p.amount - p.amountRefunded >= total);
  if (whole) return [{ payment: whole, amount: total }];
  const parts: Array<{ payment: P; amount: number }> = [];
  let rest = total;
  for (const payment of [...oldestFirst].reverse()) {
    const take = Math.min(rest, payment.amount - payment.amountRefunded);
    if (take <= 0) continue;
    parts.push({ payment, amount: take });
    rest -= take;
    if (rest === 0) return parts;
  }
  return [];
}
