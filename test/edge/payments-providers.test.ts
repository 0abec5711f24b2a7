// The same billing scenarios against both payment providers: Stripe (the real SDK talking to the
// fake Stripe API) and the simulated processor. Both must report the same outcomes.
import { describe, expect, it } from 'vitest';
import { PaymentProviderError, type ChargeOffSessionInput, type DeclineCategory, type PaymentProvider } from '../../edge/payments/provider.ts';
import { createMemorySimulatedStore, createSimulatedProvider } from '../../edge/payments/simulated.ts';
import { fakeRequests, newTestKey, stripeProviderFor } from './stripe-fake/harness.ts';

type Harness = { provider: PaymentProvider; requestCount: () => Promise<number | null> };

const providers: Array<[string, () => Harness]> = [
  [
    'stripe (SDK against the fake Stripe API)',
    () => {
      const key = newTestKey('providers');
      return { provider: stripeProviderFor(key), requestCount: async () => (await fakeRequests(key)).length };
    },
  ],
  [
    'simulated processor',
    () => ({ provider: createSimulatedProvider({ store: createMemorySimulatedStore() }), requestCount: async () => null }),
  ],
];

async function expectProviderError(promise: Promise<unknown>, kind: PaymentProviderError['kind']): Promise<PaymentProviderError> {
  const error = await promise.then(
    () => {
      throw new Error(`expected a ${kind} error`);
    },
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(PaymentProviderError);
  expect((error as PaymentProviderError).kind).toBe(kind);
  return error as PaymentProviderError;
}

const declineTable: Array<{
  pm: string;
  status: 'succeeded' | 'failed' | 'requires_action';
  declineCode?: string;
  category?: DeclineCategory;
  hard?: boolean;
}> = [
  { pm: 'pm_card_visa', status: 'succeeded' },
  { pm: 'pm_card_mastercard', status: 'succeeded' },
  { pm: 'pm_card_chargeDeclined', status: 'failed', declineCode: 'generic_decline', category: 'soft', hard: false },
  { pm: 'pm_card_chargeDeclinedInsufficientFunds', status: 'failed', declineCode: 'insufficient_funds', category: 'soft', hard: false },
  { pm: 'pm_card_chargeDeclinedProcessingError', status: 'failed', declineCode: 'processing_error', category: 'soft', hard: false },
  { pm: 'pm_card_chargeDeclinedExpiredCard', status: 'failed', declineCode: 'expired_card', category: 'card_update', hard: false },
  { pm: 'pm_card_chargeDeclinedIncorrectCvc', status: 'failed', declineCode: 'incorrect_cvc', category: 'card_update', hard: false },
  { pm: 'pm_card_chargeDeclinedLostCard', status: 'failed', declineCode: 'lost_card', category: 'hard', hard: true },
  { pm: 'pm_card_chargeDeclinedStolenCard', status: 'failed', declineCode: 'stolen_card', category: 'hard', hard: true },
  { pm: 'pm_card_chargeDeclinedFraudulent', status: 'failed', declineCode: 'fraudulent', category: 'hard', hard: true },
  { pm: 'pm_card_authenticationRequired', status: 'requires_action', declineCode: 'authentication_required' },
];

describe.each(providers)('%s', (_label, make) => {
  async function member(provider: PaymentProvider, memberId = `mem_${crypto.randomUUID()}`) {
    return provider.ensureCustomer({ memberId, email: 'somchai@example.com', name: 'Somchai P.', organisationId: 'org_1' });
  }

  function charge(customerId: string, paymentMethodId: string, over: Partial<ChargeOffSessionInput> = {}): ChargeOffSessionInput {
    return {
      customerId,
      paymentMethodId,
      amount: 150_000,
      currency: 'thb',
      idempotencyKey: `inv_${crypto.randomUUID()}:attempt:1`,
      description: 'Monthly membership',
      metadata: { invoiceId: 'inv_1', organisationId: 'org_1', attempt: 1 },
      ...over,
    };
  }

  it('creates a customer, then finds it again by its stored id and updates its details', async () => {
    const { provider } = make();
    const first = await member(provider, 'mem_a');
    expect(first.created).toBe(true);
    expect(first.customerId).toMatch(/^cus_/);
    const again = await provider.ensureCustomer({ memberId: 'mem_a', email: 'new@example.com', name: 'Somchai P.', existingCustomerId: first.customerId });
    expect(again).toEqual({ customerId: first.customerId, created: false });
  });

  it('replaces a stored customer id that no longer exists', async () => {
    const { provider } = make();
    const ref = await provider.ensureCustomer({ memberId: 'mem_b', email: 'b@example.com', existingCustomerId: 'cus_doesnotexist' });
    expect(ref.created).toBe(true);
    expect(ref.customerId).not.toBe('cus_doesnotexist');
  });

  it('starts card setup with a SetupIntent or with Checkout in setup mode', async () => {
    const { provider } = make();
    const { customerId } = await member(provider);
    const intent = await provider.startCardSetup({ customerId, returnUrl: 'https://gym.example/cards/done' });
    expect(intent.kind).toBe('setup_intent');
    if (intent.kind !== 'setup_intent') throw new Error('unreachable');
    expect(intent.id).toMatch(/^seti_/);
    expect(intent.clientSecret.startsWith(`${intent.id}_secret_`)).toBe(true);

    const checkout = await provider.startCardSetup({ customerId, returnUrl: 'https://gym.example/cards/done', flow: 'checkout', currency: 'thb' });
    expect(checkout.kind).toBe('checkout');
    if (checkout.kind !== 'checkout') throw new Error('unreachable');
    expect(checkout.id).toMatch(/^cs_/);
    expect(new URL(checkout.url).protocol).toBe('https:');
  });

  it('refuses card setup for an unknown customer', async () => {
    const { provider } = make();
    await expectProviderError(provider.startCardSetup({ customerId: 'cus_nobody', returnUrl: 'https://gym.example/x' }), 'not_found');
  });

  it.each(declineTable)('charges $pm off-session → $status $declineCode', async ({ pm, status, declineCode, category, hard }) => {
    const { provider } = make();
    const { customerId } = await member(provider);
    const outcome = await provider.chargeOffSession(charge(customerId, pm));
    expect(outcome.status).toBe(status);
    expect(outcome.paymentIntentId).toMatch(/^pi_/);
    expect(outcome.hardDecline).toBe(hard ?? false);
    if (status === 'succeeded') {
      expect(outcome.chargeId).toMatch(/^ch_/);
      expect(outcome.declineCode).toBeUndefined();
      expect(outcome.declineCategory).toBeUndefined();
    } else {
      expect(outcome.declineCode).toBe(declineCode);
      expect(outcome.failureMessage).toBeTruthy();
    }
    if (status === 'failed') expect(outcome.declineCategory).toBe(category);
    if (status === 'requires_action') {
      expect(outcome.clientSecret?.startsWith(`${outcome.paymentIntentId}_secret_`)).toBe(true);
      expect(outcome.declineCategory).toBeUndefined();
    }
  });

  it('replays a retried attempt (same key, same parameters) without charging twice', async () => {
    const h = make();
    const { customerId } = await member(h.provider);
    const input = charge(customerId, 'pm_card_visa');
    const first = await h.provider.chargeOffSession(input);
    const before = await h.requestCount();
    const second = await h.provider.chargeOffSession({ ...input, metadata: { ...input.metadata } });
    expect(second).toEqual(first);
    if (before !== null) expect(await h.requestCount()).toBe(before + 1);

    const declinedInput = charge(customerId, 'pm_card_chargeDeclinedInsufficientFunds');
    const declined = await h.provider.chargeOffSession(declinedInput);
    expect(await h.provider.chargeOffSession(declinedInput)).toEqual(declined);
  });

  it('refuses a reused idempotency key with a different amount', async () => {
    const { provider } = make();
    const { customerId } = await member(provider);
    const input = charge(customerId, 'pm_card_visa');
    await provider.chargeOffSession(input);
    const error = await expectProviderError(provider.chargeOffSession({ ...input, amount: input.amount + 100 }), 'idempotency_conflict');
    expect(error.retryable).toBe(false);
    expect(error.message).toContain('same parameters');
  });

  it('refunds part of a payment, replays the refund by key, and refuses more than is left', async () => {
    const { provider } = make();
    const { customerId } = await member(provider);
    const paid = await provider.chargeOffSession(charge(customerId, 'pm_card_visa', { amount: 50_000 }));
    const refundKey = `refund_${crypto.randomUUID()}`;
    const refund = await provider.refund({ paymentIntentId: paid.paymentIntentId, amount: 20_000, idempotencyKey: refundKey, reason: 'requested_by_customer' });
    expect(refund).toEqual({ refundId: expect.stringMatching(/^re_/), status: 'succeeded', amount: 20_000 });
    expect(await provider.refund({ paymentIntentId: paid.paymentIntentId, amount: 20_000, idempotencyKey: refundKey, reason: 'requested_by_customer' })).toEqual(refund);

    const tooMuch = await expectProviderError(provider.refund({ paymentIntentId: paid.paymentIntentId, amount: 30_001, idempotencyKey: `refund_${crypto.randomUUID()}` }), 'invalid_request');
    expect(tooMuch.code).toBe('amount_too_large');
    const rest = await provider.refund({ paymentIntentId: paid.paymentIntentId, amount: 30_000, idempotencyKey: `refund_${crypto.randomUUID()}` });
    expect(rest.status).toBe('succeeded');
  });

  it('refuses to refund a payment that did not succeed', async () => {
    const { provider } = make();
    const { customerId } = await member(provider);
    const failed = await provider.chargeOffSession(charge(customerId, 'pm_card_chargeDeclined'));
    const error = await expectProviderError(provider.refund({ paymentIntentId: failed.paymentIntentId, amount: 100, idempotencyKey: `refund_${crypto.randomUUID()}` }), 'invalid_request');
    expect(error.code).toBe('charge_not_refundable');
  });

  it('creates pay-now payments by card in any currency and by PromptPay in THB', async () => {
    const { provider } = make();
    const metadata = { invoiceId: 'inv_9', organisationId: 'org_1' };
    const card = await provider.createPayNowPayment({ amount: 2_500, currency: 'USD', idempotencyKey: `pay_${crypto.randomUUID()}`, metadata, paymentMethodTypes: ['card'] });
    expect(card.paymentIntentId).toMatch(/^pi_/);
    expect(card.clientSecret.startsWith(`${card.paymentIntentId}_secret_`)).toBe(true);

    const key = `pay_${crypto.randomUUID()}`;
    const promptpay = await provider.createPayNowPayment({ amount: 150_000, currency: 'thb', idempotencyKey: key, metadata, paymentMethodTypes: ['promptpay'] });
    expect(promptpay.paymentIntentId).toMatch(/^pi_/);
    expect(await provider.createPayNowPayment({ amount: 150_000, currency: 'thb', idempotencyKey: key, metadata, paymentMethodTypes: ['promptpay'] })).toEqual(promptpay);
  });

  it('refuses PromptPay outside THB with a clear error, before contacting the processor', async () => {
    const h = make();
    const before = await h.requestCount();
    const error = await expectProviderError(
      h.provider.createPayNowPayment({ amount: 2_500, currency: 'usd', idempotencyKey: `pay_${crypto.randomUUID()}`, metadata: { invoiceId: 'i', organisationId: 'o' }, paymentMethodTypes: ['promptpay'] }),
      'unsupported',
    );
    expect(error.message).toBe('PromptPay only accepts THB; this payment is in USD');
    expect(error.retryable).toBe(false);
    expect(await h.requestCount()).toBe(before);
  });

  it('refuses amounts that are not positive integers in minor units', async () => {
    const { provider } = make();
    const { customerId } = await member(provider);
    for (const amount of [0, -5, 10.5]) {
      await expectProviderError(provider.chargeOffSession(charge(customerId, 'pm_card_visa', { amount })), 'invalid_request');
    }
  });

  it('reports an unknown payment method as not found', async () => {
    const { provider } = make();
    const { customerId } = await member(provider);
    const error = await expectProviderError(provider.chargeOffSession(charge(customerId, 'pm_card_doesNotExist')), 'not_found');
    expect(error.code).toBe('resource_missing');
  });
});
