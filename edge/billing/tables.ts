import { index, integer, primaryKey, sqliteTable, text, uniqueIndex } from 'drizzle-orm/sqlite-core';
import { MEMBERSHIP_STATUSES } from '../../core/entitlement.ts';
import { accessProfiles, sites } from '../access/tables.ts';
import { createdAt, type JsonValue } from '../db/columns.ts';
import { members } from '../members/tables.ts';
import { organisationRef, organisations } from '../organisation/tables.ts';

// Tables of membership billing (rules in core/billing; Worker side in edge/billing). Amounts are integers in
// the currency's minor unit; calendar dates are 'YYYY-MM-DD' in the subscription's time zone.

type TaxMode = 'inclusive' | 'exclusive';

export const plans = sqliteTable(
  'plans',
  {
    id: text('id').primaryKey(),
    organisationId: organisationRef(),
    name: text('name').notNull(),
    currency: text('currency').notNull(),
    /** Per period, as priced (gross when the tax is inclusive). */
    price: integer('price').notNull(),
    interval: text('interval', { enum: ['weekly', 'four_weekly', 'monthly', 'yearly'] }).notNull(),
    joiningFee: integer('joining_fee').notNull().default(0),
    minimumTermMonths: integer('minimum_term_months').notNull().default(0),
    noticeUnit: text('notice_unit', { enum: ['days', 'months'] }).notNull().default('days'),
    noticeCount: integer('notice_count').notNull().default(0),
    /** No tax when taxBasisPoints is null. */
    taxName: text('tax_name'),
    taxBasisPoints: integer('tax_basis_points'),
    taxMode: text('tax_mode').$type<TaxMode>(),
    /** Charged per period of a freeze instead of the price; null = freezing is free. */
    freezeFee: integer('freeze_fee'),
    trialDays: integer('trial_days').notNull().default(0),
    graceDays: integer('grace_days').notNull().default(0),
    maxMembers: integer('max_members').notNull().default(1),
    /** The access the plan grants its members. */
    accessProfileId: text('access_profile_id').references(() => accessProfiles.id),
    archivedAt: integer('archived_at'),
    createdAt: createdAt(),
    updatedAt: integer('updated_at').notNull(),
  },
  (t) => [index('plans_org').on(t.organisationId, t.id)],
);

export const subscriptions = sqliteTable(
  'subscriptions',
  {
    id: text('id').primaryKey(),
    organisationId: organisationRef(),
    payerId: text('payer_id')
      .notNull()
      .references(() => members.id),
    /** The plan currently billed (follows the state's plan). */
    planId: text('plan_id')
      .notNull()
      .references(() => plans.id),
    /** SubscriptionState (core/billing/subscription.ts). */
    state: text('state', { mode: 'json' }).$type<JsonValue>().notNull(),
    status: text('status', { enum: MEMBERSHIP_STATUSES }).notNull(),
    /** Whose calendar the dates are in: the home site's time zone, or UTC. */
    homeSiteId: text('home_site_id').references(() => sites.id),
    timezone: text('timezone').notNull(),
    /** Next date the run must look at this subscription (billing, trial end, freeze, cancellation); null once ended. */
    nextReviewOn: text('next_review_on'),
    /** Start of nextReviewOn in the time zone, epoch ms: what the daily run selects on. */
    nextReviewAt: integer('next_review_at'),
    joiningFeeDue: integer('joining_fee_due', { mode: 'boolean' }).notNull().default(false),
    /** Proration lines of a downgrade, waiting for the next invoice (ProrationLine[]). */
    pendingProrations: text('pending_prorations', { mode: 'json' }).$type<JsonValue[]>().notNull().default([]),
    /** Optimistic concurrency: every write is conditioned on the version it read. */
    version: integer('version').notNull().default(0),
    /** Random per write; statements in the same batch check it to run only if that write won. */
    writeToken: text('write_token'),
    createdAt: createdAt(),
    updatedAt: integer('updated_at').notNull(),
  },
  (t) => [index('subscriptions_org').on(t.organisationId, t.id), index('subscriptions_review').on(t.nextReviewAt, t.id), index('subscriptions_payer').on(t.payerId)],
);

/** Family and group accounts: one payer, several members covered. */
export const subscriptionMembers = sqliteTable(
  'subscription_members',
  {
    subscriptionId: text('subscription_id')
      .notNull()
      .references(() => subscriptions.id),
    memberId: text('member_id')
      .notNull()
      .references(() => members.id),
    organisationId: organisationRef(),
    createdAt: createdAt(),
  },
  (t) => [primaryKey({ columns: [t.subscriptionId, t.memberId] }), index('subscription_members_member').on(t.memberId)],
);

/** Every event applied to a subscription, in order (the state is their result). */
export const subscriptionEvents = sqliteTable(
  'subscription_events',
  {
    id: text('id').primaryKey(),
    subscriptionId: text('subscription_id')
      .notNull()
      .references(() => subscriptions.id),
    organisationId: organisationRef(),
    version: integer('version').notNull(),
    type: text('type').notNull(),
    date: text('date').notNull(),
    event: text('event', { mode: 'json' }).$type<JsonValue>().notNull(),
    createdAt: createdAt(),
  },
  (t) => [index('subscription_events_sub').on(t.subscriptionId, t.version)],
);

export const invoices = sqliteTable(
  'invoices',
  {
    id: text('id').primaryKey(),
    organisationId: organisationRef(),
    payerId: text('payer_id')
      .notNull()
      .references(() => members.id),
    subscriptionId: text('subscription_id').references(() => subscriptions.id),
    /** plan / freeze_fee: a billing period of a subscription; proration: a mid-period upgrade; one_off: pending items charged at once. */
    reason: text('reason', { enum: ['plan', 'freeze_fee', 'proration', 'one_off'] }).notNull(),
    periodStart: text('period_start'),
    periodEnd: text('period_end'),
    /** Idempotency of invoices outside the cycle (an upgrade, a charge-now item). */
    sourceKey: text('source_key'),
    status: text('status', { enum: ['draft', 'open', 'paid', 'void', 'uncollectible'] }).notNull(),
    /** Allocated gap-free when the invoice is finalised. */
    number: text('number'),
    currency: text('currency').notNull(),
    /** InvoiceLine[] (core/billing/invoice.ts). */
    lines: text('lines', { mode: 'json' }).$type<JsonValue[]>().notNull(),
    subtotal: integer('subtotal').notNull(),
    tax: integer('tax').notNull(),
    total: integer('total').notNull(),
    startingCreditBalance: integer('starting_credit_balance').notNull(),
    creditApplied: integer('credit_applied').notNull(),
    amountDue: integer('amount_due').notNull(),
    endingCreditBalance: integer('ending_credit_balance').notNull(),
    amountPaid: integer('amount_paid').notNull().default(0),
    amountCredited: integer('amount_credited').notNull().default(0),
    amountRemaining: integer('amount_remaining').notNull(),
    /** Pending items this invoice took. Written through checks that fail (rolling the batch back) when the insert's guard does not hold or another invoice took one of the items first. */
    pendingItemCount: integer('pending_item_count').notNull(),
    createdAt: createdAt(),
    finalisedAt: integer('finalised_at'),
    paidAt: integer('paid_at'),
    voidedAt: integer('voided_at'),
    uncollectibleAt: integer('uncollectible_at'),
  },
  (t) => [
    uniqueIndex('invoices_subscription_period').on(t.subscriptionId, t.periodStart, t.reason),
    uniqueIndex('invoices_org_number').on(t.organisationId, t.number),
    uniqueIndex('invoices_org_source').on(t.organisationId, t.sourceKey),
    index('invoices_payer').on(t.payerId, t.createdAt),
  ],
);

/** Gap-free numbering per organisation: a number is taken only in the batch that finalises an invoice or issues a credit note. */
export const invoiceSequences = sqliteTable('invoice_sequences', {
  organisationId: text('organisation_id')
    .primaryKey()
    .references(() => organisations.id),
  prefix: text('prefix').notNull().default('INV'),
  nextInvoice: integer('next_invoice').notNull().default(1),
  nextCreditNote: integer('next_credit_note').notNull().default(1),
});

/** One-off charges (PT session, shop sale, late-cancel fee) until an invoice takes them. */
export const pendingItems = sqliteTable(
  'pending_items',
  {
    id: text('id').primaryKey(),
    organisationId: organisationRef(),
    memberId: text('member_id')
      .notNull()
      .references(() => members.id),
    kind: text('kind', { enum: ['pt_session', 'shop_sale', 'late_cancel_fee', 'day_pass', 'other'] }).notNull(),
    description: text('description').notNull(),
    quantity: integer('quantity').notNull(),
    unitAmount: integer('unit_amount').notNull(),
    currency: text('currency').notNull(),
    taxName: text('tax_name'),
    taxBasisPoints: integer('tax_basis_points'),
    taxMode: text('tax_mode').$type<TaxMode>(),
    invoiceId: text('invoice_id').references(() => invoices.id),
    createdAt: createdAt(),
  },
  (t) => [index('pending_items_member').on(t.memberId, t.invoiceId)],
);

export const creditNotes = sqliteTable(
  'credit_notes',
  {
    id: text('id').primaryKey(),
    organisationId: organisationRef(),
    invoiceId: text('invoice_id')
      .notNull()
      .references(() => invoices.id),
    payerId: text('payer_id')
      .notNull()
      .references(() => members.id),
    number: text('number').notNull(),
    outcome: text('outcome', { enum: ['refund', 'credit_balance', 'reduce_outstanding'] }).notNull(),
    reason: text('reason', { enum: ['duplicate', 'billing_error', 'service_not_provided', 'goodwill', 'other'] }).notNull(),
    memo: text('memo'),
    /** CreditNoteLine[]. */
    lines: text('lines', { mode: 'json' }).$type<JsonValue[]>().notNull(),
    subtotal: integer('subtotal').notNull(),
    tax: integer('tax').notNull(),
    total: integer('total').notNull(),
    /** Credit notes already on the invoice when this one was issued; checked on insert so two cannot over-credit a line. */
    sequenceOnInvoice: integer('sequence_on_invoice').notNull(),
    issuedAt: integer('issued_at').notNull(),
    voided: integer('voided', { mode: 'boolean' }).notNull().default(false),
  },
  (t) => [
    uniqueIndex('credit_notes_org_number').on(t.organisationId, t.number),
    uniqueIndex('credit_notes_invoice_sequence').on(t.invoiceId, t.sequenceOnInvoice),
    index('credit_notes_payer').on(t.payerId),
  ],
);

export const payments = sqliteTable(
  'payments',
  {
    id: text('id').primaryKey(),
    organisationId: organisationRef(),
    payerId: text('payer_id')
      .notNull()
      .references(() => members.id),
    invoiceId: text('invoice_id').references(() => invoices.id),
    provider: text('provider', { enum: ['stripe', 'simulated', 'manual'] }).notNull(),
    method: text('method', { enum: ['card', 'cash', 'bank_transfer', 'card_terminal', 'promptpay'] }).notNull(),
    providerPaymentId: text('provider_payment_id'),
    chargeId: text('charge_id'),
    /** 1 for an invoice's first collection attempt, 2 for the next, … */
    attempt: integer('attempt').notNull(),
    /** `{invoiceId}:attempt:{n}` for card charges; sent to the processor, so a retried call never charges twice. */
    idempotencyKey: text('idempotency_key').notNull(),
    status: text('status', { enum: ['pending', 'processing', 'requires_action', 'succeeded', 'failed', 'canceled'] }).notNull(),
    amount: integer('amount').notNull(),
    currency: text('currency').notNull(),
    amountRefunded: integer('amount_refunded').notNull().default(0),
    failureCode: text('failure_code'),
    declineCode: text('decline_code'),
    failureMessage: text('failure_message'),
    hardDecline: integer('hard_decline', { mode: 'boolean' }).notNull().default(false),
    /** Receipt or transfer reference of a manual payment. */
    reference: text('reference'),
    dispute: text('dispute', { enum: ['open', 'won', 'lost'] }),
    /** Set once by the write that applied the payment to its invoice; nothing applies it twice. */
    appliedToken: text('applied_token'),
    /** The normalised webhook event whose state this row holds (see supersedes() in edge/payments/webhooks.ts). */
    lastEventId: text('last_event_id'),
    lastEvent: text('last_event', { mode: 'json' }).$type<JsonValue>(),
    createdAt: createdAt(),
    updatedAt: integer('updated_at').notNull(),
    /** When the money was received (succeeded). */
    settledAt: integer('settled_at'),
  },
  (t) => [
    uniqueIndex('payments_idempotency').on(t.idempotencyKey),
    index('payments_provider_id').on(t.providerPaymentId),
    index('payments_invoice').on(t.invoiceId),
    index('payments_payer').on(t.payerId),
  ],
);

export const refunds = sqliteTable(
  'refunds',
  {
    id: text('id').primaryKey(),
    organisationId: organisationRef(),
    payerId: text('payer_id')
      .notNull()
      .references(() => members.id),
    paymentId: text('payment_id')
      .notNull()
      .references(() => payments.id),
    creditNoteId: text('credit_note_id').references(() => creditNotes.id),
    amount: integer('amount').notNull(),
    currency: text('currency').notNull(),
    /** requested_by_customer, duplicate, fraudulent, dispute_lost. */
    reason: text('reason').notNull(),
    providerRefundId: text('provider_refund_id'),
    idempotencyKey: text('idempotency_key').notNull(),
    status: text('status', { enum: ['pending', 'succeeded', 'failed', 'canceled'] }).notNull(),
    failureMessage: text('failure_message'),
    createdAt: createdAt(),
    updatedAt: integer('updated_at').notNull(),
  },
  (t) => [uniqueIndex('refunds_idempotency').on(t.idempotencyKey), index('refunds_payer').on(t.payerId), index('refunds_payment').on(t.paymentId)],
);

/** The member's customer at the payment processor and the card charged off-session. */
export const billingCustomers = sqliteTable(
  'billing_customers',
  {
    memberId: text('member_id')
      .primaryKey()
      .references(() => members.id),
    organisationId: organisationRef(),
    provider: text('provider', { enum: ['stripe', 'simulated'] }).notNull(),
    customerId: text('customer_id').notNull(),
    defaultPaymentMethodId: text('default_payment_method_id'),
    cardBrand: text('card_brand'),
    cardLast4: text('card_last4'),
    cardExpMonth: integer('card_exp_month'),
    cardExpYear: integer('card_exp_year'),
    createdAt: createdAt(),
    updatedAt: integer('updated_at').notNull(),
  },
  (t) => [uniqueIndex('billing_customers_provider_customer').on(t.provider, t.customerId)],
);

/** Stripe events already handled (redeliveries are acknowledged without effect). */
export const processedWebhookEvents = sqliteTable('processed_webhook_events', {
  eventId: text('event_id').primaryKey(),
  type: text('type').notNull(),
  /** What was done: applied, ignored:<reason>, superseded. */
  outcome: text('outcome').notNull(),
  receivedAt: integer('received_at').notNull(),
});
