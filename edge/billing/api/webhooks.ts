// Stripe webhooks: no API key (the signature is the authentication), and the raw body is needed to
// verify it, so the route is plain Hono and documented by hand.
import { OpenAPIHono, z } from '@hono/zod-openapi';
import type { AppEnv } from '../../env.ts';
import { ApiProblem } from '../../lib/problem.ts';
import { normaliseStripeEvent, verifyStripeWebhook } from '../../payments/index.ts';
import { WebhookReceipt } from '../contracts.ts';
import type { BillingDeps } from '../deps.ts';
import { alreadyProcessed, handleStripeEvent } from '../stripe-events.ts';

export const stripeWebhookRouter = new OpenAPIHono<AppEnv>();

stripeWebhookRouter.openAPIRegistry.registerPath({
  method: 'post',
  path: '/v1/webhooks/stripe',
  'x-permission': 'public',
  tags: ['Billing: webhooks'],
  summary: 'Stripe events (payment intents, setup intents, card updates, refunds, disputes); verified by the Stripe-Signature header',
  request: {
    headers: z.object({ 'stripe-signature': z.string() }),
    body: { required: true, content: { 'application/json': { schema: z.object({ id: z.string(), type: z.string() }).passthrough() } } },
  },
  responses: {
    200: { description: 'Received (also for events already handled or not gymgate’s)', content: { 'application/json': { schema: WebhookReceipt } } },
    400: { description: 'The signature is missing, wrong or too old', content: { 'application/problem+json': { schema: z.object({ type: z.string(), title: z.string(), status: z.number() }) } } },
  },
});
stripeWebhookRouter.post('/v1/webhooks/stripe', async (c) => {
  const raw = await c.req.text();
  const verified = await verifyStripeWebhook(raw, c.req.header('stripe-signature'), c.env.STRIPE_WEBHOOK_SECRET);
  if (!verified.ok) {
    if (verified.error.reason === 'configuration') throw new ApiProblem(503, 'webhooks-not-configured', 'Webhooks are not configured', 'STRIPE_WEBHOOK_SECRET is not set');
    throw new ApiProblem(400, 'bad-signature', 'The webhook signature is not valid', verified.error.message, [{ field: 'stripe-signature', reason: verified.error.reason }]);
  }
  const event = normaliseStripeEvent(verified.event);
  const deps: BillingDeps = { db: c.var.db, env: c.env, ctx: c.executionCtx };
  if (await alreadyProcessed(deps, event.eventId)) return c.json({ received: true as const, eventId: event.eventId, outcome: 'duplicate' }, 200);
  const outcome = await handleStripeEvent(deps, event, Date.now());
  return c.json({ received: true as const, eventId: event.eventId, outcome }, 200);
});
