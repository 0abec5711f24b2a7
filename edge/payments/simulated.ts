// SIMULATED card processor, for local runs, demos and tests. It never contacts a bank or Stripe
// and never moves money. It is what local runs get when no Stripe key is configured; deployed
// configuration names Stripe explicitly (see createPaymentProvider in ./index.ts).
//
// It behaves like Stripe in test mode: payment method ids are Stripe's test payment methods
// (`pm_card_visa` succeeds, `pm_card_chargeDeclinedInsufficientFunds` is declined with
// insufficient_funds, …; see SIMULATED_TEST_CARDS), calls with an idempotency key replay their
// first result, a key reused with other parameters is refused, and object ids are derived from
// the idempotency key so a run can be replayed exactly.
//
// All state lives in a SimulatedStore passed in (string keys, JSON string values), so the Worker
// can keep it in D1 and tests in memory. Nothing is held in module globals.
import { ownerMetadata, paymentMetadata } from './metadata.ts';
import { outcomeFromSnapshot, type PaymentError } from './outcome.ts';
import {
  checkCharge,
  checkIdempotencyKey,
  checkPayNow,
  checkRefund,
  PaymentProviderError,
  type CardSetup,
  type ChargeOffSessionInput,
  type ChargeOutcome,
  type CustomerRef,
  type EnsureCustomerInput,
  type PaymentProvider,
  type PayNowInput,
  type PayNowPayment,
  type RefundInput,
  type RefundResult,
  type StartCardSetupInput,
} from './provider.ts';

export interface SimulatedStore {
  get(key: string): Promise<string | null>;
  put(key: string, value: string): Promise<void>;
  /** Many keys in one read (absent keys are missing from the map); optional. */
  getMany?(keys: string[]): Promise<Map<string, string>>;
  /** Many writes at once, all or none; optional. */
  putMany?(entries: [string, string][]): Promise<void>;
}

/**
 * A store over `base` that has read `keys` already and keeps its writes until `writes` is taken:
 * a run of many operations costs one read and one write of the base store.
 */
async function stagedStore(base: SimulatedStore & Required<Pick<SimulatedStore, 'getMany'>>, keys: string[]) {
  const known = await base.getMany([...new Set(keys)]);
  const asked = new Set(keys);
  const writes = new Map<string, string>();
  const store: SimulatedStore = {
    async get(key) {
      if (writes.has(key)) return writes.get(key)!;
      if (asked.has(key)) return known.get(key) ?? null;
      return base.get(key);
    },
    async put(key, value) {
      writes.set(key, value);
    },
  };
  return { store, writes };
}

/** A SimulatedStore in a Map (tests, one-off scripts). */
export function createMemorySimulatedStore(map: Map<string, string> = new Map()): SimulatedStore & { readonly map: Map<string, string> } {
  return {
    map,
    async get(key) {
      return map.get(key) ?? null;
    },
    async put(key, value) {
      map.set(key, value);
    },
  };
}

type TestCard =
  | { kind: 'success'; brand: string; last4: string }
  | { kind: 'decline'; brand: string; last4: string; error: Required<Pick<PaymentError, 'code' | 'message'>> & PaymentError };

const declined = (last4: string, declineCode: string, message = 'Your card was declined.', code = 'card_declined'): TestCard => ({
  kind: 'decline',
  brand: 'visa',
  last4,
  error: { code, declineCode, message },
});

/** Stripe's test payment methods that the simulation understands, with Stripe's outcomes. */
export const SIMULATED_TEST_CARDS: Readonly<Record<string, TestCard>> = {
  pm_card_visa: { kind: 'success', brand: 'visa', last4: '4242' },
  pm_card_visa_debit: { kind: 'success', brand: 'visa', last4: '5556' },
  pm_card_mastercard: { kind: 'success', brand: 'mastercard', last4: '4444' },
  pm_card_amex: { kind: 'success', brand: 'amex', last4: '8431' },
  pm_card_chargeDeclined: declined('0002', 'generic_decline'),
  pm_card_chargeCustomerFail: declined('0341', 'generic_decline'),
  pm_card_chargeDeclinedInsufficientFunds: declined('9995', 'insufficient_funds', 'Your card has insufficient funds.'),
  pm_card_chargeDeclinedLostCard: declined('9987', 'lost_card'),
  pm_card_chargeDeclinedStolenCard: declined('9979', 'stolen_card'),
  pm_card_chargeDeclinedFraudulent: declined('0019', 'fraudulent'),
  pm_card_chargeDeclinedExpiredCard: declined('0069', 'expired_card', 'Your card has expired.', 'expired_card'),
  pm_card_chargeDeclinedIncorrectCvc: declined('0127', 'incorrect_cvc', "Your card's security code is incorrect.", 'incorrect_cvc'),
  pm_card_chargeDeclinedProcessingError: declined(
    '0119',
    'processing_error',
    'An error occurred while processing your card. Try again in a little bit.',
    'processing_error',
  ),
  pm_card_authenticationRequired: declined(
    '3184',
    'authentication_required',
    'Your card was declined. This transaction requires authentication.',
    'authentication_required',
  ),
};

export interface SimulatedProviderOptions {
  store: SimulatedStore;
  /** Seconds since the epoch; defaults to the clock. */
  now?: () => number;
  /** Page that stands in for Stripe Checkout in local runs; the session id is appended. */
  checkoutPageUrl?: string;
}

type SimCustomer = { id: string; memberId: string; email: string | null; name: string | null; metadata: Record<string, string> };
type SimIntent = {
  id: string;
  flow: 'off_session' | 'pay_now';
  amount: number;
  currency: string;
  status: 'requires_payment_method' | 'succeeded' | 'processing';
  customerId: string | null;
  paymentMethodId: string | null;
  paymentMethodTypes: string[];
  chargeId: string | null;
  clientSecret: string;
  amountRefunded: number;
  metadata: Record<string, string>;
  lastError: PaymentError | null;
  created: number;
};
type SimSetup = { id: string; customerId: string; status: 'requires_payment_method' | 'succeeded'; paymentMethodId: string | null; checkoutSessionId: string | null };
type IdempotencyRecord = { fingerprint: string; result: unknown };

export interface SimulatedProvider extends PaymentProvider {
  readonly name: 'simulated';
  /** Stands in for the member entering a card: completes a setup intent or checkout session. */
  completeCardSetup(setupOrSessionId: string, paymentMethodId: string, forCustomerId?: string): Promise<{ setupIntentId: string; customerId: string; paymentMethodId: string }>;
  /** Stands in for the member paying on the pay-now page (card test id, or PromptPay scanned). */
  confirmPayNow(paymentIntentId: string, paymentMethodId?: string): Promise<ChargeOutcome>;
  /** A pay-now payment's client secret and state; outcome null while nothing was tried. */
  retrievePayNow(paymentIntentId: string): Promise<PayNowPayment & { outcome: ChargeOutcome | null }>;
}

/** What the simulated pay-now page offers a member, each played by one of SIMULATED_TEST_CARDS. */
export const SIMULATED_PAY_NOW_OUTCOMES = [
  { outcome: 'success', label: 'Payment succeeds', paymentMethodId: 'pm_card_visa' },
  { outcome: 'generic_decline', label: 'Card declined', paymentMethodId: 'pm_card_chargeDeclined' },
  { outcome: 'insufficient_funds', label: 'Insufficient funds', paymentMethodId: 'pm_card_chargeDeclinedInsufficientFunds' },
  { outcome: 'expired_card', label: 'Expired card', paymentMethodId: 'pm_card_chargeDeclinedExpiredCard' },
  { outcome: 'authentication_required', label: 'Bank asks for authentication', paymentMethodId: 'pm_card_authenticationRequired' },
] as const;

export function createSimulatedProvider(options: SimulatedProviderOptions): SimulatedProvider {
  const { store } = options;
  const now = options.now ?? (() => Math.floor(Date.now() / 1000));
  const checkoutPage = options.checkoutPageUrl ?? 'https://simulated-checkout.invalid/setup';

  const load = async <T>(key: string): Promise<T | null> => {
    const raw = await store.get(key);
    return raw === null ? null : (JSON.parse(raw) as T);
  };
  const save = (key: string, value: unknown) => store.put(key, JSON.stringify(value));

  /** Runs `work` once per idempotency key; replays its result, refuses other parameters. */
  async function idempotent<T>(key: string, operation: string, params: unknown, work: () => Promise<T>): Promise<T> {
    const fingerprint = `${operation}:${canonicalJson(params)}`;
    const recordKey = `idempotency:${key}`;
    const previous = await load<IdempotencyRecord>(recordKey);
    if (previous) {
      if (previous.fingerprint !== fingerprint) {
        throw new PaymentProviderError(
          'simulated',
          'idempotency_conflict',
          `Keys for idempotent requests can only be used with the same parameters they were first used with. Try using a key other than '${key}' if you meant to execute a different request.`,
          { code: 'idempotency_key_reused', statusCode: 400 },
        );
      }
      return previous.result as T;
    }
    const result = await work();
    await save(recordKey, { fingerprint, result } satisfies IdempotencyRecord);
    return result;
  }

  async function requireCustomer(id: string): Promise<SimCustomer> {
    const customer = await load<SimCustomer>(`customer:${id}`);
    if (!customer) throw notFound('customer', id);
    return customer;
  }

  async function requireIntent(id: string): Promise<SimIntent> {
    const intent = await load<SimIntent>(`payment_intent:${id}`);
    if (!intent) throw notFound('payment_intent', id);
    return intent;
  }

  function testCard(paymentMethodId: string): TestCard {
    const card = SIMULATED_TEST_CARDS[paymentMethodId];
    if (!card) throw notFound('payment_method', paymentMethodId);
    return card;
  }

  /** Confirms an intent with a test card, like Stripe's confirmation; returns the new state. */
  async function confirm(intent: SimIntent, paymentMethodId: string, seed: string): Promise<SimIntent> {
    const card = testCard(paymentMethodId);
    const chargeId = `ch_sim_${await digest(`charge|${seed}`)}`;
    const next: SimIntent = { ...intent, paymentMethodId };
    if (card.kind === 'success') Object.assign(next, { status: 'succeeded', chargeId, lastError: null });
    else Object.assign(next, { status: 'requires_payment_method', chargeId, lastError: card.error });
    await save(`payment_intent:${next.id}`, next);
    return next;
  }

  const snapshot = (intent: SimIntent) =>
    outcomeFromSnapshot({ id: intent.id, status: intent.status, chargeId: intent.chargeId, clientSecret: intent.clientSecret, error: intent.lastError });

  return {
    name: 'simulated',
    description: 'Simulated card processor (no money moves; local runs and demos only)',

    async ensureCustomer(input: EnsureCustomerInput): Promise<CustomerRef> {
      const email = input.email ?? null;
      const name = input.name ?? null;
      if (input.existingCustomerId) {
        const existing = await load<SimCustomer>(`customer:${input.existingCustomerId}`);
        if (existing) {
          const updated = { ...existing, email: input.email === undefined ? existing.email : email, name: input.name === undefined ? existing.name : name };
          await save(`customer:${existing.id}`, updated);
          return { customerId: existing.id, created: false };
        }
      }
      const id = `cus_sim_${await digest(`customer|${input.memberId}|${input.existingCustomerId ?? ''}`, 14)}`;
      const customer: SimCustomer = { id, memberId: input.memberId, email, name, metadata: ownerMetadata(input) };
      await save(`customer:${id}`, customer);
      return { customerId: id, created: true };
    },

    async startCardSetup(input: StartCardSetupInput): Promise<CardSetup> {
      if (input.idempotencyKey !== undefined) checkIdempotencyKey('simulated', input.idempotencyKey);
      await requireCustomer(input.customerId);
      const flow = input.flow ?? 'setup_intent';
      const create = async (seed: string): Promise<CardSetup> => {
        const hash = await digest(`setup|${seed}`);
        const setup: SimSetup = { id: `seti_sim_${hash}`, customerId: input.customerId, status: 'requires_payment_method', paymentMethodId: null, checkoutSessionId: null };
        if (flow === 'checkout') {
          const sessionId = `cs_sim_${hash}`;
          setup.checkoutSessionId = sessionId;
          await save(`setup_intent:${setup.id}`, setup);
          await save(`checkout_session:${sessionId}`, { id: sessionId, setupIntentId: setup.id, returnUrl: input.returnUrl });
          const url = new URL(checkoutPage);
          url.searchParams.set('session', sessionId);
          url.searchParams.set('return_url', input.returnUrl);
          return { kind: 'checkout', id: sessionId, url: url.toString() };
        }
        await save(`setup_intent:${setup.id}`, setup);
        return { kind: 'setup_intent', id: setup.id, clientSecret: `${setup.id}_secret_sim${await digest(`secret|${setup.id}`, 12)}` };
      };
      if (input.idempotencyKey) {
        const key = input.idempotencyKey;
        return idempotent(key, 'start_card_setup', { ...input, idempotencyKey: undefined }, () => create(`key|${key}`));
      }
      const counterKey = `setup_counter:${input.customerId}`;
      const n = ((await load<number>(counterKey)) ?? 0) + 1;
      await save(counterKey, n);
      return create(`${input.customerId}|${n}`);
    },

    async chargeOffSession(input: ChargeOffSessionInput): Promise<ChargeOutcome> {
      const currency = checkCharge('simulated', input);
      const params = { ...input, currency, idempotencyKey: undefined };
      return idempotent(input.idempotencyKey, 'charge_off_session', params, async () => {
        await requireCustomer(input.customerId);
        testCard(input.paymentMethodId);
        const hash = await digest(`payment_intent|${input.idempotencyKey}`);
        const intent: SimIntent = {
          id: `pi_sim_${hash}`,
          flow: 'off_session',
          amount: input.amount,
          currency,
          status: 'requires_payment_method',
          customerId: input.customerId,
          paymentMethodId: null,
          paymentMethodTypes: ['card'],
          chargeId: null,
          clientSecret: `pi_sim_${hash}_secret_sim${await digest(`secret|${hash}`, 12)}`,
          amountRefunded: 0,
          metadata: paymentMetadata('off_session', input.metadata),
          lastError: null,
          created: now(),
        };
        return snapshot(await confirm(intent, input.paymentMethodId, input.idempotencyKey));
      });
    },

    async chargeOffSessionMany(inputs: ChargeOffSessionInput[]): Promise<PromiseSettledResult<ChargeOutcome>[]> {
      const settle = (work: Promise<ChargeOutcome>) =>
        work.then(
          (value) => ({ status: 'fulfilled' as const, value }),
          (reason: unknown) => ({ status: 'rejected' as const, reason }),
        );
      const { getMany, putMany } = store;
      if (!getMany || !putMany) return Promise.all(inputs.map((input) => settle(this.chargeOffSession(input))));
      // One read of every record the charges look at, the charges one after the other in memory
      // (so two with one idempotency key still replay), then one write of what they saved.
      const staged = await stagedStore(
        { ...store, getMany: getMany.bind(store) },
        inputs.flatMap((i) => [`idempotency:${i.idempotencyKey}`, `customer:${i.customerId}`]),
      );
      const inner = createSimulatedProvider({ ...options, store: staged.store });
      const results: PromiseSettledResult<ChargeOutcome>[] = [];
      for (const input of inputs) results.push(await settle(inner.chargeOffSession(input)));
      if (staged.writes.size > 0) await putMany.call(store, [...staged.writes]);
      return results;
    },

    async refund(input: RefundInput): Promise<RefundResult> {
      checkRefund('simulated', input);
      return idempotent(input.idempotencyKey, 'refund', { ...input, idempotencyKey: undefined }, async () => {
        const intent = await requireIntent(input.paymentIntentId);
        if (intent.status !== 'succeeded') {
          throw new PaymentProviderError('simulated', 'invalid_request', `This PaymentIntent (${intent.id}) does not have a successful charge to refund.`, {
            code: 'charge_not_refundable',
            statusCode: 400,
          });
        }
        const left = intent.amount - intent.amountRefunded;
        if (input.amount > left) {
          throw new PaymentProviderError('simulated', 'invalid_request', `Refund amount (${input.amount}) is greater than unrefunded amount on charge (${left}).`, {
            code: 'amount_too_large',
            statusCode: 400,
          });
        }
        await save(`payment_intent:${intent.id}`, { ...intent, amountRefunded: intent.amountRefunded + input.amount });
        return { refundId: `re_sim_${await digest(`refund|${input.idempotencyKey}`)}`, status: 'succeeded' as const, amount: input.amount };
      });
    },

    async createPayNowPayment(input: PayNowInput): Promise<PayNowPayment> {
      const currency = checkPayNow('simulated', input);
      return idempotent(input.idempotencyKey, 'create_pay_now', { ...input, currency, idempotencyKey: undefined }, async () => {
        if (input.customerId) await requireCustomer(input.customerId);
        const hash = await digest(`payment_intent|${input.idempotencyKey}`);
        const intent: SimIntent = {
          id: `pi_sim_${hash}`,
          flow: 'pay_now',
          amount: input.amount,
          currency,
          status: 'requires_payment_method',
          customerId: input.customerId ?? null,
          paymentMethodId: null,
          paymentMethodTypes: [...input.paymentMethodTypes],
          chargeId: null,
          clientSecret: `pi_sim_${hash}_secret_sim${await digest(`secret|${hash}`, 12)}`,
          amountRefunded: 0,
          metadata: paymentMetadata('pay_now', input.metadata),
          lastError: null,
          created: now(),
        };
        await save(`payment_intent:${intent.id}`, intent);
        return { paymentIntentId: intent.id, clientSecret: intent.clientSecret };
      });
    },

    async completeCardSetup(setupOrSessionId: string, paymentMethodId: string, forCustomerId?: string) {
      let setupId = setupOrSessionId;
      if (setupOrSessionId.startsWith('cs_sim_')) {
        const session = await load<{ setupIntentId: string }>(`checkout_session:${setupOrSessionId}`);
        if (!session) throw notFound('checkout.session', setupOrSessionId);
        setupId = session.setupIntentId;
      }
      const setup = await load<SimSetup>(`setup_intent:${setupId}`);
      if (!setup) throw notFound('setup_intent', setupId);
      // Checked before anything changes: another customer's setup is not consumed by a refusal.
      if (forCustomerId !== undefined && setup.customerId !== forCustomerId) {
        throw new PaymentProviderError('simulated', 'invalid_request', `No such setup for customer ${forCustomerId}: '${setup.id}'`, {
          code: 'setup_other_customer',
          statusCode: 404,
        });
      }
      testCard(paymentMethodId);
      // As Stripe: a setup is confirmed once, so a repeated completion saves (and retries) nothing.
      if (setup.status === 'succeeded') {
        throw new PaymentProviderError('simulated', 'invalid_request', `You cannot confirm this SetupIntent because it has already succeeded: '${setup.id}'`, {
          code: 'setup_intent_unexpected_state',
          statusCode: 400,
        });
      }
      await save(`setup_intent:${setup.id}`, { ...setup, status: 'succeeded', paymentMethodId } satisfies SimSetup);
      return { setupIntentId: setup.id, customerId: setup.customerId, paymentMethodId };
    },

    async confirmPayNow(paymentIntentId: string, paymentMethodId?: string): Promise<ChargeOutcome> {
      const intent = await requireIntent(paymentIntentId);
      if (intent.status === 'succeeded') return snapshot(intent);
      if (intent.paymentMethodTypes[0] === 'promptpay') {
        const paid: SimIntent = { ...intent, status: 'succeeded', paymentMethodId: 'pm_promptpay_sim', chargeId: `ch_sim_${await digest(`charge|${intent.id}`)}` };
        await save(`payment_intent:${intent.id}`, paid);
        return snapshot(paid);
      }
      if (!paymentMethodId) throw new PaymentProviderError('simulated', 'invalid_request', 'a card payment method is required', { code: 'parameter_missing' });
      return snapshot(await confirm(intent, paymentMethodId, `${intent.id}|${paymentMethodId}|${now()}`));
    },

    async retrievePayNow(paymentIntentId: string) {
      const intent = await requireIntent(paymentIntentId);
      const untried = intent.status === 'requires_payment_method' && !intent.lastError;
      return { paymentIntentId: intent.id, clientSecret: intent.clientSecret, outcome: untried ? null : snapshot(intent) };
    },
  };
}

function notFound(resource: string, id: string): PaymentProviderError {
  return new PaymentProviderError('simulated', 'not_found', `No such ${resource}: '${id}'`, { code: 'resource_missing', statusCode: 404 });
}

async function digest(text: string, length = 24): Promise<string> {
  const bytes = new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(text)));
  const alphabet = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
  let out = '';
  for (const b of bytes) out += alphabet[b % alphabet.length];
  return out.slice(0, length);
}

/** JSON with sorted keys and undefined dropped, so equal parameters give equal text. */
function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
}
