// The billing API (plans, subscriptions, invoices, payments, credit notes, pending items, cards,
// balances) and the Stripe webhook endpoint, one router per resource in ./api/. Handlers check
// ownership (another organisation's id is a 404), then call the billing functions with the
// request's clock.
import { billingPlansRouter } from './api/plans.ts';
import { billingSubscriptionsRouter } from './api/subscriptions.ts';
import { billingInvoicesRouter } from './api/invoices.ts';
import { billingMembersRouter } from './api/members.ts';
import { stripeWebhookRouter } from './api/webhooks.ts';

/** In the order app.ts mounts them. */
export const billingRouters = [billingPlansRouter, billingSubscriptionsRouter, billingInvoicesRouter, billingMembersRouter, stripeWebhookRouter];
