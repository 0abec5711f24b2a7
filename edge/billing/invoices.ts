// Invoices and payments in D1. Every write that must happen at most once is made so by the
// database, not by an earlier read:
// - an invoice of a subscription period is unique per (subscription, period start, reason), one
//   outside the cycle per (organisation, source key); the insert and the claim of the pending
//   items it bills are one batch, and the insert fails (rolling the batch back) unless it got all
//   of them and the subscription is still at the version the draft was computed from;
// - finalising takes the next number in the same batch as the draft → open transition, and only
//   while the invoice is still a draft, so numbers are gap-free and never taken twice;
// - a card charge is a payments row with a unique idempotency key `{invoice}:attempt:{n}` written
//   before the processor is called with that same key, so a re-run replays instead of charging;
// - a payment reaches its invoice once: the statement that marks it succeeded sets a random
//   token, and the invoice update in the same batch runs only where that token is.
import { and, eq, inArray, isNull, sql, type SQL } from 'drizzle-orm';
import type { BatchItem } from 'drizzle-orm/batch';
import { invoiceProblems, invoiceTotals, type Invoice } from '../../core/billing/invoice.ts';
import { billingCustomers, invoices, invoiceSequences, payments, pendingItems } from '../db/schema.ts';
import type { Db } from '../env.ts';
import { newId } from '../lib/ids.ts';
import { isPaymentProviderError, type ChargeOutcome } from '../payments/index.ts';
import { paymentProvider, type BillingDeps } from './deps.ts';
import { tellDunning } from './dunning-port.ts';
import { latestLedgerTime, ledgerFingerprint, ledgerOf, ledgerSources, loadInvoice, readLedgerFingerprint, type InvoiceRow, type PaymentRow } from './records.ts';

type Batch = [BatchItem<'sqlite'>, ...BatchItem<'sqlite'>[]];
export const batch = (db: Db, items: BatchItem<'sqlite'>[]) => db.batch(items as Batch) as Promise<unknown[]>;

export { raw } from '../lib/json-rows.ts';
import { raw } from '../lib/json-rows.ts';

/** True for a D1 constraint failure: the write lost a race (or a guard refused it) and the batch rolled back. */
export function isConstraintError(error: unknown): boolean {
  for (let e: unknown = error, depth = 0; e && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    if (/constraint failed|SQLITE_CONSTRAINT/i.test(String((e as { message?: unknown }).message ?? e))) return true;
  }
  return false;
}

export const randomToken = () => crypto.randomUUID();

export type DraftToStore = {
  id: string;
  organisationId: string;
  payerId: string;
  subscriptionId: string | null;
  reason: InvoiceRow['reason'];
  sourceKey: string | null;
  invoice: Invoice;
  pendingItemIds: string[];
  /** A condition that must still hold when the row is inserted (e.g. the subscription's version). */
  guard: SQL | null;
  /** Statements that must take effect only with the insert (they share its batch). */
  after: BatchItem<'sqlite'>[];
  now: number;
};

/** The invoices row of a draft (its pending item count is the caller's: see draftInvoiceStatements). */
export function invoiceRowOf(d: DraftToStore): Omit<typeof invoices.$inferInsert, 'pendingItemCount'> {
  const inv = d.invoice;
  return {
    id: d.id,
    organisationId: d.organisationId,
    payerId: d.payerId,
    subscriptionId: d.subscriptionId,
    reason: d.reason,
    periodStart: inv.period?.start ?? null,
    periodEnd: inv.period?.end ?? null,
    sourceKey: d.sourceKey,
    status: 'draft',
    number: null,
    currency: inv.currency,
    lines: inv.lines,
    subtotal: inv.subtotal,
    tax: inv.tax,
    total: inv.total,
    startingCreditBalance: inv.startingCreditBalance,
    creditApplied: inv.creditApplied,
    amountDue: inv.amountDue,
    endingCreditBalance: inv.endingCreditBalance,
    amountPaid: 0,
    amountCredited: 0,
    amountRemaining: inv.amountRemaining,
    createdAt: d.now,
  };
}

/**
 * The statements that store a draft: the insert, which fails unless `guard` holds; the claim of its
 * pending items, which fails unless it got every one; then `after`. Any failure rolls back the batch.
 */
export function draftInvoiceStatements(db: Db, d: DraftToStore): BatchItem<'sqlite'>[] {
  const problems = invoiceProblems(d.invoice);
  if (problems.length > 0) throw new Error(`refusing to store an inconsistent invoice: ${problems.join('; ')}`);
  if (d.pendingItemIds.length > 80) throw new Error('at most 80 pending items per invoice');
  const n = d.pendingItemIds.length;
  // NULL into a NOT NULL column fails the statement, and with it the whole batch: the insert when
  // the guard does not hold, the count check when the claim did not get every item.
  const guarded = sql`(SELECT CASE WHEN (${d.guard ?? sql`1`}) THEN ${n} END)`;
  const claim = n
    ? [
        db
          .update(pendingItems)
          .set({ invoiceId: d.id })
          .where(and(eq(pendingItems.organisationId, d.organisationId), inArray(pendingItems.id, d.pendingItemIds), isNull(pendingItems.invoiceId))),
        db
          .update(invoices)
          .set({ pendingItemCount: sql`(SELECT CASE WHEN count(*) = ${n} THEN ${n} END FROM pending_items WHERE invoice_id = ${d.id})` })
          .where(eq(invoices.id, d.id)),
      ]
    : [];
  const insert = db.insert(invoices).values({ ...invoiceRowOf(d), pendingItemCount: guarded as unknown as number });
  return [insert, ...claim, ...d.after];
}

/** Inserts a draft invoice; false when another writer got there first (nothing was written). */
export async function insertDraftInvoice(db: Db, d: DraftToStore): Promise<boolean> {
  const statements = draftInvoiceStatements(db, d);
  try {
    await batch(db, statements);
    return true;
  } catch (error) {
    if (isConstraintError(error)) return false;
    throw error;
  }
}

/**
 * The statements that finalise a draft: the organisation's next number, the credit applied and
 * draft → open (or paid when nothing is due), each only while the invoice is still a draft and the
 * payer's ledger still has `fingerprint` (what the totals' credit balance was computed from).
 * The invoice update returns the number it took.
 */
export function finaliseStatements(
  db: Db,
  f: { organisationId: string; payerId: string; invoiceId: string; totals: ReturnType<typeof invoiceTotals>; finalisedAt: number; fingerprint: string },
): BatchItem<'sqlite'>[] {
  const { organisationId, invoiceId, totals: t, finalisedAt } = f;
  const unchanged = sql`${ledgerFingerprint(organisationId, f.payerId)} = ${f.fingerprint}`;
  const isDraft = sql`EXISTS (SELECT 1 FROM invoices WHERE id = ${invoiceId} AND organisation_id = ${organisationId} AND status = 'draft')`;
  return [
    db.insert(invoiceSequences).values({ organisationId }).onConflictDoNothing(),
    raw(db, sql`UPDATE invoice_sequences SET next_invoice = next_invoice + 1 WHERE organisation_id = ${organisationId} AND ${isDraft} AND ${unchanged}`),
    raw(db, sql`UPDATE invoices SET
        number = (SELECT prefix || '-' || printf('%06d', next_invoice - 1) FROM invoice_sequences WHERE organisation_id = ${organisationId}),
        starting_credit_balance = ${t.startingCreditBalance},
        credit_applied = ${t.creditApplied},
        amount_due = ${t.amountDue},
        ending_credit_balance = ${t.endingCreditBalance},
        amount_remaining = ${t.amountDue} - amount_paid - amount_credited,
        status = CASE WHEN ${t.amountDue} = 0 THEN 'paid' ELSE 'open' END,
        paid_at = CASE WHEN ${t.amountDue} = 0 THEN ${finalisedAt} ELSE paid_at END,
        finalised_at = ${finalisedAt}
      WHERE id = ${invoiceId} AND organisation_id = ${organisationId} AND status = 'draft' AND ${unchanged}
      RETURNING id, number`),
  ];
}

/**
 * draft → open (or paid when nothing is due) with the organisation's next number, in one batch.
 * The counter moves only if the invoice is a draft at that moment; a second, concurrent
 * finalisation changes nothing. The payer's credit balance is applied here, from the ledger as it
 * is at this moment (the draft's figure is a preview): two invoices of one payer finalised at once
 * cannot both spend the same credit, because the batch only runs while the ledger's fingerprint is
 * the one the credit was computed from, and otherwise reads again. Returns the invoice as it is
 * afterwards.
 */
export async function finaliseInvoice(db: Db, organisationId: string, invoiceId: string, now: number): Promise<InvoiceRow> {
  for (let attempt = 0; attempt < 8; attempt++) {
    const draft = await loadInvoice(db, invoiceId);
    if (!draft) throw new Error(`invoice ${invoiceId} disappeared`);
    if (draft.status !== 'draft') return draft;
    const fingerprint = await readLedgerFingerprint(db, organisationId, draft.payerId);
    const sources = await ledgerSources(db, organisationId, draft.payerId);
    const t = invoiceTotals(draft.lines as Invoice['lines'], ledgerOf(sources).creditBalance);
    // The ledger orders documents by time: the invoice must come after everything its credit was
    // computed from, even what was recorded in this same millisecond.
    const finalisedAt = Math.max(now, latestLedgerTime(sources) + 1);
    await batch(db, finaliseStatements(db, { organisationId, payerId: draft.payerId, invoiceId, totals: t, finalisedAt, fingerprint }));
  }
  throw new Error(`the ledger of invoice ${invoiceId}'s payer kept changing; try again`);
}

// ---------------------------------------------------------------------------------------------
// Payments

const RANK: Record<PaymentRow['status'], number> = { pending: 0, requires_action: 1, failed: 1, processing: 2, succeeded: 3, canceled: 3 };
/** Statuses a payment may move to `next` from, when no webhook event orders them. */
export const movableFrom = (next: PaymentRow['status']): PaymentRow['status'][] =>
  (Object.keys(RANK) as PaymentRow['status'][]).filter((s) => s !== next && s !== 'succeeded' && s !== 'canceled' && RANK[s] <= RANK[next]);

export type PaymentResult = {
  status: PaymentRow['status'];
  providerPaymentId?: string | null | undefined;
  chargeId?: string | null | undefined;
  failureCode?: string | null | undefined;
  declineCode?: string | null | undefined;
  failureMessage?: string | null | undefined;
  hardDecline?: boolean | undefined;
};

/**
 * Statements that mark a payment succeeded and put its money on its invoice, both at most once.
 * `extra` columns are set on the payment in the same statement.
 */
export function succeedStatements(db: Db, payment: Pick<PaymentRow, 'id' | 'invoiceId' | 'amount'>, now: number, token: string, extra: SQL = sql``): BatchItem<'sqlite'>[] {
  const mark = raw(db, sql`UPDATE payments SET status = 'succeeded', applied_token = ${token}, settled_at = coalesce(settled_at, ${now}),
      failure_code = NULL, decline_code = NULL, failure_message = NULL, hard_decline = 0, updated_at = ${now} ${extra}
    WHERE id = ${payment.id} AND applied_token IS NULL`);
  if (!payment.invoiceId) return [mark];
  const applied = sql`min(${payment.amount}, amount_remaining)`;
  const apply = raw(db, sql`UPDATE invoices SET
      amount_paid = amount_paid + ${applied},
      amount_remaining = amount_remaining - ${applied},
      status = CASE WHEN amount_remaining - ${applied} = 0 THEN 'paid' ELSE status END,
      paid_at = CASE WHEN amount_remaining - ${applied} = 0 THEN ${now} ELSE paid_at END
    WHERE id = ${payment.invoiceId} AND status IN ('open', 'uncollectible')
      AND EXISTS (SELECT 1 FROM payments WHERE id = ${payment.id} AND applied_token = ${token})`);
  return [mark, apply];
}

export const resultColumns = (r: PaymentResult) => sql`,
  provider_payment_id = coalesce(${r.providerPaymentId ?? null}, provider_payment_id),
  charge_id = coalesce(${r.chargeId ?? null}, charge_id)`;

/**
 * Records what the processor answered for a payment. Success is applied once whatever the order;
 * other states only move a payment forward (pending → requires_action/failed → processing).
 * Returns true when this call changed the payment.
 */
export async function recordPaymentResult(deps: BillingDeps, payment: PaymentRow, result: PaymentResult, now: number): Promise<boolean> {
  const { db } = deps;
  if (result.status === 'succeeded') {
    const token = randomToken();
    await batch(db, succeedStatements(db, payment, now, token, resultColumns(result)));
    const [after] = await db.select({ token: payments.appliedToken }).from(payments).where(eq(payments.id, payment.id));
    const changed = after?.token === token;
    if (changed) await tellDunning(deps, payment.organisationId, payment.payerId, { type: 'payment_succeeded' }, now);
    return changed;
  }
  const from = movableFrom(result.status);
  if (from.length === 0) return false;
  const res = (await raw(db, sql`UPDATE payments SET status = ${result.status},
      failure_code = ${result.failureCode ?? null}, decline_code = ${result.declineCode ?? null},
      failure_message = ${result.failureMessage ?? null}, hard_decline = ${result.hardDecline ? 1 : 0}, updated_at = ${now}
      ${resultColumns(result)}
    WHERE id = ${payment.id} AND status IN ${from}`)) as unknown as D1Result;
  const changed = (res.meta?.changes ?? 0) > 0;
  if (changed && result.status === 'failed' && payment.invoiceId) {
    const invoice = await loadInvoice(db, payment.invoiceId);
    await tellDunning(
      deps,
      payment.organisationId,
      payment.payerId,
      { type: 'payment_failed', invoiceNumber: invoice?.number ?? payment.invoiceId, declineCode: result.declineCode ?? result.failureCode ?? 'payment_failed', hard: result.hardDecline ?? false },
      now,
    );
  }
  return changed;
}

export const outcomeResult = (o: ChargeOutcome): PaymentResult => ({
  status: o.status,
  providerPaymentId: o.paymentIntentId,
  chargeId: o.chargeId ?? null,
  failureCode: o.status === 'succeeded' || o.status === 'processing' ? null : (o.failureCode ?? o.declineCode ?? null),
  declineCode: o.status === 'succeeded' || o.status === 'processing' ? null : (o.declineCode ?? null),
  failureMessage: o.failureMessage ?? null,
  hardDecline: o.hardDecline,
});

export type ChargeAttempt =
  | { kind: 'charged'; payment: PaymentRow }
  | { kind: 'nothing_due' }
  | { kind: 'no_payment_method' };

export const chargeKey = (invoiceId: string, attempt: number) => `${invoiceId}:attempt:${attempt}`;

/** A payment the member started on the pay-now page holds off the invoice's card retries this long. */
export const MEMBER_PAYMENT_HOLD_MS = 30 * 60_000;

/**
 * Another payment of the invoice that may still bring the money in: one the processor is
 * processing (a bank debit, PromptPay), or one the member started on the pay-now page and may be
 * confirming right now. Charging the saved card as well could take the money twice.
 */
async function paymentUnderWay(db: Db, invoiceId: string, key: string, now: number): Promise<PaymentRow | undefined> {
  const [row] = await db
    .select()
    .from(payments)
    .where(
      and(
        eq(payments.invoiceId, invoiceId),
        sql`${payments.idempotencyKey} != ${key}`,
        sql`(${payments.status} = 'processing' OR (${payments.status} IN ('pending', 'requires_action') AND ${payments.idempotencyKey} LIKE '%:paynow:%' AND ${payments.createdAt} > ${now - MEMBER_PAYMENT_HOLD_MS}))`,
      ),
    )
    .limit(1);
  return row;
}

/** The payments row of a card charge, written (pending) before the processor is called with its key. */
export const cardAttemptRow = (
  invoice: Pick<InvoiceRow, 'id' | 'organisationId' | 'payerId' | 'amountRemaining' | 'currency'>,
  provider: PaymentRow['provider'],
  attempt: number,
  now: number,
): typeof payments.$inferInsert => ({
  id: newId('pay', now),
  organisationId: invoice.organisationId,
  payerId: invoice.payerId,
  invoiceId: invoice.id,
  provider,
  method: 'card',
  attempt,
  idempotencyKey: chargeKey(invoice.id, attempt),
  status: 'pending',
  amount: invoice.amountRemaining,
  currency: invoice.currency,
  createdAt: now,
  updatedAt: now,
});

/** What the processor is asked for a card charge of an invoice (a retry with the key must ask the same). */
export const chargeRequest = (
  invoice: Pick<InvoiceRow, 'id' | 'organisationId' | 'number'>,
  customer: { customerId: string; defaultPaymentMethodId: string },
  payment: Pick<PaymentRow, 'amount' | 'currency'>,
  attempt: number,
) => ({
  customerId: customer.customerId,
  paymentMethodId: customer.defaultPaymentMethodId,
  amount: payment.amount,
  currency: payment.currency,
  idempotencyKey: chargeKey(invoice.id, attempt),
  description: `Invoice ${invoice.number ?? invoice.id}`,
  metadata: { invoiceId: invoice.id, organisationId: invoice.organisationId, attempt },
});

/**
 * Charges the payer's saved card for what the invoice still asks, as collection attempt `attempt`.
 * The payments row (unique idempotency key) is written before the processor is called with the
 * same key; when it already exists and is settled nothing is sent, and when it is still pending
 * (a crash or a concurrent run) the call is repeated, which the processor answers from its
 * idempotency record instead of charging again.
 */
export async function chargeInvoice(deps: BillingDeps, invoice: InvoiceRow, attempt: number, now: number): Promise<ChargeAttempt> {
  const { db } = deps;
  if (invoice.status !== 'open' && invoice.status !== 'uncollectible') return { kind: 'nothing_due' };
  if (invoice.amountRemaining <= 0) return { kind: 'nothing_due' };
  const provider = paymentProvider(deps);
  const [customer] = await db.select().from(billingCustomers).where(eq(billingCustomers.memberId, invoice.payerId));
  if (!customer?.defaultPaymentMethodId || customer.provider !== provider.name) return { kind: 'no_payment_method' };

  const key = chargeKey(invoice.id, attempt);
  const underWay = await paymentUnderWay(db, invoice.id, key, now);
  if (underWay) return { kind: 'charged', payment: underWay };
  await db.insert(payments).values(cardAttemptRow(invoice, provider.name, attempt, now)).onConflictDoNothing();
  const [payment] = await db.select().from(payments).where(eq(payments.idempotencyKey, key));
  if (!payment) throw new Error(`payment ${key} disappeared`);
  if (payment.status !== 'pending') return { kind: 'charged', payment };

  let result: PaymentResult;
  try {
    const outcome = await provider.chargeOffSession(chargeRequest(invoice, { customerId: customer.customerId, defaultPaymentMethodId: customer.defaultPaymentMethodId }, payment, attempt));
    result = outcomeResult(outcome);
  } catch (error) {
    // A concurrent request with the same key is still running (409): it will settle the charge.
    // Network trouble or a 5xx: the charge may or may not have happened; the row stays pending and
    // the error goes up (queue retry). Either way the next call with the key, or the webhook, settles it.
    if (isPaymentProviderError(error) && error.kind === 'conflict') return { kind: 'charged', payment };
    if (!isPaymentProviderError(error) || error.retryable) throw error;
    result = { status: 'failed', failureCode: error.code ?? error.kind, declineCode: null, failureMessage: error.message, hardDecline: false };
  }
  await recordPaymentResult(deps, payment, result, now);
  const [after] = await db.select().from(payments).where(eq(payments.id, payment.id));
  return { kind: 'charged', payment: after ?? payment };
}

/** The next collection attempt number of an invoice (1 when nothing was tried). */
export async function nextAttempt(db: Db, invoiceId: string): Promise<number> {
  const [row] = await db
    .select({ n: sql<number>`coalesce(max(${payments.attempt}), 0)` })
    .from(payments)
    .where(eq(payments.invoiceId, invoiceId));
  return (row?.n ?? 0) + 1;
}
