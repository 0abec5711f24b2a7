// The Stripe adapter through the real SDK against the fake Stripe API: what goes over the wire,
// how errors are classified, and that the secret key never shows in an error.
import { describe, expect, it } from 'vitest';
import { createPaymentProvider } from '../../edge/payments/index.ts';
import { PaymentProviderError, redactSecrets } from '../../edge/payments/provider.ts';
import { createMemorySimulatedStore } from '../../edge/payments/simulated.ts';
import { createStripeProvider, parseApiBase, stripeConfigFromEnv } from '../../edge/payments/stripe.ts';
import { classifyDecline } from '../../edge/payments/declines.ts';
import { fakeRequests, fakeStripeUrl, injectFault, newTestKey, stripeProviderFor } from './stripe-fake/harness.ts';

async function caught(promise: Promise<unknown>): Promise<PaymentProviderError> {
  const error = await promise.then(
    () => {
      throw new Error('expected an error');
    },
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(PaymentProviderError);
  return error as PaymentProviderError;
}

const chargeInput = (customerId: string, paymentMethodId: string, key = `inv_${crypto.randomUUID()}:attempt:2`) => ({
  customerId,
  paymentMethodId,
  amount: 99_900,
  currency: 'THB',
  idempotencyKey: key,
  description: 'Membership March',
  metadata: { invoiceId: 'inv_42', organisationId: 'org_7', attempt: 2 },
});

describe('Stripe adapter on the wire', () => {
  it('sends the secret key as a bearer token, the pinned API version and form-encoded parameters', async () => {
    const key = newTestKey('wire');
    const stripe = stripeProviderFor(key);
    const { customerId } = await stripe.ensureCustomer({ memberId: 'mem_1', email: 'a@example.com', name: 'A', organisationId: 'org_7' });
    const input = chargeInput(customerId, 'pm_card_visa');
    const outcome = await stripe.chargeOffSession(input);
    expect(outcome.status).toBe('succeeded');

    const requests = await fakeRequests(key);
    const create = requests.find((r) => r.path === '/v1/customers')!;
    expect(create.params).toEqual({ email: 'a@example.com', name: 'A', metadata: { gymgate_member_id: 'mem_1', gymgate_organisation_id: 'org_7' } });
    expect(create.idempotencyKey).toMatch(/^gymgate-customer-mem_1-[0-9a-f]{16}$/);
    expect(create.stripeVersion).toMatch(/^\d{4}-\d{2}-\d{2}\./);

    const pi = requests.find((r) => r.path === '/v1/payment_intents')!;
    expect(pi.method).toBe('POST');
    expect(pi.idempotencyKey).toBe(input.idempotencyKey);
    expect(pi.params).toEqual({
      amount: '99900',
      currency: 'thb',
      customer: customerId,
      payment_method: 'pm_card_visa',
      allowed_payment_method_types: ['card'],
      confirm: 'true',
      off_session: 'true',
      description: 'Membership March',
      metadata: { gymgate_organisation_id: 'org_7', gymgate_invoice_id: 'inv_42', gymgate_flow: 'off_session', gymgate_attempt: '2' },
    });
  });

  it('replays the stored response for a retried attempt instead of creating a second payment intent', async () => {
    const key = newTestKey('replay');
    const stripe = stripeProviderFor(key);
    const { customerId } = await stripe.ensureCustomer({ memberId: 'mem_1' });
    const input = chargeInput(customerId, 'pm_card_chargeDeclinedLostCard');
    const first = await stripe.chargeOffSession(input);
    const second = await stripe.chargeOffSession(input);
    expect(second).toEqual(first);
    expect(first).toMatchObject({ status: 'failed', declineCode: 'lost_card', failureCode: 'card_declined', hardDecline: true, declineCategory: 'hard' });
    const attempts = (await fakeRequests(key)).filter((r) => r.path === '/v1/payment_intents');
    expect(attempts.map((r) => [r.status, r.replayed])).toEqual([
      [402, false],
      [402, true],
    ]);
  });

  it('retries a 5xx inside the SDK with the same idempotency key when retries are enabled', async () => {
    const key = newTestKey('retry');
    const stripe = stripeProviderFor(key, { maxNetworkRetries: 1 });
    const { customerId } = await stripe.ensureCustomer({ memberId: 'mem_1' });
    await injectFault(key, { path: '/v1/payment_intents', status: 500, headers: { 'stripe-should-retry': 'true' } });
    const input = chargeInput(customerId, 'pm_card_visa');
    expect((await stripe.chargeOffSession(input)).status).toBe('succeeded');
    const attempts = (await fakeRequests(key)).filter((r) => r.path === '/v1/payment_intents');
    expect(attempts.map((r) => r.status)).toEqual([500, 200]);
    expect(new Set(attempts.map((r) => r.idempotencyKey))).toEqual(new Set([input.idempotencyKey]));
  });

  it.each([
    { fault: { status: 500 }, kind: 'unavailable', retryable: true },
    { fault: { status: 503 }, kind: 'unavailable', retryable: true },
    { fault: { status: 429, error: { type: 'invalid_request_error', code: 'rate_limit', message: 'Too many requests hit the API too quickly.' } }, kind: 'rate_limited', retryable: true },
    { fault: { status: 409, error: { type: 'invalid_request_error', code: 'idempotency_key_in_use', message: 'There is currently another in-progress request using this Idempotent Key.' } }, kind: 'conflict', retryable: true },
    { fault: { status: 0, mode: 'reset' as const }, kind: 'network', retryable: true },
    { fault: { status: 403, error: { type: 'invalid_request_error', message: 'The provided key does not have the required permissions.' } }, kind: 'configuration', retryable: false },
    { fault: { status: 400, error: { type: 'invalid_request_error', code: 'parameter_unknown', message: 'Received unknown parameter: foo' } }, kind: 'invalid_request', retryable: false },
  ])('classifies HTTP $fault.status $fault.mode as $kind (retryable: $retryable)', async ({ fault, kind, retryable }) => {
    const key = newTestKey('faults');
    const stripe = stripeProviderFor(key);
    const { customerId } = await stripe.ensureCustomer({ memberId: 'mem_1' });
    await injectFault(key, { path: '/v1/payment_intents', ...fault });
    const error = await caught(stripe.chargeOffSession(chargeInput(customerId, 'pm_card_visa')));
    expect(error.kind).toBe(kind);
    expect(error.retryable).toBe(retryable);
    expect(error.provider).toBe('stripe');
  });

  it('a fault is not stored for replay: the retried attempt then goes through', async () => {
    const key = newTestKey('after-fault');
    const stripe = stripeProviderFor(key);
    const { customerId } = await stripe.ensureCustomer({ memberId: 'mem_1' });
    await injectFault(key, { path: '/v1/payment_intents', status: 503 });
    const input = chargeInput(customerId, 'pm_card_visa');
    expect((await caught(stripe.chargeOffSession(input))).retryable).toBe(true);
    expect((await stripe.chargeOffSession(input)).status).toBe('succeeded');
  });

  it('never puts the secret key in an error message, even when the API echoes it', async () => {
    const key = newTestKey('leak');
    const stripe = stripeProviderFor(key);
    await injectFault(key, { path: '/v1/customers', status: 401, error: { type: 'invalid_request_error', message: `Invalid API Key provided: ${key}` } });
    const error = await caught(stripe.ensureCustomer({ memberId: 'mem_1' }));
    expect(error.kind).toBe('authentication');
    expect(error.retryable).toBe(false);
    for (const text of [error.message, String(error.stack), JSON.stringify(error)]) expect(text).not.toContain(key.slice(8));
    expect(error.message).toBe('Stripe 401 error: Invalid API Key provided: [redacted]');
  });

  it('reports a wrong key as an authentication error', async () => {
    const stripe = createStripeProvider({ secretKey: 'sk_test_not-a-valid-key', ...parseApiBase(fakeStripeUrl()), maxNetworkRetries: 0 });
    const error = await caught(stripe.ensureCustomer({ memberId: 'mem_1' }));
    expect(error.kind).toBe('authentication');
    expect(error.message).not.toContain('not-a-valid-key');
  });

  it('creates a new customer when the stored one was deleted, and updates changed details', async () => {
    const key = newTestKey('customers');
    const stripe = stripeProviderFor(key);
    const first = await stripe.ensureCustomer({ memberId: 'mem_1', email: 'old@example.com' });
    const updated = await stripe.ensureCustomer({ memberId: 'mem_1', email: 'new@example.com', existingCustomerId: first.customerId });
    expect(updated).toEqual({ customerId: first.customerId, created: false });
    const update = (await fakeRequests(key)).find((r) => r.method === 'POST' && r.path === `/v1/customers/${first.customerId}`);
    expect(update?.params).toEqual({ email: 'new@example.com' });

    await fetch(`${fakeStripeUrl()}/v1/customers/${first.customerId}`, { method: 'DELETE', headers: { authorization: `Bearer ${key}` } });
    const replaced = await stripe.ensureCustomer({ memberId: 'mem_1', email: 'new@example.com', existingCustomerId: first.customerId });
    expect(replaced.created).toBe(true);
    expect(replaced.customerId).not.toBe(first.customerId);
  });

  it('starts Checkout in setup mode with the return URL and card only', async () => {
    const key = newTestKey('checkout');
    const stripe = stripeProviderFor(key);
    const { customerId } = await stripe.ensureCustomer({ memberId: 'mem_1' });
    const setup = await stripe.startCardSetup({ customerId, returnUrl: 'https://gym.example/done', flow: 'checkout', currency: 'thb', memberId: 'mem_1', organisationId: 'org_7' });
    expect(setup.kind).toBe('checkout');
    const request = (await fakeRequests(key)).find((r) => r.path === '/v1/checkout/sessions')!;
    expect(request.params).toMatchObject({
      mode: 'setup',
      customer: customerId,
      currency: 'thb',
      allowed_payment_method_types: ['card'],
      success_url: 'https://gym.example/done',
      cancel_url: 'https://gym.example/done',
      setup_intent_data: { metadata: { gymgate_member_id: 'mem_1', gymgate_organisation_id: 'org_7' } },
    });
  });

  it('creates PromptPay pay-now intents restricted to PromptPay', async () => {
    const key = newTestKey('promptpay');
    const stripe = stripeProviderFor(key);
    await stripe.createPayNowPayment({ amount: 150_000, currency: 'thb', idempotencyKey: 'pay-1', metadata: { invoiceId: 'inv_1', organisationId: 'org_1' }, paymentMethodTypes: ['promptpay'] });
    const request = (await fakeRequests(key)).find((r) => r.path === '/v1/payment_intents')!;
    expect(request.params).toEqual({
      amount: '150000',
      currency: 'thb',
      allowed_payment_method_types: ['promptpay'],
      metadata: { gymgate_organisation_id: 'org_1', gymgate_invoice_id: 'inv_1', gymgate_flow: 'pay_now' },
    });
    expect(request.idempotencyKey).toBe('pay-1');
  });
});

describe('Stripe configuration', () => {
  it('reads STRIPE_SECRET_KEY and STRIPE_API_BASE', () => {
    expect(stripeConfigFromEnv({ STRIPE_SECRET_KEY: 'sk_test_abc', STRIPE_API_BASE: 'http://127.0.0.1:4010' })).toEqual({
      secretKey: 'sk_test_abc',
      host: '127.0.0.1',
      port: 4010,
      protocol: 'http',
    });
    expect(stripeConfigFromEnv({ STRIPE_SECRET_KEY: 'sk_live_abc' })).toEqual({ secretKey: 'sk_live_abc' });
    expect(() => stripeConfigFromEnv({})).toThrow(/STRIPE_SECRET_KEY is not set/);
    expect(() => parseApiBase('ftp://x')).toThrow(PaymentProviderError);
  });

  it('refuses a publishable key without repeating it', () => {
    const error = (() => {
      try {
        createStripeProvider({ secretKey: 'pk_test_publishable123' });
      } catch (e) {
        return e as PaymentProviderError;
      }
      throw new Error('expected an error');
    })();
    expect(error.kind).toBe('configuration');
    expect(error.message).not.toContain('publishable123');
  });

  it('picks Stripe when configured, the simulation otherwise, and never the simulation beside a live key', () => {
    const simulatedStore = createMemorySimulatedStore();
    expect(createPaymentProvider({ STRIPE_SECRET_KEY: 'sk_test_1' }, { simulatedStore }).name).toBe('stripe');
    expect(createPaymentProvider({}, { simulatedStore }).name).toBe('simulated');
    expect(createPaymentProvider({}, { simulatedStore }).description).toMatch(/^Simulated/);
    expect(() => createPaymentProvider({ PAYMENTS_PROVIDER: 'stripe' }, { simulatedStore })).toThrow(/STRIPE_SECRET_KEY is not set/);
    expect(() => createPaymentProvider({ PAYMENTS_PROVIDER: 'simulated', STRIPE_SECRET_KEY: 'sk_live_x' }, { simulatedStore })).toThrow(/live Stripe key/);
  });

  it('redacts anything shaped like a key or webhook secret', () => {
    expect(redactSecrets('key sk_live_51Habc and whsec_abc123= and rk_test_9')).toBe('key sk_live_[redacted] and whsec_[redacted] and rk_test_[redacted]');
  });
});

describe('decline classification', () => {
  it.each([
    [{ code: 'card_declined', declineCode: 'generic_decline' }, 'soft'],
    [{ code: 'card_declined', declineCode: 'insufficient_funds' }, 'soft'],
    [{ code: 'card_declined', declineCode: 'do_not_honor' }, 'soft'],
    [{ code: 'card_declined', declineCode: 'pickup_card' }, 'hard'],
    [{ code: 'card_declined', declineCode: 'lost_card' }, 'hard'],
    [{ code: 'card_declined', declineCode: 'stolen_card' }, 'hard'],
    [{ code: 'card_declined', declineCode: 'revocation_of_all_authorizations' }, 'hard'],
    [{ code: 'expired_card', declineCode: 'expired_card' }, 'card_update'],
    [{ code: 'expired_card' }, 'card_update'],
    [{ code: 'card_declined', declineCode: 'generic_decline', adviceCode: 'do_not_try_again' }, 'hard'],
    [{ code: 'card_declined', declineCode: 'do_not_honor', networkAdviceCode: '03' }, 'hard'],
    [{ code: 'card_declined', declineCode: 'generic_decline', adviceCode: 'confirm_card_data' }, 'card_update'],
    [{ code: 'card_declined', declineCode: 'lost_card', adviceCode: 'try_again_later' }, 'hard'],
    [{ code: 'card_declined', declineCode: 'something_new' }, 'soft'],
  ] as const)('%o → %s', (signals, category) => {
    expect(classifyDecline(signals)).toBe(category);
  });
});
