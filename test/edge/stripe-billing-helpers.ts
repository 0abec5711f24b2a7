// Billing through Stripe in tests: an account on the fake Stripe API, signed webhook delivery
// and saving a card the way a member would (SetupIntent, completion, webhook).
import { createExecutionContext, env, waitOnExecutionContext } from 'cloudflare:test';
import Stripe from 'stripe';
import { expect } from 'vitest';
import { createApp } from '../../edge/app.ts';
import type { Env } from '../../edge/env.ts';
import type { BillingGym } from './billing-helpers.ts';
import { fakeControl, fakeEvents, fakeStripeUrl, newTestKey } from './stripe-fake/harness.ts';

export const WEBHOOK_SECRET = 'whsec_test_billing_0123456789abcdef';
export const cryptoProvider = Stripe.createSubtleCryptoProvider();

export function stripeEnv(label: string): { key: string; env: Partial<Env> } {
  const key = newTestKey(label);
  return { key, env: { PAYMENT_PROVIDER: 'stripe', STRIPE_SECRET_KEY: key, STRIPE_API_BASE: fakeStripeUrl(), STRIPE_WEBHOOK_SECRET: WEBHOOK_SECRET } };
}

/** Posts an event to the webhook endpoint as Stripe would: signed, no API key. */
export async function deliver(g: BillingGym, event: unknown, secret = WEBHOOK_SECRET) {
  const payload = JSON.stringify(event);
  const signature = await Stripe.webhooks.generateTestHeaderStringAsync({ payload, secret, cryptoProvider });
  const res = await callRaw(g, payload, signature);
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res.body as { received: true; eventId: string; outcome: string };
}

const app = createApp();

/** A POST to the webhook endpoint with the exact body bytes and an optional Stripe-Signature header. */
export async function callRaw(g: BillingGym, payload: string, signature?: string) {
  const ctx = createExecutionContext();
  const res = await app.request(
    '/v1/webhooks/stripe',
    { method: 'POST', headers: { 'content-type': 'application/json', ...(signature ? { 'stripe-signature': signature } : {}) }, body: payload },
    { ...(env as unknown as Env), ...g.env },
    ctx,
  );
  await waitOnExecutionContext(ctx);
  return { status: res.status, contentType: res.headers.get('content-type'), body: (await res.json()) as any };
}

/** Saves a card the Stripe way: a SetupIntent through the API, the member completing it, the webhook. */
export async function saveStripeCard(g: BillingGym, key: string, memberId: string, testCard: string) {
  const setup = await g.api('POST', `/v1/members/${memberId}/payment-method/setup`, { returnUrl: 'https://gym.example/card-saved' });
  expect(setup.status, JSON.stringify(setup.body)).toBe(201);
  expect(setup.body).toMatchObject({ provider: 'stripe', setup: { kind: 'setup_intent' } });
  expect(setup.body.setup.clientSecret).toMatch(/^seti_.+_secret_/);
  await fakeControl(key, 'POST', `/setup_intents/${setup.body.setup.id}/succeed`, { payment_method: testCard });
  const event = (await fakeEvents(key)).filter((e) => e.type === 'setup_intent.succeeded' && e.data.object.id === setup.body.setup.id).at(-1);
  expect((await deliver(g, event)).outcome).toBe('card_saved');
  return event.data.object.payment_method as string;
}
