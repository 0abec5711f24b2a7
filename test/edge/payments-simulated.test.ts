// The simulated card processor: what it does beyond the shared scenarios in
// payments-providers.test.ts (deterministic ids, state only in the store it is given, the
// stand-ins for the member's side of card setup and pay-now).
import { describe, expect, it } from 'vitest';
import { PaymentProviderError } from '../../edge/payments/provider.ts';
import { createMemorySimulatedStore, createSimulatedProvider, SIMULATED_TEST_CARDS } from '../../edge/payments/simulated.ts';

const fresh = () => {
  const store = createMemorySimulatedStore();
  return { store, provider: createSimulatedProvider({ store, now: () => 1_770_000_000 }) };
};

const chargeWith = (customerId: string, key: string, paymentMethodId = 'pm_card_visa', amount = 120_000) => ({
  customerId,
  paymentMethodId,
  amount,
  currency: 'thb',
  idempotencyKey: key,
  description: 'Membership',
  metadata: { invoiceId: 'inv_1', organisationId: 'org_1', attempt: 1 },
});

describe('simulated processor', () => {
  it('says it is a simulation', () => {
    const { provider } = fresh();
    expect(provider.name).toBe('simulated');
    expect(provider.description).toMatch(/simulated/i);
    expect(provider.description).toMatch(/no money/i);
  });

  it('knows the Stripe test payment methods billing relies on', () => {
    for (const pm of [
      'pm_card_visa',
      'pm_card_chargeDeclined',
      'pm_card_chargeDeclinedInsufficientFunds',
      'pm_card_chargeDeclinedExpiredCard',
      'pm_card_authenticationRequired',
      'pm_card_chargeDeclinedLostCard',
    ]) {
      expect(SIMULATED_TEST_CARDS[pm], pm).toBeDefined();
    }
  });

  it('derives ids from the idempotency key, so separate runs give the same ids', async () => {
    const a = fresh();
    const b = fresh();
    const ca = await a.provider.ensureCustomer({ memberId: 'mem_1' });
    const cb = await b.provider.ensureCustomer({ memberId: 'mem_1' });
    expect(ca.customerId).toBe(cb.customerId);
    const pa = await a.provider.chargeOffSession(chargeWith(ca.customerId, 'inv_1:attempt:1'));
    const pb = await b.provider.chargeOffSession(chargeWith(cb.customerId, 'inv_1:attempt:1'));
    expect(pa).toEqual(pb);
    const other = await a.provider.chargeOffSession(chargeWith(ca.customerId, 'inv_1:attempt:2'));
    expect(other.paymentIntentId).not.toBe(pa.paymentIntentId);
  });

  it('keeps all state in the store it is given: a new instance on the same store replays, another store does not share', async () => {
    const { store, provider } = fresh();
    const { customerId } = await provider.ensureCustomer({ memberId: 'mem_1' });
    const first = await provider.chargeOffSession(chargeWith(customerId, 'k1'));

    const restarted = createSimulatedProvider({ store });
    expect(await restarted.chargeOffSession(chargeWith(customerId, 'k1'))).toEqual(first);
    await expect(restarted.chargeOffSession(chargeWith(customerId, 'k1', 'pm_card_visa', 1))).rejects.toMatchObject({ kind: 'idempotency_conflict' });

    // Values are JSON text, ready for a D1 key/value table.
    for (const value of store.map.values()) expect(() => JSON.parse(value)).not.toThrow();

    const elsewhere = fresh();
    await expect(elsewhere.provider.chargeOffSession(chargeWith(customerId, 'k1', 'pm_card_visa', 1))).rejects.toMatchObject({ kind: 'not_found' });
  });

  it('completes a card setup like a member entering a test card', async () => {
    const { provider } = fresh();
    const { customerId } = await provider.ensureCustomer({ memberId: 'mem_1' });
    const setup = await provider.startCardSetup({ customerId, returnUrl: 'https://gym.example/done' });
    expect(await provider.completeCardSetup(setup.id, 'pm_card_visa')).toEqual({ setupIntentId: setup.id, customerId, paymentMethodId: 'pm_card_visa' });

    const checkout = await provider.startCardSetup({ customerId, returnUrl: 'https://gym.example/done', flow: 'checkout' });
    if (checkout.kind !== 'checkout') throw new Error('expected checkout');
    expect(new URL(checkout.url).searchParams.get('session')).toBe(checkout.id);
    expect((await provider.completeCardSetup(checkout.id, 'pm_card_mastercard')).customerId).toBe(customerId);
    await expect(provider.completeCardSetup(setup.id, 'pm_card_unknown')).rejects.toBeInstanceOf(PaymentProviderError);
  });

  it('starts a new setup each time unless given an idempotency key', async () => {
    const { provider } = fresh();
    const { customerId } = await provider.ensureCustomer({ memberId: 'mem_1' });
    const one = await provider.startCardSetup({ customerId, returnUrl: 'https://gym.example/a' });
    const two = await provider.startCardSetup({ customerId, returnUrl: 'https://gym.example/a' });
    expect(one.id).not.toBe(two.id);
    const keyed = { customerId, returnUrl: 'https://gym.example/a', idempotencyKey: 'setup-1' };
    expect(await provider.startCardSetup(keyed)).toEqual(await provider.startCardSetup(keyed));
  });

  it('pays a pay-now intent by PromptPay or by card', async () => {
    const { provider } = fresh();
    const metadata = { invoiceId: 'inv_5', organisationId: 'org_1' };
    const qr = await provider.createPayNowPayment({ amount: 150_000, currency: 'thb', idempotencyKey: 'p1', metadata, paymentMethodTypes: ['promptpay'] });
    expect(await provider.confirmPayNow(qr.paymentIntentId)).toMatchObject({ status: 'succeeded', paymentIntentId: qr.paymentIntentId });
    expect(await provider.refund({ paymentIntentId: qr.paymentIntentId, amount: 150_000, idempotencyKey: 'r1' })).toMatchObject({ status: 'succeeded' });

    const card = await provider.createPayNowPayment({ amount: 2_000, currency: 'usd', idempotencyKey: 'p2', metadata, paymentMethodTypes: ['card'] });
    expect(await provider.confirmPayNow(card.paymentIntentId, 'pm_card_chargeDeclinedExpiredCard')).toMatchObject({ status: 'failed', declineCategory: 'card_update' });
    expect(await provider.confirmPayNow(card.paymentIntentId, 'pm_card_visa')).toMatchObject({ status: 'succeeded' });
  });
});
