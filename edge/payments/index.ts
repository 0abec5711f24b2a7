// Picks the payment provider from Worker bindings.
//
// - PAYMENTS_PROVIDER = "stripe": Stripe, with STRIPE_SECRET_KEY (and STRIPE_API_BASE in tests).
//   Deployed environments set this so a missing key is an error, never a silent simulation.
// - PAYMENTS_PROVIDER = "simulated": the simulated processor (refused next to a live Stripe key).
// - unset: Stripe when STRIPE_SECRET_KEY is present, otherwise the simulated processor (local runs).
import { createSimulatedProvider, type SimulatedProvider, type SimulatedStore } from './simulated.ts';
import { createStripeProvider, stripeConfigFromEnv, type StripeEnv } from './stripe.ts';
import { PaymentProviderError, type PaymentProvider } from './provider.ts';

export type PaymentsEnv = StripeEnv & { PAYMENTS_PROVIDER?: string | undefined };

export function createPaymentProvider(env: PaymentsEnv, options: { simulatedStore: SimulatedStore }): PaymentProvider | SimulatedProvider {
  const choice = env.PAYMENTS_PROVIDER?.trim().toLowerCase() || (env.STRIPE_SECRET_KEY ? 'stripe' : 'simulated');
  if (choice === 'stripe') return createStripeProvider(stripeConfigFromEnv(env));
  if (choice === 'simulated') {
    if (env.STRIPE_SECRET_KEY?.includes('_live_')) {
      throw new PaymentProviderError('simulated', 'configuration', 'PAYMENTS_PROVIDER=simulated cannot be combined with a live Stripe key');
    }
    return createSimulatedProvider({ store: options.simulatedStore });
  }
  throw new PaymentProviderError('stripe', 'configuration', `PAYMENTS_PROVIDER must be "stripe" or "simulated" (got "${env.PAYMENTS_PROVIDER}")`);
}

export * from './provider.ts';
export { classifyDecline, HARD_DECLINE_CODES, CARD_UPDATE_CODES } from './declines.ts';
export {
  createStripeProvider,
  stripeConfigFromEnv,
  parseApiBase,
  retrieveStripeCardSetup,
  retrieveStripePayNow,
  type StripeCardSetupState,
  type StripeProviderConfig,
} from './stripe.ts';
export { createSimulatedProvider, createMemorySimulatedStore, SIMULATED_PAY_NOW_OUTCOMES, SIMULATED_TEST_CARDS, type SimulatedProvider, type SimulatedStore } from './simulated.ts';
export { outcomeFromSnapshot } from './outcome.ts';
export { META, readPaymentMetadata } from './metadata.ts';
export {
  normaliseStripeEvent,
  supersedes,
  objectKey,
  type NormalisedEvent,
  type PaymentEvent,
  type CardSetupEvent,
  type CardUpdatedEvent,
  type RefundEvent,
  type DisputeEvent,
  type IgnoredEvent,
  type PaymentState,
} from './webhooks.ts';
export { verifyStripeWebhook, WebhookVerificationError, type WebhookFailureReason, type WebhookVerification } from './webhook-signature.ts';
