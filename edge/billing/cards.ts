// The member's customer at the payment processor and the card billing charges off-session.
import { and, eq, sql } from 'drizzle-orm';
import { billingCustomers, members } from '../db/schema.ts';
import { PaymentProviderError, SIMULATED_TEST_CARDS, type CardSetup } from '../payments/index.ts';
import { isSimulated, paymentProvider, type BillingDeps } from './deps.ts';
import { tellDunning } from './dunning-port.ts';
import { refused } from './problems.ts';

export type BillingCustomerRow = typeof billingCustomers.$inferSelect;
type MemberRow = typeof members.$inferSelect;

/** Creates (or finds) the member's customer and starts a card setup (SetupIntent or Checkout in setup mode). */
export async function startCardSetup(
  deps: BillingDeps,
  member: MemberRow,
  body: { returnUrl: string; flow: 'setup_intent' | 'checkout'; idempotencyKey?: string },
  now: number,
): Promise<{ provider: 'stripe' | 'simulated'; providerDescription: string; customerId: string; setup: CardSetup }> {
  const { db } = deps;
  const provider = paymentProvider(deps);
  const [current] = await db.select().from(billingCustomers).where(eq(billingCustomers.memberId, member.id));
  const existing = current && current.provider === provider.name ? current.customerId : null;
  const ref = await provider.ensureCustomer({ memberId: member.id, email: member.email, name: member.name, existingCustomerId: existing, organisationId: member.organisationId });
  const sameCustomer = current?.provider === provider.name && current.customerId === ref.customerId;
  await db
    .insert(billingCustomers)
    .values({ memberId: member.id, organisationId: member.organisationId, provider: provider.name, customerId: ref.customerId, createdAt: now, updatedAt: now })
    .onConflictDoUpdate({
      target: billingCustomers.memberId,
      set: sameCustomer
        ? { updatedAt: now }
        : { provider: provider.name, customerId: ref.customerId, defaultPaymentMethodId: null, cardBrand: null, cardLast4: null, cardExpMonth: null, cardExpYear: null, updatedAt: now },
    });
  const setup = await provider.startCardSetup({
    customerId: ref.customerId,
    returnUrl: body.returnUrl,
    flow: body.flow,
    memberId: member.id,
    organisationId: member.organisationId,
    ...(body.idempotencyKey ? { idempotencyKey: body.idempotencyKey } : {}),
  });
  return { provider: provider.name, providerDescription: provider.description, customerId: ref.customerId, setup };
}

export type CardDetails = { brand: string | null; last4: string | null; expMonth: number | null; expYear: number | null };

/**
 * Makes a payment method the customer's card for off-session charges, and tells dunning, which
 * retries an open invoice at once. Stripe gives every saved card its own payment method id, so the
 * same id again is one setup reported twice (its webhook and the card page's return): the card is
 * saved and retried once. The simulated processor names cards by their test id, so there saving
 * one again counts as a new card.
 */
export async function saveCard(
  deps: BillingDeps,
  provider: 'stripe' | 'simulated',
  customerId: string,
  paymentMethodId: string,
  card: CardDetails,
  now: number,
): Promise<BillingCustomerRow | undefined> {
  const save = (onlyIfNew: boolean) =>
    deps.db
      .update(billingCustomers)
      .set({ defaultPaymentMethodId: paymentMethodId, cardBrand: card.brand, cardLast4: card.last4, cardExpMonth: card.expMonth, cardExpYear: card.expYear, updatedAt: now })
      .where(
        and(
          eq(billingCustomers.provider, provider),
          eq(billingCustomers.customerId, customerId),
          onlyIfNew ? sql`${billingCustomers.defaultPaymentMethodId} IS NOT ${paymentMethodId}` : undefined,
        ),
      )
      .returning();
  const [row] = await save(provider === 'stripe');
  if (row) {
    await tellDunning(deps, row.organisationId, row.memberId, { type: 'card_updated' }, now);
    return row;
  }
  if (provider !== 'stripe') return undefined;
  // Already the customer's card: the details are refreshed, dunning heard of it the first time.
  const [same] = await save(false);
  return same;
}

/**
 * A card the processor reports set up (Stripe's setup_intent.succeeded, or the card page's return
 * from a succeeded SetupIntent). Its brand, last four and expiry (for staff and the expiry
 * reminder) are asked of the processor; without them the card is still saved.
 */
export async function saveSetUpCard(deps: BillingDeps, customerId: string, paymentMethodId: string, now: number): Promise<BillingCustomerRow | undefined> {
  let card: CardDetails = { brand: null, last4: null, expMonth: null, expYear: null };
  try {
    card = (await paymentProvider(deps).describeCard?.(paymentMethodId)) ?? card;
  } catch (error) {
    console.warn(JSON.stringify({ msg: 'card details not available', paymentMethodId, error: String(error) }));
  }
  return saveCard(deps, 'stripe', customerId, paymentMethodId, card, now);
}

/** Local runs: stands in for the member entering a test card on the setup page (simulated processor only). */
export async function completeSimulatedSetup(deps: BillingDeps, member: MemberRow, body: { setupId: string; paymentMethodId: string }, now: number) {
  const provider = paymentProvider(deps);
  if (!isSimulated(provider)) throw refused('setupId', 'not_simulated', 'the payment processor is Stripe: the card is saved when Stripe reports the setup succeeded (webhook)');
  const [customer] = await deps.db.select().from(billingCustomers).where(eq(billingCustomers.memberId, member.id));
  const test = SIMULATED_TEST_CARDS[body.paymentMethodId];
  if (!test) throw refused('paymentMethodId', 'unknown_test_card', `${body.paymentMethodId} is not one of the simulated test cards (${Object.keys(SIMULATED_TEST_CARDS).join(', ')})`);
  if (!customer) throw refused('setupId', 'other_customer', 'this setup belongs to another member');
  const done = await provider.completeCardSetup(body.setupId, body.paymentMethodId, customer.customerId).catch((error: unknown) => {
    const code = error instanceof PaymentProviderError ? error.code : undefined;
    if (code === 'setup_other_customer') throw refused('setupId', 'other_customer', 'this setup belongs to another member');
    throw refused('setupId', code === 'setup_intent_unexpected_state' ? 'setup_already_completed' : 'unknown_setup', error instanceof Error ? error.message : String(error));
  });
  return saveCard(deps, 'simulated', done.customerId, done.paymentMethodId, { brand: test.brand, last4: test.last4, expMonth: null, expYear: null }, now);
}
