// Stripe for the browser tests, on loopback. The Worker's Stripe adapter talks to the fake Stripe
// API of the edge tests (test/edge/stripe-fake/server.ts) through a small front that adds what only
// Stripe.js does: confirming a payment or setup intent with its client secret. A fake Stripe.js,
// served in place of js.stripe.com/v3/, mounts a stand-in Payment Element and confirms through that
// front.
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Browser, Route } from 'playwright-core';
import Stripe from 'stripe';
import { afterAll, beforeAll } from 'vitest';
import type { TestGym } from '../e2e/gym.ts';
import { startFakeStripe } from '../edge/stripe-fake/server.ts';
import { launchChromium, startPayGym, type SaveCard } from './support.ts';

type Obj = Record<string, any>;

/** What the fake Stripe.js card field offers: Stripe's test payment methods. */
const DECLINES: Record<string, { code: string; decline_code: string; message: string }> = {
  pm_card_chargeDeclinedInsufficientFunds: { code: 'card_declined', decline_code: 'insufficient_funds', message: 'Your card has insufficient funds.' },
  pm_card_chargeDeclined: { code: 'card_declined', decline_code: 'generic_decline', message: 'Your card was declined.' },
};

const readBody = (req: IncomingMessage) =>
  new Promise<string>((resolve) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
  });

export async function startBrowserStripe(secretKey: string) {
  const fake = await startFakeStripe();
  // Confirmations the fake API cannot make itself, laid over its payment and setup intents.
  const confirmed = new Map<string, Obj>();
  const confirms: Array<{ intent: string; paymentMethod: string; publishableKey: string }> = [];
  const api = async (method: string, path: string, init: { body?: string; headers?: Record<string, string> } = {}) => {
    const res = await fetch(`${fake.url}${path}`, { method, headers: { authorization: `Bearer ${secretKey}`, ...init.headers }, ...(init.body ? { body: init.body } : {}) });
    return { status: res.status, headers: res.headers, json: (await res.json()) as Obj };
  };
  const overlay = (intent: Obj) => ({ ...intent, ...(confirmed.get(intent.id) ?? {}) });

  async function confirm(kind: 'payment_intent' | 'setup_intent', id: string, params: URLSearchParams): Promise<[number, Obj]> {
    const { status, json: intent } = await api('GET', `/v1/${kind}s/${id}`);
    if (status !== 200) return [status, intent];
    const name = kind === 'payment_intent' ? 'PaymentIntent' : 'SetupIntent';
    if (params.get('client_secret') !== intent.client_secret) return [400, { error: { type: 'invalid_request_error', message: `The client_secret provided does not match the client_secret associated with the ${name}.` } }];
    if (overlay(intent).status === 'succeeded') return [400, { error: { type: 'invalid_request_error', code: `${kind}_unexpected_state`, message: `You cannot confirm this ${name} because it has already succeeded.` } }];
    const paymentMethod = params.get('payment_method') ?? '';
    confirms.push({ intent: id, paymentMethod, publishableKey: params.get('key') ?? '' });
    const decline = DECLINES[paymentMethod];
    if (kind === 'setup_intent') {
      // Like Stripe, a declining test card fails the setup's card check: no charge, nothing attached.
      if (decline) {
        const error = { type: 'card_error', ...decline };
        confirmed.set(id, { status: 'requires_payment_method', last_setup_error: error });
        return [402, { error: { ...error, setup_intent: overlay(intent) } }];
      }
      const done = await api('POST', `/__fake/setup_intents/${id}/succeed`, { body: JSON.stringify({ payment_method: paymentMethod }), headers: { 'content-type': 'application/json' } });
      if (done.status === 200) confirmed.delete(id);
      return [done.status, done.json];
    }
    const charge = `ch_web_${confirms.length}`;
    if (decline) {
      const error = { type: 'card_error', ...decline, charge };
      confirmed.set(id, { status: 'requires_payment_method', latest_charge: charge, last_payment_error: error });
      return [402, { error: { ...error, payment_intent: overlay(intent) } }];
    }
    confirmed.set(id, { status: 'succeeded', amount_received: intent.amount, latest_charge: charge, last_payment_error: null });
    return [200, overlay(intent)];
  }

  const server = createServer(async (req, res) => {
    const body = await readBody(req);
    const method = req.method ?? 'GET';
    const path = req.url ?? '/';
    const send = (status: number, json: unknown, headers: Record<string, string> = {}) => {
      res.writeHead(status, { 'content-type': 'application/json', ...headers });
      res.end(JSON.stringify(json));
    };
    const toConfirm = method === 'POST' && path.match(/^\/v1\/(payment_intent|setup_intent)s\/([^/?]+)\/confirm$/);
    if (toConfirm) return send(...(await confirm(toConfirm[1] as 'payment_intent' | 'setup_intent', toConfirm[2]!, new URLSearchParams(body))), { 'access-control-allow-origin': '*' });
    const pass: Record<string, string> = {};
    for (const h of ['content-type', 'idempotency-key', 'stripe-version']) if (typeof req.headers[h] === 'string') pass[h] = req.headers[h] as string;
    const r = await api(method, path, { body, headers: pass });
    const json = method === 'GET' && /^\/v1\/(payment|setup)_intents\/[^/?]+$/.test(path) && r.status === 200 ? overlay(r.json) : r.json;
    const headers: Record<string, string> = {};
    for (const h of ['request-id', 'idempotent-replayed', 'idempotency-key']) {
      const v = r.headers.get(h);
      if (v) headers[h] = v;
    }
    send(r.status, json, headers);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  /** Stripe's signed setup_intent.succeeded webhook for `setupId`, sent to the Worker; its receipt. */
  const deliverSetupSucceeded = async (workerUrl: string, webhookSecret: string, setupId: string): Promise<Obj> => {
    const events = (await (await fetch(`${fake.url}/__fake/events`, { headers: { authorization: `Bearer ${secretKey}` } })).json()) as Obj[];
    const payload = JSON.stringify(events.filter((e) => e.type === 'setup_intent.succeeded' && e.data.object.id === setupId).at(-1));
    const signature = await Stripe.webhooks.generateTestHeaderStringAsync({ payload, secret: webhookSecret });
    const res = await fetch(`${workerUrl}/v1/webhooks/stripe`, { method: 'POST', headers: { 'content-type': 'application/json', 'stripe-signature': signature }, body: payload });
    return (await res.json()) as Obj;
  };

  /** As the member entering `paymentMethod` in Stripe's setup form: Stripe's signed webhook tells the Worker. */
  const saveCard =
    (workerUrl: string, webhookSecret: string, paymentMethod: string): SaveCard =>
    async (_memberId, setupId) => {
      const done = await fetch(`${fake.url}/__fake/setup_intents/${setupId}/succeed`, {
        method: 'POST',
        headers: { authorization: `Bearer ${secretKey}`, 'content-type': 'application/json' },
        body: JSON.stringify({ payment_method: paymentMethod }),
      });
      if (!done.ok) throw new Error(`setup ${setupId}: ${done.status} ${await done.text()}`);
      const receipt = await deliverSetupSucceeded(workerUrl, webhookSecret, setupId);
      if (receipt.outcome !== 'card_saved') throw new Error(`the card was not saved: ${JSON.stringify(receipt)}`);
    };

  return {
    url,
    confirms,
    saveCard,
    deliverSetupSucceeded,
    intent: async (id: string) => overlay((await api('GET', `/v1/payment_intents/${id}`)).json),
    setupIntent: async (id: string) => overlay((await api('GET', `/v1/setup_intents/${id}`)).json),
    /** Answers the page's requests to Stripe's hosts: the fake Stripe.js, and API calls sent to the front. */
    route: async (route: Route): Promise<boolean> => {
      const request = route.request();
      const target = new URL(request.url());
      if (target.href === 'https://js.stripe.com/v3/') {
        await route.fulfill({ status: 200, contentType: 'application/javascript', body: FAKE_STRIPE_JS });
        return true;
      }
      if (target.hostname === 'api.stripe.com') {
        const res = await fetch(`${url}${target.pathname}${target.search}`, { method: request.method(), headers: { 'content-type': request.headers()['content-type'] ?? 'application/x-www-form-urlencoded' }, body: request.postData() ?? undefined });
        await route.fulfill({ status: res.status, headers: Object.fromEntries(res.headers), body: await res.text() });
        return true;
      }
      return false;
    },
    close: async () => {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await fake.close();
    },
  };
}

export const PUBLISHABLE_KEY = 'pk_test_gymgateweb';
export const WEBHOOK_SECRET = 'whsec_gymgateweb';

/**
 * For a describe block: the loopback Stripe, a gym whose Worker uses it (startPayGym) and Chromium,
 * started before its tests and stopped after. Read the fields inside the tests.
 */
export function stripePageSession() {
  const s = { gym: null as unknown as TestGym, planId: '', browser: null as unknown as Browser, stripe: null as unknown as Awaited<ReturnType<typeof startBrowserStripe>> };
  beforeAll(async () => {
    const secret = `sk_test_web${crypto.randomUUID().replace(/-/g, '')}`;
    s.stripe = await startBrowserStripe(secret);
    const vars = { PAYMENT_PROVIDER: 'stripe', STRIPE_SECRET_KEY: secret, STRIPE_API_BASE: s.stripe.url, STRIPE_PUBLISHABLE_KEY: PUBLISHABLE_KEY, STRIPE_WEBHOOK_SECRET: WEBHOOK_SECRET };
    [{ gym: s.gym, planId: s.planId }, s.browser] = await Promise.all([startPayGym(vars), launchChromium()]);
  });
  afterAll(async () => {
    await s.browser?.close();
    await s.gym?.stop();
    await s.stripe?.close();
  });
  return s;
}

// Stripe(pk), elements({ clientSecret }), create('payment'), mount(selector), confirmPayment and
// confirmSetup, behaving as Stripe.js does for a card: a decline resolves with { error }, a success
// goes to return_url with payment_intent (setup_intent), its client secret and redirect_status, or
// with redirect: 'if_required' resolves with { paymentIntent } ({ setupIntent }). Like Stripe.js it
// calls api.stripe.com, which the test routes to the loopback front.
const FAKE_STRIPE_JS = `window.Stripe = function (publishableKey) {
  window.__fakeStripe = { publishableKey: publishableKey, mounted: null };
  async function confirm(kind, resultKey, options) {
    var secret = options.clientSecret || options.elements.clientSecret;
    var id = secret.split('_secret_')[0];
    var res = await fetch('https://api.stripe.com/v1/' + kind + 's/' + id + '/confirm', {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ client_secret: secret, payment_method: document.querySelector('select[name=test-card]').value, key: publishableKey }),
    });
    var body = await res.json();
    if (body.error) return { error: body.error };
    if (options.redirect === 'if_required') { var result = {}; result[resultKey] = body; return result; }
    var back = new URL(options.confirmParams.return_url);
    back.searchParams.set(kind, id);
    back.searchParams.set(kind + '_client_secret', secret);
    back.searchParams.set('redirect_status', body.status === 'succeeded' ? 'succeeded' : 'failed');
    window.location.assign(back.toString());
    return new Promise(function () {});
  }
  return {
    elements: function (options) {
      var clientSecret = options.clientSecret;
      return {
        clientSecret: clientSecret,
        create: function (type) {
          return {
            mount: function (selector) {
              var el = document.querySelector(selector);
              el.innerHTML = '<label>Test card <select name="test-card"><option value="pm_card_visa">Visa 4242</option>' +
                '<option value="pm_card_chargeDeclinedInsufficientFunds">Insufficient funds 9995</option>' +
                '<option value="pm_card_chargeDeclined">Declined 0002</option></select></label>';
              el.setAttribute('data-mounted', type);
              el.setAttribute('data-client-secret', clientSecret);
              window.__fakeStripe.mounted = { type: type, clientSecret: clientSecret };
            },
          };
        },
      };
    },
    confirmPayment: function (options) { return confirm('payment_intent', 'paymentIntent', options); },
    confirmSetup: function (options) { return confirm('setup_intent', 'setupIntent', options); },
  };
};`;
