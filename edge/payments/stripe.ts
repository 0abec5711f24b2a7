// PaymentProvider backed by Stripe through the official SDK. Workers have no Node http module, so
// the SDK sends requests with fetch (Stripe.createFetchHttpClient()).
//
// Secrets and settings (wrangler secrets / vars):
// - STRIPE_SECRET_KEY: sk_live_… or sk_test_… (or a restricted rk_ key).
// - STRIPE_API_BASE (optional): another API origin, e.g. http://127.0.0.1:12111 for a local fake.
import Stripe from 'stripe';
import { ownerMetadata, paymentMetadata } from './metadata.ts';
import { outcomeFromSnapshot } from './outcome.ts';
import {
  checkCharge,
  checkIdempotencyKey,
  checkPayNow,
  checkRefund,
  PaymentProviderError,
  type CardSetup,
  type CardSummary,
  type ChargeOffSessionInput,
  type ChargeOutcome,
  type CustomerRef,
  type EnsureCustomerInput,
  type PaymentErrorKind,
  type PaymentProvider,
  type PayNowInput,
  type PayNowPayment,
  type RefundInput,
  type RefundResult,
  type StartCardSetupInput,
} from './provider.ts';

export interface StripeProviderConfig {
  secretKey: string;
  /** API host; defaults to api.stripe.com. */
  host?: string;
  port?: number | string;
  protocol?: 'http' | 'https';
  /** Retries of network errors, 409 and 5xx inside one call (same idempotency key). SDK default: 2. */
  maxNetworkRetries?: number;
  timeoutMs?: number;
}

export type StripeEnv = { STRIPE_SECRET_KEY?: string | undefined; STRIPE_API_BASE?: string | undefined };

/** Builds the adapter's config from Worker bindings; throws a configuration error without a key. */
export function stripeConfigFromEnv(env: StripeEnv): StripeProviderConfig {
  const secretKey = env.STRIPE_SECRET_KEY?.trim();
  if (!secretKey) throw new PaymentProviderError('stripe', 'configuration', 'STRIPE_SECRET_KEY is not set');
  return { secretKey, ...(env.STRIPE_API_BASE ? parseApiBase(env.STRIPE_API_BASE) : {}) };
}

/** `http://127.0.0.1:12111` → { protocol: 'http', host: '127.0.0.1', port: 12111 }. */
export function parseApiBase(base: string): { host: string; port: number; protocol: 'http' | 'https' } {
  let url: URL;
  try {
    url = new URL(base);
  } catch {
    throw new PaymentProviderError('stripe', 'configuration', 'STRIPE_API_BASE must be an absolute http(s) URL');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new PaymentProviderError('stripe', 'configuration', 'STRIPE_API_BASE must be an http or https URL');
  }
  const protocol = url.protocol === 'http:' ? 'http' : 'https';
  return { host: url.hostname, port: url.port ? Number(url.port) : protocol === 'http' ? 80 : 443, protocol };
}

function checkedSecretKey(config: StripeProviderConfig): string {
  const secretKey = config.secretKey?.trim();
  if (!secretKey || !/^(sk|rk)_(test|live)_/.test(secretKey)) {
    throw new PaymentProviderError('stripe', 'configuration', 'the Stripe secret key must be an sk_ or rk_ key');
  }
  return secretKey;
}

function stripeClient(secretKey: string, config: StripeProviderConfig): Stripe {
  return new Stripe(secretKey, {
    httpClient: Stripe.createFetchHttpClient(),
    ...(config.host ? { host: config.host } : {}),
    ...(config.port !== undefined ? { port: config.port } : {}),
    ...(config.protocol ? { protocol: config.protocol } : {}),
    ...(config.maxNetworkRetries !== undefined ? { maxNetworkRetries: config.maxNetworkRetries } : {}),
    ...(config.timeoutMs !== undefined ? { timeout: config.timeoutMs } : {}),
    telemetry: false,
    appInfo: { name: 'gymgate' },
  });
}

/**
 * The pay-now page coming back to a payment it started: the intent's client secret (to mount the
 * Payment Element again) and its state (the return page's outcome). Retrieved rather than created
 * again, because Stripe forgets idempotency keys after a day and a link lives longer.
 */
export async function retrieveStripePayNow(config: StripeProviderConfig, paymentIntentId: string): Promise<PayNowPayment & { outcome: ChargeOutcome | null }> {
  const secretKey = checkedSecretKey(config);
  try {
    const intent = await stripeClient(secretKey, config).paymentIntents.retrieve(paymentIntentId);
    if (!intent.client_secret) throw new PaymentProviderError('stripe', 'unknown', `payment intent ${intent.id} has no client secret`);
    // Not tried yet (no payment method, no error): no outcome to show.
    const untried = (intent.status === 'requires_payment_method' || intent.status === 'requires_confirmation') && !intent.last_payment_error;
    return { paymentIntentId: intent.id, clientSecret: intent.client_secret, outcome: untried ? null : outcomeFromIntent(intent) };
  } catch (error) {
    throw toProviderError(error, [secretKey]);
  }
}

/** A SetupIntent as the update-card page needs it: whose it is, its state, and the card it saved. */
export type StripeCardSetupState = {
  setupIntentId: string;
  clientSecret: string;
  customerId: string | null;
  status: 'pending' | 'processing' | 'succeeded' | 'failed';
  paymentMethodId: string | null;
  /** Why the last try failed, in Stripe's words (a decline at setup, failed authentication). */
  failureMessage: string | null;
};

/** The update-card page coming back to a setup: retrieved, not created again (see retrieveStripePayNow). */
export async function retrieveStripeCardSetup(config: StripeProviderConfig, setupIntentId: string): Promise<StripeCardSetupState> {
  const secretKey = checkedSecretKey(config);
  try {
    const intent = await stripeClient(secretKey, config).setupIntents.retrieve(setupIntentId);
    if (!intent.client_secret) throw new PaymentProviderError('stripe', 'unknown', `setup intent ${intent.id} has no client secret`);
    const error = intent.last_setup_error;
    const status =
      intent.status === 'succeeded' ? 'succeeded' : intent.status === 'processing' ? 'processing' : intent.status === 'requires_payment_method' && error ? 'failed' : 'pending';
    return {
      setupIntentId: intent.id,
      clientSecret: intent.client_secret,
      customerId: typeof intent.customer === 'string' ? intent.customer : (intent.customer?.id ?? null),
      status,
      paymentMethodId: typeof intent.payment_method === 'string' ? intent.payment_method : (intent.payment_method?.id ?? null),
      failureMessage: error?.message ?? null,
    };
  } catch (error) {
    throw toProviderError(error, [secretKey]);
  }
}

export function createStripeProvider(config: StripeProviderConfig): PaymentProvider {
  const secretKey = checkedSecretKey(config);
  const stripe = stripeClient(secretKey, config);
  const live = secretKey.includes('_live_');
  const fail = (error: unknown): never => {
    throw toProviderError(error, [secretKey]);
  };

  return {
    name: 'stripe',
    description: live ? 'Stripe (live mode)' : 'Stripe (test mode)',

    async ensureCustomer(input: EnsureCustomerInput): Promise<CustomerRef> {
      const email = input.email ?? undefined;
      const name = input.name ?? undefined;
      if (input.existingCustomerId) {
        try {
          const existing = await stripe.customers.retrieve(input.existingCustomerId);
          if (!existing.deleted) {
            const changes: Stripe.CustomerUpdateParams = {};
            if (email !== undefined && existing.email !== email) changes.email = email;
            if (name !== undefined && existing.name !== name) changes.name = name;
            if (Object.keys(changes).length > 0) await stripe.customers.update(existing.id, changes);
            return { customerId: existing.id, created: false };
          }
        } catch (error) {
          const mapped = toProviderError(error, [secretKey]);
          if (mapped.kind !== 'not_found') throw mapped;
        }
      }
      const params: Stripe.CustomerCreateParams = {
        ...(email !== undefined ? { email } : {}),
        ...(name !== undefined ? { name } : {}),
        metadata: ownerMetadata({ memberId: input.memberId, organisationId: input.organisationId }),
      };
      // Deterministic key: a retry after a lost response returns the same customer instead of a
      // duplicate. It covers the parameters, so changed details or a replaced customer get a new key.
      const idempotencyKey = `gymgate-customer-${input.memberId}-${await shortHash(JSON.stringify([params, input.existingCustomerId ?? null]))}`;
      try {
        const customer = await stripe.customers.create(params, { idempotencyKey });
        return { customerId: customer.id, created: true };
      } catch (error) {
        return fail(error);
      }
    },

    async startCardSetup(input: StartCardSetupInput): Promise<CardSetup> {
      if (input.idempotencyKey !== undefined) checkIdempotencyKey('stripe', input.idempotencyKey);
      const options = input.idempotencyKey ? { idempotencyKey: input.idempotencyKey } : undefined;
      const metadata = ownerMetadata({ memberId: input.memberId, organisationId: input.organisationId });
      try {
        if (input.flow === 'checkout') {
          const session = await stripe.checkout.sessions.create(
            {
              mode: 'setup',
              customer: input.customerId,
              allowed_payment_method_types: ['card'],
              ...(input.currency ? { currency: input.currency.toLowerCase() } : {}),
              success_url: input.returnUrl,
              cancel_url: input.cancelUrl ?? input.returnUrl,
              metadata,
              setup_intent_data: { metadata },
            },
            options,
          );
          if (!session.url) throw new PaymentProviderError('stripe', 'unknown', `checkout session ${session.id} has no URL`);
          return { kind: 'checkout', id: session.id, url: session.url };
        }
        const intent = await stripe.setupIntents.create(
          { customer: input.customerId, usage: 'off_session', allowed_payment_method_types: ['card'], metadata },
          options,
        );
        if (!intent.client_secret) throw new PaymentProviderError('stripe', 'unknown', `setup intent ${intent.id} has no client secret`);
        return { kind: 'setup_intent', id: intent.id, clientSecret: intent.client_secret };
      } catch (error) {
        return fail(error);
      }
    },

    async chargeOffSession(input: ChargeOffSessionInput): Promise<ChargeOutcome> {
      const currency = checkCharge('stripe', input);
      try {
        const intent = await stripe.paymentIntents.create(
          {
            amount: input.amount,
            currency,
            customer: input.customerId,
            payment_method: input.paymentMethodId,
            allowed_payment_method_types: ['card'],
            confirm: true,
            off_session: true,
            description: input.description,
            metadata: paymentMetadata('off_session', input.metadata),
          },
          { idempotencyKey: input.idempotencyKey },
        );
        return outcomeFromIntent(intent);
      } catch (error) {
        // A declined off-session confirmation answers 402 with the failed intent attached.
        if (isStripeError(error) && error.type === 'StripeCardError' && error.payment_intent) {
          return outcomeFromIntent(error.payment_intent, error);
        }
        return fail(error);
      }
    },

    async describeCard(paymentMethodId: string): Promise<CardSummary | null> {
      try {
        const pm = await stripe.paymentMethods.retrieve(paymentMethodId);
        if (!pm.card) return null;
        return { brand: pm.card.brand, last4: pm.card.last4, expMonth: pm.card.exp_month ?? null, expYear: pm.card.exp_year ?? null };
      } catch (error) {
        return fail(error);
      }
    },

    async refund(input: RefundInput): Promise<RefundResult> {
      checkRefund('stripe', input);
      try {
        const refund = await stripe.refunds.create(
          { payment_intent: input.paymentIntentId, amount: input.amount, ...(input.reason ? { reason: input.reason } : {}) },
          { idempotencyKey: input.idempotencyKey },
        );
        return { refundId: refund.id, status: refundStatus(refund.status), amount: refund.amount };
      } catch (error) {
        return fail(error);
      }
    },

    async createPayNowPayment(input: PayNowInput): Promise<PayNowPayment> {
      const currency = checkPayNow('stripe', input);
      try {
        const intent = await stripe.paymentIntents.create(
          {
            amount: input.amount,
            currency,
            allowed_payment_method_types: [...input.paymentMethodTypes],
            ...(input.customerId ? { customer: input.customerId } : {}),
            ...(input.description ? { description: input.description } : {}),
            metadata: paymentMetadata('pay_now', input.metadata),
          },
          { idempotencyKey: input.idempotencyKey },
        );
        if (!intent.client_secret) throw new PaymentProviderError('stripe', 'unknown', `payment intent ${intent.id} has no client secret`);
        return { paymentIntentId: intent.id, clientSecret: intent.client_secret };
      } catch (error) {
        return fail(error);
      }
    },
  };
}

type AnyStripeError = Stripe.errors.StripeError;

function isStripeError(error: unknown): error is AnyStripeError {
  const type: unknown = error instanceof Error ? (error as { type?: unknown }).type : undefined;
  return typeof type === 'string' && type.startsWith('Stripe');
}

function refundStatus(status: string | null): RefundResult['status'] {
  switch (status) {
    case 'succeeded':
    case 'failed':
    case 'requires_action':
    case 'canceled':
      return status;
    default:
      return 'pending';
  }
}

/** Maps a payment intent (and the card error that came with it, if any) to a ChargeOutcome. */
export function outcomeFromIntent(intent: Stripe.PaymentIntent, cardError?: AnyStripeError): ChargeOutcome {
  const latest = intent.latest_charge;
  const last = intent.last_payment_error;
  return outcomeFromSnapshot({
    id: intent.id,
    status: intent.status,
    chargeId: typeof latest === 'string' ? latest : (latest?.id ?? cardError?.charge),
    clientSecret: intent.client_secret,
    error: {
      code: cardError?.code || last?.code,
      declineCode: cardError?.decline_code || last?.decline_code,
      message: cardError?.message || last?.message,
      adviceCode: cardError?.advice_code || last?.advice_code,
      networkAdviceCode: cardError?.network_advice_code || last?.network_advice_code,
    },
  });
}

/** Turns anything the SDK throws into a PaymentProviderError whose message holds no secret. */
export function toProviderError(error: unknown, secrets: readonly string[] = []): PaymentProviderError {
  if (error instanceof PaymentProviderError) return error;
  if (!isStripeError(error)) {
    const message = error instanceof Error ? error.message : String(error);
    return new PaymentProviderError('stripe', 'unknown', `Stripe call failed: ${message}`, { secrets });
  }
  const status = error.statusCode;
  let kind: PaymentErrorKind;
  switch (error.type) {
    case 'StripeConnectionError':
      kind = 'network';
      break;
    case 'StripeRateLimitError':
      kind = 'rate_limited';
      break;
    case 'StripeIdempotencyError':
      kind = 'idempotency_conflict';
      break;
    case 'StripeAuthenticationError':
      kind = 'authentication';
      break;
    case 'StripePermissionError':
      kind = 'configuration';
      break;
    case 'StripeCardError':
      kind = 'card_error';
      break;
    default:
      if (status === 409) kind = 'conflict';
      else if (status === 429) kind = 'rate_limited';
      else if (status === undefined || status >= 500) kind = 'unavailable';
      else if (error.code === 'resource_missing' || status === 404) kind = 'not_found';
      else kind = 'invalid_request';
  }
  const what = error.message || error.type;
  return new PaymentProviderError('stripe', kind, `Stripe ${status ?? 'request'} error: ${what}`, {
    code: error.code,
    statusCode: status,
    requestId: error.requestId,
    secrets,
  });
}

async function shortHash(text: string): Promise<string> {
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(text));
  return [...new Uint8Array(digest).slice(0, 8)].map((b) => b.toString(16).padStart(2, '0')).join('');
}
