// Dunning through the real Stripe SDK against the fake Stripe API (test/edge/stripe-fake): retries
// with a new idempotency key per attempt, and a card saved by the setup_intent.succeeded webhook,
// or replaced by the card network's account updater, retrying at once and restoring the member.
import { createExecutionContext, env, waitOnExecutionContext } from 'cloudflare:test';
import Stripe from 'stripe';
import { describe, expect, it } from 'vitest';
import { createApp } from '../../edge/app.ts';
import type { Env } from '../../edge/env.ts';
import { call, enrollDevice } from './helpers.ts';
import { runDunning } from '../../edge/dunning/run.ts';
import { type BillingGym, billingDeps, billingGym, bkk, bkkMidnight, invoicesOf, memberOf, run, setClock, subscribe, useBillingClock } from './billing-helpers.ts';
import { fakeControl, fakeEvents, fakeRequests, fakeStripeUrl, newTestKey } from './stripe-fake/harness.ts';
import { callRaw, cryptoProvider, deliver, saveStripeCard, stripeEnv, WEBHOOK_SECRET } from './stripe-billing-helpers.ts';

useBillingClock();

const snapshotMember = async (token: string, memberId: string) =>
  ((await call('GET', '/v1/device/snapshot', { token })).body.members as any[]).find((m) => m.id === memberId);

describe('dunning through Stripe', () => {
  it('retries with a new key per attempt, suspends after grace, and a card saved by webhook retries at once and restores', async () => {
    const { key, env } = stripeEnv('dunningstripe');
    const g = await billingGym({ graceDays: 14 }, env);
    expect((await g.api('PUT', '/v1/dunning/policy', { policy: { retryDays: [3, 7], graceDays: 5 } })).status).toBe(200);
    const device = await enrollDevice(g.apiKey, g.site.id);
    await saveStripeCard(g, key, g.member.id, 'pm_card_visa');
    await subscribe(g);
    await saveStripeCard(g, key, g.member.id, 'pm_card_chargeDeclinedInsufficientFunds');
    await run(g, bkk('2030-02-15'));
    const second = (await invoicesOf(g, g.member.id))[1];
    expect(second).toMatchObject({ number: 'INV-000002', status: 'open' });

    // Day 3: Stripe cannot be reached when the retry is sent. The charge stays pending and the case waits…
    setClock(bkk('2030-02-18'));
    const unreachable = billingDeps({ ...g.env, STRIPE_API_BASE: 'http://127.0.0.1:9' });
    await runDunning(unreachable, bkk('2030-02-18'), { organisationId: g.organisationId });
    expect((await g.api('GET', `/v1/members/${g.member.id}/dunning`)).body.state).toMatchObject({ phase: 'charging', attempts: 2 });
    expect(((await g.api('GET', `/v1/payments?invoiceId=${second.id}`)).body.data as any[]).find((p) => p.attempt === 2)).toMatchObject({ status: 'pending' });
    // …until a later run sends the same attempt again, with the same idempotency key.
    setClock(bkk('2030-02-18', '11:00'));
    await runDunning(billingDeps(g.env), bkk('2030-02-18', '11:00'), { organisationId: g.organisationId });
    expect((await g.api('GET', `/v1/members/${g.member.id}/dunning`)).body.state).toMatchObject({ phase: 'retrying', attempts: 2 });
    expect(((await g.api('GET', `/v1/payments?invoiceId=${second.id}`)).body.data as any[]).find((p) => p.attempt === 2)).toMatchObject({ status: 'failed' });
    setClock(bkk('2030-02-20'));
    await runDunning(billingDeps(g.env), bkk('2030-02-20'), { organisationId: g.organisationId });
    expect(await snapshotMember(device.deviceToken, g.member.id)).toMatchObject({ status: 'suspended' });

    setClock(bkk('2030-02-21'));
    await saveStripeCard(g, key, g.member.id, 'pm_card_visa');
    const intents = (await fakeRequests(key)).filter((r) => r.method === 'POST' && r.path === '/v1/payment_intents' && !r.replayed && r.status < 500);
    expect(intents.map((r) => r.idempotencyKey).filter((k) => String(k).startsWith(second.id))).toEqual([
      `${second.id}:attempt:1`,
      `${second.id}:attempt:2`,
      `${second.id}:attempt:3`,
    ]);
    expect((await g.api('GET', `/v1/invoices/${second.id}`)).body).toMatchObject({ status: 'paid' });
    expect(await memberOf(g, g.member.id)).toMatchObject({ status: 'active', suspension: null, validUntil: bkkMidnight('2030-03-29') });
    expect(await snapshotMember(device.deviceToken, g.member.id)).toMatchObject({ status: 'active', validUntil: Date.parse(bkkMidnight('2030-03-29')) });

    // The payment_intent.succeeded webhook that follows changes nothing more.
    const event = (await fakeEvents(key)).filter((e) => e.type === 'payment_intent.succeeded' && e.data.object.metadata?.gymgate_attempt === '3' && e.data.object.metadata?.gymgate_invoice_id === second.id).at(-1);
    expect(event).toBeDefined();
    expect((await deliver(g, event)).outcome).toBe('payment:succeeded');
    expect(((await g.api('GET', `/v1/payments?invoiceId=${second.id}`)).body.data as any[]).filter((p) => p.status === 'succeeded')).toHaveLength(1);
    expect((await g.api('GET', `/v1/members/${g.member.id}/dunning`)).body.state).toMatchObject({ phase: 'idle', suspended: false });
  });

  it('the account updater replacing an expired card (payment_method.automatically_updated) retries at once and restores the member', async () => {
    const { key, env } = stripeEnv('dunningupdater');
    const g = await billingGym({}, env);
    expect((await g.api('PUT', '/v1/dunning/policy', { policy: { retryDays: [3, 7], graceDays: 0 } })).status).toBe(200);
    const device = await enrollDevice(g.apiKey, g.site.id);
    await saveStripeCard(g, key, g.member.id, 'pm_card_visa');
    await subscribe(g);
    const expiring = await saveStripeCard(g, key, g.member.id, 'pm_card_chargeDeclinedExpiredCard');
    await run(g, bkk('2030-02-15'));
    const second = (await invoicesOf(g, g.member.id))[1];
    expect(second).toMatchObject({ number: 'INV-000002', status: 'open' });
    expect(((await g.api('GET', `/v1/payments?invoiceId=${second.id}`)).body.data as any[]).map((p) => [p.attempt, p.status])).toEqual([[1, 'failed']]);
    expect(await memberOf(g, g.member.id)).toMatchObject({ status: 'suspended', suspension: 'payment_overdue' });
    expect(await snapshotMember(device.deviceToken, g.member.id)).toMatchObject({ status: 'suspended' });
    const scheduled = (await g.api('GET', `/v1/members/${g.member.id}/dunning`)).body.state;
    expect(scheduled.nextRetryAt).toBeGreaterThan(bkk('2030-02-17'));

    // A day later the issuer sends the card's new expiry through the account updater; Stripe tells gymgate.
    setClock(bkk('2030-02-16'));
    await fakeControl(key, 'POST', `/payment_methods/${expiring}/automatically_update`, { exp_month: 12, exp_year: 2033 });
    const event = (await fakeEvents(key)).filter((e) => e.type === 'payment_method.automatically_updated' && e.data.object.id === expiring).at(-1);
    expect(event).toBeDefined();
    expect((await deliver(g, event)).outcome).toBe('card_updated');

    // Charged again at once, not on day 3, with the next attempt's own idempotency key.
    const intents = (await fakeRequests(key)).filter((r) => r.method === 'POST' && r.path === '/v1/payment_intents' && !r.replayed && String(r.idempotencyKey).startsWith(second.id));
    expect(intents.map((r) => [r.idempotencyKey, r.params.payment_method, r.status])).toEqual([
      [`${second.id}:attempt:1`, expiring, 402],
      [`${second.id}:attempt:2`, expiring, 200],
    ]);
    expect((await g.api('GET', `/v1/invoices/${second.id}`)).body).toMatchObject({ status: 'paid', amountRemaining: 0 });
    expect((await g.api('GET', `/v1/members/${g.member.id}/billing`)).body.paymentMethod).toMatchObject({ paymentMethodId: expiring, expMonth: 12, expYear: 2033 });
    // Paid through the new period's end (2030-03-15, no grace days on this plan).
    expect(await memberOf(g, g.member.id)).toMatchObject({ status: 'active', suspension: null, validUntil: bkkMidnight('2030-03-15') });
    expect(await snapshotMember(device.deviceToken, g.member.id)).toMatchObject({ status: 'active' });
    expect((await g.api('GET', `/v1/members/${g.member.id}/dunning`)).body.state).toMatchObject({ phase: 'idle', suspended: false });

    // Stripe delivers the event again: nothing more is charged.
    expect((await deliver(g, event)).outcome).toBe('duplicate');
    expect((await fakeRequests(key)).filter((r) => r.method === 'POST' && r.path === '/v1/payment_intents' && !r.replayed && String(r.idempotencyKey).startsWith(second.id))).toHaveLength(2);
  });
});
