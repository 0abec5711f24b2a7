// The payments seam used by gymgate billing. Billing talks only to a PaymentProvider; two exist:
// - `stripe` (./stripe.ts): the real processor, through the official Stripe SDK;
// - `simulated` (./simulated.ts): a simulation of a card processor for local runs and demos. It
//   never moves money and must not be configured for a live organisation.
//
// Amounts are integers in the currency's minor unit (satang for THB, cents for USD), currencies
// are lowercase ISO 4217 codes, and every money-moving call takes an idempotency key chosen by
// the caller (one per attempt), so a retried call never charges or refunds twice.

export type ProviderName = 'stripe' | 'simulated';

export interface EnsureCustomerInput {
  memberId: string;
  email?: string | null;
  name?: string | null;
  /** The processor's customer id already stored for this member, if any. */
  existingCustomerId?: string | null;
  organisationId?: string;
}

export interface CustomerRef {
  customerId: string;
  /** True when a new customer was created by this call. */
  created: boolean;
}

export interface StartCardSetupInput {
  customerId: string;
  /**
   * Where the member lands afterwards. Checkout redirects there on success; for a SetupIntent the
   * card page passes it to Stripe.js (`confirmSetup({ return_url })`) for 3-D Secure redirects.
   */
  returnUrl: string;
  /** 'setup_intent' (default) for an embedded card form, 'checkout' for Stripe's hosted page. */
  flow?: 'setup_intent' | 'checkout';
  /** Checkout only: where "back" goes; defaults to returnUrl. */
  cancelUrl?: string;
  /** Checkout in setup mode may need the currency the card will be charged in. */
  currency?: string;
  memberId?: string;
  organisationId?: string;
  /** Optional; without it every call starts a new setup. */
  idempotencyKey?: string;
}

export type CardSetup =
  | { kind: 'setup_intent'; id: string; clientSecret: string }
  | { kind: 'checkout'; id: string; url: string };

/** Stored on every payment intent gymgate creates; webhooks use it to find the invoice. */
export interface ChargeMetadata {
  invoiceId: string;
  organisationId: string;
  /** 1 for the first collection attempt of an invoice, 2 for the first retry, … */
  attempt: number;
}

export interface ChargeOffSessionInput {
  customerId: string;
  paymentMethodId: string;
  /** Integer, minor units. */
  amount: number;
  currency: string;
  /** One per attempt (e.g. `inv_123:attempt:2`): a retry of the same attempt reuses it. */
  idempotencyKey: string;
  description: string;
  metadata: ChargeMetadata;
}

export type ChargeStatus = 'succeeded' | 'processing' | 'requires_action' | 'failed';

/**
 * How a failed charge may be followed up (see ./declines.ts for the codes in each class):
 * - 'soft': the issuer may approve later; retry the same card on the dunning schedule.
 * - 'card_update': the card details are unusable (expired, wrong number, …); do not retry until
 *   the member (or the card network's account updater) supplies new details.
 * - 'hard': the issuer said never to retry this card (lost, stolen, pick-up, fraud, revoked, …).
 */
export type DeclineCategory = 'soft' | 'card_update' | 'hard';

export interface ChargeOutcome {
  status: ChargeStatus;
  paymentIntentId: string;
  chargeId?: string;
  /** The issuer's decline code when there is one, else the processor's error code. */
  declineCode?: string;
  /** The processor's error code (`card_declined`, `expired_card`, `authentication_required`, …). */
  failureCode?: string;
  failureMessage?: string;
  /** Set when status is 'failed'. */
  declineCategory?: DeclineCategory;
  /** True only for 'hard' declines: never charge this card again. */
  hardDecline: boolean;
  /** For 'requires_action': lets the member authenticate the same payment on-session. */
  clientSecret?: string;
}

export interface RefundInput {
  paymentIntentId: string;
  /** Integer, minor units; at most what is left unrefunded. */
  amount: number;
  idempotencyKey: string;
  reason?: 'duplicate' | 'fraudulent' | 'requested_by_customer';
}

export interface RefundResult {
  refundId: string;
  status: 'pending' | 'succeeded' | 'failed' | 'requires_action' | 'canceled';
  amount: number;
}

export type PayNowMethods = ['card'] | ['promptpay'];

export interface PayNowInput {
  amount: number;
  currency: string;
  idempotencyKey: string;
  metadata: { invoiceId: string; organisationId: string; attempt?: number };
  /** PromptPay is only offered for THB. */
  paymentMethodTypes: PayNowMethods;
  customerId?: string;
  description?: string;
}

export interface PayNowPayment {
  paymentIntentId: string;
  clientSecret: string;
}

export interface PaymentProvider {
  readonly name: ProviderName;
  /** One line for logs and the admin UI; the simulated provider says it is a simulation. */
  readonly description: string;
  ensureCustomer(input: EnsureCustomerInput): Promise<CustomerRef>;
  startCardSetup(input: StartCardSetupInput): Promise<CardSetup>;
  chargeOffSession(input: ChargeOffSessionInput): Promise<ChargeOutcome>;
  refund(input: RefundInput): Promise<RefundResult>;
  createPayNowPayment(input: PayNowInput): Promise<PayNowPayment>;
  /** Brand, last four digits and expiry of a saved card, for staff and expiry reminders; null when it is not a card. */
  describeCard?(paymentMethodId: string): Promise<CardSummary | null>;
  /**
   * Several off-session charges at once, each answered like chargeOffSession (in input order). A
   * processor that can do them in fewer round trips implements it (the billing run's pages use it).
   */
  chargeOffSessionMany?(inputs: ChargeOffSessionInput[]): Promise<PromiseSettledResult<ChargeOutcome>[]>;
}

export interface CardSummary {
  brand: string;
  last4: string;
  expMonth: number | null;
  expYear: number | null;
}

// ---------------------------------------------------------------------------------------------
// Errors

/**
 * - network: the request may or may not have reached the processor (retry with the same key).
 * - unavailable: the processor answered 5xx.
 * - rate_limited: 429 or the processor's rate limit code.
 * - conflict: another request with the same idempotency key is still running (409).
 * - idempotency_conflict: the key was used before with different parameters (a caller bug).
 * - invalid_request / not_found / card_error / unsupported: the request can never succeed as is.
 * - authentication / configuration: keys or account set-up are wrong.
 */
export type PaymentErrorKind =
  | 'network'
  | 'unavailable'
  | 'rate_limited'
  | 'conflict'
  | 'idempotency_conflict'
  | 'invalid_request'
  | 'not_found'
  | 'card_error'
  | 'unsupported'
  | 'authentication'
  | 'configuration'
  | 'unknown';

const RETRYABLE: ReadonlySet<PaymentErrorKind> = new Set(['network', 'unavailable', 'rate_limited', 'conflict']);

export class PaymentProviderError extends Error {
  override readonly name = 'PaymentProviderError';
  readonly kind: PaymentErrorKind;
  /** Safe to try again later with the same idempotency key. */
  readonly retryable: boolean;
  readonly provider: ProviderName;
  /** The processor's error code, e.g. `resource_missing`, `amount_too_small`. */
  readonly code: string | undefined;
  readonly statusCode: number | undefined;
  /** The processor's request id, for support tickets. */
  readonly requestId: string | undefined;

  constructor(
    provider: ProviderName,
    kind: PaymentErrorKind,
    message: string,
    details: { code?: string | undefined; statusCode?: number | undefined; requestId?: string | undefined; secrets?: readonly (string | undefined)[] } = {},
  ) {
    super(redactSecrets(message, details.secrets));
    this.provider = provider;
    this.kind = kind;
    this.retryable = RETRYABLE.has(kind);
    this.code = details.code;
    this.statusCode = details.statusCode;
    this.requestId = details.requestId;
  }

  toJSON() {
    return { name: this.name, kind: this.kind, retryable: this.retryable, provider: this.provider, code: this.code, statusCode: this.statusCode, requestId: this.requestId, message: this.message };
  }
}

export function isPaymentProviderError(error: unknown): error is PaymentProviderError {
  return error instanceof PaymentProviderError;
}

const KEY_PATTERN = /\b(?:sk|rk|pk)_(?:test|live)_[A-Za-z0-9]+|\bwhsec_[A-Za-z0-9+/=]+/g;

/** Removes API keys and webhook secrets (the given ones and anything shaped like one). */
export function redactSecrets(message: string, secrets: readonly (string | undefined)[] = []): string {
  let out = message;
  for (const secret of secrets) if (secret && secret.length >= 8) out = out.split(secret).join('[redacted]');
  return out.replace(KEY_PATTERN, (m) => `${m.slice(0, m.indexOf('_', 3) + 1)}[redacted]`);
}

// ---------------------------------------------------------------------------------------------
// Input checks shared by every provider, so the simulation refuses what Stripe would refuse.

export function checkAmount(provider: ProviderName, amount: number, what = 'amount'): void {
  if (!Number.isSafeInteger(amount) || amount <= 0) {
    throw new PaymentProviderError(provider, 'invalid_request', `${what} must be a positive integer in minor units (got ${amount})`, { code: 'parameter_invalid_integer' });
  }
}

export function normaliseCurrency(provider: ProviderName, currency: string): string {
  const c = currency.trim().toLowerCase();
  if (!/^[a-z]{3}$/.test(c)) throw new PaymentProviderError(provider, 'invalid_request', `currency must be a 3-letter ISO 4217 code (got "${currency}")`, { code: 'invalid_currency' });
  return c;
}

export function checkIdempotencyKey(provider: ProviderName, key: string): void {
  if (typeof key !== 'string' || key.length === 0 || key.length > 255) {
    throw new PaymentProviderError(provider, 'invalid_request', 'idempotencyKey must be 1 to 255 characters', { code: 'idempotency_key_invalid' });
  }
}

/** Validates a pay-now request; returns the normalised currency. */
export function checkPayNow(provider: ProviderName, input: PayNowInput): string {
  checkAmount(provider, input.amount);
  checkIdempotencyKey(provider, input.idempotencyKey);
  const currency = normaliseCurrency(provider, input.currency);
  const types: readonly string[] = input.paymentMethodTypes;
  if (types.length !== 1 || (types[0] !== 'card' && types[0] !== 'promptpay')) {
    throw new PaymentProviderError(provider, 'unsupported', `paymentMethodTypes must be ['card'] or ['promptpay'] (got ${JSON.stringify(types)})`, { code: 'payment_method_unsupported_type' });
  }
  if (types[0] === 'promptpay' && currency !== 'thb') {
    throw new PaymentProviderError(provider, 'unsupported', `PromptPay only accepts THB; this payment is in ${currency.toUpperCase()}`, { code: 'payment_method_currency_mismatch' });
  }
  return currency;
}

export function checkCharge(provider: ProviderName, input: ChargeOffSessionInput): string {
  checkAmount(provider, input.amount);
  checkIdempotencyKey(provider, input.idempotencyKey);
  if (!Number.isSafeInteger(input.metadata.attempt) || input.metadata.attempt < 1) {
    throw new PaymentProviderError(provider, 'invalid_request', 'metadata.attempt must be a positive integer', { code: 'parameter_invalid_integer' });
  }
  return normaliseCurrency(provider, input.currency);
}

export function checkRefund(provider: ProviderName, input: RefundInput): void {
  checkAmount(provider, input.amount);
  checkIdempotencyKey(provider, input.idempotencyKey);
}
