// Billing through the real Stripe SDK against the fake Stripe API (test/edge/stripe-fake): cards
// saved from setup_intent.succeeded webhooks, off-session charges, declines reaching the doors,
// and webhooks delivered twice and out of order converging on the same books.
import { createExecutionContext, env, waitOnExecutionContext } from 'cloudflare:test';
import Stripe from 'stripe';
import { describe, expect, it } from 'vitest';
import { createApp } from '../../edge/app.ts';
import type { Env } from '../../edge/env.ts';
import { call, enrollDevice } from './helpers.ts';
import { type BillingGym, billingGym, bkk, bkkMidnight, expectLedgerHolds, invoicesOf, memberOf, run, subscribe, useBillingClock } from './billing-helpers.ts';
import { fakeControl, fakeEvents, fakeRequests, fakeStripeUrl, newTestKey } from './stripe-fake/harness.ts';
import { callRaw, cryptoProvider, deliver, saveStripeCard, stripeEnv, WEBHOOK_SECRET } from './stripe-billing-helpers.ts';

useBillingClock();

/** A billing gym whose dunning grace is the plan's, so validUntil is paid-through + the plan's grace days. */
const planGraceGym = (plan: Record<string, unknown> = {}, env?: Parameters<typeof billingGym>[1]) => billingGym(plan, env, { dunningGraceDays: Number(plan.graceDays ?? 0) });

const snapshotMember = async (token: string, memberId: string) =>
  ((await call('GET', '/v1/device/snapshot', { token })).body.members as any[]).find((m) => m.id === memberId);

describe('billing through Stripe', () => {
  it('charges the saved card off-session; a decline makes the member past due at the door', async () => {
    const { key, env } = stripeEnv('billingdoor');
    const g = await planGraceGym({ graceDays: 3 }, env);
    const device = await enrollDevice(g.apiKey, g.site.id);
    const visa = await saveStripeCard(g, key, g.member.id, 'pm_card_visa');
    // Brand, last four and expiry are asked of Stripe when the setup succeeds.
    expect((await g.api('GET', `/v1/members/${g.member.id}/billing`)).body.paymentMethod).toMatchObject({ provider: 'stripe', paymentMethodId: visa, brand: 'visa', last4: '4242', expYear: expect.any(Number) });

    const sub = await subscribe(g);
    expect(sub).toMatchObject({ status: 'active', paidThrough: '2030-02-15' });
    const [first] = await invoicesOf(g, g.member.id);
    const [payment] = (await g.api('GET', `/v1/payments?invoiceId=${first.id}`)).body.data;
    expect(payment).toMatchObject({ provider: 'stripe', status: 'succeeded', amount: 199_000, attempt: 1 });
    expect(payment.providerPaymentId).toMatch(/^pi_/);
    expect(await snapshotMember(device.deviceToken, g.member.id)).toMatchObject({ status: 'active', validUntil: Date.parse(bkkMidnight('2030-02-18')) });

    // The member's new card is declined on renewal. Two runs at once send one charge.
    await saveStripeCard(g, key, g.member.id, 'pm_card_chargeDeclinedInsufficientFunds');
    await Promise.all([run(g, bkk('2030-02-15', '03:17')), run(g, bkk('2030-02-15', '03:17'))]);
    const second = (await invoicesOf(g, g.member.id))[1];
    expect(second).toMatchObject({ number: 'INV-000002', status: 'open', amountRemaining: 199_000 });
    const intents = (await fakeRequests(key)).filter((r) => r.method === 'POST' && r.path === '/v1/payment_intents');
    expect(intents.filter((r) => !r.replayed).map((r) => r.idempotencyKey)).toEqual([`${first.id}:attempt:1`, `${second.id}:attempt:1`]);
    expect(intents.every((r) => r.params.off_session === 'true' && r.params.confirm === 'true')).toBe(true);
    const [declined] = (await g.api('GET', `/v1/payments?invoiceId=${second.id}`)).body.data;
    expect(declined).toMatchObject({ provider: 'stripe', status: 'failed', declineCode: 'insufficient_funds', failureCode: 'card_declined' });

    expect((await g.api('GET', `/v1/subscriptions/${sub.id}`)).body).toMatchObject({ status: 'past_due', validUntil: '2030-02-18' });
    expect(await snapshotMember(device.deviceToken, g.member.id)).toMatchObject({ status: 'past_due', validUntil: Date.parse(bkkMidnight('2030-02-18')) });
    await expectLedgerHolds(g, g.member.id);
  });

  it('webhooks sent twice and out of order reach the same books', async () => {
    const { key, env } = stripeEnv('billinghooks');
    const g = await planGraceGym({ graceDays: 3 }, env);
    await saveStripeCard(g, key, g.member.id, 'pm_card_chargeDeclinedInsufficientFunds');
    const sub = await subscribe(g);
    expect(sub.status).toBe('past_due');
    const [first] = await invoicesOf(g, g.member.id);

    // The member then pays the same payment intent on-session with another card: Stripe reports
    // the success after the failure, but the deliveries come in the other order, each twice.
    const failed = (await fakeEvents(key)).find((e) => e.type === 'payment_intent.payment_failed');
    const succeeded = structuredClone(failed);
    Object.assign(succeeded, { id: `${failed.id}x`, type: 'payment_intent.succeeded', created: failed.created + 30 });
    Object.assign(succeeded.data.object, { status: 'succeeded', last_payment_error: null, amount_received: failed.data.object.amount });
    const outcomes = [];
    for (const e of [succeeded, failed, succeeded, failed]) outcomes.push((await deliver(g, e)).outcome);
    expect(outcomes).toEqual(['payment:succeeded', 'superseded', 'duplicate', 'duplicate']);
    expect((await g.api('GET', `/v1/invoices/${first.id}`)).body).toMatchObject({ status: 'paid', amountPaid: 199_000 });
    expect((await g.api('GET', `/v1/subscriptions/${sub.id}`)).body).toMatchObject({ status: 'active', paidThrough: '2030-02-15', validUntil: '2030-02-18' });
    expect(await memberOf(g, g.member.id)).toMatchObject({ status: 'active' });

    // A good card for the renewal; then refunds (one through gymgate, one from the dashboard) and a lost dispute.
    await saveStripeCard(g, key, g.member.id, 'pm_card_visa');
    await run(g, bkk('2030-02-15'));
    const second = (await invoicesOf(g, g.member.id))[1];
    expect(second).toMatchObject({ status: 'paid' });
    const [payment] = (await g.api('GET', `/v1/payments?invoiceId=${second.id}`)).body.data;
    const seen = (await fakeEvents(key)).length;
    const note = await g.api('POST', `/v1/invoices/${second.id}/credit-notes`, { lines: [{ invoiceLineId: 'line_1', amount: 50_000 }], outcome: 'refund', reason: 'billing_error' });
    expect(note.body.refund).toMatchObject({ status: 'succeeded', amount: 50_000 });
    const dashboard = await fetch(`${fakeStripeUrl()}/v1/refunds`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ payment_intent: payment.providerPaymentId, amount: '20000' }),
    });
    expect(dashboard.status).toBe(200);
    const intent = (await fakeEvents(key)).find((e) => e.type === 'payment_intent.succeeded' && e.data.object.id === payment.providerPaymentId).data.object;
    const dispute = await fakeControl(key, 'POST', `/charges/${intent.latest_charge}/dispute`, { amount: 100_000, reason: 'fraudulent' });
    await fakeControl(key, 'POST', `/disputes/${dispute.id}/close`, { status: 'lost' });
    const later = (await fakeEvents(key)).slice(seen);
    expect(later.map((e) => e.type)).toEqual(['charge.refunded', 'refund.created', 'charge.refunded', 'refund.created', 'charge.dispute.created', 'charge.dispute.closed']);

    const books = async () => ({
      payment: (await g.api('GET', `/v1/payments?invoiceId=${second.id}`)).body.data[0],
      balance: (await g.api('GET', `/v1/members/${g.member.id}/billing`)).body,
      statement: (await g.api('GET', `/v1/members/${g.member.id}/statement`)).body,
    });
    for (const e of [...later].reverse()) await deliver(g, e);
    const after = await books();
    expect(after.payment).toMatchObject({ amountRefunded: 70_000, dispute: 'lost', status: 'succeeded' });
    expect(after.statement.refunded).toBe(50_000 + 20_000 + 100_000);
    // Every event of the account, in another order: the ones seen are duplicates, the others
    // (the renewal's own success, charge events billing does not use) change nothing.
    const everything = await fakeEvents(key);
    const replies: string[] = [];
    for (const e of [...everything.filter((_, i) => i % 2 === 0), ...everything.filter((_, i) => i % 2 === 1)]) replies.push((await deliver(g, e)).outcome);
    expect(replies.filter((o) => /^(refund|dispute|card)/.test(o))).toEqual([]);
    // Seen before: the two card setups, the first failure and the six refund and dispute events.
    expect(replies.filter((o) => o === 'duplicate')).toHaveLength(later.length + 3);
    expect(await books()).toEqual(after);
    await expectLedgerHolds(g, g.member.id);
  });

  it('refuses deliveries that are not signed with the endpoint secret, without asking for an API key', async () => {
    const { env } = stripeEnv('billingsig');
    const g = await planGraceGym({}, env);
    const payload = JSON.stringify({ id: 'evt_x', object: 'event', type: 'payment_intent.succeeded', created: 1, data: { object: { id: 'pi_x', object: 'payment_intent' } } });
    const forged = await Stripe.webhooks.generateTestHeaderStringAsync({ payload, secret: 'whsec_someone_else', cryptoProvider });
    const res = await callRaw(g, payload, forged);
    expect(res.status).toBe(400);
    expect(res.contentType).toContain('application/problem+json');
    expect(res.body.errors).toEqual([{ field: 'stripe-signature', reason: 'bad_signature' }]);
    const unsigned = await callRaw(g, payload);
    expect(unsigned.status).toBe(400);
    // A correctly signed body that is not an event object is refused as such, never a 500.
    for (const body of ['null', '42', '[]', '"evt"']) {
      const signed = await callRaw(g, body, await Stripe.webhooks.generateTestHeaderStringAsync({ payload: body, secret: WEBHOOK_SECRET, cryptoProvider }));
      expect(signed.status, body).toBe(400);
      expect(signed.contentType).toContain('application/problem+json');
    }
    // A correctly signed event about a payment intent gymgate did not start is acknowledged and ignored.
    expect((await deliver(g, JSON.parse(payload))).outcome).toBe('ignored:not_gymgate');
  });
});
