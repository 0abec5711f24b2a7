// Stripe webhooks: signatures made with the SDK's test helper are verified inside workerd, and the
// events the fake Stripe API produced during real adapter calls normalise to gymgate's shape, the
// same whatever the delivery order or duplication.
import Stripe from 'stripe';
import { beforeAll, describe, expect, it } from 'vitest';
import { verifyStripeWebhook } from '../../edge/payments/webhook-signature.ts';
import { normaliseStripeEvent, objectKey, supersedes, type NormalisedEvent } from '../../edge/payments/webhooks.ts';
import fixtures from './stripe-fake/fixtures.json';
import { fakeControl, fakeEvents, fakeStripeUrl, newTestKey, stripeProviderFor } from './stripe-fake/harness.ts';

const secret = 'whsec_test_gymgate_0123456789abcdef';
const cryptoProvider = Stripe.createSubtleCryptoProvider();

async function sign(payload: string, options: { secret?: string; timestamp?: number } = {}): Promise<string> {
  return Stripe.webhooks.generateTestHeaderStringAsync({
    payload,
    secret: options.secret ?? secret,
    cryptoProvider,
    ...(options.timestamp !== undefined ? { timestamp: options.timestamp } : {}),
  });
}

async function deliver(event: unknown): Promise<NormalisedEvent> {
  const body = JSON.stringify(event);
  const verified = await verifyStripeWebhook(body, await sign(body), secret);
  if (!verified.ok) throw verified.error;
  return normaliseStripeEvent(verified.event);
}

function failureReason(result: Awaited<ReturnType<typeof verifyStripeWebhook>>): string {
  return result.ok ? 'ok' : result.error.reason;
}

describe('webhook signatures', () => {
  const body = JSON.stringify({ ...fixtures.resources.event, id: 'evt_sig', type: 'payment_intent.succeeded', data: { object: fixtures.resources.payment_intent } });

  it('accepts a correctly signed delivery and returns the event', async () => {
    const result = await verifyStripeWebhook(body, await sign(body), secret);
    expect(result.ok).toBe(true);
    if (result.ok) expect(result.event.id).toBe('evt_sig');
    const bytes = await verifyStripeWebhook(new TextEncoder().encode(body), await sign(body), secret);
    expect(bytes.ok).toBe(true);
  });

  it('refuses a tampered body', async () => {
    const header = await sign(body);
    expect(failureReason(await verifyStripeWebhook(body.replace('"amount":1099', '"amount":1'), header, secret))).toBe('bad_signature');
    expect(failureReason(await verifyStripeWebhook(`${body} `, header, secret))).toBe('bad_signature');
  });

  it('refuses a signature made with another secret', async () => {
    expect(failureReason(await verifyStripeWebhook(body, await sign(body, { secret: 'whsec_someone_else' }), secret))).toBe('bad_signature');
  });

  it('refuses a stale timestamp (replay) unless the tolerance allows it', async () => {
    const tenMinutesAgo = Math.floor(Date.now() / 1000) - 600;
    const header = await sign(body, { timestamp: tenMinutesAgo });
    expect(failureReason(await verifyStripeWebhook(body, header, secret))).toBe('too_old');
    expect(failureReason(await verifyStripeWebhook(body, header, secret, { toleranceSeconds: 900 }))).toBe('ok');
    expect(failureReason(await verifyStripeWebhook(body, header, secret, { receivedAtMs: tenMinutesAgo * 1000 + 5_000 }))).toBe('ok');
  });

  it('reports missing and unreadable signature headers', async () => {
    expect(failureReason(await verifyStripeWebhook(body, null, secret))).toBe('missing_signature');
    expect(failureReason(await verifyStripeWebhook(body, '', secret))).toBe('missing_signature');
    expect(failureReason(await verifyStripeWebhook(body, 'garbage', secret))).toBe('malformed_signature');
    expect(failureReason(await verifyStripeWebhook(body, 't=123', secret))).toBe('malformed_signature');
  });

  it('reports a signed body that is not a Stripe event', async () => {
    for (const payload of ['not json', '{"hello":"world"}', 'null', '42', '[]']) {
      expect(failureReason(await verifyStripeWebhook(payload, await sign(payload), secret))).toBe('malformed_payload');
    }
  });

  it('reports a missing webhook secret as configuration', async () => {
    expect(failureReason(await verifyStripeWebhook(body, await sign(body), undefined))).toBe('configuration');
  });
});

describe('webhook events from a billing run', () => {
  let key: string;
  let events: any[];
  let normalised: NormalisedEvent[];
  const ids: Record<string, string> = {};

  beforeAll(async () => {
    key = newTestKey('webhooks');
    const stripe = stripeProviderFor(key);
    const { customerId } = await stripe.ensureCustomer({ memberId: 'mem_w', email: 'w@example.com', organisationId: 'org_w' });
    ids.customer = customerId;
    const setup = await stripe.startCardSetup({ customerId, returnUrl: 'https://gym.example/done', memberId: 'mem_w', organisationId: 'org_w' });
    const si = await fakeControl(key, 'POST', `/setup_intents/${setup.id}/succeed`, { payment_method: 'pm_card_visa' });
    ids.setupIntent = setup.id;
    ids.paymentMethod = si.payment_method;

    const charge = (pm: string, invoiceId: string, attempt: number) =>
      stripe.chargeOffSession({
        customerId,
        paymentMethodId: pm,
        amount: 50_000,
        currency: 'thb',
        idempotencyKey: `${invoiceId}:attempt:${attempt}`,
        description: 'Membership',
        metadata: { invoiceId, organisationId: 'org_w', attempt },
      });
    const paid = await charge('pm_card_visa', 'inv_paid', 1);
    ids.paidIntent = paid.paymentIntentId;
    ids.paidCharge = paid.chargeId!;
    ids.declinedIntent = (await charge('pm_card_chargeDeclinedInsufficientFunds', 'inv_declined', 3)).paymentIntentId;
    ids.authIntent = (await charge('pm_card_authenticationRequired', 'inv_auth', 1)).paymentIntentId;

    await stripe.refund({ paymentIntentId: paid.paymentIntentId, amount: 20_000, idempotencyKey: 'refund-1' });
    await stripe.refund({ paymentIntentId: paid.paymentIntentId, amount: 30_000, idempotencyKey: 'refund-2' });
    const dispute = await fakeControl(key, 'POST', `/charges/${paid.chargeId}/dispute`, { reason: 'fraudulent' });
    ids.dispute = dispute.id;
    await fakeControl(key, 'POST', `/disputes/${dispute.id}/close`, { status: 'lost' });
    await fakeControl(key, 'POST', `/payment_methods/${si.payment_method}/automatically_update`, { exp_month: 9, exp_year: 2031 });

    // A payment intent created by something else on the same Stripe account (no gymgate metadata).
    const foreign = await fetch(`${fakeStripeUrl()}/v1/payment_intents`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ amount: '5000', currency: 'thb', payment_method: 'pm_card_visa', confirm: 'true' }),
    });
    ids.foreignIntent = ((await foreign.json()) as { id: string }).id;

    events = await fakeEvents(key);
    normalised = [];
    for (const event of events) normalised.push(await deliver(event));
  });

  const find = (type: string, predicate: (e: any) => boolean = () => true) => {
    const i = events.findIndex((e) => e.type === type && predicate(e));
    expect(i, `event ${type}`).toBeGreaterThanOrEqual(0);
    return normalised[i]!;
  };

  it('normalises setup_intent.succeeded to the customer and its new payment method', () => {
    expect(find('setup_intent.succeeded')).toMatchObject({
      kind: 'card_setup',
      setupIntentId: ids.setupIntent,
      customerId: ids.customer,
      paymentMethodId: ids.paymentMethod,
      memberId: 'mem_w',
      organisationId: 'org_w',
      objectStatus: 'succeeded',
    });
  });

  it('normalises payment_intent.succeeded with the invoice from metadata', () => {
    const e = find('payment_intent.succeeded', (ev) => ev.data.object.id === ids.paidIntent);
    expect(e).toMatchObject({
      kind: 'payment',
      paymentIntentId: ids.paidIntent,
      state: 'succeeded',
      objectStatus: 'succeeded',
      amount: 50_000,
      amountReceived: 50_000,
      currency: 'thb',
      customerId: ids.customer,
      chargeId: ids.paidCharge,
      organisationId: 'org_w',
      invoiceId: 'inv_paid',
      attempt: 1,
      flow: 'off_session',
      failure: null,
    });
    expect(e.eventCreated).toBeGreaterThan(0);
    if (e.kind === 'payment') expect(e.objectCreated).toBeGreaterThan(0);
  });

  it('normalises payment_intent.payment_failed with the decline and its class', () => {
    expect(find('payment_intent.payment_failed', (ev) => ev.data.object.id === ids.declinedIntent)).toMatchObject({
      kind: 'payment',
      state: 'failed',
      objectStatus: 'requires_payment_method',
      invoiceId: 'inv_declined',
      attempt: 3,
      failure: { code: 'card_declined', declineCode: 'insufficient_funds', declineCategory: 'soft', hardDecline: false, message: 'Your card has insufficient funds.' },
    });
    expect(find('payment_intent.payment_failed', (ev) => ev.data.object.id === ids.authIntent)).toMatchObject({
      kind: 'payment',
      state: 'requires_action',
      invoiceId: 'inv_auth',
      failure: { declineCode: 'authentication_required', hardDecline: false },
    });
  });

  it('normalises payment_intent.processing from the object state', async () => {
    const succeeded = events.find((e) => e.type === 'payment_intent.succeeded' && e.data.object.id === ids.paidIntent);
    const processing = structuredClone(succeeded);
    Object.assign(processing, { id: 'evt_processing', type: 'payment_intent.processing', created: succeeded.created - 1 });
    Object.assign(processing.data.object, { status: 'processing', amount_received: 0, latest_charge: null });
    expect(await deliver(processing)).toMatchObject({ kind: 'payment', state: 'processing', invoiceId: 'inv_paid', eventCreated: succeeded.created - 1 });

    // The state comes from the object, not from the event's name.
    const mislabelled = structuredClone(succeeded);
    Object.assign(mislabelled, { id: 'evt_mislabelled', type: 'payment_intent.processing' });
    expect(await deliver(mislabelled)).toMatchObject({ state: 'succeeded' });
  });

  it('normalises charge.refunded with the running refunded amount', () => {
    const refunds = normalised.filter((e) => e.kind === 'refund');
    expect(refunds.map((e) => e.kind === 'refund' && [e.amountRefunded, e.fullyRefunded])).toEqual([
      [20_000, false],
      [50_000, true],
    ]);
    expect(refunds[0]).toMatchObject({ chargeId: ids.paidCharge, paymentIntentId: ids.paidIntent, amount: 50_000, invoiceId: 'inv_paid', organisationId: 'org_w' });
  });

  it('normalises charge.dispute.created and charge.dispute.closed', () => {
    expect(find('charge.dispute.created')).toMatchObject({
      kind: 'dispute',
      disputeId: ids.dispute,
      chargeId: ids.paidCharge,
      paymentIntentId: ids.paidIntent,
      objectStatus: 'needs_response',
      outcome: 'open',
      amount: 50_000,
      reason: 'fraudulent',
    });
    expect(find('charge.dispute.closed')).toMatchObject({ kind: 'dispute', disputeId: ids.dispute, objectStatus: 'lost', outcome: 'lost' });
  });

  it('normalises payment_method.automatically_updated with the new expiry', () => {
    expect(find('payment_method.automatically_updated')).toMatchObject({
      kind: 'card_updated',
      paymentMethodId: ids.paymentMethod,
      customerId: ids.customer,
      card: { brand: 'visa', last4: '4242', expMonth: 9, expYear: 2031 },
    });
  });

  it('ignores payment intents without gymgate metadata, and event types billing does not use', () => {
    const foreign = normalised.filter((e, i) => events[i].data.object.id === ids.foreignIntent);
    expect(foreign.length).toBeGreaterThan(0);
    expect(foreign.every((e) => e.kind === 'ignored' && e.reason === 'not_gymgate')).toBe(true);
    expect(normaliseStripeEvent(fixtures.resources.event as unknown as Stripe.Event)).toMatchObject({ kind: 'ignored', reason: 'unhandled_type' });
    expect(find('refund.created')).toMatchObject({ kind: 'ignored', reason: 'unhandled_type' });
    expect(find('charge.succeeded')).toMatchObject({ kind: 'ignored', reason: 'unhandled_type' });
  });

  it('ignores the published sample payment intent, which carries no gymgate metadata', () => {
    const sample = { ...fixtures.resources.event, id: 'evt_sample', type: 'payment_intent.succeeded', data: { object: fixtures.resources.payment_intent } };
    expect(normaliseStripeEvent(sample as unknown as Stripe.Event)).toMatchObject({ kind: 'ignored', reason: 'not_gymgate', objectId: fixtures.resources.payment_intent.id });
  });

  it('normalising the same delivery twice gives the same result', async () => {
    for (const event of events) expect(await deliver(event)).toEqual(await deliver(structuredClone(event)));
  });

  it('reaches the same object states whatever the delivery order, with duplicates', async () => {
    const succeeded = events.find((e) => e.type === 'payment_intent.succeeded' && e.data.object.id === ids.paidIntent);
    const processing = structuredClone(succeeded);
    Object.assign(processing, { id: 'evt_processing_late', type: 'payment_intent.processing', created: succeeded.created - 1 });
    Object.assign(processing.data.object, { status: 'processing', amount_received: 0, latest_charge: null });
    const all = [...normalised, await deliver(processing)];

    const reduce = (sequence: NormalisedEvent[]) => {
      const state = new Map<string, NormalisedEvent>();
      for (const e of sequence) if (e.kind !== 'ignored' && supersedes(e, state.get(objectKey(e)))) state.set(objectKey(e), e);
      return Object.fromEntries([...state].sort(([a], [b]) => a.localeCompare(b)));
    };
    const inOrder = reduce(all);
    let seed = 42;
    const random = () => ((seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31);
    const orders = [
      [...all].reverse(),
      [...all, ...all],
      [...all].reverse().flatMap((e) => [e, e]),
      ...Array.from({ length: 20 }, () => [...all, ...all.slice(0, 5)].sort(() => random() - 0.5)),
    ];
    for (const order of orders) expect(reduce(order)).toEqual(inOrder);

    expect(inOrder[`payment_intent:${ids.paidIntent}`]).toMatchObject({ state: 'succeeded' });
    expect(inOrder[`payment_intent:${ids.declinedIntent}`]).toMatchObject({ state: 'failed' });
    expect(inOrder[`charge_refunds:${ids.paidCharge}`]).toMatchObject({ amountRefunded: 50_000, fullyRefunded: true });
    expect(inOrder[`dispute:${ids.dispute}`]).toMatchObject({ outcome: 'lost' });
    expect(inOrder[`setup_intent:${ids.setupIntent}`]).toMatchObject({ paymentMethodId: ids.paymentMethod });
  });

  it('lets a later failure replace an earlier one, but nothing replace a success', async () => {
    const failed = events.find((e) => e.type === 'payment_intent.payment_failed' && e.data.object.id === ids.declinedIntent);
    const first = await deliver(failed);
    const retried = structuredClone(failed);
    Object.assign(retried, { id: 'evt_retry', created: failed.created + 60 });
    retried.data.object.last_payment_error.decline_code = 'lost_card';
    const second = await deliver(retried);
    expect(supersedes(second, first)).toBe(true);
    expect(supersedes(first, second)).toBe(false);
    expect(supersedes(first, first)).toBe(false);
    expect(second).toMatchObject({ failure: { declineCode: 'lost_card', hardDecline: true } });

    const paid = structuredClone(failed);
    Object.assign(paid, { id: 'evt_paid', type: 'payment_intent.succeeded', created: failed.created + 30 });
    Object.assign(paid.data.object, { status: 'succeeded', last_payment_error: null, amount_received: 50_000 });
    const success = await deliver(paid);
    expect(supersedes(success, second)).toBe(true);
    expect(supersedes(second, success)).toBe(false);
  });
});
