// Request and response shapes of the billing API. Amounts are integers in the minor unit of the
// currency (THB 1,990.00 = 199000); dates are calendar dates in the subscription's time zone.
import { z } from 'zod';
import { CreditNoteLine, CreditNoteLineRequest, CreditNoteOutcome, CreditNoteReason } from '../../core/billing/credit-notes.ts';
import { DunningState } from '../../core/billing/dunning.ts';
import { InvoiceLine, InvoiceStatus, OneOffKind } from '../../core/billing/invoice.ts';
import { Currency, MinorUnits } from '../../core/billing/money.ts';
import { BillingInterval, CalendarDate, Period } from '../../core/billing/periods.ts';
import { ProrationLine } from '../../core/billing/proration.ts';
import { NoticePeriod } from '../../core/billing/subscription.ts';
import { TaxRate } from '../../core/billing/tax.ts';
import { AccessProfileId, listQuery, MemberId, SiteId } from '../../core/contracts/api.ts';
import { resourceId, Timestamp } from '../../core/contracts/common.ts';
import { MembershipStatus, SUSPENSIONS } from '../../core/entitlement.ts';

export const PlanId = resourceId('plan');
export const SubscriptionId = resourceId('sub');
export const InvoiceId = resourceId('inv');
export const PaymentId = resourceId('pay');
export const CreditNoteId = resourceId('cn');
export const PendingItemId = resourceId('pend');
export const RefundId = resourceId('ref');

const name = z.string().trim().min(1, 'must not be empty').max(200, 'must be at most 200 characters');
const amount = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);
const positive = z.number().int().min(1).max(Number.MAX_SAFE_INTEGER);

// Plans

const planFields = {
  name,
  currency: Currency,
  price: amount.meta({ description: 'Per period, in minor units; includes the tax when the tax rate is inclusive' }),
  interval: BillingInterval,
  joiningFee: amount.meta({ description: "Charged on the member's first invoice; 0 = none" }),
  minimumTermMonths: z.number().int().min(0).max(120).meta({ description: 'A cancellation takes effect no earlier than this many months after the start' }),
  noticePeriod: NoticePeriod,
  taxRate: TaxRate.nullable(),
  freezeFee: amount.nullable().meta({ description: 'Charged per period of a freeze instead of the price; null = freezing is free' }),
  trialDays: z.number().int().min(0).max(365),
  graceDays: z.number().int().min(0).max(90).meta({ description: 'Days of access after paid-through while a payment is outstanding' }),
  maxMembers: z.number().int().min(1).max(50).meta({ description: 'Family or group plans cover several members paid by one payer' }),
  accessProfileId: AccessProfileId.nullable().meta({ description: 'What the plan grants, set on every member it covers; null = general doors at every site, 24/7' }),
};

export const Plan = z
  .object({ id: PlanId, ...planFields, archived: z.boolean(), createdAt: Timestamp, updatedAt: Timestamp })
  .meta({ id: 'Plan' });
export const PlanCreate = z
  .object({
    name,
    currency: Currency,
    price: planFields.price,
    interval: BillingInterval,
    joiningFee: planFields.joiningFee.default(0),
    minimumTermMonths: planFields.minimumTermMonths.default(0),
    noticePeriod: NoticePeriod.default({ unit: 'days', count: 0 }),
    taxRate: TaxRate.nullable().default(null),
    freezeFee: planFields.freezeFee.default(null),
    trialDays: planFields.trialDays.default(0),
    graceDays: planFields.graceDays.default(0),
    maxMembers: planFields.maxMembers.default(1),
    accessProfileId: planFields.accessProfileId.default(null),
  })
  .meta({ id: 'PlanCreate' });
export const PlanUpdate = z
  .object({ ...planFields })
  .omit({ currency: true })
  .partial()
  .meta({ id: 'PlanUpdate', description: 'Changes apply to subscriptions started or moved to the plan afterwards; running subscriptions keep the price they have' });
export const PlanListQuery = listQuery.extend({ includeArchived: z.enum(['true', 'false']).optional() });

// Subscriptions

export const SubscriptionCreate = z
  .object({
    payerId: MemberId,
    memberIds: z.array(MemberId).min(1).max(50).optional().meta({ description: 'Members covered; default: the payer alone' }),
    planId: PlanId,
    startDate: CalendarDate,
    trialDays: z.number().int().min(0).max(365).optional().meta({ description: "Overrides the plan's trial" }),
    homeSiteId: SiteId.optional().meta({
      description:
        "Whose time zone the subscription's dates are in. Default: the first site of the payer's (else the plan's) access profile, else the organisation's first site; UTC without sites",
    }),
  })
  .meta({ id: 'SubscriptionCreate' });

export const Subscription = z
  .object({
    id: SubscriptionId,
    payerId: MemberId,
    memberIds: z.array(MemberId),
    planId: PlanId,
    status: MembershipStatus,
    suspension: z.enum(SUSPENSIONS).nullable(),
    timezone: z.string(),
    homeSiteId: SiteId.nullable(),
    startDate: CalendarDate,
    trialEnd: CalendarDate.nullable(),
    paidThrough: CalendarDate.nullable().meta({ description: 'End (exclusive) of the last paid period' }),
    validUntil: CalendarDate.meta({ description: 'Entry until the start of this date (paid-through plus grace, capped by a cancellation)' }),
    currentPeriod: Period.nullable(),
    price: MinorUnits,
    interval: BillingInterval,
    freeze: z.object({ from: CalendarDate, to: CalendarDate }).nullable(),
    cancellation: z.object({ requestedOn: CalendarDate, endsOn: CalendarDate }).nullable(),
    pendingPlan: z.object({ planId: PlanId, from: CalendarDate }).nullable(),
    pendingProrations: z.array(ProrationLine).meta({ description: 'Downgrade credits waiting for the next invoice' }),
    nextReviewOn: CalendarDate.nullable(),
    createdAt: Timestamp,
    updatedAt: Timestamp,
  })
  .meta({ id: 'Subscription' });
export const SubscriptionListQuery = listQuery.extend({ payerId: MemberId.optional(), status: MembershipStatus.optional() });
export const ChangePlan = z
  .object({ planId: PlanId, timing: z.enum(['now', 'period_end']).default('now') })
  .meta({ id: 'ChangePlan', description: 'now: prorated (an upgrade is invoiced at once, a downgrade credited on the next invoice); period_end: from the next period' });
export const FreezeRequest = z.object({ from: CalendarDate, to: CalendarDate }).meta({ id: 'FreezeRequest' });
export const CancelRequest = z
  .object({ endsOn: CalendarDate.optional().meta({ description: 'Overrides the notice and minimum-term rule' }) })
  .meta({ id: 'CancelRequest' });

// Invoices, credit notes, payments

export const BillingInvoice = z
  .object({
    id: InvoiceId,
    number: z.string().nullable(),
    status: InvoiceStatus,
    payerId: MemberId,
    subscriptionId: SubscriptionId.nullable(),
    reason: z.enum(['plan', 'freeze_fee', 'proration', 'one_off']),
    currency: Currency,
    period: Period.nullable(),
    lines: z.array(InvoiceLine),
    subtotal: MinorUnits,
    tax: MinorUnits,
    total: MinorUnits,
    startingCreditBalance: MinorUnits,
    creditApplied: MinorUnits,
    amountDue: MinorUnits,
    endingCreditBalance: MinorUnits,
    amountPaid: MinorUnits,
    amountCredited: MinorUnits,
    amountRemaining: MinorUnits,
    createdAt: Timestamp,
    finalisedAt: Timestamp.nullable(),
    paidAt: Timestamp.nullable(),
    voidedAt: Timestamp.nullable(),
    uncollectibleAt: Timestamp.nullable(),
  })
  .meta({ id: 'BillingInvoice' });
export const InvoiceListQuery = listQuery.extend({ payerId: MemberId.optional(), subscriptionId: SubscriptionId.optional(), status: InvoiceStatus.optional() });

export const PAYMENT_METHODS = ['card', 'cash', 'bank_transfer', 'card_terminal', 'promptpay'] as const;
export const BillingPayment = z
  .object({
    id: PaymentId,
    invoiceId: InvoiceId.nullable(),
    payerId: MemberId,
    provider: z.enum(['stripe', 'simulated', 'manual']),
    method: z.enum(PAYMENT_METHODS),
    providerPaymentId: z.string().nullable(),
    attempt: z.number().int(),
    status: z.enum(['pending', 'processing', 'requires_action', 'succeeded', 'failed', 'canceled']),
    amount: MinorUnits,
    currency: Currency,
    amountRefunded: MinorUnits,
    failureCode: z.string().nullable(),
    declineCode: z.string().nullable(),
    failureMessage: z.string().nullable(),
    hardDecline: z.boolean(),
    reference: z.string().nullable(),
    dispute: z.enum(['open', 'won', 'lost']).nullable(),
    createdAt: Timestamp,
    settledAt: Timestamp.nullable(),
  })
  .meta({ id: 'BillingPayment' });
export const PaymentListQuery = listQuery.extend({ payerId: MemberId.optional(), invoiceId: InvoiceId.optional() });
export const ManualPayment = z
  .object({
    amount: positive,
    method: z.enum(['cash', 'bank_transfer', 'card_terminal', 'promptpay']),
    reference: z.string().trim().max(200).optional().meta({ description: 'Receipt, slip or terminal reference' }),
    idempotencyKey: z.string().min(1).max(200).optional().meta({ description: 'Send the same key again to record the payment only once' }),
  })
  .meta({ id: 'ManualPayment', description: 'Money received by staff; more than the invoice asks goes to the member’s credit balance' });

export const BillingRefund = z
  .object({
    id: RefundId,
    paymentId: PaymentId,
    creditNoteId: CreditNoteId.nullable(),
    amount: MinorUnits,
    currency: Currency,
    reason: z.string(),
    status: z.enum(['pending', 'succeeded', 'failed', 'canceled']),
    providerRefundId: z.string().nullable(),
    failureMessage: z.string().nullable(),
    createdAt: Timestamp,
  })
  .meta({ id: 'BillingRefund' });
export const RefundCreate = z
  .object({ amount: positive, reason: z.enum(['requested_by_customer', 'duplicate', 'fraudulent']).default('requested_by_customer') })
  .meta({ id: 'RefundCreate', description: "Pays back part of the member's credit balance through this payment" });

export const BillingCreditNote = z
  .object({
    id: CreditNoteId,
    number: z.string(),
    invoiceId: InvoiceId,
    invoiceNumber: z.string(),
    outcome: CreditNoteOutcome,
    reason: CreditNoteReason,
    memo: z.string().nullable(),
    lines: z.array(CreditNoteLine),
    subtotal: MinorUnits,
    tax: MinorUnits,
    total: MinorUnits,
    issuedAt: Timestamp,
    refund: BillingRefund.nullable().meta({ description: 'The first of refunds (kept for clients that expect one)' }),
    refunds: z.array(BillingRefund).meta({ description: 'Outcome refund: the money going back, through one payment or split over several (newest first)' }),
  })
  .meta({ id: 'BillingCreditNote' });
export const CreditNoteCreate = z
  .object({
    lines: z.array(CreditNoteLineRequest).min(1).max(50),
    outcome: CreditNoteOutcome,
    reason: CreditNoteReason,
    memo: z.string().max(500).optional(),
  })
  .meta({ id: 'CreditNoteCreate' });
export const CreditNoteListQuery = listQuery.extend({ invoiceId: InvoiceId.optional(), payerId: MemberId.optional() });

// Pending items

export const PendingItemOut = z
  .object({
    id: PendingItemId,
    memberId: MemberId,
    kind: OneOffKind,
    description: z.string(),
    quantity: z.number().int(),
    unitAmount: MinorUnits,
    currency: Currency,
    taxRate: TaxRate.nullable(),
    invoiceId: InvoiceId.nullable(),
    createdAt: Timestamp,
  })
  .meta({ id: 'PendingItem' });
export const PendingItemCreate = z
  .object({
    kind: OneOffKind,
    description: name,
    quantity: z.number().int().min(1).max(10_000).default(1),
    unitAmount: z.number().int().min(Number.MIN_SAFE_INTEGER).max(Number.MAX_SAFE_INTEGER).meta({ description: 'As priced (gross if the tax is inclusive); negative for a discount' }),
    currency: Currency,
    taxRate: TaxRate.nullable().default(null),
    chargeNow: z.boolean().default(false).meta({ description: 'Invoice and charge it at once instead of adding it to the next invoice' }),
  })
  .meta({ id: 'PendingItemCreate' });
export const PendingItemCreated = z.object({ item: PendingItemOut, invoice: BillingInvoice.nullable() }).meta({ id: 'PendingItemCreated' });

// Payment methods, balance and statement

export const PaymentMethod = z
  .object({
    provider: z.enum(['stripe', 'simulated']),
    customerId: z.string(),
    paymentMethodId: z.string().nullable(),
    brand: z.string().nullable(),
    last4: z.string().nullable(),
    expMonth: z.number().int().nullable(),
    expYear: z.number().int().nullable(),
  })
  .meta({ id: 'PaymentMethod' });
export const PaymentMethodSetupRequest = z
  .object({ returnUrl: z.url(), flow: z.enum(['setup_intent', 'checkout']).default('setup_intent') })
  .meta({ id: 'PaymentMethodSetupRequest' });
export const PaymentMethodSetup = z
  .object({
    provider: z.enum(['stripe', 'simulated']),
    providerDescription: z.string(),
    customerId: z.string(),
    setup: z.discriminatedUnion('kind', [
      z.object({ kind: z.literal('setup_intent'), id: z.string(), clientSecret: z.string() }),
      z.object({ kind: z.literal('checkout'), id: z.string(), url: z.string() }),
    ]),
  })
  .meta({ id: 'PaymentMethodSetup', description: 'Hand clientSecret to Stripe.js (or send the member to url); the card is saved when Stripe reports the setup succeeded' });
export const SimulatedSetupCompletion = z
  .object({ setupId: z.string().min(1), paymentMethodId: z.string().min(1).default('pm_card_visa').meta({ description: "A Stripe test payment method id, e.g. pm_card_visa or pm_card_chargeDeclinedInsufficientFunds" }) })
  .meta({ id: 'SimulatedSetupCompletion' });

export const BillingBalance = z
  .object({
    memberId: MemberId,
    creditBalance: MinorUnits,
    amountOwed: MinorUnits,
    outstanding: MinorUnits.meta({ description: 'amountOwed − creditBalance' }),
    openInvoices: z.array(z.object({ number: z.string(), remaining: MinorUnits })),
    paymentMethod: PaymentMethod.nullable(),
    dunning: DunningState.nullable(),
  })
  .meta({ id: 'BillingBalance' });
export const StatementEntry = z
  .object({
    at: Timestamp,
    kind: z.enum(['invoice', 'invoice_void', 'credit_note', 'payment', 'refund']),
    reference: z.string(),
    description: z.string(),
    debit: MinorUnits,
    credit: MinorUnits,
    balance: MinorUnits,
  })
  .meta({ id: 'StatementEntry' });
export const Statement = z
  .object({
    memberId: MemberId,
    entries: z.array(StatementEntry),
    invoiced: MinorUnits,
    credited: MinorUnits,
    paid: MinorUnits,
    refunded: MinorUnits,
    balance: MinorUnits,
    consistent: z.boolean().meta({ description: 'Σ invoiced − Σ credited = Σ paid − Σ refunded + outstanding' }),
  })
  .meta({ id: 'Statement' });

export const WebhookReceipt = z.object({ received: z.literal(true), eventId: z.string(), outcome: z.string() }).meta({ id: 'WebhookReceipt' });

// Family and group plans

export const SubscriptionMemberAdd = z.object({ memberId: MemberId }).meta({ id: 'SubscriptionMemberAdd' });
export const SubscriptionMemberParams = z.object({ id: z.string().min(1).max(64), memberId: MemberId });

// Organisation billing settings

export const BillingSettings = z
  .object({
    invoicePrefix: z
      .string()
      .regex(/^[A-Z0-9]{1,12}$/, 'must be 1–12 capital letters or digits')
      .meta({ description: 'Invoice numbers are {prefix}-000001, credit notes {prefix}-CN-000001; numbering continues when the prefix changes' }),
  })
  .meta({ id: 'BillingSettings' });

// Moving running subscriptions to a plan's current price

export const PlanPriceRollout = z
  .object({
    after: z.string().max(64).optional().meta({ description: 'Continue after this subscription id (nextAfter of the previous call)' }),
  })
  .meta({ id: 'PlanPriceRollout' });
export const PlanPriceRolloutResult = z
  .object({
    moved: z.array(z.object({ subscriptionId: z.string(), from: z.string().meta({ description: 'First day of the new price: the next period' }) })),
    skipped: z.array(z.object({ subscriptionId: z.string(), reason: z.string() })),
    nextAfter: z.string().nullable().meta({ description: 'More remain: call again with this' }),
  })
  .meta({ id: 'PlanPriceRolloutResult' });
