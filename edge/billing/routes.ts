import { createRoute } from '@hono/zod-openapi';
import { IdParam, page } from '../../core/contracts/api.ts';
import { json, jsonBody, ownerAuth, problems } from '../lib/openapi.ts';
import { Deleted, ownerResource } from '../lib/resource-routes.ts';
import {
  BillingBalance,
  BillingCreditNote,
  BillingInvoice,
  BillingPayment,
  BillingRefund,
  CancelRequest,
  ChangePlan,
  CreditNoteCreate,
  CreditNoteListQuery,
  FreezeRequest,
  InvoiceListQuery,
  ManualPayment,
  PaymentListQuery,
  PaymentMethod,
  PaymentMethodSetup,
  PaymentMethodSetupRequest,
  PendingItemCreate,
  PendingItemCreated,
  PendingItemOut,
  Plan,
  PlanCreate,
  PlanListQuery,
  PlanPriceRollout,
  PlanPriceRolloutResult,
  PlanUpdate,
  RefundCreate,
  SimulatedSetupCompletion,
  Statement,
  BillingSettings,
  Subscription,
  SubscriptionCreate,
  SubscriptionListQuery,
  SubscriptionMemberAdd,
  SubscriptionMemberParams,
} from './contracts.ts';

const plansTags = ['Billing: plans'];
const subsTags = ['Billing: subscriptions'];
const invTags = ['Billing: invoices and payments'];
const memberTags = ['Billing: members'];

// Plans
const plan = ownerResource({ path: '/v1/plans', tags: plansTags, item: Plan, one: 'plan', many: 'Plans' , permissions: { read: 'plans:read', write: 'plans:write' } });
export const listPlans = plan.list('List membership plans', PlanListQuery);
export const createPlan = plan.create('Create a membership plan', PlanCreate);
export const getPlan = plan.get('Get a plan');
export const updatePlan = plan.update('Update a plan (running subscriptions keep their price; new ones and plan changes take the new terms)', PlanUpdate);
export const rolloutPlanPrice = createRoute({
  method: 'post', path: '/v1/plans/{id}/apply-price-to-subscriptions', 'x-permission': 'plans:write', tags: plansTags, security: ownerAuth,
  summary:
    "Move running subscriptions of the plan to its current price from each one's next period (up to 100 per call; frozen, suspended and cancelled ones are skipped with the reason). Tell members before their next renewal.",
  request: { params: IdParam, body: jsonBody(PlanPriceRollout) },
  responses: { 200: json(PlanPriceRolloutResult, 'What moved'), ...problems(400, 401, 404) },
});
export const archivePlan = createRoute({
  method: 'delete', path: '/v1/plans/{id}', 'x-permission': 'plans:write', tags: plansTags, security: ownerAuth, summary: 'Archive a plan: no new subscriptions, running ones continue',
  request: { params: IdParam },
  responses: { 200: json(Plan, 'The archived plan'), ...problems(401, 404) },
});

// Subscriptions
const subscription = ownerResource({ path: '/v1/subscriptions', tags: subsTags, item: Subscription, one: 'subscription', many: 'Subscriptions' , permissions: { read: 'subscriptions:read', write: 'subscriptions:write' } });
export const listSubscriptions = subscription.list('List subscriptions', SubscriptionListQuery);
export const createSubscription = subscription.create(
  "Start a subscription for a payer and the members it covers. Each period is invoiced on its first day and charged to the payer's saved card: the first one at once when it starts today or earlier, else by the daily run",
  SubscriptionCreate,
  409,
);
export const getSubscription = subscription.get('Get a subscription');
export const changeSubscriptionPlan = subscription.action('change-plan', 'Move to another plan now (prorated) or from the next period', ChangePlan, 409);
export const freezeSubscription = subscription.action(
  'freeze',
  "Freeze from one date to another (exclusive): no access and no plan billing; the plan's freeze fee is charged instead, and the paid days left are kept",
  FreezeRequest,
  409,
);
export const unfreezeSubscription = subscription.bareAction('unfreeze', 'End a freeze today (or drop one not started)', 409);
export const cancelSubscription = subscription.action(
  'cancel',
  'Cancel: ends on the later of today + notice and start + minimum term, unless endsOn is given',
  CancelRequest,
  409,
);
export const withdrawCancellation = subscription.bareAction('withdraw-cancellation', 'Withdraw a cancellation before it takes effect', 409);
export const addSubscriptionMember = subscription.action(
  'members',
  "Cover one more member on a family or group plan (up to the plan's maxMembers); they get its access at once",
  SubscriptionMemberAdd,
  409,
);
export const removeSubscriptionMember = createRoute({
  method: 'delete', path: '/v1/subscriptions/{id}/members/{memberId}', 'x-permission': 'subscriptions:write', tags: subsTags, security: ownerAuth,
  summary: 'Stop covering a member (not the last one): their access ends at once',
  request: { params: SubscriptionMemberParams },
  responses: { 200: json(Subscription, 'The subscription'), ...problems(401, 404, 409) },
});

// Invoices, credit notes, payments
const invoice = ownerResource({ path: '/v1/invoices', tags: invTags, item: BillingInvoice, one: 'invoice', many: 'Invoices' , permissions: { read: 'invoices:read', write: 'invoices:write' } });
export const listInvoices = invoice.list('List invoices, newest first', InvoiceListQuery);
export const getInvoice = invoice.get('Get an invoice with its lines');
export const voidInvoiceRoute = createRoute({
  method: 'post', path: '/v1/invoices/{id}/void', 'x-permission': 'invoices:write', tags: invTags, security: ownerAuth, summary: 'Void an open invoice that has no payment or credit',
  request: { params: IdParam },
  responses: { 200: json(BillingInvoice, 'The void invoice'), ...problems(401, 404, 409) },
});
export const markUncollectibleRoute = invoice.bareAction('mark-uncollectible', 'Write an open invoice off (it may still be paid)', 409);
export const recordPayment = createRoute({
  method: 'post', path: '/v1/invoices/{id}/payments', 'x-permission': 'payments:take', tags: invTags, security: ownerAuth, summary: 'Record money received by staff (cash, bank transfer, card terminal, PromptPay)',
  request: { params: IdParam, body: jsonBody(ManualPayment) },
  responses: { 201: json(BillingPayment, 'The payment'), ...problems(400, 401, 404, 409) },
});
export const chargeInvoiceRoute = createRoute({
  method: 'post', path: '/v1/invoices/{id}/charge', 'x-permission': 'payments:take', tags: invTags, security: ownerAuth, summary: "Charge the payer's saved card for what the invoice still asks (next attempt)",
  request: { params: IdParam },
  responses: { 201: json(BillingPayment, 'The payment attempt'), ...problems(401, 404, 409) },
});
export const createCreditNoteRoute = createRoute({
  method: 'post', path: '/v1/invoices/{id}/credit-notes', 'x-permission': 'invoices:write', tags: invTags, security: ownerAuth,
  summary: 'Correct a finalised invoice: refund to the card, credit the balance, or reduce what it still asks',
  request: { params: IdParam, body: jsonBody(CreditNoteCreate) },
  responses: { 201: json(BillingCreditNote, 'The credit note'), ...problems(400, 401, 404, 409) },
});
export const listCreditNotes = ownerResource({ path: '/v1/credit-notes', tags: invTags, item: BillingCreditNote, one: 'credit note', many: 'Credit notes' , permissions: { read: 'invoices:read' } }).list(
  'List credit notes',
  CreditNoteListQuery,
);
export const listPayments = ownerResource({ path: '/v1/payments', tags: invTags, item: BillingPayment, one: 'payment', many: 'Payments' , permissions: { read: 'payments:read' } }).list(
  'List payments and collection attempts, newest first',
  PaymentListQuery,
);
export const refundPayment = createRoute({
  method: 'post', path: '/v1/payments/{id}/refunds', 'x-permission': 'payments:refund', tags: invTags, security: ownerAuth, summary: "Pay back part of the member's credit balance through a payment",
  request: { params: IdParam, body: jsonBody(RefundCreate) },
  responses: { 201: json(BillingRefund, 'The refund'), ...problems(400, 401, 404, 409) },
});

// Per member
export const addPendingItem = createRoute({
  method: 'post', path: '/v1/members/{id}/pending-items', 'x-permission': 'payments:take', tags: memberTags, security: ownerAuth,
  summary: 'Add a one-off charge (PT session, shop sale, late-cancel fee) to the next invoice, or charge it at once',
  request: { params: IdParam, body: jsonBody(PendingItemCreate) },
  responses: { 201: json(PendingItemCreated, 'The item (and its invoice when charged at once)'), ...problems(400, 401, 404, 409) },
});
export const listPendingItems = createRoute({
  method: 'get', path: '/v1/members/{id}/pending-items', 'x-permission': 'invoices:read', tags: memberTags, security: ownerAuth, summary: 'One-off charges not invoiced yet',
  request: { params: IdParam },
  responses: { 200: json(page(PendingItemOut), 'Pending items'), ...problems(401, 404) },
});
export const deletePendingItemRoute = createRoute({
  method: 'delete', path: '/v1/pending-items/{id}', 'x-permission': 'invoices:write', tags: memberTags, security: ownerAuth, summary: 'Remove a one-off charge not invoiced yet',
  request: { params: IdParam },
  responses: { 200: json(Deleted, 'Deleted'), ...problems(401, 404, 409) },
});
export const memberBalance = createRoute({
  method: 'get', path: '/v1/members/{id}/billing', 'x-permission': 'invoices:read', tags: memberTags, security: ownerAuth, summary: "A payer's balance, open invoices, saved card and dunning state",
  request: { params: IdParam },
  responses: { 200: json(BillingBalance, 'Balance'), ...problems(401, 404) },
});
export const memberStatement = createRoute({
  method: 'get', path: '/v1/members/{id}/statement', 'x-permission': 'invoices:read', tags: memberTags, security: ownerAuth, summary: "A payer's statement: invoices, credit notes, payments and refunds with a running balance",
  request: { params: IdParam },
  responses: { 200: json(Statement, 'Statement'), ...problems(401, 404) },
});
export const setupPaymentMethod = createRoute({
  method: 'post', path: '/v1/members/{id}/payment-method/setup', 'x-permission': 'payments:take', tags: memberTags, security: ownerAuth,
  summary: 'Start saving a card for off-session charges (a SetupIntent, or Checkout in setup mode)',
  request: { params: IdParam, body: jsonBody(PaymentMethodSetupRequest) },
  responses: { 201: json(PaymentMethodSetup, 'The setup to hand to the member'), ...problems(400, 401, 404) },
});
export const completeSimulatedSetupRoute = createRoute({
  method: 'post', path: '/v1/members/{id}/payment-method/simulated-completion', 'x-permission': 'payments:take', tags: memberTags, security: ownerAuth,
  summary: 'Simulated processor only (local runs): stand in for the member entering a test card',
  request: { params: IdParam, body: jsonBody(SimulatedSetupCompletion) },
  responses: { 200: json(PaymentMethod, 'The saved card'), ...problems(400, 401, 404, 409) },
});

// Organisation billing settings
export const getBillingSettings = createRoute({
  method: 'get', path: '/v1/billing/settings', 'x-permission': 'invoices:read', tags: invTags, security: ownerAuth, summary: "The organisation's invoice numbering",
  responses: { 200: json(BillingSettings, 'Settings'), ...problems(401) },
});
export const putBillingSettings = createRoute({
  method: 'put', path: '/v1/billing/settings', 'x-permission': 'billing_settings:write', tags: invTags, security: ownerAuth, summary: 'Set the invoice number prefix',
  request: { body: jsonBody(BillingSettings) },
  responses: { 200: json(BillingSettings, 'Settings'), ...problems(400, 401) },
});
