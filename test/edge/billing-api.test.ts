// The billing API's contract: validation problems naming fields, other organisations' ids as 404,
// the OpenAPI document, and the daily run through the scheduled and queue handlers.
import { createExecutionContext, createMessageBatch, createScheduledController, env, getQueueResult, waitOnExecutionContext } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import type { BillingMessage } from '../../edge/billing/queue.ts';
import type { Env } from '../../edge/env.ts';
import worker from '../../edge/index.ts';
import { call } from './helpers.ts';
import { billingGym, bkk, invoicesOf, saveSimulatedCard, SIMULATED, subscribe, useBillingClock } from './billing-helpers.ts';

useBillingClock();

describe('billing API contract', () => {
  it('names each invalid field of a plan, refuses unknown references and hides other organisations', async () => {
    const g = await billingGym();
    const bad = await g.api('POST', '/v1/plans', { name: '', currency: 'XYZ', price: 12.5, interval: 'daily', taxRate: { name: 'VAT', basisPoints: 700, mode: 'sometimes' } });
    expect(bad.status).toBe(400);
    expect(bad.contentType).toContain('application/problem+json');
    expect(bad.body.errors.map((e: any) => e.field).sort()).toEqual(['currency', 'interval', 'name', 'price', 'taxRate.mode']);
    const profile = await g.api('POST', '/v1/plans', { name: 'X', currency: 'THB', price: 1000, interval: 'weekly', accessProfileId: 'prof_0000000000000000' });
    expect(profile.body.errors).toEqual([{ field: 'accessProfileId', reason: 'no access profile with id prof_0000000000000000' }]);

    const sub = await g.api('POST', '/v1/subscriptions', { payerId: g.member.id, planId: g.plan.id, startDate: '2030-02-30' });
    expect(sub.status).toBe(400);
    expect(sub.body.errors[0].field).toBe('startDate');
    const noPayer = await g.api('POST', '/v1/subscriptions', { payerId: 'mem_0000000000000000', planId: g.plan.id, startDate: '2030-01-15' });
    expect(noPayer.body.errors).toEqual([{ field: 'payerId', reason: 'no member with id mem_0000000000000000' }]);
    const tooMany = await g.api('POST', '/v1/subscriptions', { payerId: g.member.id, memberIds: [g.member.id, g.member.id], planId: g.plan.id, startDate: '2030-01-15' });
    expect(tooMany.body.errors[0].field).toBe('memberIds');

    const other = await billingGym();
    await saveSimulatedCard(other, other.member.id);
    const theirs = await subscribe(other);
    const [theirInvoice] = await invoicesOf(other, other.member.id);
    for (const path of [`/v1/plans/${other.plan.id}`, `/v1/subscriptions/${theirs.id}`, `/v1/invoices/${theirInvoice.id}`, `/v1/members/${other.member.id}/billing`]) {
      const res = await g.api('GET', path);
      expect(res.status, path).toBe(404);
    }
    expect((await g.api('POST', `/v1/invoices/${theirInvoice.id}/void`)).status).toBe(404);
    expect((await g.api('POST', `/v1/subscriptions/${theirs.id}/cancel`, {})).status).toBe(404);
    expect((await g.api('POST', '/v1/subscriptions', { payerId: g.member.id, planId: other.plan.id, startDate: '2030-01-15' })).body.errors[0].field).toBe('planId');
    expect((await g.api('GET', '/v1/invoices')).body.data).toEqual([]);
    expect((await call('GET', '/v1/plans')).status).toBe(401);
  });

  it('refuses what the billing rules refuse, with the rule named', async () => {
    const g = await billingGym();
    await saveSimulatedCard(g, g.member.id);
    const sub = await subscribe(g);
    const backwards = await g.api('POST', `/v1/subscriptions/${sub.id}/freeze`, { from: '2030-03-01', to: '2030-02-01' });
    expect(backwards.status).toBe(409);
    expect(backwards.body.errors[0]).toMatchObject({ field: 'subscription', reason: expect.stringMatching(/^bad_freeze_dates/) });
    const yearly = (await g.api('POST', '/v1/plans', { name: 'Yearly', currency: 'THB', price: 1_990_000, interval: 'yearly' })).body;
    expect((await g.api('POST', `/v1/subscriptions/${sub.id}/change-plan`, { planId: yearly.id })).body.errors[0].field).toBe('planId');
    const [invoice] = await invoicesOf(g, g.member.id);
    const paidVoid = await g.api('POST', `/v1/invoices/${invoice.id}/void`);
    expect(paidVoid.status).toBe(409);
    expect(paidVoid.body.errors[0].reason).toMatch(/^invoice_paid/);
    expect((await g.api('POST', `/v1/invoices/${invoice.id}/charge`)).body.errors[0].reason).toMatch(/^nothing_due/);
  });

  it('refuses each bad input of the billing issue with the field and reason, and writes nothing', async () => {
    const g = await billingGym();
    await saveSimulatedCard(g, g.member.id);
    const sub = await subscribe(g);
    const [invoice] = await invoicesOf(g, g.member.id);
    const counts = async () => {
      const row = await env.DB.prepare(
        `SELECT (SELECT count(*) FROM invoices) AS invoices, (SELECT count(*) FROM payments) AS payments, (SELECT count(*) FROM refunds) AS refunds,
                (SELECT count(*) FROM pending_items) AS items, (SELECT count(*) FROM subscription_events) AS events, (SELECT count(*) FROM plans) AS plans`,
      ).first();
      return row;
    };
    const before = await counts();
    const fieldOf = (res: { body: any }) => res.body.errors?.[0]?.field;

    // Negative or fractional amounts.
    for (const amount of [-100, 12.5, 0]) {
      const pay = await g.api('POST', `/v1/invoices/${invoice.id}/payments`, { amount, method: 'cash' });
      expect(pay.status, String(amount)).toBe(400);
      expect(fieldOf(pay)).toBe('amount');
    }
    const fractionalPrice = await g.api('POST', '/v1/plans', { name: 'Odd', currency: 'THB', price: 99.5, interval: 'monthly' });
    expect(fieldOf(fractionalPrice)).toBe('price');
    const negativePrice = await g.api('POST', '/v1/plans', { name: 'Odd', currency: 'THB', price: -1, interval: 'monthly' });
    expect(fieldOf(negativePrice)).toBe('price');
    // Unknown currencies.
    const currency = await g.api('POST', `/v1/members/${g.member.id}/pending-items`, { kind: 'shop_sale', description: 'Gloves', unitAmount: 50_000, currency: 'ABC' });
    expect(currency.status).toBe(400);
    expect(fieldOf(currency)).toBe('currency');
    // Overlapping periods: a second freeze over the first.
    expect((await g.api('POST', `/v1/subscriptions/${sub.id}/freeze`, { from: '2030-03-01', to: '2030-04-01' })).status).toBe(200);
    const afterFreeze = await counts();
    const overlap = await g.api('POST', `/v1/subscriptions/${sub.id}/freeze`, { from: '2030-03-15', to: '2030-04-15' });
    expect(overlap.status).toBe(409);
    expect(overlap.body.errors[0].field).toBe('subscription');
    // A change into the past: a cancellation dated before today.
    const past = await g.api('POST', `/v1/subscriptions/${sub.id}/cancel`, { endsOn: '2030-01-01' });
    expect(past.status).toBe(409);
    expect(past.body.errors[0].field).toBe('subscription');
    // A refund larger than the payment.
    const [payment] = (await g.api('GET', `/v1/payments?payerId=${g.member.id}`)).body.data;
    const refund = await g.api('POST', `/v1/payments/${payment.id}/refunds`, { amount: payment.amount + 1 });
    expect(refund.status).toBe(409);
    expect(fieldOf(refund)).toBe('amount');
    expect(await counts()).toEqual(afterFreeze);
    expect({ ...(afterFreeze as object), events: (before as any).events }).toEqual(before);
  });

  it('bills one payer in one currency', async () => {
    const g = await billingGym();
    await saveSimulatedCard(g, g.member.id);
    await subscribe(g);
    const usd = (await g.api('POST', '/v1/plans', { name: 'Expat monthly', currency: 'USD', price: 6_000, interval: 'monthly' })).body;
    const kid = (await g.api('POST', '/v1/members', { name: 'Ton C.' })).body;
    const sub = await g.api('POST', '/v1/subscriptions', { payerId: g.member.id, memberIds: [kid.id], planId: usd.id, startDate: '2030-01-20' });
    expect(sub.status).toBe(409);
    expect(sub.body.errors[0]).toMatchObject({ field: 'planId', reason: expect.stringContaining('billed in THB') });
    const item = await g.api('POST', `/v1/members/${g.member.id}/pending-items`, { kind: 'shop_sale', description: 'Cap', unitAmount: 2_000, currency: 'USD' });
    expect(item.status).toBe(409);
    expect(item.body.errors[0].field).toBe('currency');
    expect((await g.api('GET', `/v1/members/${g.member.id}/pending-items`)).body.data).toEqual([]);
    // Another member can be billed in dollars.
    const other = (await g.api('POST', '/v1/members', { name: 'Sam K.' })).body;
    expect((await g.api('POST', `/v1/members/${other.id}/pending-items`, { kind: 'shop_sale', description: 'Cap', unitAmount: 2_000, currency: 'USD' })).status).toBe(201);
  });

  it('refuses a hand-set freeze or suspension of a member a subscription bills, saying how to freeze; others may be suspended', async () => {
    const g = await billingGym();
    await saveSimulatedCard(g, g.member.id);
    const sub = await subscribe(g);
    for (const status of ['frozen', 'suspended']) {
      const res = await g.api('PATCH', `/v1/members/${g.member.id}`, { status });
      expect(res.status, status).toBe(409);
      expect(res.body.errors[0]).toMatchObject({ field: 'status', reason: expect.stringContaining(`/v1/subscriptions/${sub.id}/`) });
    }
    expect((await g.api('GET', `/v1/members/${g.member.id}`)).body.status).toBe('active');
    // Freezing through the subscription is the way; a member nobody bills can be suspended by hand.
    const walkIn = (await g.api('POST', '/v1/members', { name: 'Walk-in W.' })).body;
    expect((await g.api('PATCH', `/v1/members/${walkIn.id}`, { status: 'suspended' })).status).toBe(200);
  });

  it('refuses another organisation’s simulated card setup without using it up', async () => {
    const a = await billingGym();
    const b = await billingGym();
    const setup = await a.api('POST', `/v1/members/${a.member.id}/payment-method/setup`, { returnUrl: 'https://gym.example/card-saved' });
    const stolen = await b.api('POST', `/v1/members/${b.member.id}/payment-method/simulated-completion`, { setupId: setup.body.setup.id, paymentMethodId: 'pm_card_visa' });
    expect(stolen.status).toBeGreaterThanOrEqual(400);
    expect(stolen.body.errors[0]).toMatchObject({ field: 'setupId' });
    // The owner's member still completes it: the refusal changed nothing.
    const own = await a.api('POST', `/v1/members/${a.member.id}/payment-method/simulated-completion`, { setupId: setup.body.setup.id, paymentMethodId: 'pm_card_visa' });
    expect(own.status, JSON.stringify(own.body)).toBe(200);
  });

  it('documents every billing route in the OpenAPI document', async () => {
    const doc = (await call('GET', '/openapi.json')).body;
    for (const path of [
      '/v1/plans',
      '/v1/plans/{id}',
      '/v1/subscriptions',
      '/v1/subscriptions/{id}/change-plan',
      '/v1/subscriptions/{id}/freeze',
      '/v1/subscriptions/{id}/cancel',
      '/v1/subscriptions/{id}/withdraw-cancellation',
      '/v1/invoices/{id}',
      '/v1/invoices/{id}/void',
      '/v1/invoices/{id}/mark-uncollectible',
      '/v1/invoices/{id}/payments',
      '/v1/invoices/{id}/credit-notes',
      '/v1/payments',
      '/v1/payments/{id}/refunds',
      '/v1/members/{id}/pending-items',
      '/v1/members/{id}/billing',
      '/v1/members/{id}/statement',
      '/v1/members/{id}/payment-method/setup',
      '/v1/webhooks/stripe',
    ]) {
      expect(doc.paths[path], path).toBeDefined();
    }
    expect(doc.paths['/v1/webhooks/stripe'].post.security).toBeUndefined();
    expect(doc.components.schemas.BillingInvoice.properties.lines.items.$ref).toBe('#/components/schemas/InvoiceLine');
  });
});

describe('the daily run through the Worker handlers', () => {
  it('the cron sends one message per due subscription and the queue consumer bills them', async () => {
    const g = await billingGym();
    await saveSimulatedCard(g, g.member.id);
    const sub = await subscribe(g);
    const sent: Array<{ body: BillingMessage }> = [];
    const queue = { send: async () => undefined, sendBatch: async (batch: Iterable<{ body: BillingMessage }>) => void sent.push(...batch) };
    const testEnv = { ...(env as unknown as Env), ...SIMULATED, BILLING_QUEUE: queue as unknown as Queue<BillingMessage> };

    const notYet = createExecutionContext();
    await worker.scheduled(createScheduledController({ scheduledTime: bkk('2030-02-14', '03:17'), cron: '17 3 * * *' }), testEnv, notYet);
    await waitOnExecutionContext(notYet);
    expect(sent.filter((m) => m.body.organisationId === g.organisationId)).toEqual([]);

    const ctx = createExecutionContext();
    const scheduledTime = bkk('2030-02-15', '10:17');
    await worker.scheduled(createScheduledController({ scheduledTime, cron: '17 3 * * *' }), testEnv, ctx);
    await waitOnExecutionContext(ctx);
    const ours = sent.filter((m) => m.body.organisationId === g.organisationId);
    expect(ours.map((m) => m.body)).toEqual([{ type: 'bill_subscription', subscriptionId: sub.id, organisationId: g.organisationId, now: scheduledTime }]);

    // The same message twice (a redelivery): billed once, both acknowledged.
    const batch = createMessageBatch<BillingMessage>('gymgate-billing', [
      { id: 'm1', timestamp: new Date(scheduledTime), attempts: 1, body: ours[0]!.body },
      { id: 'm2', timestamp: new Date(scheduledTime), attempts: 2, body: ours[0]!.body },
    ]);
    const qctx = createExecutionContext();
    await worker.queue(batch, testEnv, qctx);
    const result = await getQueueResult(batch, qctx);
    expect(result.explicitAcks.sort()).toEqual(['m1', 'm2']);
    expect(result.retryMessages).toEqual([]);
    expect((await invoicesOf(g, g.member.id)).map((i) => [i.number, i.period.start, i.status])).toEqual([
      ['INV-000001', '2030-01-15', 'paid'],
      ['INV-000002', '2030-02-15', 'paid'],
    ]);
    // The consumer's batch is in the audit log as the run's work, the redelivery not counted twice.
    const runs = (await g.api('GET', '/v1/audit-events?actorType=system&action=billing.run')).body.data;
    expect(runs.map((e: { resourceId: string; after: object }) => [e.resourceId, e.after])).toEqual([
      [new Date(scheduledTime).toISOString(), { runAt: new Date(scheduledTime).toISOString(), subscriptions: 1, invoices: 1, chargesPaid: 1 }],
    ]);
  });
});
