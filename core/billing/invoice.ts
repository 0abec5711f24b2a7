// Invoices: an itemised draft computed from the subscription period and what is pending, then a
// lifecycle draft → open → paid | void | uncollectible. A draft may be recomputed freely; once
// finalised (numbered) an invoice's lines and totals never change again: corrections are credit
// notes (credit-notes.ts).
//
// Totals: every line is quantity × unit amount, split into net/tax/total by tax.ts (per-line
// rounding, half away from zero); subtotal = Σ net, tax = Σ tax, total = Σ line totals.
// The member's credit balance (from earlier credit notes, downgrades or overpayments) is not a
// line: it is not a sale and is not taxed, and counting it as one would count the credit that
// created it twice. It is applied below the total, like a payment:
//   creditApplied       = min(startingCreditBalance, max(total, 0))
//   amountDue           = max(total, 0) − creditApplied            (never negative)
//   endingCreditBalance = startingCreditBalance − creditApplied + max(−total, 0)
// so a total below zero (a downgrade credit larger than the charges) carries forward as credit.
import { z } from 'zod';
import { assertMinorUnits, Currency, mulDivRound } from './money.ts';
import { Period } from './periods.ts';
import { DayFraction, PlanPrice, planAmount, ProrationLine } from './proration.ts';
import { refuse, type Outcome } from './result.ts';
import { lineTax, TaxRate } from './tax.ts';

const Amount = z.number().int().min(Number.MIN_SAFE_INTEGER).max(Number.MAX_SAFE_INTEGER);
const NonNegative = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);
const EpochMs = z.number().int();

export const INVOICE_STATUSES = ['draft', 'open', 'paid', 'void', 'uncollectible'] as const;
export const InvoiceStatus = z.enum(INVOICE_STATUSES).meta({
  id: 'InvoiceStatus',
  description: 'draft: editable, unnumbered; open: finalised and awaiting payment; paid; void: cancelled before payment; uncollectible: written off (may still be paid)',
});
export type InvoiceStatus = z.infer<typeof InvoiceStatus>;

export const INVOICE_LINE_KINDS = ['plan', 'freeze_fee', 'joining_fee', 'proration', 'one_off'] as const;
export const ONE_OFF_KINDS = ['pt_session', 'shop_sale', 'late_cancel_fee', 'day_pass', 'other'] as const;
export const OneOffKind = z.enum(ONE_OFF_KINDS).meta({ id: 'OneOffKind' });
export type OneOffKind = z.infer<typeof OneOffKind>;

/** A fixed fee (joining fee, freeze fee) as configured on the plan. */
export const Fee = z
  .object({ description: z.string().min(1).max(200), amount: NonNegative, taxRate: TaxRate.nullable() })
  .meta({ id: 'Fee' });
export type Fee = z.infer<typeof Fee>;

/** Something sold or charged between invoices, waiting for the next one (PT session, shop sale, late-cancel fee). */
export const PendingItem = z
  .object({
    id: z.string().min(1),
    kind: OneOffKind,
    description: z.string().min(1).max(200),
    quantity: z.number().int().min(1).max(10_000),
    /** As priced (gross if the tax is inclusive); negative for a discount. */
    unitAmount: Amount,
    taxRate: TaxRate.nullable(),
  })
  .meta({ id: 'PendingItem' });
export type PendingItem = z.infer<typeof PendingItem>;

export const InvoiceLine = z
  .object({
    /** Unique within the invoice; credit notes refer to it. */
    id: z.string(),
    kind: z.enum(INVOICE_LINE_KINDS),
    oneOffKind: OneOffKind.nullable(),
    /** The pending item or plan this line came from. */
    sourceId: z.string().nullable(),
    description: z.string(),
    quantity: z.number().int().min(1),
    unitAmount: Amount,
    taxRate: TaxRate.nullable(),
    /** quantity × unitAmount, as priced. */
    amount: Amount,
    net: Amount,
    tax: Amount,
    /** net + tax: what the member pays for this line. */
    total: Amount,
    period: Period.nullable(),
    /** Set when the line is a part of a period (proration, a final short period). */
    fraction: DayFraction.nullable(),
  })
  .meta({ id: 'InvoiceLine' });
export type InvoiceLine = z.infer<typeof InvoiceLine>;

export const Invoice = z
  .object({
    status: InvoiceStatus,
    /** `{prefix}-{000001}`, allocated gap-free per organisation when the invoice is finalised. */
    number: z.string().nullable(),
    currency: Currency,
    period: Period.nullable(),
    lines: z.array(InvoiceLine),
    subtotal: Amount,
    tax: Amount,
    total: Amount,
    startingCreditBalance: NonNegative,
    creditApplied: NonNegative,
    amountDue: NonNegative,
    endingCreditBalance: NonNegative,
    amountPaid: NonNegative,
    /** Reduced by credit notes with outcome reduce_outstanding. */
    amountCredited: NonNegative,
    amountRemaining: NonNegative,
    finalisedAt: EpochMs.nullable(),
    paidAt: EpochMs.nullable(),
    voidedAt: EpochMs.nullable(),
    uncollectibleAt: EpochMs.nullable(),
  })
  .meta({ id: 'Invoice' });
export type Invoice = z.infer<typeof Invoice>;

export const DraftInvoiceInput = z
  .object({
    currency: Currency,
    /** The subscription period this invoice bills; null for an invoice outside the cycle (an upgrade, a shop sale). */
    period: Period.nullable(),
    /** The plan charged for `period`; null for a frozen period. */
    plan: PlanPrice.nullable(),
    /** Charge only this part of the period (the last, short period before a cancellation ends). */
    planFraction: DayFraction.nullable().default(null),
    /** Charged instead of the plan for a frozen period. */
    freezeFee: Fee.nullable().default(null),
    /** Pass on the member's first invoice only. */
    joiningFee: Fee.nullable().default(null),
    pendingItems: z.array(PendingItem).default([]),
    prorations: z.array(ProrationLine).default([]),
    /** Credit the member holds, applied below the total. */
    creditBalance: NonNegative.default(0),
  })
  .meta({ id: 'DraftInvoiceInput' });
export type DraftInvoiceInput = z.input<typeof DraftInvoiceInput>;

export type LineDraft = Omit<InvoiceLine, 'id' | 'amount' | 'net' | 'tax' | 'total'>;

/** Prices one line: amount, then net/tax/total by the per-line rounding rule. */
export function priceLine(id: string, draft: LineDraft): InvoiceLine {
  const amount = assertMinorUnits(draft.quantity * draft.unitAmount, 'line amount');
  const { net, tax, gross } = lineTax(amount, draft.taxRate);
  return { id, ...draft, amount, net, tax, total: gross };
}

/** Sums lines and applies the credit balance (see the top of this file). */
export function invoiceTotals(lines: readonly InvoiceLine[], startingCreditBalance: number) {
  const subtotal = lines.reduce((s, l) => assertMinorUnits(s + l.net), 0);
  const tax = lines.reduce((s, l) => assertMinorUnits(s + l.tax), 0);
  const total = lines.reduce((s, l) => assertMinorUnits(s + l.total), 0);
  const positive = Math.max(total, 0);
  const creditApplied = Math.min(startingCreditBalance, positive);
  const amountDue = positive - creditApplied;
  const endingCreditBalance = startingCreditBalance - creditApplied + Math.max(-total, 0);
  return { subtotal, tax, total, startingCreditBalance, creditApplied, amountDue, endingCreditBalance };
}

export type DraftRefusal = 'invalid_input' | 'plan_and_freeze_fee';

/**
 * The draft invoice for a period. Lines in order: plan (or freeze fee), joining fee, proration
 * lines, pending one-off items. Pure: the same input always gives the same draft.
 */
export function computeDraftInvoice(input: DraftInvoiceInput): Outcome<{ invoice: Invoice }, DraftRefusal> {
  const parsed = DraftInvoiceInput.safeParse(input);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    return refuse('invalid_input', `${issue?.path.join('.') || '(input)'}: ${issue?.message}`);
  }
  const d = parsed.data;
  if (d.plan && d.freezeFee) return refuse('plan_and_freeze_fee', 'a frozen period is charged the freeze fee instead of the plan, not both');

  const drafts: LineDraft[] = [];
  const base = { oneOffKind: null, fraction: null, period: null } as const;
  if (d.plan) {
    const full = planAmount(d.plan);
    const fraction = d.planFraction;
    const partial = fraction && fraction.days !== fraction.periodDays;
    const qty = d.plan.quantity > 1 ? ` × ${d.plan.quantity}` : '';
    drafts.push({
      ...base,
      kind: 'plan',
      sourceId: d.plan.planId,
      description: partial
        ? `${d.plan.name}${qty} (${fraction.days} of ${fraction.periodDays} days)`
        : `${d.plan.name}${qty}`,
      // A partial period is one line of the prorated amount; a full one keeps quantity × unit price.
      quantity: partial ? 1 : d.plan.quantity,
      unitAmount: partial ? mulDivRound(full, fraction.days, fraction.periodDays) : d.plan.unitAmount,
      taxRate: d.plan.taxRate,
      period: d.period,
      fraction: partial ? fraction : null,
    });
  }
  if (d.freezeFee) {
    drafts.push({ ...base, kind: 'freeze_fee', sourceId: null, description: d.freezeFee.description, quantity: 1, unitAmount: d.freezeFee.amount, taxRate: d.freezeFee.taxRate, period: d.period });
  }
  if (d.joiningFee) {
    drafts.push({ ...base, kind: 'joining_fee', sourceId: null, description: d.joiningFee.description, quantity: 1, unitAmount: d.joiningFee.amount, taxRate: d.joiningFee.taxRate });
  }
  for (const p of d.prorations) {
    drafts.push({ ...base, kind: 'proration', sourceId: p.planId, description: p.description, quantity: 1, unitAmount: p.amount, taxRate: p.taxRate, period: p.period, fraction: p.fraction });
  }
  for (const item of d.pendingItems) {
    drafts.push({ ...base, kind: 'one_off', oneOffKind: item.kind, sourceId: item.id, description: item.description, quantity: item.quantity, unitAmount: item.unitAmount, taxRate: item.taxRate });
  }
  const lines = drafts.map((draft, i) => priceLine(`line_${i + 1}`, draft));
  const totals = invoiceTotals(lines, d.creditBalance);
  return {
    ok: true,
    invoice: {
      status: 'draft',
      number: null,
      currency: d.currency,
      period: d.period,
      lines,
      ...totals,
      amountPaid: 0,
      amountCredited: 0,
      amountRemaining: totals.amountDue,
      finalisedAt: null,
      paidAt: null,
      voidedAt: null,
      uncollectibleAt: null,
    },
  };
}

/**
 * Every way an invoice can be inconsistent, as sentences; empty when it is sound. Tests assert
 * it; the Worker can run it before storing.
 */
export function invoiceProblems(invoice: Invoice): string[] {
  const problems: string[] = [];
  const ints: Array<[string, number]> = [
    ['subtotal', invoice.subtotal],
    ['tax', invoice.tax],
    ['total', invoice.total],
    ['creditApplied', invoice.creditApplied],
    ['amountDue', invoice.amountDue],
    ['amountPaid', invoice.amountPaid],
    ['amountCredited', invoice.amountCredited],
    ['amountRemaining', invoice.amountRemaining],
  ];
  for (const line of invoice.lines) {
    for (const key of ['unitAmount', 'amount', 'net', 'tax', 'total'] as const) ints.push([`${line.id}.${key}`, line[key]]);
    if (line.amount !== line.quantity * line.unitAmount) problems.push(`${line.id}: amount is not quantity × unit amount`);
    const expected = lineTax(line.amount, line.taxRate);
    if (line.net !== expected.net || line.tax !== expected.tax || line.total !== expected.gross) {
      problems.push(`${line.id}: net/tax/total do not follow the rounding rule`);
    }
    if (line.net + line.tax !== line.total) problems.push(`${line.id}: net + tax ≠ total`);
  }
  for (const [name, value] of ints) if (!Number.isSafeInteger(value)) problems.push(`${name} is not an integer`);
  const expected = invoiceTotals(invoice.lines, invoice.startingCreditBalance);
  for (const key of ['subtotal', 'tax', 'total', 'creditApplied', 'amountDue', 'endingCreditBalance'] as const) {
    if (invoice[key] !== expected[key]) problems.push(`${key} is ${invoice[key]}, lines give ${expected[key]}`);
  }
  if (invoice.subtotal + invoice.tax !== invoice.total) problems.push('subtotal + tax ≠ total');
  if (invoice.amountDue < 0) problems.push('amountDue is negative');
  const remaining = invoice.status === 'void' ? 0 : invoice.amountDue - invoice.amountPaid - invoice.amountCredited;
  if (invoice.amountRemaining !== remaining) problems.push('amountRemaining ≠ amountDue − amountPaid − amountCredited');
  if (invoice.amountRemaining < 0) problems.push('amountRemaining is negative');
  if ((invoice.status === 'draft') !== (invoice.number === null)) problems.push('only drafts have no number');
  return problems;
}

// Numbering

export const InvoicePrefix = z
  .string()
  .regex(/^[A-Z0-9]+(?:-[A-Z0-9]+)*$/, 'must be capital letters and digits, optionally joined by hyphens, such as GG or BKK-1')
  .max(20)
  .meta({ id: 'InvoicePrefix' });

/** `{prefix}-{000001}`: the sequence number itself is allocated by the database, gap-free per organisation. */
export function formatInvoiceNumber(prefix: string, sequence: number): string {
  InvoicePrefix.parse(prefix);
  if (!Number.isSafeInteger(sequence) || sequence < 1) throw new RangeError('invoice sequence numbers start at 1');
  return `${prefix}-${String(sequence).padStart(6, '0')}`;
}

const INVOICE_NUMBER = /^[A-Z0-9]+(?:-[A-Z0-9]+)*-\d{6,}$/;

// Lifecycle

export const InvoiceAction = z
  .discriminatedUnion('type', [
    z.object({ type: z.literal('finalise'), number: z.string(), at: EpochMs }),
    z.object({ type: z.literal('record_payment'), amount: z.number().int().min(1), at: EpochMs }),
    /** A credit note with outcome reduce_outstanding. */
    z.object({ type: z.literal('apply_credit_note'), amount: z.number().int().min(1), at: EpochMs }),
    z.object({ type: z.literal('void'), at: EpochMs }),
    z.object({ type: z.literal('mark_uncollectible'), at: EpochMs }),
    z.object({ type: z.literal('revise'), input: z.custom<DraftInvoiceInput>() }),
  ])
  .meta({ id: 'InvoiceAction' });
export type InvoiceAction = z.infer<typeof InvoiceAction>;

export const INVOICE_REFUSALS = [
  'finalised_is_immutable',
  'not_finalised',
  'invoice_paid',
  'invoice_void',
  'draft_is_deleted_not_voided',
  'has_payments_or_credits',
  'exceeds_remaining',
  'bad_number',
  'invalid_draft',
  'already_uncollectible',
] as const;
export type InvoiceRefusal = (typeof INVOICE_REFUSALS)[number];

/**
 * The only way an invoice changes. Allowed: draft → revise | finalise (→ open, or straight to
 * paid when nothing is due); open/uncollectible → payments and reducing credit notes (→ paid when
 * nothing remains), void (only before any payment or credit), open → uncollectible. Everything
 * else is refused with a reason: paid and void invoices are final.
 */
export function transitionInvoice(invoice: Invoice, action: InvoiceAction): Outcome<{ invoice: Invoice }, InvoiceRefusal> {
  const { status } = invoice;
  if (status === 'paid') return refuse('invoice_paid', `invoice ${invoice.number} is paid and final; corrections are credit notes`);
  if (status === 'void') return refuse('invoice_void', `invoice ${invoice.number} is void and final`);

  switch (action.type) {
    case 'revise': {
      if (status !== 'draft') {
        return refuse('finalised_is_immutable', `invoice ${invoice.number} is finalised; its lines cannot change (issue a credit note)`);
      }
      const r = computeDraftInvoice(action.input);
      if (!r.ok) return refuse('invalid_draft', r.detail);
      return { ok: true, invoice: r.invoice };
    }
    case 'finalise': {
      if (status !== 'draft') return refuse('finalised_is_immutable', `invoice ${invoice.number} is already finalised`);
      if (!INVOICE_NUMBER.test(action.number)) return refuse('bad_number', `"${action.number}" is not an invoice number such as GG-000001`);
      const paid = invoice.amountDue === 0;
      return {
        ok: true,
        invoice: { ...invoice, status: paid ? 'paid' : 'open', number: action.number, finalisedAt: action.at, paidAt: paid ? action.at : null },
      };
    }
    case 'record_payment':
    case 'apply_credit_note': {
      if (status === 'draft') return refuse('not_finalised', 'a draft cannot be paid or credited; finalise it first');
      if (action.amount > invoice.amountRemaining) {
        return refuse('exceeds_remaining', `${action.amount} is more than the ${invoice.amountRemaining} remaining (put the excess on the member's credit balance)`);
      }
      const amountPaid = invoice.amountPaid + (action.type === 'record_payment' ? action.amount : 0);
      const amountCredited = invoice.amountCredited + (action.type === 'apply_credit_note' ? action.amount : 0);
      const amountRemaining = invoice.amountDue - amountPaid - amountCredited;
      const settled = amountRemaining === 0;
      return {
        ok: true,
        invoice: { ...invoice, amountPaid, amountCredited, amountRemaining, status: settled ? 'paid' : status, paidAt: settled ? action.at : null },
      };
    }
    case 'void': {
      if (status === 'draft') return refuse('draft_is_deleted_not_voided', 'a draft has no number; delete it instead of voiding it');
      if (invoice.amountPaid > 0 || invoice.amountCredited > 0) {
        return refuse('has_payments_or_credits', `invoice ${invoice.number} has payments or credits; correct it with a credit note instead`);
      }
      return { ok: true, invoice: { ...invoice, status: 'void', voidedAt: action.at, amountRemaining: 0 } };
    }
    case 'mark_uncollectible': {
      if (status === 'draft') return refuse('not_finalised', 'a draft cannot be written off; finalise or delete it');
      if (status === 'uncollectible') return refuse('already_uncollectible', `invoice ${invoice.number} is already uncollectible`);
      return { ok: true, invoice: { ...invoice, status: 'uncollectible', uncollectibleAt: action.at } };
    }
  }
}
