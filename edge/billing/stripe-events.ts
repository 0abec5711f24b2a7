// Applies verified, normalised Stripe events (edge/payments/webhooks.ts) to billing. Stripe sends
// each event at least once and in any order, so:
// - an event id already handled is acknowledged without effect (processed_webhook_events);
// - a payment keeps the normalised event whose state it holds, and a delivery replaces it only if
//   supersedes() says its state is newer (compare-and-swap on that event id); money reaches the
//   invoice once (the token of succeedStatements), and a success is never undone;
// - refunds and disputes are taken from the object: the charge's running refunded amount, the
//   dispute's status; rows written for them have keys derived from the object, so replays add nothing;
// - payment intents, setups and charges gymgate did not start are ignored.
import { and, eq, notInArray, sql } from 'drizzle-orm';
import { billingCustomers, payments, processedWebhookEvents, refunds } from '../db/schema.ts';
import { supersedes, type CardSetupEvent, type CardUpdatedEvent, type DisputeEvent, type NormalisedEvent, type PaymentEvent, type RefundEvent } from '../payments/index.ts';
import type { BillingDeps } from './deps.ts';
import { afterInvoiceChange } from './documents.ts';
import { tellDunning } from './dunning-port.ts';
import { saveSetUpCard } from './cards.ts';
import { batch, raw, chargeKey, movableFrom, succeedStatements } from './invoices.ts';
import { loadInvoice, type PaymentRow } from './records.ts';
import { newId } from '../lib/ids.ts';

export async function alreadyProcessed(deps: BillingDeps, eventId: string): Promise<boolean> {
  const [row] = await deps.db.select({ id: processedWebhookEvents.eventId }).from(processedWebhookEvents).where(eq(processedWebhookEvents.eventId, eventId));
  return Boolean(row);
}

/** Applies one event and records it as processed; returns what was done. */
export async function handleStripeEvent(deps: BillingDeps, event: NormalisedEvent, now: number): Promise<string> {
  let outcome: string;
  switch (event.kind) {
    case 'payment':
      outcome = await onPayment(deps, event, now);
      break;
    case 'card_setup':
      outcome = await onCardSetup(deps, event, now);
      break;
    case 'card_updated':
      outcome = await onCardUpdated(deps, event, now);
      break;
    case 'refund':
      outcome = await onRefund(deps, event, now);
      break;
    case 'dispute':
      outcome = await onDispute(deps, event, now);
      break;
    case 'ignored':
      outcome = `ignored:${event.reason}`;
      break;
  }
  // Kept changing under us: not recorded, so Stripe's retry of the delivery gets another go.
  if (outcome === 'conflict') throw new Error(`event ${event.eventId} could not be applied; Stripe will deliver it again`);
  await deps.db.insert(processedWebhookEvents).values({ eventId: event.eventId, type: event.eventType, outcome, receivedAt: now }).onConflictDoNothing();
  return outcome;
}

async function paymentByIntent(deps: BillingDeps, paymentIntentId: string): Promise<PaymentRow | undefined> {
  const [row] = await deps.db.select().from(payments).where(and(eq(payments.providerPaymentId, paymentIntentId), eq(payments.provider, 'stripe')));
  return row;
}

const STATUS: Record<PaymentEvent['state'], PaymentRow['status']> = {
  pending: 'pending',
  processing: 'processing',
  requires_action: 'requires_action',
  succeeded: 'succeeded',
  failed: 'failed',
  canceled: 'canceled',
};

async function onPayment(deps: BillingDeps, ev: PaymentEvent, now: number): Promise<string> {
  const { db } = deps;
  for (let round = 0; round < 5; round++) {
    let payment = await paymentByIntent(deps, ev.paymentIntentId);
    if (!payment && ev.attempt !== null) {
      [payment] = await db.select().from(payments).where(eq(payments.idempotencyKey, chargeKey(ev.invoiceId, ev.attempt)));
    }
    if (!payment || payment.organisationId !== ev.organisationId || payment.invoiceId !== ev.invoiceId) return 'ignored:unknown_payment';
    const current = (payment.lastEvent as NormalisedEvent | null) ?? null;
    if (current && !supersedes(ev, current)) return 'superseded';
    const target = STATUS[ev.state];
    // A success is final; without an earlier event, only forward moves (the charge's own answer may be newer).
    const status =
      payment.status === 'succeeded' || payment.status === 'canceled'
        ? payment.status
        : current || target === payment.status || movableFrom(target).includes(payment.status)
          ? target
          : payment.status;
    const failure = status === 'failed' || status === 'requires_action' ? ev.failure : null;
    const cas = raw(db, sql`UPDATE payments SET last_event_id = ${ev.eventId}, last_event = ${JSON.stringify(ev)},
        status = CASE WHEN status IN ('succeeded', 'canceled') THEN status ELSE ${status === 'succeeded' ? payment.status : status} END,
        provider_payment_id = coalesce(provider_payment_id, ${ev.paymentIntentId}), charge_id = coalesce(${ev.chargeId}, charge_id),
        failure_code = ${failure?.code ?? null}, decline_code = ${failure?.declineCode ?? null}, failure_message = ${failure?.message ?? null},
        hard_decline = ${failure?.hardDecline ? 1 : 0}, updated_at = ${now}
      WHERE id = ${payment.id} AND last_event_id IS ${current?.eventId ?? null}`);
    const results = await batch(db, [cas, ...(status === 'succeeded' ? succeedStatements(db, payment, now, crypto.randomUUID()) : [])]);
    if (((results[0] as D1Result).meta?.changes ?? 0) === 0) continue;
    if (status === 'failed' && payment.status !== 'failed' && payment.invoiceId) {
      const invoice = await loadInvoice(db, payment.invoiceId);
      await tellDunning(deps, payment.organisationId, payment.payerId, { type: 'payment_failed', invoiceNumber: invoice?.number ?? payment.invoiceId, declineCode: failure?.declineCode ?? 'payment_failed', hard: failure?.hardDecline ?? false }, now);
    }
    if (status === 'succeeded' && payment.status !== 'succeeded') await tellDunning(deps, payment.organisationId, payment.payerId, { type: 'payment_succeeded' }, now);
    if (payment.invoiceId) {
      const invoice = await loadInvoice(db, payment.invoiceId);
      if (invoice) await afterInvoiceChange(deps, invoice, now);
    }
    return `payment:${status}`;
  }
  return 'conflict';
}

async function onCardSetup(deps: BillingDeps, ev: CardSetupEvent, now: number): Promise<string> {
  const saved = await saveSetUpCard(deps, ev.customerId, ev.paymentMethodId, now);
  return saved ? 'card_saved' : 'ignored:unknown_customer';
}

async function onCardUpdated(deps: BillingDeps, ev: CardUpdatedEvent, now: number): Promise<string> {
  if (!ev.card) return 'ignored:no_card';
  const rows = await deps.db
    .update(billingCustomers)
    .set({ cardBrand: ev.card.brand, cardLast4: ev.card.last4, cardExpMonth: ev.card.expMonth, cardExpYear: ev.card.expYear, updatedAt: now })
    .where(and(eq(billingCustomers.provider, 'stripe'), eq(billingCustomers.defaultPaymentMethodId, ev.paymentMethodId)))
    .returning({ memberId: billingCustomers.memberId, organisationId: billingCustomers.organisationId });
  for (const r of rows) await tellDunning(deps, r.organisationId, r.memberId, { type: 'card_updated' }, now);
  return rows.length ? 'card_updated' : 'ignored:unknown_payment_method';
}

/** Refunds made outside gymgate (the Stripe dashboard) are recorded from the charge's running refunded amount. */
async function onRefund(deps: BillingDeps, ev: RefundEvent, now: number): Promise<string> {
  const { db } = deps;
  const payment = await paymentByIntent(deps, ev.paymentIntentId);
  if (!payment) return 'ignored:unknown_payment';
  const [ours] = await db
    .select({ total: sql<number>`coalesce(sum(${refunds.amount}), 0)` })
    .from(refunds)
    .where(and(eq(refunds.paymentId, payment.id), notInArray(refunds.reason, ['external', 'dispute_lost']), notInArray(refunds.status, ['failed', 'canceled'])));
  const external = ev.amountRefunded - (ours?.total ?? 0);
  await batch(db, [
    raw(db, sql`UPDATE payments SET amount_refunded = max(amount_refunded, ${ev.amountRefunded}), updated_at = ${now} WHERE id = ${payment.id}`),
    ...(external > 0
      ? [
          raw(db, sql`INSERT INTO refunds (id, organisation_id, payer_id, payment_id, amount, currency, reason, idempotency_key, status, created_at, updated_at)
            VALUES (${newId('ref', now)}, ${payment.organisationId}, ${payment.payerId}, ${payment.id},
              ${external}, ${payment.currency}, 'external', ${`external:${ev.chargeId}`}, 'succeeded', ${now}, ${now})
            ON CONFLICT (idempotency_key) DO UPDATE SET amount = max(amount, excluded.amount), updated_at = excluded.updated_at`),
        ]
      : []),
  ]);
  return external > 0 ? 'refund:external' : 'refund:known';
}

async function onDispute(deps: BillingDeps, ev: DisputeEvent, now: number): Promise<string> {
  const { db } = deps;
  const payment = await paymentByIntent(deps, ev.paymentIntentId);
  if (!payment) return 'ignored:unknown_payment';
  if (ev.outcome === 'open') {
    await raw(db, sql`UPDATE payments SET dispute = 'open', updated_at = ${now} WHERE id = ${payment.id} AND dispute IS NULL`);
  } else {
    // A lost dispute takes the money back: recorded like a refund (once per dispute).
    await batch(db, [
      raw(db, sql`UPDATE payments SET dispute = ${ev.outcome}, updated_at = ${now} WHERE id = ${payment.id} AND (dispute IS NULL OR dispute = 'open')`),
      ...(ev.outcome === 'lost'
        ? [
            raw(db, sql`INSERT INTO refunds (id, organisation_id, payer_id, payment_id, amount, currency, reason, idempotency_key, status, created_at, updated_at)
              VALUES (${newId('ref', now)}, ${payment.organisationId}, ${payment.payerId}, ${payment.id},
                ${ev.amount}, ${payment.currency}, 'dispute_lost', ${`dispute:${ev.disputeId}`}, 'succeeded', ${now}, ${now})
              ON CONFLICT DO NOTHING`),
          ]
        : []),
    ]);
  }
  if (payment.invoiceId) {
    const invoice = await loadInvoice(db, payment.invoiceId);
    if (invoice) await afterInvoiceChange(deps, invoice, now);
  }
  return `dispute:${ev.outcome}`;
}
