// D1 tables. migrations/ is generated from this file with `npm run db:generate` (drizzle-kit).
import { index, integer, primaryKey, sqliteTable, text, uniqueIndex } from 'drizzle-orm/sqlite-core';
import type { CommandAction } from '../../core/commands.ts';
import { DEFAULT_MAX_OFFLINE_SECONDS, MEMBERSHIP_STATUSES, SUSPENSIONS, type DoorMode } from '../../core/entitlement.ts';
import type { Closure, Schedule } from '../../core/schedule.ts';
import { MEMBER_LOCALES } from '../../core/contracts/common.ts';
import { DOOR_ALARM_TYPES } from '../../core/contracts/wire.ts';

// Times are epoch milliseconds (UTC); the API renders them as RFC 3339.
const createdAt = () => integer('created_at').notNull();

export const organisations = sqliteTable('organisations', {
  id: text('id').primaryKey(),
  name: text('name').notNull(),
  createdAt: createdAt(),
});

// Every tenant-owned row names its organisation; queries always filter by it.
const organisationRef = () =>
  text('organisation_id')
    .notNull()
    .references(() => organisations.id);

export const apiKeys = sqliteTable(
  'api_keys',
  {
    id: text('id').primaryKey(),
    organisationId: organisationRef(),
    name: text('name').notNull(),
    prefix: text('prefix').notNull(),
    keyHash: text('key_hash').notNull(),
    createdAt: createdAt(),
    revokedAt: integer('revoked_at'),
  },
  (t) => [uniqueIndex('api_keys_hash').on(t.keyHash), index('api_keys_org').on(t.organisationId)],
);

export const sites = sqliteTable(
  'sites',
  {
    id: text('id').primaryKey(),
    organisationId: organisationRef(),
    name: text('name').notNull(),
    timezone: text('timezone').notNull(),
    /** Weekly windows when the site is staffed; doors may unlock and profiles may grant by them. */
    staffedHours: text('staffed_hours', { mode: 'json' }).$type<Schedule['windows'] | null>(),
    closures: text('closures', { mode: 'json' }).$type<Closure[]>().notNull().default([]),
    entitlementVersion: integer('entitlement_version').notNull().default(0),
    /** Content hash of the entitlement state at hashVersion (recomputed lazily, once per version). */
    entitlementHash: text('entitlement_hash'),
    hashVersion: integer('hash_version'),
    createdAt: createdAt(),
  },
  (t) => [index('sites_org').on(t.organisationId)],
);

export const doors = sqliteTable(
  'doors',
  {
    id: text('id').primaryKey(),
    organisationId: organisationRef(),
    siteId: text('site_id')
      .notNull()
      .references(() => sites.id),
    name: text('name').notNull(),
    group: text('door_group').notNull().default('general'),
    mode: text('mode').$type<DoorMode>().notNull().default('normal'),
    unlockDuringStaffedHours: integer('unlock_during_staffed_hours', { mode: 'boolean' }).notNull().default(false),
    antiPassbackSeconds: integer('anti_passback_seconds').notNull().default(0),
    maxOfflineSeconds: integer('max_offline_seconds').notNull().default(DEFAULT_MAX_OFFLINE_SECONDS),
    grantSeconds: integer('grant_seconds').notNull().default(5),
    createdAt: createdAt(),
  },
  (t) => [index('doors_site').on(t.siteId), index('doors_org').on(t.organisationId)],
);

export const accessProfiles = sqliteTable(
  'access_profiles',
  {
    id: text('id').primaryKey(),
    organisationId: organisationRef(),
    name: text('name').notNull(),
    /** Site ids, or null for every site. */
    sites: text('sites', { mode: 'json' }).$type<string[] | null>(),
    doorGroups: text('door_groups', { mode: 'json' }).$type<string[]>().notNull(),
    scheduleKind: text('schedule_kind', { enum: ['always', 'staffed_hours', 'custom'] }).notNull(),
    schedule: text('schedule', { mode: 'json' }).$type<Schedule['windows'] | null>(),
    maxEntriesPerDay: integer('max_entries_per_day'),
    staff: integer('staff', { mode: 'boolean' }).notNull().default(false),
    lockdownAccess: integer('lockdown_access', { mode: 'boolean' }).notNull().default(false),
    createdAt: createdAt(),
  },
  (t) => [index('access_profiles_org').on(t.organisationId)],
);

export const members = sqliteTable(
  'members',
  {
    id: text('id').primaryKey(),
    organisationId: organisationRef(),
    name: text('name').notNull(),
    email: text('email'),
    phone: text('phone'),
    emergencyContactName: text('emergency_contact_name'),
    emergencyContactPhone: text('emergency_contact_phone'),
    emergencyContactRelationship: text('emergency_contact_relationship'),
    status: text('status', { enum: MEMBERSHIP_STATUSES }).notNull(),
    suspension: text('suspension', { enum: SUSPENSIONS }),
    accessProfileId: text('access_profile_id').references(() => accessProfiles.id),
    validFrom: integer('valid_from'),
    validUntil: integer('valid_until'),
    entriesLeft: integer('entries_left'),
    /** Language of the member's notices. */
    locale: text('locale', { enum: MEMBER_LOCALES }).notNull().default('en'),
    /** Card + PIN doors: a salted PBKDF2 verifier of the member's PIN (never the PIN); null = none set. */
    pinVerifier: text('pin_verifier'),
    createdAt: createdAt(),
    updatedAt: integer('updated_at').notNull(),
  },
  (t) => [index('members_org').on(t.organisationId, t.id)],
);

export const credentials = sqliteTable(
  'credentials',
  {
    id: text('id').primaryKey(),
    organisationId: organisationRef(),
    memberId: text('member_id')
      .notNull()
      .references(() => members.id),
    kind: text('kind', { enum: ['wiegand', 'raw'] }).notNull(),
    facilityCode: integer('facility_code'),
    cardNumber: integer('card_number'),
    rawId: text('raw_id'),
    key: text('key').notNull(),
    createdAt: createdAt(),
  },
  (t) => [uniqueIndex('credentials_org_key').on(t.organisationId, t.key), index('credentials_member').on(t.memberId)],
);

export const enrollmentCodes = sqliteTable(
  'enrollment_codes',
  {
    id: text('id').primaryKey(),
    organisationId: organisationRef(),
    siteId: text('site_id')
      .notNull()
      .references(() => sites.id),
    codeHash: text('code_hash').notNull(),
    expiresAt: integer('expires_at').notNull(),
    usedAt: integer('used_at'),
    deviceId: text('device_id'),
    createdAt: createdAt(),
  },
  (t) => [uniqueIndex('enrollment_codes_hash').on(t.codeHash)],
);

export const devices = sqliteTable(
  'devices',
  {
    id: text('id').primaryKey(),
    organisationId: organisationRef(),
    siteId: text('site_id')
      .notNull()
      .references(() => sites.id),
    name: text('name').notNull(),
    tokenHash: text('token_hash').notNull(),
    agentVersion: text('agent_version'),
    entitlementVersion: integer('entitlement_version'),
    entitlementHash: text('entitlement_hash'),
    lastSeenAt: integer('last_seen_at'),
    lastHeartbeatAt: integer('last_heartbeat_at'),
    uptimeSeconds: integer('uptime_seconds'),
    clockOffsetMs: integer('clock_offset_ms'),
    mqttConnected: integer('mqtt_connected', { mode: 'boolean' }),
    reconnectsLastHour: integer('reconnects_last_hour'),
    outboxPending: integer('outbox_pending'),
    gpioDriver: text('gpio_driver'),
    gpioSimulatedFallback: integer('gpio_simulated_fallback', { mode: 'boolean' }),
    /** The door's own broker password, as mosquitto's `$7$` PBKDF2-SHA512 hash (username = device id); null = enrolled before broker identities. */
    mqttPasswordHash: text('mqtt_password_hash'),
    createdAt: createdAt(),
    revokedAt: integer('revoked_at'),
  },
  (t) => [uniqueIndex('devices_token').on(t.tokenHash), index('devices_org').on(t.organisationId)],
);

/** Check-ins uploaded by the agents; `id` is the agent's event id, unique per device (uploads are idempotent). */
export const checkins = sqliteTable(
  'checkins',
  {
    id: text('id').notNull(),
    organisationId: organisationRef(),
    siteId: text('site_id')
      .notNull()
      .references(() => sites.id),
    doorId: text('door_id'),
    deviceId: text('device_id').notNull(),
    memberId: text('member_id'),
    credentialKey: text('credential_key'),
    granted: integer('granted', { mode: 'boolean' }).notNull(),
    reason: text('reason').notNull(),
    explanation: text('explanation').notNull(),
    usesPass: integer('uses_pass', { mode: 'boolean' }).notNull().default(false),
    occurredAt: integer('occurred_at').notNull(),
    receivedAt: integer('received_at').notNull(),
  },
  (t) => [
    // Scoped to the device: another door (or organisation) reusing an id can never suppress this one's event.
    primaryKey({ columns: [t.deviceId, t.id] }),
    index('checkins_org_time').on(t.organisationId, t.occurredAt),
    index('checkins_member_time').on(t.memberId, t.occurredAt),
  ],
);

/** Door sensor alarms uploaded by the agents; the id is the agent's event id, unique per device (uploads are idempotent). */
export const doorAlarms = sqliteTable(
  'door_alarms',
  {
    id: text('id').notNull(),
    organisationId: organisationRef(),
    siteId: text('site_id')
      .notNull()
      .references(() => sites.id),
    doorId: text('door_id'),
    deviceId: text('device_id').notNull(),
    type: text('type', { enum: DOOR_ALARM_TYPES }).notNull(),
    openForMs: integer('open_for_ms'),
    occurredAt: integer('occurred_at').notNull(),
    receivedAt: integer('received_at').notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.deviceId, t.id] }),
    index('door_alarms_org_time').on(t.organisationId, t.occurredAt),
    index('door_alarms_door_time').on(t.doorId, t.occurredAt),
  ],
);


export const bookings = sqliteTable(
  'bookings',
  {
    id: text('id').primaryKey(),
    organisationId: organisationRef(),
    memberId: text('member_id')
      .notNull()
      .references(() => members.id),
    doorGroup: text('door_group').notNull(),
    startsAt: integer('starts_at').notNull(),
    endsAt: integer('ends_at').notNull(),
    opensMinutesBefore: integer('opens_minutes_before').notNull(),
    createdAt: createdAt(),
  },
  (t) => [index('bookings_member').on(t.memberId, t.endsAt)],
);

/** Per-site change log: which records changed at which version, so doors can fetch deltas. */
export const entitlementChanges = sqliteTable(
  'entitlement_changes',
  {
    siteId: text('site_id')
      .notNull()
      .references(() => sites.id),
    version: integer('version').notNull(),
    kind: text('kind', { enum: ['site', 'door', 'profile', 'member', 'credential'] }).notNull(),
    entityId: text('entity_id').notNull(),
  },
  (t) => [primaryKey({ columns: [t.siteId, t.version, t.kind, t.entityId] })],
);

export const commands = sqliteTable(
  'commands',
  {
    id: text('id').primaryKey(),
    organisationId: organisationRef(),
    deviceId: text('device_id')
      .notNull()
      .references(() => devices.id),
    action: text('action', { mode: 'json' }).$type<CommandAction>().notNull(),
    nonce: text('nonce').notNull(),
    issuedAt: integer('issued_at').notNull(),
    expiresAt: integer('expires_at').notNull(),
    status: text('status', { enum: ['sent', 'publish_failed', 'executed', 'rejected'] }).notNull(),
    resultReason: text('result_reason'),
    resultDetail: text('result_detail'),
    ackedAt: integer('acked_at'),
  },
  (t) => [index('commands_device').on(t.deviceId, t.issuedAt)],
);

// ---------------------------------------------------------------------------------------------
// Membership billing (rules in core/billing; Worker side in edge/billing). Amounts are integers in
// the currency's minor unit; calendar dates are 'YYYY-MM-DD' in the subscription's time zone.

type TaxMode = 'inclusive' | 'exclusive';
type JsonValue = unknown;

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
  (t) => [index('subscriptions_org').on(t.organisationId, t.id), index('subscriptions_review').on(t.nextReviewAt), index('subscriptions_payer').on(t.payerId)],
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

/** DunningState per payer (core/billing/dunning.ts); its actions are not run yet. */
export const dunningStates = sqliteTable('dunning_states', {
  payerId: text('payer_id')
    .primaryKey()
    .references(() => members.id),
  organisationId: organisationRef(),
  state: text('state', { mode: 'json' }).$type<JsonValue>().notNull(),
  nextWakeAt: integer('next_wake_at'),
  version: integer('version').notNull().default(0),
  updatedAt: integer('updated_at').notNull(),
});

/** State of the simulated card processor (PAYMENT_PROVIDER=simulated): its SimulatedStore. */
export const simulatedProcessorRecords = sqliteTable('simulated_processor_records', {
  key: text('key').primaryKey(),
  value: text('value').notNull(),
});

// Member notifications (edge/notifications): one row per message and channel. The outbox is
// the only way a notice leaves: `deliverDue` claims a due row (queued, or `sending` past its
// claim), sends it and records the outcome, retrying with backoff until it is sent or failed.
export const NOTIFICATION_CHANNELS = ['email', 'sms'] as const;
export const NOTIFICATION_STATUSES = ['queued', 'sending', 'sent', 'failed'] as const;

export const notificationMessages = sqliteTable(
  'notification_messages',
  {
    id: text('id').primaryKey(),
    organisationId: organisationRef(),
    memberId: text('member_id').references(() => members.id),
    channel: text('channel', { enum: NOTIFICATION_CHANNELS }).notNull(),
    /** Email address, or phone number in E.164. */
    to: text('to_address').notNull(),
    /** A NoticeTemplate (edge/notifications/templates.ts). */
    template: text('template').notNull(),
    locale: text('locale', { enum: ['en', 'th'] }).notNull(),
    payload: text('payload', { mode: 'json' }).$type<Record<string, unknown>>().notNull(),
    status: text('status', { enum: NOTIFICATION_STATUSES }).notNull(),
    /** Send attempts started (a claim counts as one). */
    attempts: integer('attempts').notNull().default(0),
    /** When a queued message is due. */
    nextAttemptAt: integer('next_attempt_at').notNull(),
    /** While `sending`: the claim's owner and when it lapses (a crashed deliverer's row is taken over). */
    claimToken: text('claim_token'),
    claimedUntil: integer('claimed_until'),
    lastError: text('last_error'),
    provider: text('provider'),
    providerMessageId: text('provider_message_id'),
    /** Set by the caller so that enqueueing the same notice twice writes it once per channel. */
    dedupeKey: text('dedupe_key'),
    createdAt: createdAt(),
    sentAt: integer('sent_at'),
    updatedAt: integer('updated_at').notNull(),
  },
  (t) => [
    index('notification_messages_due').on(t.status, t.nextAttemptAt),
    index('notification_messages_member').on(t.organisationId, t.memberId, t.id),
    uniqueIndex('notification_messages_dedupe').on(t.organisationId, t.dedupeKey, t.channel),
  ],
);

/** What the dev transports (EMAIL_PROVIDER / SMS_PROVIDER = dev) "sent": shown at GET /dev/mailbox. */
export const devMailbox = sqliteTable(
  'dev_mailbox',
  {
    id: text('id').primaryKey(),
    messageId: text('message_id').notNull(),
    channel: text('channel', { enum: NOTIFICATION_CHANNELS }).notNull(),
    to: text('to_address').notNull(),
    subject: text('subject'),
    text: text('text').notNull(),
    html: text('html'),
    createdAt: createdAt(),
  },
  (t) => [index('dev_mailbox_created').on(t.createdAt)],
);

// Dunning (edge/dunning): each organisation's policy, the log of what dunning did (notes, cases,
// recoveries, end of line; the metrics are counted from it), invoices handed to collections, and
// the single-invoice links of pay-now notices.
export const dunningPolicies = sqliteTable('dunning_policies', {
  organisationId: text('organisation_id')
    .primaryKey()
    .references(() => organisations.id),
  /** A DunningPolicy (core/billing/dunning.ts), complete. */
  policy: text('policy', { mode: 'json' }).$type<JsonValue>().notNull(),
  /** Origin members' pay-now and card links point to, e.g. https://pay.gym.example (null: the Worker's PUBLIC_BASE_URL). */
  payLinkBase: text('pay_link_base'),
  updatedAt: integer('updated_at').notNull(),
});

export const DUNNING_LOG_TYPES = ['case_opened', 'retry', 'recovered', 'suspended', 'restored', 'end_of_line', 'paused', 'resumed', 'excluded', 'included'] as const;

export const dunningLog = sqliteTable(
  'dunning_log',
  {
    id: text('id').primaryKey(),
    organisationId: organisationRef(),
    payerId: text('payer_id')
      .notNull()
      .references(() => members.id),
    type: text('type', { enum: DUNNING_LOG_TYPES }).notNull(),
    invoiceNumber: text('invoice_number'),
    /** Minor units: owed when a case opens, recovered when it closes. */
    amount: integer('amount'),
    currency: text('currency'),
    detail: text('detail'),
    /** Staff note (pause, exclusion). */
    note: text('note'),
    at: integer('at').notNull(),
  },
  (t) => [index('dunning_log_org_at').on(t.organisationId, t.at), index('dunning_log_payer').on(t.payerId, t.at)],
);

export const dunningCollections = sqliteTable(
  'dunning_collections',
  {
    id: text('id').primaryKey(),
    organisationId: organisationRef(),
    payerId: text('payer_id')
      .notNull()
      .references(() => members.id),
    invoiceId: text('invoice_id').notNull(),
    invoiceNumber: text('invoice_number'),
    amount: integer('amount').notNull(),
    currency: text('currency').notNull(),
    createdAt: createdAt(),
  },
  (t) => [uniqueIndex('dunning_collections_invoice').on(t.invoiceId), index('dunning_collections_org').on(t.organisationId, t.createdAt)],
);

export const dunningPayLinks = sqliteTable(
  'dunning_pay_links',
  {
    /** SHA-256 (hex) of the random token in the link; the token itself is not stored. */
    tokenHash: text('token_hash').primaryKey(),
    organisationId: organisationRef(),
    memberId: text('member_id')
      .notNull()
      .references(() => members.id),
    invoiceId: text('invoice_id').notNull(),
    expiresAt: integer('expires_at').notNull(),
    usedAt: integer('used_at'),
    createdAt: createdAt(),
  },
  (t) => [index('dunning_pay_links_invoice').on(t.invoiceId)],
);

/** Links of card notices (/card/{token}): one member adds or replaces the card billing charges. */
export const cardUpdateLinks = sqliteTable(
  'card_update_links',
  {
    /** SHA-256 (hex) of the random token in the link; the token itself is not stored. */
    tokenHash: text('token_hash').primaryKey(),
    organisationId: organisationRef(),
    memberId: text('member_id')
      .notNull()
      .references(() => members.id),
    expiresAt: integer('expires_at').notNull(),
    /** When a card was saved through the link; it is then used up. */
    usedAt: integer('used_at'),
    createdAt: createdAt(),
  },
  (t) => [index('card_update_links_member').on(t.memberId)],
);
