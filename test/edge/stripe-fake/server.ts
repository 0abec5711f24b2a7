// A fake of Stripe's REST API for the Worker tests: a Node HTTP server on 127.0.0.1 that answers
// the endpoints gymgate's Stripe adapter uses, the way Stripe's test mode does.
//
// - Form-encoded bodies (`metadata[key]=…`, `list[0]=…`), `Authorization: Bearer sk_test_…`.
// - Each API key is its own account: objects, idempotency keys, the request log and the events
//   are kept per key, so test files that use different keys do not see each other.
// - Idempotency-Key: the first result is saved and replayed (`Idempotent-Replayed: true`); reusing
//   a key with other parameters answers 400 idempotency_error. Validation errors and injected
//   faults are not saved, as on Stripe.
// - Outcomes follow Stripe's test payment methods (pm_card_visa, pm_card_chargeDeclined…); card
//   errors answer 402 with `{ error: { type: 'card_error', code, decline_code, message,
//   payment_intent, … } }`.
// - Responses start from Stripe's published sample objects (fixtures.json).
//
// Test-only endpoints under /__fake (JSON bodies, same API key): the request log, the events the
// account produced, fault injection, and actions Stripe would take on its own (a member finishing
// card setup, the account updater (whose card then charges as `charges_as`, default a working
// Visa), disputes).
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';

type Obj = Record<string, any>;

const fixtures: { resources: Record<string, Obj> } = JSON.parse(readFileSync(path.join(import.meta.dirname, 'fixtures.json'), 'utf8'));

function fixture(name: string): Obj {
  const f = fixtures.resources[name];
  if (!f) throw new Error(`no fixture ${name}`);
  return structuredClone(f);
}

type TestCard = { brand: string; last4: string; error?: { code: string; decline_code?: string; message: string; param?: string; advice_code?: string } };

const declined = (last4: string, decline_code: string, message = 'Your card was declined.', code = 'card_declined', param?: string): TestCard => ({
  brand: 'visa',
  last4,
  error: { code, decline_code, message, ...(param ? { param } : {}) },
});

/** Stripe's test payment methods (docs.stripe.com/testing) and what Stripe answers for each. */
const TEST_CARDS: Record<string, TestCard> = {
  pm_card_visa: { brand: 'visa', last4: '4242' },
  pm_card_visa_debit: { brand: 'visa', last4: '5556' },
  pm_card_mastercard: { brand: 'mastercard', last4: '4444' },
  pm_card_amex: { brand: 'amex', last4: '8431' },
  pm_card_chargeDeclined: declined('0002', 'generic_decline'),
  pm_card_chargeCustomerFail: declined('0341', 'generic_decline'),
  pm_card_chargeDeclinedInsufficientFunds: declined('9995', 'insufficient_funds', 'Your card has insufficient funds.'),
  pm_card_chargeDeclinedLostCard: declined('9987', 'lost_card'),
  pm_card_chargeDeclinedStolenCard: declined('9979', 'stolen_card'),
  pm_card_chargeDeclinedFraudulent: declined('0019', 'fraudulent'),
  pm_card_chargeDeclinedExpiredCard: declined('0069', 'expired_card', 'Your card has expired.', 'expired_card', 'exp_month'),
  pm_card_chargeDeclinedIncorrectCvc: declined('0127', 'incorrect_cvc', "Your card's security code is incorrect.", 'incorrect_cvc', 'cvc'),
  pm_card_chargeDeclinedProcessingError: declined('0119', 'processing_error', 'An error occurred while processing your card. Try again in a little bit.', 'processing_error'),
  pm_card_authenticationRequired: { brand: 'visa', last4: '3184' },
};

/** Stripe's minimum charge amounts (in minor units) for the currencies the tests use. */
const MINIMUM_AMOUNT: Record<string, number> = { thb: 1000, usd: 50, eur: 50, gbp: 30, sgd: 50 };

type Fault = { method?: string; path: string; status: number; count: number; error?: Obj; headers?: Record<string, string>; mode?: 'reset' };

export type RecordedRequest = {
  method: string;
  path: string;
  idempotencyKey: string | null;
  stripeVersion: string | null;
  params: Obj;
  status: number;
  replayed: boolean;
};

type Account = {
  objects: Map<string, Obj>;
  idempotency: Map<string, { fingerprint: string; status: number; body: string }>;
  requests: RecordedRequest[];
  events: Obj[];
  faults: Fault[];
  clock: number;
};

class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly body: Obj,
    /** Whether Stripe would keep this result for idempotent replay (the request executed). */
    readonly saved = false,
  ) {
    super(String(body.message));
  }
}

const invalid = (message: string, extra: Obj = {}) => new ApiError(400, { type: 'invalid_request_error', message, ...extra });
/** 404 for an object named in the URL path, 400 when a request parameter names it (as on Stripe). */
const missing = (kind: string, id: string, param?: string) =>
  new ApiError(param && param !== 'id' ? 400 : 404, { type: 'invalid_request_error', code: 'resource_missing', message: `No such ${kind}: '${id}'`, ...(param ? { param } : {}) });

function id(prefix: string): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
  return `${prefix}_${[...randomBytes(24)].map((b) => alphabet[b % alphabet.length]).join('')}`;
}

/** Parses Stripe's form encoding (`a[b][0]=x`) into nested objects and arrays. */
export function parseForm(body: string): Obj {
  const out: Obj = {};
  for (const [rawKey, value] of new URLSearchParams(body)) {
    const segments = rawKey.replace(/\]/g, '').split('[');
    let node: any = out;
    segments.forEach((segment, i) => {
      const last = i === segments.length - 1;
      const nextIsIndex = !last && /^\d+$/.test(segments[i + 1]!);
      const key: string | number = Array.isArray(node) ? Number(segment) : segment;
      if (last) node[key] = value;
      else node = node[key] ??= nextIsIndex ? [] : {};
    });
  }
  return out;
}

function canonical(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  return `{${Object.keys(value)
    .sort()
    .map((k) => `${JSON.stringify(k)}:${canonical((value as Obj)[k])}`)
    .join(',')}}`;
}

const toInt = (value: unknown, param: string): number => {
  if (typeof value !== 'string' || !/^-?\d+$/.test(value)) {
    throw invalid(`Invalid integer: ${String(value)}`, { code: 'parameter_invalid_integer', param });
  }
  return Number(value);
};
const bool = (value: unknown) => value === 'true';

export interface FakeStripe {
  url: string;
  close(): Promise<void>;
}

export async function startFakeStripe(): Promise<FakeStripe> {
  const accounts = new Map<string, Account>();
  const account = (key: string): Account => {
    let a = accounts.get(key);
    if (!a) accounts.set(key, (a = { objects: new Map(), idempotency: new Map(), requests: [], events: [], faults: [], clock: 0 }));
    return a;
  };

  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      try {
        handle(req, res, Buffer.concat(chunks).toString('utf8'));
      } catch (error) {
        send(res, 500, { error: { type: 'api_error', message: `fake Stripe failed: ${(error as Error).message}` } });
      }
    });
  });

  function send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) {
    const text = typeof body === 'string' ? body : JSON.stringify(body);
    res.writeHead(status, { 'content-type': 'application/json', 'request-id': id('req'), ...headers });
    res.end(text);
  }

  function handle(req: IncomingMessage, res: ServerResponse, body: string) {
    const url = new URL(req.url ?? '/', 'http://fake');
    const method = (req.method ?? 'GET').toUpperCase();
    const auth = req.headers.authorization ?? '';
    const key = auth.startsWith('Bearer ') ? auth.slice(7) : '';
    if (!key) {
      return send(res, 401, { error: { type: 'invalid_request_error', message: 'You did not provide an API key. You need to provide your API key in the Authorization header, using Bearer auth.' } });
    }
    if (!/^(sk|rk)_test_[A-Za-z0-9_]+$/.test(key)) {
      return send(res, 401, { error: { type: 'invalid_request_error', message: `Invalid API Key provided: ${key.slice(0, 8)}${'*'.repeat(Math.max(0, key.length - 12))}${key.slice(-4)}` } });
    }
    const acct = account(key);

    if (url.pathname.startsWith('/__fake/')) return control(acct, method, url, body, res);

    const params = method === 'GET' || method === 'DELETE' ? parseForm(url.search.slice(1)) : parseForm(body);
    const idempotencyKey = method === 'POST' ? (headerValue(req, 'idempotency-key') ?? null) : null;
    const record: RecordedRequest = { method, path: url.pathname, idempotencyKey, stripeVersion: headerValue(req, 'stripe-version') ?? null, params, status: 0, replayed: false };
    acct.requests.push(record);

    const fault = takeFault(acct, method, url.pathname);
    if (fault) {
      record.status = fault.status;
      if (fault.mode === 'reset') {
        req.socket.destroy();
        return;
      }
      return send(res, fault.status, { error: fault.error ?? { type: 'api_error', message: 'An unknown error occurred' } }, fault.headers ?? {});
    }

    if (idempotencyKey) {
      const fingerprint = `${method} ${url.pathname} ${canonical(params)}`;
      const previous = acct.idempotency.get(idempotencyKey);
      if (previous) {
        if (previous.fingerprint !== fingerprint) {
          record.status = 400;
          return send(res, 400, {
            error: {
              type: 'idempotency_error',
              message: `Keys for idempotent requests can only be used with the same parameters they were first used with. Try using a key other than '${idempotencyKey}' if you meant to execute a different request.`,
            },
          });
        }
        record.status = previous.status;
        record.replayed = true;
        return send(res, previous.status, previous.body, { 'idempotent-replayed': 'true', 'idempotency-key': idempotencyKey });
      }
    }

    let status = 200;
    let responseBody: Obj;
    let save = true;
    try {
      responseBody = route(acct, method, url.pathname, params, { idempotencyKey, apiVersion: record.stripeVersion });
    } catch (error) {
      if (!(error instanceof ApiError)) throw error;
      status = error.status;
      responseBody = { error: { ...error.body, request_log_url: `https://dashboard.stripe.com/test/logs/${id('req')}` } };
      save = error.saved;
    }
    record.status = status;
    const text = JSON.stringify(responseBody);
    if (idempotencyKey && save) acct.idempotency.set(idempotencyKey, { fingerprint: `${method} ${url.pathname} ${canonical(params)}`, status, body: text });
    send(res, status, text, idempotencyKey ? { 'idempotency-key': idempotencyKey } : {});
  }

  function takeFault(acct: Account, method: string, pathname: string): Fault | undefined {
    const i = acct.faults.findIndex((f) => pathname.startsWith(f.path) && (!f.method || f.method.toUpperCase() === method));
    if (i < 0) return undefined;
    const fault = acct.faults[i]!;
    if (--fault.count <= 0) acct.faults.splice(i, 1);
    return fault;
  }

  /** Seconds; strictly increasing per account so events have a definite order. */
  const tick = (acct: Account) => (acct.clock = Math.max(Math.floor(Date.now() / 1000), acct.clock + 1));

  function emit(acct: Account, type: string, object: Obj, request: { idempotencyKey: string | null; apiVersion: string | null } | null) {
    const event = fixture('event');
    Object.assign(event, {
      id: id('evt'),
      api_version: request?.apiVersion ?? '2026-10-28.endive',
      created: tick(acct),
      data: { object: structuredClone(object) },
      livemode: false,
      pending_webhooks: 1,
      request: { id: request ? id('req') : null, idempotency_key: request?.idempotencyKey ?? null },
      type,
    });
    acct.events.push(event);
  }

  const get = (acct: Account, kind: string, objectId: string, param?: string): Obj => {
    const obj = acct.objects.get(objectId);
    if (!obj || obj.__kind !== kind) throw missing(kind, objectId, param);
    return obj;
  };
  const put = (acct: Account, kind: string, obj: Obj) => {
    Object.defineProperty(obj, '__kind', { value: kind, enumerable: false });
    acct.objects.set(obj.id, obj);
    return obj;
  };
  const metadataOf = (value: unknown): Obj => (value && typeof value === 'object' ? { ...(value as Obj) } : {});

  function paymentMethodFor(acct: Account, pm: string, customer: string | null): Obj {
    const existing = acct.objects.get(pm);
    if (existing && existing.__kind === 'payment_method') return existing;
    const card = TEST_CARDS[pm];
    if (!card) throw missing('PaymentMethod', pm, 'payment_method');
    // Like Stripe, a test payment method shortcut makes a new payment method each time it is used.
    const obj = fixture('payment_method');
    Object.assign(obj, { id: id('pm'), created: tick(acct), customer, metadata: {}, billing_details: { ...obj.billing_details, email: null, phone: null } });
    Object.assign(obj.card, { brand: card.brand, display_brand: card.brand, last4: card.last4, fingerprint: id('fp').slice(3, 19), wallet: null });
    // The test card it stands for (how charges to it go); the account updater can replace it.
    Object.defineProperty(obj, '__test', { value: pm, enumerable: false, writable: true });
    return put(acct, 'payment_method', obj);
  }

  function newCharge(acct: Account, intent: Obj, pm: Obj, error: TestCard['error'] | null): Obj {
    const charge = fixture('charge');
    Object.assign(charge, {
      id: id('ch'),
      amount: intent.amount,
      amount_captured: error ? 0 : intent.amount,
      amount_refunded: 0,
      captured: !error,
      paid: !error,
      status: error ? 'failed' : 'succeeded',
      created: tick(acct),
      currency: intent.currency,
      customer: intent.customer,
      description: intent.description,
      metadata: { ...intent.metadata },
      payment_intent: intent.id,
      payment_method: pm.id,
      failure_code: error?.code ?? null,
      failure_message: error?.message ?? null,
      outcome: error
        ? { ...charge.outcome, type: error.code === 'card_declined' ? 'issuer_declined' : 'invalid', reason: error.decline_code ?? null, network_status: 'declined_by_network', seller_message: 'The bank did not return any further details with this decline.' }
        : { ...charge.outcome, type: 'authorized', reason: null, network_status: 'approved_by_network', seller_message: 'Payment complete.' },
      refunded: false,
      refunds: { object: 'list', data: [], has_more: false, url: '' },
      receipt_url: null,
      source: null,
      transfer_data: null,
      balance_transaction: error ? null : id('txn'),
      billing_details: pm.billing_details,
    });
    charge.refunds.url = `/v1/charges/${charge.id}/refunds`;
    Object.assign(charge.payment_method_details.card, { brand: pm.card.brand, last4: pm.card.last4, fingerprint: pm.card.fingerprint, wallet: null });
    return put(acct, 'charge', charge);
  }

  type Ctx = { idempotencyKey: string | null; apiVersion: string | null };

  function route(acct: Account, method: string, pathname: string, p: Obj, ctx: Ctx): Obj {
    const parts = pathname.split('/').filter(Boolean);
    if (parts[0] !== 'v1') throw missing('route', pathname);
    const [, resource, objectId, action] = parts;

    if (resource === 'customers') {
      if (method === 'POST' && !objectId) {
        const c = fixture('customer');
        Object.assign(c, { id: id('cus').slice(0, 18), created: tick(acct), email: p.email ?? null, name: p.name ?? null, description: p.description ?? null, metadata: metadataOf(p.metadata), discount: null, currency: null });
        return put(acct, 'customer', c);
      }
      if (objectId && !action) {
        const c = acct.objects.get(objectId);
        if (!c || c.__kind !== 'customer') throw missing('customer', objectId, 'id');
        if (method === 'GET') return c.deleted ? { id: c.id, object: 'customer', deleted: true } : c;
        if (method === 'DELETE') {
          c.deleted = true;
          return { id: c.id, object: 'customer', deleted: true };
        }
        if (method === 'POST') {
          if (c.deleted) throw invalid('You cannot update a deleted customer.');
          for (const k of ['email', 'name', 'description'] as const) if (p[k] !== undefined) c[k] = p[k] || null;
          if (p.metadata) c.metadata = { ...c.metadata, ...p.metadata };
          return c;
        }
      }
    }

    if (resource === 'setup_intents' && method === 'POST' && !objectId) {
      return newSetupIntent(acct, p);
    }
    if (resource === 'setup_intents' && method === 'GET' && objectId) return get(acct, 'setup_intent', objectId);
    if (resource === 'payment_methods' && method === 'GET' && objectId && !action) return get(acct, 'payment_method', objectId);

    if (resource === 'checkout' && objectId === 'sessions' && method === 'POST' && !action) {
      const mode = p.mode;
      if (mode !== 'setup' && mode !== 'payment' && mode !== 'subscription') throw invalid('Missing required param: mode.', { code: 'parameter_missing', param: 'mode' });
      if (mode !== 'setup') throw invalid('This fake only supports Checkout in setup mode.');
      if (!p.success_url && p.ui_mode !== 'embedded') throw invalid('Missing required param: success_url.', { code: 'parameter_missing', param: 'success_url' });
      if (p.customer) get(acct, 'customer', p.customer, 'customer');
      const setup = newSetupIntent(acct, { customer: p.customer, usage: 'off_session', allowed_payment_method_types: p.allowed_payment_method_types, metadata: p.setup_intent_data?.metadata });
      const s = fixture('checkout.session');
      const sid = id('cs_test');
      Object.assign(s, {
        id: sid,
        url: `https://checkout.stripe.com/c/pay/${sid}`,
        mode: 'setup',
        created: tick(acct),
        expires_at: acct.clock + 24 * 3600,
        customer: p.customer ?? null,
        currency: p.currency ?? null,
        metadata: metadataOf(p.metadata),
        success_url: p.success_url ?? null,
        cancel_url: p.cancel_url ?? null,
        payment_intent: null,
        setup_intent: setup.id,
        payment_method_types: p.allowed_payment_method_types ?? ['card'],
        amount_subtotal: null,
        amount_total: null,
        shipping_cost: null,
        total_details: null,
        currency_conversion: null,
        status: 'open',
        payment_status: 'no_payment_required',
      });
      return put(acct, 'checkout.session', s);
    }

    if (resource === 'payment_intents') {
      if (method === 'POST' && !objectId) return createPaymentIntent(acct, p, ctx);
      if (method === 'GET' && objectId && !action) return get(acct, 'payment_intent', objectId);
    }

    if (resource === 'charges' && method === 'GET' && objectId) return get(acct, 'charge', objectId);

    if (resource === 'refunds' && method === 'POST' && !objectId) return createRefund(acct, p, ctx);

    throw missing('route', `${method} ${pathname}`);
  }

  function newSetupIntent(acct: Account, p: Obj): Obj {
    if (p.customer) get(acct, 'customer', p.customer, 'customer');
    const si = fixture('setup_intent');
    const sid = id('seti');
    Object.assign(si, {
      id: sid,
      client_secret: `${sid}_secret_${id('x').slice(2)}`,
      created: tick(acct),
      customer: p.customer ?? null,
      usage: p.usage ?? 'off_session',
      metadata: metadataOf(p.metadata),
      last_setup_error: null,
      next_action: null,
      payment_method_configuration_details: null,
      payment_method_types: p.allowed_payment_method_types ?? ['card'],
      status: 'requires_payment_method',
    });
    return put(acct, 'setup_intent', si);
  }

  function createPaymentIntent(acct: Account, p: Obj, ctx: Ctx): Obj {
    if (p.amount === undefined) throw invalid('Missing required param: amount.', { code: 'parameter_missing', param: 'amount' });
    const amount = toInt(p.amount, 'amount');
    if (!p.currency) throw invalid('Missing required param: currency.', { code: 'parameter_missing', param: 'currency' });
    const currency = String(p.currency).toLowerCase();
    const min = MINIMUM_AMOUNT[currency] ?? 1;
    if (amount < min) throw invalid(`Amount must be at least ${min} ${currency}`, { code: 'amount_too_small', param: 'amount' });
    const types: string[] = p.allowed_payment_method_types ?? p.payment_method_types ?? ['card'];
    if (types.includes('promptpay') && currency !== 'thb') {
      throw invalid(`The currency provided (${currency}) is invalid for one or more payment method types on this PaymentIntent. PromptPay only supports thb.`, {
        code: 'payment_intent_invalid_parameter',
        param: 'currency',
      });
    }
    const customer = p.customer ? get(acct, 'customer', p.customer, 'customer') : null;
    if (customer?.deleted) throw missing('customer', customer.id, 'customer');
    const confirm = bool(p.confirm);
    if (p.off_session !== undefined && !confirm) throw invalid('You can only pass in off_session when confirm is set to true.', { param: 'off_session' });

    const intent = fixture('payment_intent');
    const piId = id('pi');
    Object.assign(intent, {
      id: piId,
      amount,
      amount_capturable: 0,
      amount_received: 0,
      currency,
      customer: customer?.id ?? null,
      description: p.description ?? null,
      metadata: metadataOf(p.metadata),
      created: tick(acct),
      canceled_at: null,
      client_secret: `${piId}_secret_${id('x').slice(2)}`,
      last_payment_error: null,
      latest_charge: null,
      next_action: null,
      processing: null,
      transfer_data: null,
      shipping: null,
      payment_method: null,
      payment_method_configuration_details: null,
      automatic_payment_methods: null,
      managed_payments: null,
      payment_method_types: types,
      allowed_payment_method_types: types,
      setup_future_usage: null,
      status: 'requires_payment_method',
    });
    put(acct, 'payment_intent', intent);
    if (!confirm) {
      if (p.payment_method) intent.status = 'requires_confirmation';
      return intent;
    }

    if (!p.payment_method) throw invalid('You cannot confirm this PaymentIntent because it\'s missing a payment method.', { code: 'payment_intent_unexpected_state' });
    const pm = paymentMethodFor(acct, p.payment_method, customer?.id ?? null);
    intent.payment_method = pm.id;
    const testId: string = (pm as any).__test ?? '';
    const card: TestCard = TEST_CARDS[testId] ?? { brand: pm.card.brand, last4: pm.card.last4 };

    if (testId === 'pm_card_authenticationRequired') {
      if (!bool(p.off_session)) {
        intent.status = 'requires_action';
        intent.next_action = { type: 'use_stripe_sdk', use_stripe_sdk: { type: 'three_d_secure_redirect', stripe_js: 'https://hooks.stripe.com/3d_secure_2/hosted' } };
        emit(acct, 'payment_intent.requires_action', intent, ctx);
        return intent;
      }
      const error = { code: 'authentication_required', decline_code: 'authentication_required', message: 'Your card was declined. This transaction requires authentication.' };
      return decline(acct, intent, pm, error, ctx);
    }
    if (card.error) return decline(acct, intent, pm, card.error, ctx);

    const charge = newCharge(acct, intent, pm, null);
    Object.assign(intent, { status: 'succeeded', amount_received: amount, latest_charge: charge.id });
    emit(acct, 'charge.succeeded', charge, ctx);
    emit(acct, 'payment_intent.succeeded', intent, ctx);
    return intent;
  }

  function decline(acct: Account, intent: Obj, pm: Obj, error: NonNullable<TestCard['error']>, ctx: Ctx): never {
    const charge = newCharge(acct, intent, pm, error);
    const lastError = {
      type: 'card_error',
      ...error,
      charge: charge.id,
      doc_url: `https://docs.stripe.com/error-codes/${error.code.replace(/_/g, '-')}`,
      payment_method: structuredClone(pm),
    };
    Object.assign(intent, { status: 'requires_payment_method', latest_charge: charge.id, last_payment_error: lastError });
    emit(acct, 'charge.failed', charge, ctx);
    emit(acct, 'payment_intent.payment_failed', intent, ctx);
    throw new ApiError(402, { ...lastError, payment_intent: structuredClone(intent) }, true);
  }

  function createRefund(acct: Account, p: Obj, ctx: Ctx): Obj {
    let intent: Obj | null = null;
    let charge: Obj;
    if (p.payment_intent) {
      intent = get(acct, 'payment_intent', p.payment_intent, 'payment_intent');
      if (intent.status !== 'succeeded' || !intent.latest_charge) {
        throw invalid(`This PaymentIntent (${intent.id}) does not have a successful charge to refund.`, { code: 'charge_not_refundable', param: 'payment_intent' });
      }
      charge = get(acct, 'charge', intent.latest_charge);
    } else if (p.charge) {
      charge = get(acct, 'charge', p.charge, 'charge');
    } else {
      throw invalid('One of the following params should be provided for this request: payment_intent or charge.', { code: 'parameter_missing' });
    }
    const left = charge.amount - charge.amount_refunded;
    const amount = p.amount === undefined ? left : toInt(p.amount, 'amount');
    if (left <= 0) throw invalid(`Charge ${charge.id} has already been refunded.`, { code: 'charge_already_refunded' });
    if (amount <= 0) throw invalid('Refund amount must be positive.', { code: 'parameter_invalid_integer', param: 'amount' });
    if (amount > left) {
      throw invalid(`Refund amount (${amount}) is greater than unrefunded amount on charge (${left})`, { code: 'amount_too_large', param: 'amount' });
    }
    const refund = fixture('refund');
    Object.assign(refund, {
      id: id('re'),
      amount,
      charge: charge.id,
      payment_intent: charge.payment_intent,
      currency: charge.currency,
      created: tick(acct),
      reason: p.reason ?? null,
      metadata: metadataOf(p.metadata),
      status: 'succeeded',
      balance_transaction: id('txn'),
      payment_method: charge.payment_method,
      customer: charge.customer,
    });
    put(acct, 'refund', refund);
    charge.amount_refunded += amount;
    charge.refunded = charge.amount_refunded >= charge.amount;
    charge.refunds.data.unshift(structuredClone(refund));
    emit(acct, 'charge.refunded', charge, ctx);
    emit(acct, 'refund.created', refund, ctx);
    return refund;
  }

  // --- test-only endpoints ----------------------------------------------------------------

  function control(acct: Account, method: string, url: URL, body: string, res: ServerResponse) {
    const input: Obj = body ? JSON.parse(body) : {};
    const parts = url.pathname.split('/').filter(Boolean).slice(1);
    const [what, objectId, action] = parts;
    try {
      if (what === 'requests' && method === 'GET') return send(res, 200, acct.requests);
      if (what === 'events' && method === 'GET') return send(res, 200, acct.events);
      if (what === 'faults' && method === 'POST') {
        acct.faults.push({ count: 1, ...input } as Fault);
        return send(res, 200, { ok: true });
      }
      if (what === 'setup_intents' && objectId && action === 'succeed' && method === 'POST') {
        const si = get(acct, 'setup_intent', objectId);
        const pm = paymentMethodFor(acct, String(input.payment_method ?? 'pm_card_visa'), si.customer);
        pm.customer = si.customer;
        Object.assign(si, { status: 'succeeded', payment_method: pm.id });
        emit(acct, 'setup_intent.succeeded', si, null);
        return send(res, 200, si);
      }
      if (what === 'payment_methods' && objectId && action === 'automatically_update' && method === 'POST') {
        const pm = get(acct, 'payment_method', objectId);
        Object.assign(pm.card, { exp_month: input.exp_month ?? pm.card.exp_month, exp_year: input.exp_year ?? pm.card.exp_year + 3, last4: input.last4 ?? pm.card.last4 });
        // The issuer's new details work: charges now go as for `charges_as` (default pm_card_visa).
        if (pm.__test !== undefined) pm.__test = String(input.charges_as ?? 'pm_card_visa');
        emit(acct, 'payment_method.automatically_updated', pm, null);
        return send(res, 200, pm);
      }
      if (what === 'charges' && objectId && action === 'dispute' && method === 'POST') {
        const charge = get(acct, 'charge', objectId);
        const dispute = fixture('dispute');
        Object.assign(dispute, {
          id: id('dp'),
          amount: input.amount ?? charge.amount,
          charge: charge.id,
          payment_intent: charge.payment_intent,
          currency: charge.currency,
          created: tick(acct),
          reason: input.reason ?? 'fraudulent',
          status: 'needs_response',
          is_charge_refundable: false,
        });
        put(acct, 'dispute', dispute);
        charge.disputed = true;
        emit(acct, 'charge.dispute.created', dispute, null);
        return send(res, 200, dispute);
      }
      if (what === 'disputes' && objectId && action === 'close' && method === 'POST') {
        const dispute = get(acct, 'dispute', objectId);
        dispute.status = input.status === 'lost' ? 'lost' : 'won';
        emit(acct, 'charge.dispute.closed', dispute, null);
        return send(res, 200, dispute);
      }
      return send(res, 404, { error: { type: 'invalid_request_error', message: `no fake control ${method} ${url.pathname}` } });
    } catch (error) {
      if (error instanceof ApiError) return send(res, error.status, { error: error.body });
      throw error;
    }
  }

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function headerValue(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}
