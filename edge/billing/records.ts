// Rows of the billing tables turned into the shapes core/billing works on, and back.
import { and, asc, eq, inArray, isNotNull, isNull, ne, sql, type SQL } from 'drizzle-orm';
import type { Fee, Invoice, InvoiceLine } from '../../core/billing/invoice.ts';
import type { CreditNoteLine, CreditNote } from '../../core/billing/credit-notes.ts';
import { buildLedger, type Ledger, type LedgerCreditNote, type LedgerInvoice, type Payment as LedgerPayment, type Refund as LedgerRefund } from '../../core/billing/ledger.ts';
import type { Currency } from '../../core/billing/money.ts';
import type { PlanPrice } from '../../core/billing/proration.ts';
import type { SubscriptionState, SubscriptionTerms } from '../../core/billing/subscription.ts';
import { formatBasisPoints, type TaxRate } from '../../core/billing/tax.ts';
import { creditNotes, invoices, payments, plans, refunds, subscriptions } from '../db/schema.ts';
import type { Db } from '../env.ts';
import { ownedBy } from '../lib/owned.ts';

export type PlanRow = typeof plans.$inferSelect;
export type SubscriptionRow = typeof subscriptions.$inferSelect;
export type InvoiceRow = typeof invoices.$inferSelect;
export type PaymentRow = typeof payments.$inferSelect;
export type RefundRow = typeof refunds.$inferSelect;
export type CreditNoteRow = typeof creditNotes.$inferSelect;

export function taxRateOf(row: { taxName: string | null; taxBasisPoints: number | null; taxMode: 'inclusive' | 'exclusive' | null }): TaxRate | null {
  if (row.taxBasisPoints === null || row.taxMode === null) return null;
  return { name: row.taxName ?? `Tax ${formatBasisPoints(row.taxBasisPoints)}`, basisPoints: row.taxBasisPoints, mode: row.taxMode };
}

export const taxColumns = (rate: TaxRate | null) => ({
  taxName: rate?.name ?? null,
  taxBasisPoints: rate?.basisPoints ?? null,
  taxMode: rate?.mode ?? null,
});

export const planPrice = (plan: PlanRow): PlanPrice => ({
  planId: plan.id,
  name: plan.name,
  unitAmount: plan.price,
  quantity: 1,
  taxRate: taxRateOf(plan),
});

export const planTerms = (plan: PlanRow): SubscriptionTerms => ({
  minimumTermMonths: plan.minimumTermMonths,
  notice: { unit: plan.noticeUnit, count: plan.noticeCount },
  graceDays: plan.graceDays,
});

export const joiningFeeOf = (plan: PlanRow): Fee | null =>
  plan.joiningFee > 0 ? { description: `Joining fee (${plan.name})`, amount: plan.joiningFee, taxRate: taxRateOf(plan) } : null;

export const freezeFeeOf = (plan: PlanRow): Fee | null =>
  plan.freezeFee !== null && plan.freezeFee > 0 ? { description: `Freeze fee (${plan.name})`, amount: plan.freezeFee, taxRate: taxRateOf(plan) } : null;

export const stateOf = (row: SubscriptionRow): SubscriptionState => row.state as SubscriptionState;

export function invoiceOf(row: InvoiceRow): Invoice {
  return {
    status: row.status,
    number: row.number,
    currency: row.currency as Currency,
    period: row.periodStart && row.periodEnd ? { start: row.periodStart, end: row.periodEnd } : null,
    lines: row.lines as InvoiceLine[],
    subtotal: row.subtotal,
    tax: row.tax,
    total: row.total,
    startingCreditBalance: row.startingCreditBalance,
    creditApplied: row.creditApplied,
    amountDue: row.amountDue,
    endingCreditBalance: row.endingCreditBalance,
    amountPaid: row.amountPaid,
    amountCredited: row.amountCredited,
    amountRemaining: row.amountRemaining,
    finalisedAt: row.finalisedAt,
    paidAt: row.paidAt,
    voidedAt: row.voidedAt,
    uncollectibleAt: row.uncollectibleAt,
  };
}

export function creditNoteOf(row: CreditNoteRow, invoiceNumber: string, currency: Currency): CreditNote {
  return {
    number: row.number,
    invoiceNumber,
    currency,
    outcome: row.outcome,
    reason: row.reason,
    memo: row.memo,
    lines: row.lines as CreditNoteLine[],
    subtotal: row.subtotal,
    tax: row.tax,
    total: row.total,
    issuedAt: row.issuedAt,
    voided: row.voided,
  };
}

export async function loadPlan(db: Db, organisationId: string, id: string): Promise<PlanRow | undefined> {
  const [row] = await db
    .select()
    .from(plans)
    .where(ownedBy(plans, id, organisationId));
  return row;
}

export async function loadSubscription(db: Db, id: string): Promise<SubscriptionRow | undefined> {
  const [row] = await db.select().from(subscriptions).where(eq(subscriptions.id, id));
  return row;
}

export async function loadInvoice(db: Db, id: string): Promise<InvoiceRow | undefined> {
  const [row] = await db.select().from(invoices).where(eq(invoices.id, id));
  return row;
}

/** Payments that brought money in, and money that went back (refunds, lost disputes), as the ledger counts them. */
const COUNTED_REFUNDS = ['pending', 'succeeded'] as const;

/**
 * A fingerprint of everything the payer's ledger is computed from (finalised and voided invoices,
 * credit notes, settled payments, counted refunds). Equal fingerprints read before and inside a
 * batch mean the ledger did not change in between.
 */
export const ledgerFingerprint = (organisationId: string | SQL, payerId: string | SQL): SQL => {
  // SQL arguments (e.g. an outer query's columns) read many payers' fingerprints in one query.
  const mine = (table: string) => sql`FROM ${sql.raw(table)} WHERE organisation_id = ${organisationId} AND payer_id = ${payerId}`;
  return sql`((SELECT count(*) ${mine('invoices')} AND number IS NOT NULL) || ':' ||
    (SELECT count(*) ${mine('invoices')} AND voided_at IS NOT NULL) || ':' ||
    (SELECT count(*) || '/' || coalesce(sum(voided), 0) ${mine('credit_notes')}) || ':' ||
    (SELECT count(*) || '/' || coalesce(sum(amount), 0) ${mine('payments')} AND status = 'succeeded') || ':' ||
    (SELECT count(*) || '/' || coalesce(sum(amount), 0) ${mine('refunds')} AND status IN ('pending', 'succeeded')))`;
};

export async function readLedgerFingerprint(db: Db, organisationId: string, payerId: string): Promise<string> {
  const [row] = await db.all<{ fp: string }>(sql`SELECT ${ledgerFingerprint(organisationId, payerId)} AS fp`);
  return row!.fp;
}

export type LedgerSources = {
  invoices: InvoiceRow[];
  creditNotes: CreditNoteRow[];
  payments: PaymentRow[];
  refunds: RefundRow[];
};

export async function ledgerSources(db: Db, organisationId: string, payerId: string): Promise<LedgerSources> {
  const [inv, notes, pays, refs] = await db.batch([
    db
      .select()
      .from(invoices)
      .where(and(eq(invoices.organisationId, organisationId), eq(invoices.payerId, payerId), isNotNull(invoices.number)))
      .orderBy(asc(invoices.finalisedAt), asc(invoices.id)),
    db
      .select()
      .from(creditNotes)
      .where(and(eq(creditNotes.organisationId, organisationId), eq(creditNotes.payerId, payerId)))
      .orderBy(asc(creditNotes.issuedAt)),
    db
      .select()
      .from(payments)
      .where(and(eq(payments.organisationId, organisationId), eq(payments.payerId, payerId), eq(payments.status, 'succeeded')))
      .orderBy(asc(payments.settledAt)),
    db
      .select()
      .from(refunds)
      .where(and(eq(refunds.organisationId, organisationId), eq(refunds.payerId, payerId), inArray(refunds.status, [...COUNTED_REFUNDS])))
      .orderBy(asc(refunds.createdAt)),
  ]);
  return { invoices: inv, creditNotes: notes, payments: pays, refunds: refs };
}

/** The time of the payer's latest ledger document (0 when there is none). */
export function latestLedgerTime(sources: LedgerSources): number {
  const times = [
    ...sources.invoices.flatMap((i) => [i.finalisedAt ?? 0, i.voidedAt ?? 0]),
    ...sources.creditNotes.map((n) => n.issuedAt),
    ...sources.payments.map((p) => p.settledAt ?? p.updatedAt),
    ...sources.refunds.map((r) => r.createdAt),
  ];
  return times.length ? Math.max(...times) : 0;
}

export function ledgerOf(sources: LedgerSources): Ledger {
  const numberOf = new Map(sources.invoices.map((i) => [i.id, i.number ?? '']));
  const noteNumber = new Map(sources.creditNotes.map((n) => [n.id, n.number]));
  const ledgerInvoices: LedgerInvoice[] = sources.invoices.map((i) => ({ number: i.number, finalisedAt: i.finalisedAt, total: i.total, voidedAt: i.voidedAt }));
  const ledgerNotes: LedgerCreditNote[] = sources.creditNotes.map((n) => ({
    number: n.number,
    invoiceNumber: numberOf.get(n.invoiceId) ?? '',
    issuedAt: n.issuedAt,
    total: n.total,
    outcome: n.outcome,
    voided: n.voided,
  }));
  const ledgerPayments: LedgerPayment[] = sources.payments.map((p) => ({
    id: p.id,
    at: p.settledAt ?? p.updatedAt,
    amount: p.amount,
    invoiceNumber: p.invoiceId ? (numberOf.get(p.invoiceId) ?? null) : null,
  }));
  const ledgerRefunds: LedgerRefund[] = sources.refunds.map((r) => ({
    id: r.id,
    at: r.createdAt,
    amount: r.amount,
    paymentId: r.paymentId,
    creditNoteNumber: r.creditNoteId ? (noteNumber.get(r.creditNoteId) ?? null) : null,
  }));
  return buildLedger({ invoices: ledgerInvoices, creditNotes: ledgerNotes, payments: ledgerPayments, refunds: ledgerRefunds });
}

export async function memberLedger(db: Db, organisationId: string, payerId: string): Promise<Ledger> {
  return ledgerOf(await ledgerSources(db, organisationId, payerId));
}

/** What the billing run looks at of a subscription's invoices. */
export const INVOICE_FACT_COLUMNS = {
  id: invoices.id,
  reason: invoices.reason,
  status: invoices.status,
  periodStart: invoices.periodStart,
  periodEnd: invoices.periodEnd,
  amountRemaining: invoices.amountRemaining,
};

/** The subscription's invoices (finalised or not, void excluded) with the status of each one's latest payment. */
export async function subscriptionFacts(db: Db, subscriptionId: string) {
  const [inv, pays] = await db.batch([
    db
      .select(INVOICE_FACT_COLUMNS)
      .from(invoices)
      .where(and(eq(invoices.subscriptionId, subscriptionId), ne(invoices.status, 'void'))),
    db
      .select({ invoiceId: payments.invoiceId, attempt: payments.attempt, status: payments.status, createdAt: payments.createdAt })
      .from(payments)
      .innerJoin(invoices, eq(payments.invoiceId, invoices.id))
      .where(and(eq(invoices.subscriptionId, subscriptionId), isNull(invoices.voidedAt))),
  ]);
  const latest = new Map<string, { attempt: number; status: PaymentRow['status'] }>();
  for (const p of pays) {
    if (!p.invoiceId) continue;
    const seen = latest.get(p.invoiceId);
    if (!seen || p.attempt > seen.attempt) latest.set(p.invoiceId, { attempt: p.attempt, status: p.status });
  }
  return inv.map((i) => ({ ...i, lastPaymentStatus: latest.get(i.id)?.status ?? null }));
}
export type InvoiceFact = Awaited<ReturnType<typeof subscriptionFacts>>[number];
