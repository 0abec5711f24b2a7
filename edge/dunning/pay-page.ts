// The pay-now page of dunning notices. No API key: the token is the access.
// - GET /pay/{token}: what the invoice still asks and a choice of card or (THB) PromptPay; once the
//   link has started a payment, that same payment again, so a member who closed the tab comes back.
// - POST /pay/{token}: starts the link's one payment (idempotency key per link, see payLinkKey) and
//   shows the payment step: Stripe's Payment Element, or the simulated processor's test outcomes.
// - POST /pay/{token}/simulate: the simulated processor only; confirms with the chosen outcome.
// - GET /pay/{token}/done: Stripe's return_url; shows the outcome from the payment intent.
// Outcomes are recorded the way billing records any processor answer (recordPaymentResult, then
// the subscription catches up), the same effects as the payment webhook, which also arrives for
// Stripe; both are idempotent. The link counts as used once its payment succeeded. An unknown,
// expired or used link, or one whose invoice is settled, shows a page saying so and charges nothing.
import { Hono, type Context } from 'hono';
import { and, eq } from 'drizzle-orm';
import { drizzle } from 'drizzle-orm/d1';
import { afterInvoiceChange, type BillingDeps, type InvoiceRow, isSimulated, loadInvoice, nextAttempt, outcomeResult, paymentProvider, type PaymentRow, recordPaymentResult } from '../billing/index.ts';
import * as schema from '../db/schema.ts';
import { billingCustomers, members, organisations, payments } from '../db/schema.ts';
import type { AppEnv, Db } from '../env.ts';
import { newId } from '../lib/ids.ts';
import { type ChargeOutcome, isPaymentProviderError, type PaymentProvider, type PayNowPayment, retrieveStripePayNow, SIMULATED_PAY_NOW_OUTCOMES, type SimulatedProvider, stripeConfigFromEnv } from '../payments/index.ts';
import { viewFor, rememberLanguage, type View } from './page-locale.ts';
import { choicePage, gone, notice, outcomePage, simulatedStep, stripeStep, type Shown, type Step } from './pay-page-html.ts';
import { checkPayLink, findPayLink, markPayLinkUsed, payLinkKey, type PayLink } from './pay-links.ts';

type C = Context<AppEnv>;
type Method = 'card' | 'promptpay';
type PayNowState = PayNowPayment & { outcome: ChargeOutcome | null };

export const depsOf = (c: C): BillingDeps => ({ db: drizzle(c.env.DB, { schema }), env: c.env, ctx: c.executionCtx });

/**
 * The configured processor with the pay-now calls the page needs, and the publishable key Stripe.js
 * needs; null when online payment is not set up (the page then says so and charges nothing).
 */
export function processor(deps: BillingDeps) {
  let provider: PaymentProvider;
  try {
    provider = paymentProvider(deps);
  } catch (error) {
    if (isPaymentProviderError(error)) return null;
    throw error;
  }
  const simulated: SimulatedProvider | null = isSimulated(provider) ? provider : null;
  const publishableKey = deps.env.STRIPE_PUBLISHABLE_KEY?.trim() ?? '';
  if (!simulated && !publishableKey) return null;
  const retrieve = (id: string): Promise<PayNowState> => (simulated ? simulated.retrievePayNow(id) : retrieveStripePayNow(stripeConfigFromEnv(deps.env), id));
  return { provider, simulated, publishableKey, retrieve };
}
type Processor = NonNullable<ReturnType<typeof processor>>;

async function linkPayment(db: Db, link: PayLink): Promise<PaymentRow | undefined> {
  const [row] = await db.select().from(payments).where(eq(payments.idempotencyKey, payLinkKey(link)));
  return row;
}

async function shownFor(db: Db, link: PayLink, invoice: InvoiceRow, amount: number): Promise<Shown & { locale: string | null }> {
  const [[member], [org]] = await db.batch([
    db.select({ name: members.name, locale: members.locale }).from(members).where(eq(members.id, link.memberId)),
    db.select({ name: organisations.name }).from(organisations).where(eq(organisations.id, link.organisationId)),
  ]);
  return { gymName: org?.name ?? '', memberName: member?.name ?? '', locale: member?.locale ?? null, invoiceNumber: invoice.number ?? '', amount, currency: invoice.currency };
}

/** The language of a link's member, for pages about a link that can no longer pay. */
async function linkLocale(db: Db, link: PayLink | undefined): Promise<string | null> {
  if (!link) return null;
  const [member] = await db.select({ locale: members.locale }).from(members).where(eq(members.id, link.memberId));
  return member?.locale ?? null;
}

/** The link is for one invoice of one member: anything else is treated as unknown. */
async function invoiceOfLink(db: Db, link: PayLink): Promise<InvoiceRow | undefined> {
  const invoice = await loadInvoice(db, link.invoiceId);
  return invoice && invoice.organisationId === link.organisationId && invoice.payerId === link.memberId ? invoice : undefined;
}

type Loaded = { ok: true; link: PayLink; invoice: InvoiceRow; payment: PaymentRow | undefined; shown: Shown; v: View } | { ok: false; response: Response };

/** A link that can still pay: valid, unexpired, unused, its invoice open. */
async function load(c: C, db: Db, token: string, now: number): Promise<Loaded> {
  const check = await checkPayLink(db, token, now);
  if (!check.ok) {
    const known = check.reason === 'unknown' ? undefined : await findPayLink(db, token);
    return { ok: false, response: gone(viewFor(c, await linkLocale(db, known)), check.reason) };
  }
  const { link } = check;
  const invoice = await invoiceOfLink(db, link);
  if (!invoice) return { ok: false, response: gone(viewFor(c), 'unknown') };
  const payment = await linkPayment(db, link);
  const shown = await shownFor(db, link, invoice, payment?.amount ?? invoice.amountRemaining);
  const v = viewFor(c, shown.locale);
  if (payment?.status === 'succeeded') {
    await markPayLinkUsed(db, link.tokenHash, now);
    return { ok: false, response: gone(v, 'used') };
  }
  if ((invoice.status !== 'open' && invoice.status !== 'uncollectible') || invoice.amountRemaining <= 0) return { ok: false, response: gone(v, 'settled') };
  return { ok: true, link, invoice, payment, shown, v };
}

/** Records a processor answer as billing does for any payment, and uses the link up on success. */
async function settle(deps: BillingDeps, link: PayLink, payment: PaymentRow, outcome: ChargeOutcome, now: number) {
  await recordPaymentResult(deps, payment, outcomeResult(outcome), now);
  const invoice = await loadInvoice(deps.db, payment.invoiceId ?? link.invoiceId);
  if (invoice) await afterInvoiceChange(deps, invoice, now);
  if (outcome.status === 'succeeded') await markPayLinkUsed(deps.db, link.tokenHash, now);
}


/** Starts the link's payment, or finds the one it started; refuses a second method. */
async function startPayment(deps: BillingDeps, proc: Processor, l: Extract<Loaded, { ok: true }>, method: Method, now: number): Promise<PaymentRow | 'other_method'> {
  const { db } = deps;
  const inv = l.invoice;
  const key = payLinkKey(l.link);
  await db
    .insert(payments)
    .values({
      id: newId('pay', now),
      organisationId: inv.organisationId,
      payerId: inv.payerId,
      invoiceId: inv.id,
      provider: proc.provider.name,
      method,
      attempt: await nextAttempt(db, inv.id),
      idempotencyKey: key,
      status: 'pending',
      amount: inv.amountRemaining,
      currency: inv.currency,
      createdAt: now,
      updatedAt: now,
    })
    .onConflictDoNothing();
  // A concurrent submit may have won the insert: its row is the link's payment.
  const row = await linkPayment(db, l.link);
  if (!row) throw new Error(`payment ${key} disappeared`);
  return row.method === method ? row : 'other_method';
}

/** The payment step for the link's payment: created at the processor if it is not yet, else retrieved. */
async function paymentStep(c: C, deps: BillingDeps, proc: Processor, l: Extract<Loaded, { ok: true }>, payment: PaymentRow) {
  const token = c.req.param('token') ?? '';
  const { v } = l;
  if (payment.provider !== proc.provider.name) return notice(v, 'payOtherService', 409);
  if (payment.amount !== l.invoice.amountRemaining) return notice(v, 'payAmountChanged', 409);
  const method: Method = payment.method === 'promptpay' ? 'promptpay' : 'card';
  let state: PayNowState;
  try {
    if (payment.providerPaymentId) state = await proc.retrieve(payment.providerPaymentId);
    else {
      const [customer] = await deps.db
        .select()
        .from(billingCustomers)
        .where(and(eq(billingCustomers.memberId, payment.payerId), eq(billingCustomers.provider, proc.provider.name)));
      const created = await proc.provider.createPayNowPayment({
        amount: payment.amount,
        currency: payment.currency,
        idempotencyKey: payment.idempotencyKey,
        metadata: { invoiceId: l.invoice.id, organisationId: l.invoice.organisationId, attempt: payment.attempt },
        paymentMethodTypes: [method] as ['card'] | ['promptpay'],
        ...(customer ? { customerId: customer.customerId } : {}),
        description: `Invoice ${l.invoice.number ?? l.invoice.id}`,
      });
      await deps.db.update(payments).set({ providerPaymentId: created.paymentIntentId, updatedAt: Date.now() }).where(eq(payments.id, payment.id));
      state = { ...created, outcome: null };
    }
  } catch (error) {
    if (isPaymentProviderError(error) && !error.retryable) return notice(v, 'payNotStarted', 502);
    if (isPaymentProviderError(error)) return notice(v, 'payUnreachable', 502);
    throw error;
  }
  // Paid or on its way (e.g. the member paid in another tab): the outcome page says so.
  if (state.outcome?.status === 'succeeded' || state.outcome?.status === 'processing') return c.redirect(`/pay/${token}/done`, 303);
  const step: Step = { token, paymentIntentId: state.paymentIntentId, clientSecret: state.clientSecret, method, lastTry: state.outcome };
  if (proc.simulated) return simulatedStep(v, l.shown, step);
  return stripeStep(v, l.shown, step, proc.publishableKey, new URL(`/pay/${token}/done`, c.req.url).toString());
}

export const payPageRouter = new Hono<AppEnv>()
  .use('/pay/*', rememberLanguage)
  .get('/pay/:token', async (c) => {
    const deps = depsOf(c);
    const l = await load(c, deps.db, c.req.param('token'), Date.now());
    if (!l.ok) return l.response;
    const proc = processor(deps);
    if (proc && l.payment) return paymentStep(c, deps, proc, l, l.payment);
    return choicePage(l.v, l.shown, { promptpay: l.invoice.currency === 'THB', online: proc !== null });
  })
  .post('/pay/:token', async (c) => {
    const deps = depsOf(c);
    const now = Date.now();
    const l = await load(c, deps.db, c.req.param('token'), now);
    if (!l.ok) return l.response;
    const form = await c.req.parseBody().catch(() => ({}) as Record<string, unknown>);
    const method: Method = form['method'] === 'promptpay' ? 'promptpay' : 'card';
    if (method === 'promptpay' && l.invoice.currency !== 'THB') return notice(l.v, 'promptpayThbOnly', 400);
    const proc = processor(deps);
    if (!proc) return notice(l.v, 'payUnavailable', 503);
    const payment = l.payment ?? (await startPayment(deps, proc, l, method, now));
    // One payment per link: the link was used to start a payment another way, which stays open.
    if (payment === 'other_method' || payment.method !== method) {
      return notice(l.v, 'payOtherMethod', 410);
    }
    return paymentStep(c, deps, proc, l, payment);
  })
  .post('/pay/:token/simulate', async (c) => {
    const deps = depsOf(c);
    const now = Date.now();
    const token = c.req.param('token');
    const l = await load(c, deps.db, token, now);
    if (!l.ok) return l.response;
    const proc = processor(deps);
    if (!proc?.simulated) return notice(l.v, 'payNothingToSimulate', 404);
    if (!l.payment?.providerPaymentId || l.payment.provider !== 'simulated') return c.redirect(`/pay/${token}`, 303);
    const form = await c.req.parseBody().catch(() => ({}) as Record<string, unknown>);
    const chosen = SIMULATED_PAY_NOW_OUTCOMES.find((o) => o.outcome === form['outcome']);
    // PromptPay has one outcome (the QR code was scanned); a card has the test outcomes.
    if (!chosen || (l.payment.method === 'promptpay' && chosen.outcome !== 'success')) return notice(l.v, 'unknownOutcome', 400);
    const outcome = await proc.simulated.confirmPayNow(l.payment.providerPaymentId, chosen.paymentMethodId);
    await settle(deps, l.link, l.payment, outcome, now);
    return c.redirect(`/pay/${token}/done`, 303);
  })
  .get('/pay/:token/done', async (c) => {
    const deps = depsOf(c);
    const now = Date.now();
    const token = c.req.param('token');
    // Used or expired links still show what became of their payment.
    const link = await findPayLink(deps.db, token);
    const invoice = link && (await invoiceOfLink(deps.db, link));
    if (!link || !invoice) return gone(viewFor(c), 'unknown');
    const shown = await shownFor(deps.db, link, invoice, 0);
    const v = viewFor(c, shown.locale);
    const payment = await linkPayment(deps.db, link);
    const proc = processor(deps);
    if (!proc) return notice(v, 'payUnavailable', 503);
    if (!payment?.providerPaymentId || payment.provider !== proc.provider.name) return c.redirect(`/pay/${token}`, 303);
    let state: PayNowState;
    try {
      state = await proc.retrieve(payment.providerPaymentId);
    } catch (error) {
      if (isPaymentProviderError(error)) return notice(v, 'payUnreachable', 502);
      throw error;
    }
    if (!state.outcome) return c.redirect(`/pay/${token}`, 303);
    await settle(deps, link, payment, state.outcome, now);
    return outcomePage(v, { ...shown, amount: payment.amount }, state.outcome, token);
  });
