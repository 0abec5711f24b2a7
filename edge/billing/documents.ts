// Staff operations on invoices and payments: void, write-off, manual payments, credit notes,
// refunds and one-off charges. Each write that must not happen twice is guarded in the database
// (see invoices.ts); reads before it only produce the messages of refusals.
import { and, asc, eq, sql } from 'drizzle-orm';
import { issueCreditNote, refundAllocation, type CreditNoteLineRequest, type CreditNoteOutcome, type CreditNoteReason } from '../../core/billing/credit-notes.ts';
import { computeDraftInvoice, transitionInvoice, type PendingItem } from '../../core/billing/invoice.ts';
import type { Currency } from '../../core/billing/money.ts';
import { creditNotes, invoiceSequences, payments, pendingItems, refunds } from '../db/schema.ts';
import { newId } from '../lib/ids.ts';
import { invalidField } from '../lib/problem.ts';
import { isPaymentProviderError } from '../payments/index.ts';
import { paymentProvider, type BillingDeps } from './deps.ts';
import { tellDunning } from './dunning-port.ts';
import { batch, raw, chargeInvoice, finaliseInvoice, insertDraftInvoice, isConstraintError, nextAttempt, randomToken, succeedStatements } from './invoices.ts';
import { refused } from './problems.ts';
import { creditNoteOf, invoiceOf, loadInvoice, memberLedger, taxRateOf, type CreditNoteRow, type InvoiceRow, type PaymentRow, type RefundRow } from './records.ts';
import { processSubscription } from './subscriptions.ts';

/** After money moved on an invoice: its subscription takes it into account (status, validUntil). */
export async function afterInvoiceChange(deps: BillingDeps, invoice: Pick<InvoiceRow, 'subscriptionId'>, now: number) {
  if (invoice.subscriptionId) await processSubscription(deps, invoice.subscriptionId, now, { bill: false });
}

export async function voidInvoice(deps: BillingDeps, invoice: InvoiceRow, now: number): Promise<InvoiceRow> {
  const t = transitionInvoice(invoiceOf(invoice), { type: 'void', at: now });
  if (!t.ok) throw refused('status', t.reason, t.detail);
  const res = (await raw(deps.db, sql`UPDATE invoices SET status = 'void', voided_at = ${now}, amount_remaining = 0
    WHERE id = ${invoice.id} AND status IN ('open', 'uncollectible') AND amount_paid = 0 AND amount_credited = 0`)) as unknown as D1Result;
  if ((res.meta?.changes ?? 0) === 0) throw refused('status', 'changed', 'the invoice changed meanwhile (a payment or credit arrived); reload it');
  const after = (await loadInvoice(deps.db, invoice.id))!;
  await afterInvoiceChange(deps, after, now);
  return after;
}

export async function markUncollectible(deps: BillingDeps, invoice: InvoiceRow, now: number): Promise<InvoiceRow> {
  const t = transitionInvoice(invoiceOf(invoice), { type: 'mark_uncollectible', at: now });
  if (!t.ok) throw refused('status', t.reason, t.detail);
  await raw(deps.db, sql`UPDATE invoices SET status = 'uncollectible', uncollectible_at = ${now} WHERE id = ${invoice.id} AND status = 'open'`);
  const after = (await loadInvoice(deps.db, invoice.id))!;
  await afterInvoiceChange(deps, after, now);
  return after;
}

export async function recordManualPayment(
  deps: BillingDeps,
  invoice: InvoiceRow,
  body: { amount: number; method: 'cash' | 'bank_transfer' | 'card_terminal' | 'promptpay'; reference?: string | undefined; idempotencyKey?: string | undefined },
  now: number,
): Promise<PaymentRow> {
  const { db } = deps;
  const key = `manual:${invoice.id}:${body.idempotencyKey ?? crypto.randomUUID()}`;
  if (body.idempotencyKey) {
    // A retried request: the payment it recorded, not a second one.
    const [seen] = await db.select().from(payments).where(eq(payments.idempotencyKey, key));
    if (seen) return seen;
  }
  if (invoice.status !== 'open' && invoice.status !== 'uncollectible') {
    throw refused('invoiceId', 'not_payable', `a ${invoice.status} invoice takes no payment${invoice.status === 'paid' ? '; the money would go to the credit balance: issue a credit note or refund instead' : ''}`);
  }
  const id = newId('pay', now);
  const token = randomToken();
  const attempt = await nextAttempt(db, invoice.id);
  await batch(db, [
    db
      .insert(payments)
      .values({
        id,
        organisationId: invoice.organisationId,
        payerId: invoice.payerId,
        invoiceId: invoice.id,
        provider: 'manual',
        method: body.method,
        attempt,
        idempotencyKey: key,
        status: 'pending',
        amount: body.amount,
        currency: invoice.currency,
        reference: body.reference ?? null,
        createdAt: now,
        updatedAt: now,
      })
      .onConflictDoNothing(),
    ...succeedStatements(db, { id, invoiceId: invoice.id, amount: body.amount }, now, token),
  ]);
  const [payment] = await db.select().from(payments).where(eq(payments.idempotencyKey, key));
  if (payment?.appliedToken === token) await tellDunning(deps, invoice.organisationId, invoice.payerId, { type: 'payment_succeeded' }, now);
  await afterInvoiceChange(deps, invoice, now);
  return payment!;
}

/** Charges the saved card again for what an open invoice still asks (the next attempt number). */
export async function chargeAgain(deps: BillingDeps, invoice: InvoiceRow, now: number): Promise<PaymentRow> {
  const attempt = await nextAttempt(deps.db, invoice.id);
  const result = await chargeInvoice(deps, invoice, attempt, now);
  if (result.kind === 'nothing_due') throw refused('invoiceId', 'nothing_due', `invoice ${invoice.number} asks for nothing (${invoice.status})`);
  if (result.kind === 'no_payment_method') throw refused('payerId', 'no_payment_method', 'the payer has no saved card with the configured payment processor');
  await afterInvoiceChange(deps, invoice, now);
  return result.payment;
}

// ---------------------------------------------------------------------------------------------
// Refunds

async function sendRefund(deps: BillingDeps, refund: RefundRow, payment: PaymentRow, now: number): Promise<RefundRow> {
  const { db } = deps;
  let status: RefundRow['status'] = 'succeeded';
  let providerRefundId: string | null = null;
  let failureMessage: string | null = null;
  if (payment.provider !== 'manual') {
    if (!payment.providerPaymentId) {
      status = 'failed';
      failureMessage = 'the payment has no processor payment to refund';
    } else {
      try {
        const reason = refund.reason === 'duplicate' || refund.reason === 'fraudulent' ? refund.reason : 'requested_by_customer';
        const r = await paymentProvider(deps).refund({ paymentIntentId: payment.providerPaymentId, amount: refund.amount, idempotencyKey: refund.idempotencyKey, reason });
        providerRefundId = r.refundId;
        status = r.status === 'requires_action' ? 'pending' : r.status;
      } catch (error) {
        if (isPaymentProviderError(error) && error.retryable) {
          status = 'pending';
          failureMessage = error.message;
        } else {
          status = 'failed';
          failureMessage = error instanceof Error ? error.message : String(error);
        }
      }
    }
  }
  const returned = status === 'failed' || status === 'canceled' ? refund.amount : 0;
  await batch(db, [
    db
      .update(refunds)
      .set({ status, providerRefundId, failureMessage, updatedAt: now })
      .where(and(eq(refunds.id, refund.id), eq(refunds.status, 'pending'))),
    raw(db, sql`UPDATE payments SET amount_refunded = amount_refunded - ${returned} WHERE id = ${payment.id} AND ${returned} > 0`),
  ]);
  const [after] = await db.select().from(refunds).where(eq(refunds.id, refund.id));
  return after!;
}

/** The refunds row (pending) and the payment's refunded amount, in one batch; fails when the payment has less left. */
function refundStatements(deps: BillingDeps, refund: Omit<RefundRow, 'providerRefundId' | 'failureMessage' | 'updatedAt'>, now: number) {
  const { db } = deps;
  return [
    raw(db, sql`INSERT INTO refunds (id, organisation_id, payer_id, payment_id, credit_note_id, amount, currency, reason, idempotency_key, status, created_at, updated_at)
      VALUES (${refund.id}, ${refund.organisationId}, ${refund.payerId}, ${refund.paymentId}, ${refund.creditNoteId}, 
        (SELECT CASE WHEN amount - amount_refunded >= ${refund.amount} THEN ${refund.amount} END FROM payments WHERE id = ${refund.paymentId} AND status = 'succeeded'),
        ${refund.currency}, ${refund.reason}, ${refund.idempotencyKey}, 'pending', ${now}, ${now})`),
    raw(db, sql`UPDATE payments SET amount_refunded = amount_refunded + ${refund.amount}, updated_at = ${now} WHERE id = ${refund.paymentId}`),
  ];
}

/** A refund of the member's credit balance through one of their payments. */
export async function refundFromCredit(deps: BillingDeps, payment: PaymentRow, body: { amount: number; reason: string }, now: number): Promise<RefundRow> {
  const { db } = deps;
  if (payment.status !== 'succeeded') throw refused('paymentId', 'not_refundable', `a ${payment.status} payment cannot be refunded`);
  const left = payment.amount - payment.amountRefunded;
  if (body.amount > left) throw refused('amount', 'exceeds_refundable', `payment ${payment.id} has ${left} left to refund`);
  const ledger = await memberLedger(db, payment.organisationId, payment.payerId);
  if (body.amount > ledger.creditBalance) {
    throw refused('amount', 'exceeds_credit_balance', `the member holds ${ledger.creditBalance} in credit; to refund an invoice, issue a credit note with outcome refund`);
  }
  const refund = {
    id: newId('ref', now),
    organisationId: payment.organisationId,
    payerId: payment.payerId,
    paymentId: payment.id,
    creditNoteId: null,
    amount: body.amount,
    currency: payment.currency,
    reason: body.reason,
    idempotencyKey: `refund:${crypto.randomUUID()}`,
    status: 'pending' as const,
    createdAt: now,
  };
  try {
    await batch(db, refundStatements(deps, refund, now));
  } catch (error) {
    if (isConstraintError(error)) throw refused('amount', 'exceeds_refundable', 'the payment has less left to refund (another refund was made meanwhile)');
    throw error;
  }
  return sendRefund(deps, { ...refund, providerRefundId: null, failureMessage: null, updatedAt: now }, payment, now);
}

// ---------------------------------------------------------------------------------------------
// Credit notes

export async function createCreditNote(
  deps: BillingDeps,
  invoice: InvoiceRow,
  body: { lines: CreditNoteLineRequest[]; outcome: CreditNoteOutcome; reason: CreditNoteReason; memo?: string | undefined },
  now: number,
): Promise<{ note: CreditNoteRow; refunds: RefundRow[] }> {
  const { db } = deps;
  const existing = await db.select().from(creditNotes).where(eq(creditNotes.invoiceId, invoice.id)).orderBy(asc(creditNotes.sequenceOnInvoice));
  const currency = invoice.currency as Currency;
  const r = issueCreditNote({
    invoice: invoiceOf(invoice),
    existing: existing.map((n) => creditNoteOf(n, invoice.number ?? '', currency)),
    lines: body.lines,
    outcome: body.outcome,
    reason: body.reason,
    memo: body.memo ?? null,
    at: now,
  });
  if (!r.ok) {
    if (r.reason === 'invalid_request') throw invalidField('lines', r.detail);
    throw refused(r.reason === 'unknown_line' || r.reason === 'duplicate_line' || r.reason === 'over_credit' ? 'lines' : 'outcome', r.reason, r.detail);
  }
  const note = r.creditNote;
  const id = newId('cn', now);
  let parts: Array<{ payment: PaymentRow; amount: number }> = [];
  if (note.outcome === 'refund') {
    const paid = await db
      .select()
      .from(payments)
      .where(and(eq(payments.invoiceId, invoice.id), eq(payments.status, 'succeeded')))
      .orderBy(asc(payments.createdAt));
    parts = refundAllocation(paid, note.total);
    if (parts.length === 0) {
      const left = paid.reduce((sum, p) => sum + p.amount - p.amountRefunded, 0);
      throw refused('outcome', 'exceeds_refundable', `the payments of invoice ${invoice.number} have ${left} left to refund; credit the balance instead`);
    }
  }
  const refundRows = parts.map(({ payment, amount }, i) => ({
    id: newId('ref', now),
    organisationId: invoice.organisationId,
    payerId: invoice.payerId,
    paymentId: payment.id,
    creditNoteId: id,
    amount,
    currency: invoice.currency,
    reason: 'requested_by_customer',
    // One key per part, stable for the note: a resend refunds nothing twice.
    idempotencyKey: i === 0 ? `refund:${id}` : `refund:${id}:${i + 1}`,
    status: 'pending' as const,
    createdAt: now,
  }));
  const statements = [
    db.insert(invoiceSequences).values({ organisationId: invoice.organisationId }).onConflictDoNothing(),
    raw(db, sql`UPDATE invoice_sequences SET next_credit_note = next_credit_note + 1 WHERE organisation_id = ${invoice.organisationId}`),
    // Unique (invoice, sequence): a concurrent credit note of the same invoice fails this insert and
    // rolls the batch back, number included.
    raw(db, sql`INSERT INTO credit_notes (id, organisation_id, invoice_id, payer_id, number, outcome, reason, memo, lines, subtotal, tax, total, sequence_on_invoice, issued_at, voided)
      VALUES (${id}, ${invoice.organisationId}, ${invoice.id}, ${invoice.payerId},
        (SELECT prefix || '-CN-' || printf('%06d', next_credit_note - 1) FROM invoice_sequences WHERE organisation_id = ${invoice.organisationId}),
        ${note.outcome}, ${note.reason}, ${note.memo}, ${JSON.stringify(note.lines)}, ${note.subtotal}, ${note.tax}, ${note.total}, ${existing.length + 1}, ${now}, 0)`),
    ...(note.outcome === 'reduce_outstanding'
      ? [
          raw(db, sql`UPDATE invoices SET
              amount_credited = amount_credited + min(${note.total}, amount_remaining),
              amount_remaining = amount_remaining - min(${note.total}, amount_remaining),
              status = CASE WHEN amount_remaining - min(${note.total}, amount_remaining) = 0 THEN 'paid' ELSE status END,
              paid_at = CASE WHEN amount_remaining - min(${note.total}, amount_remaining) = 0 THEN ${now} ELSE paid_at END
            WHERE id = ${invoice.id} AND status IN ('open', 'uncollectible')`),
        ]
      : []),
    ...refundRows.flatMap((refund) => refundStatements(deps, refund, now)),
  ];
  try {
    await batch(db, statements);
  } catch (error) {
    if (isConstraintError(error)) throw refused('lines', 'concurrent_credit_note', 'another credit note or refund on this invoice was recorded at the same time; reload and try again');
    throw error;
  }
  const [row] = await db.select().from(creditNotes).where(eq(creditNotes.id, id));
  const sent: RefundRow[] = [];
  for (const [i, refund] of refundRows.entries()) sent.push(await sendRefund(deps, { ...refund, providerRefundId: null, failureMessage: null, updatedAt: now }, parts[i]!.payment, now));
  if (note.outcome === 'reduce_outstanding') await afterInvoiceChange(deps, invoice, now);
  await tellDunning(deps, invoice.organisationId, invoice.payerId, { type: 'amount_owed_changed' }, now);
  return { note: row!, refunds: sent };
}


// ---------------------------------------------------------------------------------------------
// Pending items

export async function addPendingItem(
  deps: BillingDeps,
  organisationId: string,
  memberId: string,
  body: { kind: PendingItem['kind']; description: string; quantity: number; unitAmount: number; currency: Currency; taxRate: PendingItem['taxRate']; chargeNow: boolean },
  now: number,
): Promise<{ item: typeof pendingItems.$inferSelect; invoice: InvoiceRow | null }> {
  const { db } = deps;
  const id = newId('pend', now);
  const [item] = await db
    .insert(pendingItems)
    .values({
      id,
      organisationId,
      memberId,
      kind: body.kind,
      description: body.description,
      quantity: body.quantity,
      unitAmount: body.unitAmount,
      currency: body.currency,
      taxName: body.taxRate?.name ?? null,
      taxBasisPoints: body.taxRate?.basisPoints ?? null,
      taxMode: body.taxRate?.mode ?? null,
      createdAt: now,
    })
    .returning();
  if (!body.chargeNow) return { item: item!, invoice: null };

  const ledger = await memberLedger(db, organisationId, memberId);
  const pending: PendingItem = { id, kind: body.kind, description: body.description, quantity: body.quantity, unitAmount: body.unitAmount, taxRate: taxRateOf(item!) };
  const draft = computeDraftInvoice({ currency: body.currency, period: null, plan: null, pendingItems: [pending], creditBalance: ledger.creditBalance });
  if (!draft.ok) throw invalidField('unitAmount', draft.detail);
  const invoiceId = newId('inv', now);
  await insertDraftInvoice(db, {
    id: invoiceId,
    organisationId,
    payerId: memberId,
    subscriptionId: null,
    reason: 'one_off',
    sourceKey: `pending:${id}`,
    invoice: draft.invoice,
    pendingItemIds: [id],
    guard: null,
    after: [],
    now,
  });
  let invoice = await finaliseInvoice(db, organisationId, invoiceId, now);
  await chargeInvoice(deps, invoice, 1, now);
  invoice = (await loadInvoice(db, invoiceId))!;
  const [after] = await db.select().from(pendingItems).where(eq(pendingItems.id, id));
  return { item: after!, invoice };
}

export async function deletePendingItem(deps: BillingDeps, organisationId: string, id: string): Promise<boolean> {
  const res = (await raw(deps.db, sql`DELETE FROM pending_items WHERE id = ${id} AND organisation_id = ${organisationId} AND invoice_id IS NULL`)) as unknown as D1Result;
  return (res.meta?.changes ?? 0) > 0;
}


