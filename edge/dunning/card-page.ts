// The update-card page of card notices (the card-expiry reminder, "update your card" after a hard
// decline). No API key: the token is the access, for one member.
// - GET /card/{token}: starts the link's one card setup at the processor (the same one each time:
//   an idempotency key per link) and shows it: Stripe's Payment Element in setup mode, or the
//   simulated processor's test cards. A Stripe setup already finished goes to the outcome.
// - POST /card/{token}/simulate: the simulated processor only; saves the chosen test card.
// - GET /card/{token}/done: Stripe's return_url (confirmSetup adds ?setup_intent=…); the setup
//   must be the member's own.
// A card is saved the way every card is (edge/billing/cards.ts): it becomes the member's card for
// off-session charges and dunning hears card_updated, so an open invoice is charged at once; the
// outcome page says what that did. Stripe's setup_intent.succeeded webhook saves the same card
// too, once. The link is used up by the card saved through it. An unknown, expired or used link,
// or another member's setup, shows a page saying so and changes nothing.
import { Hono, type Context } from 'hono';
import { and, desc, eq, gt, inArray, isNull } from 'drizzle-orm';
import { type BillingDeps, completeSimulatedSetup, type InvoiceRow, saveSetUpCard, startCardSetup } from '../billing/index.ts';
import { billingCustomers, cardUpdateLinks, invoices, members, organisations, payments } from '../db/schema.ts';
import type { AppEnv, Db } from '../env.ts';
import { isPaymentProviderError, retrieveStripeCardSetup, type StripeCardSetupState, stripeConfigFromEnv } from '../payments/index.ts';
import { cardLinkSetupKey, checkCardLink, findCardLink, markCardLinkUsed, type CardLink } from './card-links.ts';
import {
  cardFailedPage,
  cardGone,
  cardProcessingPage,
  cardSavedPage,
  SIMULATED_CARD_CHOICES,
  simulatedCardStep,
  stripeCardStep,
  type CardShown,
  type InvoiceOutcome,
} from './card-page-html.ts';
import { viewFor, rememberLanguage, type View } from './page-locale.ts';
import { notice } from './pay-page-html.ts';
import { depsOf, processor } from './pay-page.ts';

type C = Context<AppEnv>;
type Member = typeof members.$inferSelect;

const unavailable = (v: View) => notice(v, 'cardUnavailable', 503);
const failedToReach = (v: View) => notice(v, 'cardUnreachable', 502);

/** The link's member: one of the link's organisation, or none (the link is then treated as unknown). */
async function memberOfLink(db: Db, link: CardLink): Promise<Member | undefined> {
  const [member] = await db
    .select()
    .from(members)
    .where(and(eq(members.id, link.memberId), eq(members.organisationId, link.organisationId)));
  return member;
}

async function shownFor(db: Db, member: Member): Promise<CardShown> {
  const [[org], [customer]] = await db.batch([
    db.select({ name: organisations.name }).from(organisations).where(eq(organisations.id, member.organisationId)),
    db.select({ brand: billingCustomers.cardBrand, last4: billingCustomers.cardLast4 }).from(billingCustomers).where(eq(billingCustomers.memberId, member.id)),
  ]);
  return { gymName: org?.name ?? '', memberName: member.name, card: customer ?? null };
}

type Opened =
  | { ok: true; deps: BillingDeps; now: number; token: string; link: CardLink; member: Member; shown: CardShown; proc: ReturnType<typeof processor>; v: View }
  | { ok: false; response: Response };

/** The request's link, if it can still save a card: valid, unexpired, unused, for a member of its organisation. */
async function open(c: C): Promise<Opened> {
  const deps = depsOf(c);
  const now = Date.now();
  const token = c.req.param('token') ?? '';
  const check = await checkCardLink(deps.db, token, now);
  if (!check.ok) {
    const known = check.reason === 'unknown' ? undefined : await findCardLink(deps.db, token);
    const member = known && (await memberOfLink(deps.db, known));
    return { ok: false, response: cardGone(viewFor(c, member?.locale), check.reason) };
  }
  const member = await memberOfLink(deps.db, check.link);
  if (!member) return { ok: false, response: cardGone(viewFor(c), 'unknown') };
  const v = viewFor(c, member.locale);
  return { ok: true, deps, now, token, link: check.link, member, shown: await shownFor(deps.db, member), proc: processor(deps), v };
}

/** The link's one setup at the processor: started the first time, the same one after (idempotency key per link). */
function linkSetup(c: C, l: Extract<Opened, { ok: true }>) {
  const returnUrl = new URL(`/card/${l.token}/done`, c.req.url).toString();
  return startCardSetup(l.deps, l.member, { returnUrl, flow: 'setup_intent', idempotencyKey: cardLinkSetupKey(l.link) }, l.now);
}

/** The member's invoices that a new card would be charged for. */
async function openInvoices(db: Db, member: Member): Promise<InvoiceRow[]> {
  return db
    .select()
    .from(invoices)
    .where(
      and(
        eq(invoices.organisationId, member.organisationId),
        eq(invoices.payerId, member.id),
        inArray(invoices.status, ['open', 'uncollectible']),
        gt(invoices.amountRemaining, 0),
      ),
    );
}

/** What became of the invoices open before the card was saved (paid by the retry, or still open and why), and any still open. */
async function invoiceOutcomes(db: Db, member: Member, before: InvoiceRow[]): Promise<InvoiceOutcome[]> {
  const after = await openInvoices(db, member);
  const stillOpen = new Set(after.map((i) => i.id));
  const out: InvoiceOutcome[] = [];
  for (const inv of [...before, ...after.filter((a) => !before.some((b) => b.id === a.id))]) {
    const open = stillOpen.has(inv.id);
    const [last] = open
      ? await db.select({ status: payments.status, failureMessage: payments.failureMessage, failureCode: payments.failureCode, declineCode: payments.declineCode }).from(payments).where(eq(payments.invoiceId, inv.id)).orderBy(desc(payments.attempt)).limit(1)
      : [];
    const failure = last?.status === 'failed' ? (last.failureMessage ?? 'the card was declined.') : null;
    const declineCode = last?.status === 'failed' ? (last.declineCode ?? last.failureCode ?? null) : null;
    const amount = open ? (after.find((a) => a.id === inv.id)?.amountRemaining ?? inv.amountRemaining) : inv.amountRemaining;
    out.push({ number: inv.number ?? inv.id, amount, currency: inv.currency, paid: !open, failure, declineCode });
  }
  return out;
}

/** Takes the link for one card (a second submit at the same time finds it used); false when it is no longer usable. */
async function claim(db: Db, link: CardLink, now: number): Promise<boolean> {
  const rows = await db
    .update(cardUpdateLinks)
    .set({ usedAt: now })
    .where(and(eq(cardUpdateLinks.tokenHash, link.tokenHash), isNull(cardUpdateLinks.usedAt), gt(cardUpdateLinks.expiresAt, now)))
    .returning({ tokenHash: cardUpdateLinks.tokenHash });
  return rows.length > 0;
}

async function release(db: Db, link: CardLink): Promise<void> {
  await db.update(cardUpdateLinks).set({ usedAt: null }).where(eq(cardUpdateLinks.tokenHash, link.tokenHash));
}

/** A Stripe setup the link's member owns, or null (another member's, or unknown at Stripe). */
async function ownSetup(deps: BillingDeps, member: Member, setupIntentId: string): Promise<StripeCardSetupState | null> {
  const [customer] = await deps.db
    .select({ customerId: billingCustomers.customerId })
    .from(billingCustomers)
    .where(and(eq(billingCustomers.memberId, member.id), eq(billingCustomers.provider, 'stripe')));
  if (!customer) return null;
  try {
    const state = await retrieveStripeCardSetup(stripeConfigFromEnv(deps.env), setupIntentId);
    return state.customerId === customer.customerId ? state : null;
  } catch (error) {
    if (isPaymentProviderError(error) && (error.kind === 'not_found' || error.kind === 'invalid_request')) return null;
    throw error;
  }
}

export const cardPageRouter = new Hono<AppEnv>()
  .use('/card/*', rememberLanguage)
  .get('/card/:token', async (c) => {
    const l = await open(c);
    if (!l.ok) return l.response;
    const { proc, token, v } = l;
    if (!proc) return unavailable(v);
    try {
      const { setup } = await linkSetup(c, l);
      if (proc.simulated) return simulatedCardStep(v, l.shown, token);
      if (setup.kind !== 'setup_intent') return unavailable(v);
      // Finished already (another tab, or a return that never came): the outcome page.
      const state = await retrieveStripeCardSetup(stripeConfigFromEnv(l.deps.env), setup.id);
      if (state.status === 'succeeded' || state.status === 'processing') return c.redirect(`/card/${token}/done?setup_intent=${encodeURIComponent(setup.id)}`, 303);
      const returnUrl = new URL(`/card/${token}/done`, c.req.url).toString();
      return stripeCardStep(v, l.shown, { setupIntentId: setup.id, clientSecret: state.clientSecret }, proc.publishableKey, returnUrl, state.failureMessage);
    } catch (error) {
      if (isPaymentProviderError(error)) return error.retryable ? failedToReach(v) : unavailable(v);
      throw error;
    }
  })
  .post('/card/:token/simulate', async (c) => {
    const l = await open(c);
    if (!l.ok) return l.response;
    const { deps, now, v } = l;
    if (!l.proc?.simulated) return notice(v, 'cardNothingToSimulate', 404);
    const form = await c.req.parseBody().catch(() => ({}) as Record<string, unknown>);
    const chosen = SIMULATED_CARD_CHOICES.find((choice) => choice.paymentMethodId === form['card']);
    if (!chosen) return notice(v, 'unknownCard', 400);
    const { setup } = await linkSetup(c, l);
    if (!(await claim(deps.db, l.link, now))) return cardGone(v, 'used');
    const before = await openInvoices(deps.db, l.member);
    let saved;
    try {
      saved = await completeSimulatedSetup(deps, l.member, { setupId: setup.id, paymentMethodId: chosen.paymentMethodId }, now);
    } catch (error) {
      await release(deps.db, l.link);
      throw error;
    }
    if (!saved) {
      await release(deps.db, l.link);
      return notice(v, 'cardNotSaved', 409);
    }
    return cardSavedPage(v, l.shown, { brand: saved.cardBrand, last4: saved.cardLast4 }, await invoiceOutcomes(deps.db, l.member, before));
  })
  .get('/card/:token/done', async (c) => {
    const deps = depsOf(c);
    const now = Date.now();
    const token = c.req.param('token');
    // A used or expired link still shows what became of its setup.
    const link = await findCardLink(deps.db, token);
    const member = link && (await memberOfLink(deps.db, link));
    if (!link || !member) return cardGone(viewFor(c), 'unknown');
    const v = viewFor(c, member.locale);
    const proc = processor(deps);
    if (!proc) return unavailable(v);
    const setupIntentId = c.req.query('setup_intent');
    if (proc.simulated || !setupIntentId) return c.redirect(`/card/${token}`, 303);
    let state: StripeCardSetupState | null;
    try {
      state = await ownSetup(deps, member, setupIntentId);
    } catch (error) {
      if (isPaymentProviderError(error)) return failedToReach(v);
      throw error;
    }
    // Another member's setup (or none at all): nothing is saved.
    if (!state) return cardGone(v, 'unknown');
    if (state.status === 'processing') return cardProcessingPage(v);
    if (state.status === 'failed') return cardFailedPage(v, state.failureMessage, token);
    if (state.status !== 'succeeded' || !state.paymentMethodId || !state.customerId) return c.redirect(`/card/${token}`, 303);
    const shown = await shownFor(deps.db, member);
    const before = await openInvoices(deps.db, member);
    const saved = await saveSetUpCard(deps, state.customerId, state.paymentMethodId, now);
    if (!saved) return cardGone(v, 'unknown');
    await markCardLinkUsed(deps.db, link.tokenHash, now);
    return cardSavedPage(v, shown, { brand: saved.cardBrand, last4: saved.cardLast4 }, await invoiceOutcomes(deps.db, member, before));
  });
