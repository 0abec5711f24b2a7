// Stripe webhooks, once verified (webhook-signature.ts): the events billing acts on, normalised
// into a small internal shape.
//
// Stripe delivers events at least once and in no particular order. Each normalised event therefore
// describes the state of its object as carried in the event (not what the event's name implies),
// with the object's id, status and timestamps; `supersedes(next, current)` tells whether a newer
// normalised event should replace the state stored for the same object, so replays and
// out-of-order deliveries converge on the same final state.
import Stripe from 'stripe';
import { readPaymentMetadata, META } from './metadata.ts';
import { outcomeFromSnapshot } from './outcome.ts';
import type { DeclineCategory } from './provider.ts';

// ---------------------------------------------------------------------------------------------
// Normalisation

export interface EventInfo {
  eventId: string;
  eventType: string;
  /** When Stripe created the event (seconds). */
  eventCreated: number;
  livemode: boolean;
}

export type PaymentState = 'pending' | 'processing' | 'requires_action' | 'succeeded' | 'failed' | 'canceled';

export interface PaymentEvent extends EventInfo {
  kind: 'payment';
  paymentIntentId: string;
  /** From the payment intent in the event, whatever the event's name. */
  state: PaymentState;
  objectStatus: string;
  objectCreated: number;
  amount: number;
  amountReceived: number;
  currency: string;
  customerId: string | null;
  paymentMethodId: string | null;
  chargeId: string | null;
  organisationId: string;
  invoiceId: string;
  attempt: number | null;
  flow: 'off_session' | 'pay_now' | null;
  failure: { code: string; declineCode: string; message: string; declineCategory: DeclineCategory; hardDecline: boolean } | null;
}

export interface CardSetupEvent extends EventInfo {
  kind: 'card_setup';
  setupIntentId: string;
  objectStatus: string;
  objectCreated: number;
  customerId: string;
  paymentMethodId: string;
  memberId: string | null;
  organisationId: string | null;
}

export interface CardUpdatedEvent extends EventInfo {
  kind: 'card_updated';
  paymentMethodId: string;
  objectCreated: number;
  customerId: string | null;
  card: { brand: string; last4: string; expMonth: number; expYear: number; fingerprint: string | null } | null;
}

export interface RefundEvent extends EventInfo {
  kind: 'refund';
  chargeId: string;
  paymentIntentId: string;
  objectStatus: string;
  objectCreated: number;
  amount: number;
  /** Total refunded on the charge so far; only grows. */
  amountRefunded: number;
  fullyRefunded: boolean;
  currency: string;
  organisationId: string | null;
  invoiceId: string | null;
}

export interface DisputeEvent extends EventInfo {
  kind: 'dispute';
  disputeId: string;
  chargeId: string;
  paymentIntentId: string;
  objectStatus: string;
  objectCreated: number;
  /** 'open' while Stripe or the issuer is deciding; 'won' (including inquiries closed without a chargeback) or 'lost' once closed. */
  outcome: 'open' | 'won' | 'lost';
  amount: number;
  currency: string;
  reason: string;
}

export interface IgnoredEvent extends EventInfo {
  kind: 'ignored';
  /** e.g. 'not_gymgate' (no gymgate metadata), 'unhandled_type', 'incomplete_object'. */
  reason: string;
  objectId: string | null;
}

export type NormalisedEvent = PaymentEvent | CardSetupEvent | CardUpdatedEvent | RefundEvent | DisputeEvent | IgnoredEvent;

type Obj = Record<string, unknown>;

const str = (v: unknown): string | null => (typeof v === 'string' && v.length > 0 ? v : null);
const num = (v: unknown): number => (typeof v === 'number' && Number.isFinite(v) ? v : 0);
/** An expandable field: an id, or an object with an id. */
const ref = (v: unknown): string | null => str(v) ?? (v && typeof v === 'object' ? str((v as Obj).id) : null);
const meta = (v: unknown): Record<string, string> => {
  const out: Record<string, string> = {};
  if (v && typeof v === 'object') for (const [k, val] of Object.entries(v as Obj)) if (typeof val === 'string') out[k] = val;
  return out;
};

const PAYMENT_EVENTS = new Set([
  'payment_intent.succeeded',
  'payment_intent.payment_failed',
  'payment_intent.processing',
  'payment_intent.requires_action',
  'payment_intent.canceled',
]);
const DISPUTE_EVENTS = new Set(['charge.dispute.created', 'charge.dispute.updated', 'charge.dispute.closed']);

/** Turns a verified Stripe event into gymgate's shape; events billing does not act on are 'ignored'. */
export function normaliseStripeEvent(event: Stripe.Event): NormalisedEvent {
  const raw = event as unknown as Obj;
  const info: EventInfo = { eventId: String(raw.id), eventType: String(raw.type), eventCreated: num(raw.created), livemode: raw.livemode === true };
  const data = raw.data as Obj | undefined;
  const object = (data?.object ?? {}) as Obj;
  const objectId = str(object.id);
  const ignored = (reason: string): IgnoredEvent => ({ ...info, kind: 'ignored', reason, objectId });

  if (PAYMENT_EVENTS.has(info.eventType)) {
    if (object.object !== 'payment_intent' || !objectId) return ignored('incomplete_object');
    const refs = readPaymentMetadata(meta(object.metadata));
    if (!refs) return ignored('not_gymgate');
    const status = str(object.status) ?? 'unknown';
    const lastError = (object.last_payment_error ?? null) as Obj | null;
    const outcome = outcomeFromSnapshot({
      id: objectId,
      status,
      chargeId: ref(object.latest_charge),
      error: lastError ? { code: str(lastError.code), declineCode: str(lastError.decline_code), message: str(lastError.message), adviceCode: str(lastError.advice_code), networkAdviceCode: str(lastError.network_advice_code) } : null,
    });
    let state: PaymentState;
    if (status === 'canceled') state = 'canceled';
    else if (status === 'requires_payment_method' && !lastError) state = 'pending';
    else if (status === 'requires_confirmation') state = 'pending';
    else state = outcome.status;
    return {
      ...info,
      kind: 'payment',
      paymentIntentId: objectId,
      state,
      objectStatus: status,
      objectCreated: num(object.created),
      amount: num(object.amount),
      amountReceived: num(object.amount_received),
      currency: str(object.currency) ?? '',
      customerId: ref(object.customer),
      paymentMethodId: ref(object.payment_method) ?? (lastError ? ref(lastError.payment_method) : null),
      chargeId: ref(object.latest_charge),
      organisationId: refs.organisationId,
      invoiceId: refs.invoiceId,
      attempt: refs.attempt,
      flow: refs.flow,
      failure:
        state === 'failed' || state === 'requires_action'
          ? {
              code: outcome.failureCode ?? outcome.declineCode ?? 'payment_failed',
              declineCode: outcome.declineCode ?? outcome.failureCode ?? 'payment_failed',
              message: outcome.failureMessage ?? '',
              declineCategory: outcome.declineCategory ?? 'soft',
              hardDecline: outcome.hardDecline,
            }
          : null,
    };
  }

  if (info.eventType === 'setup_intent.succeeded') {
    if (object.object !== 'setup_intent' || !objectId) return ignored('incomplete_object');
    const customerId = ref(object.customer);
    const paymentMethodId = ref(object.payment_method);
    if (!customerId || !paymentMethodId) return ignored('incomplete_object');
    const m = meta(object.metadata);
    return {
      ...info,
      kind: 'card_setup',
      setupIntentId: objectId,
      objectStatus: str(object.status) ?? 'unknown',
      objectCreated: num(object.created),
      customerId,
      paymentMethodId,
      memberId: m[META.memberId] ?? null,
      organisationId: m[META.organisationId] ?? null,
    };
  }

  if (info.eventType === 'payment_method.automatically_updated') {
    if (object.object !== 'payment_method' || !objectId) return ignored('incomplete_object');
    const card = (object.card ?? null) as Obj | null;
    return {
      ...info,
      kind: 'card_updated',
      paymentMethodId: objectId,
      objectCreated: num(object.created),
      customerId: ref(object.customer),
      card: card
        ? { brand: str(card.brand) ?? 'unknown', last4: str(card.last4) ?? '', expMonth: num(card.exp_month), expYear: num(card.exp_year), fingerprint: str(card.fingerprint) }
        : null,
    };
  }

  if (info.eventType === 'charge.refunded') {
    if (object.object !== 'charge' || !objectId) return ignored('incomplete_object');
    const paymentIntentId = ref(object.payment_intent);
    // gymgate only charges through payment intents; a bare charge is someone else's.
    if (!paymentIntentId) return ignored('not_gymgate');
    const refs = readPaymentMetadata(meta(object.metadata));
    const amount = num(object.amount);
    const amountRefunded = num(object.amount_refunded);
    return {
      ...info,
      kind: 'refund',
      chargeId: objectId,
      paymentIntentId,
      objectStatus: str(object.status) ?? 'unknown',
      objectCreated: num(object.created),
      amount,
      amountRefunded,
      fullyRefunded: object.refunded === true || (amount > 0 && amountRefunded >= amount),
      currency: str(object.currency) ?? '',
      organisationId: refs?.organisationId ?? null,
      invoiceId: refs?.invoiceId ?? null,
    };
  }

  if (DISPUTE_EVENTS.has(info.eventType)) {
    if (object.object !== 'dispute' || !objectId) return ignored('incomplete_object');
    const chargeId = ref(object.charge);
    const paymentIntentId = ref(object.payment_intent);
    if (!chargeId || !paymentIntentId) return ignored('not_gymgate');
    const status = str(object.status) ?? 'unknown';
    return {
      ...info,
      kind: 'dispute',
      disputeId: objectId,
      chargeId,
      paymentIntentId,
      objectStatus: status,
      objectCreated: num(object.created),
      outcome: disputeOutcome(status),
      amount: num(object.amount),
      currency: str(object.currency) ?? '',
      reason: str(object.reason) ?? 'general',
    };
  }

  return ignored('unhandled_type');
}

function disputeOutcome(status: string): DisputeEvent['outcome'] {
  if (status === 'won' || status === 'warning_closed' || status === 'prevented') return 'won';
  if (status === 'lost') return 'lost';
  return 'open';
}

// ---------------------------------------------------------------------------------------------
// Ordering

/** Identifies the object a normalised event describes: events with equal keys are ordered by supersedes(). */
export function objectKey(event: NormalisedEvent): string {
  switch (event.kind) {
    case 'payment':
      return `payment_intent:${event.paymentIntentId}`;
    case 'card_setup':
      return `setup_intent:${event.setupIntentId}`;
    case 'card_updated':
      return `payment_method:${event.paymentMethodId}`;
    case 'refund':
      return `charge_refunds:${event.chargeId}`;
    case 'dispute':
      return `dispute:${event.disputeId}`;
    case 'ignored':
      return `ignored:${event.eventId}`;
  }
}

const PAYMENT_RANK: Record<PaymentState, number> = { pending: 0, requires_action: 1, failed: 1, processing: 2, succeeded: 3, canceled: 3 };

/**
 * Sort key of the state an event carries. Terminal states (a succeeded or canceled payment, a closed
 * dispute, a completed setup) outrank everything before them; refunds only grow; otherwise the later
 * event wins, and the event id breaks ties so every delivery order converges.
 */
function stateKey(event: NormalisedEvent): (number | string)[] {
  switch (event.kind) {
    case 'payment': {
      const terminal = event.state === 'succeeded' || event.state === 'canceled' ? 1 : 0;
      return [terminal, event.eventCreated, PAYMENT_RANK[event.state], event.eventId];
    }
    case 'refund':
      return [event.amountRefunded, event.eventCreated, event.eventId];
    case 'dispute':
      return [event.outcome === 'open' ? 0 : 1, event.eventCreated, event.eventId];
    case 'card_setup':
      return [event.objectStatus === 'succeeded' ? 1 : 0, event.eventCreated, event.eventId];
    default:
      return [event.eventCreated, event.eventId];
  }
}

/**
 * True when `next` should replace `current` as the stored state of the same object. A redelivery
 * of the same event, or an older state arriving late, returns false.
 */
export function supersedes(next: NormalisedEvent, current: NormalisedEvent | null | undefined): boolean {
  if (!current) return true;
  if (objectKey(next) !== objectKey(current)) throw new Error(`supersedes() compares states of one object (${objectKey(next)} vs ${objectKey(current)})`);
  if (next.eventId === current.eventId) return false;
  const a = stateKey(next);
  const b = stateKey(current);
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const x = a[i];
    const y = b[i];
    if (x === y) continue;
    if (x === undefined) return false;
    if (y === undefined) return true;
    return x > y;
  }
  return false;
}
