// The billing queue consumer and the cron's enqueueing under pressure: a processor answering 429
// is waited out inside the invocation with the same idempotency key, and a page the queue refuses
// is sent again instead of ending the run.
import { createExecutionContext, createMessageBatch, env, getQueueResult } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { enqueueBillingRun, type BillingMessage } from '../../edge/billing/queue.ts';
import type { Env } from '../../edge/env.ts';
import worker from '../../edge/index.ts';
import { billingDeps, billingGym, bkk, invoicesOf, saveSimulatedCard, setClock, subscribe, useBillingClock } from './billing-helpers.ts';
import { saveStripeCard, stripeEnv } from './stripe-billing-helpers.ts';
import { fakeRequests, injectFault } from './stripe-fake/harness.ts';

useBillingClock();

const RATE_LIMIT = { type: 'invalid_request_error', code: 'rate_limit', message: 'Too many requests hit the API too quickly.' };

describe('the billing queue consumer', () => {
  it("waits out the processor's 429 answers and charges once, with one idempotency key", async () => {
    const { key, env: stripe } = stripeEnv('queue429');
    const g = await billingGym({}, stripe);
    await saveStripeCard(g, key, g.member.id, 'pm_card_visa');
    const sub = await subscribe(g);
    await injectFault(key, { method: 'POST', path: '/v1/payment_intents', status: 429, count: 3, error: RATE_LIMIT });

    const now = bkk('2030-02-15', '03:17');
    setClock(now);
    const batch = createMessageBatch<BillingMessage>('gymgate-billing', [
      { id: 'm1', timestamp: new Date(now), attempts: 1, body: { type: 'bill_subscription', subscriptionId: sub.id, organisationId: g.organisationId, now } },
    ]);
    const ctx = createExecutionContext();
    await worker.queue(batch, { ...(env as unknown as Env), ...stripe }, ctx);
    const result = await getQueueResult(batch, ctx);
    // Settled in this invocation: no queue retry spent on the rate limit.
    expect(result.explicitAcks).toEqual(['m1']);
    expect(result.retryMessages).toEqual([]);
    const renewal = (await invoicesOf(g, g.member.id))[1];
    expect(renewal).toMatchObject({ number: 'INV-000002', status: 'paid' });
    const charges = (await fakeRequests(key)).filter((r) => r.method === 'POST' && r.path === '/v1/payment_intents' && r.idempotencyKey?.startsWith(renewal.id));
    expect(charges.map((r) => r.status)).toEqual([429, 429, 429, 200]);
    expect(new Set(charges.map((r) => r.idempotencyKey))).toEqual(new Set([`${renewal.id}:attempt:1`]));
  });
});

describe("the cron's enqueueing", () => {
  it('sends a page the queue refused again, so the run reaches every due subscription', async () => {
    const g = await billingGym();
    await saveSimulatedCard(g, g.member.id);
    const others = [];
    for (const name of ['A', 'B']) {
      const m = (await g.api('POST', '/v1/members', { name })).body;
      await saveSimulatedCard(g, m.id);
      others.push(await subscribe(g, { payerId: m.id }));
    }
    await subscribe(g);
    const sent: BillingMessage[] = [];
    let refusals = 1;
    const queue: Pick<Queue<BillingMessage>, 'sendBatch'> = {
      sendBatch: async (messages) => {
        if (refusals-- > 0) throw new Error('Too many messages in the queue');
        for (const m of messages) sent.push(m.body);
        return { metadata: { metrics: { backlogCount: sent.length, backlogBytes: 0 } } } as QueueSendBatchResponse;
      },
    };
    const now = bkk('2030-02-15', '03:17');
    expect(await enqueueBillingRun(billingDeps(g.env).db, queue, now, { organisationId: g.organisationId })).toBe(3);
    expect(sent).toHaveLength(3);
    expect(new Set(sent.map((m) => m.subscriptionId)).size).toBe(3);
    expect(refusals).toBe(-1);
  });

  it('reads in pages and sends in batches, each due subscription once, across both boundaries', async () => {
    const g = await billingGym();
    const due: string[] = [];
    for (let i = 0; i < 11; i++) {
      const m = (await g.api('POST', '/v1/members', { name: `Member ${i}` })).body;
      await saveSimulatedCard(g, m.id);
      due.push((await subscribe(g, { payerId: m.id })).id);
    }
    const batches: string[][] = [];
    let inFlight = 0;
    let mostInFlight = 0;
    const queue: Pick<Queue<BillingMessage>, 'sendBatch'> = {
      sendBatch: async (messages) => {
        inFlight++;
        mostInFlight = Math.max(mostInFlight, inFlight);
        await new Promise((r) => setTimeout(r, 5));
        batches.push([...messages].map((m) => m.body.subscriptionId));
        inFlight--;
        return { metadata: { metrics: { backlogCount: 0, backlogBytes: 0 } } } as QueueSendBatchResponse;
      },
    };
    const now = bkk('2030-02-15', '03:17');
    // Due at three different times, so that pages cross from one review time to the next out of id order.
    await env.DB.prepare(`UPDATE subscriptions SET next_review_at = next_review_at - (rowid % 3) * 3600000 WHERE organisation_id = ?`).bind(g.organisationId).run();
    // First read 2 (one batch), then reads of 5 (up to three batches of 2 each at once): 2 + 5 + 4.
    expect(await enqueueBillingRun(billingDeps(g.env).db, queue, now, { organisationId: g.organisationId, read: 5, batch: 2 })).toBe(11);
    expect(batches.flat().sort()).toEqual([...due].sort());
    expect(Math.max(...batches.map((b) => b.length))).toBe(2);
    expect(batches).toHaveLength(1 + 3 + 2);
    expect(mostInFlight).toBe(3);
    // Nothing is due the day before, and a run that finds nothing sends nothing.
    batches.length = 0;
    expect(await enqueueBillingRun(billingDeps(g.env).db, queue, bkk('2030-02-14', '03:17'), { organisationId: g.organisationId, read: 5, batch: 2 })).toBe(0);
    expect(batches).toEqual([]);
  });
});
