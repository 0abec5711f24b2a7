// The billing API (plans, subscriptions, invoices, payments, credit notes, pending items, cards,
// balances) and the Stripe webhook endpoint. Handlers check ownership (another organisation's id
// is a 404), then call the billing functions with the request's clock.
import { OpenAPIHono, z } from '@hono/zod-openapi';
import { and, asc, desc, eq, inArray, isNull, lt, ne, sql } from 'drizzle-orm';
import type { CreditNoteLine } from '../../core/billing/credit-notes.ts';
import type { InvoiceLine } from '../../core/billing/invoice.ts';
import { checkLedger } from '../../core/billing/ledger.ts';
import type { Currency } from '../../core/billing/money.ts';
import type { ProrationLine } from '../../core/billing/proration.ts';
import { startSubscription, entitlementOf, currentPeriod, type SubscriptionState } from '../../core/billing/subscription.ts';
import { accessProfiles, billingCustomers, creditNotes, invoices, invoiceSequences, members, payments, pendingItems, plans, refunds, sites, subscriptionMembers, subscriptions } from '../db/schema.ts';
import type { AppEnv, Db } from '../env.ts';
import { newId } from '../lib/ids.ts';
import { pageOf } from '../lib/pagination.ts';
import { ApiProblem, conflict, invalidField, notFound } from '../lib/problem.ts';
import { iso, isoOrNull } from '../lib/time.ts';
import { isPaymentProviderError, normaliseStripeEvent, verifyStripeWebhook } from '../payments/index.ts';
import { completeSimulatedSetup, startCardSetup } from './cards.ts';
import { PlanUpdate, WebhookReceipt } from './contracts.ts';
import type { BillingDeps } from './deps.ts';
import { addPendingItem as addPendingItemOp, chargeAgain, createCreditNote, deletePendingItem, markUncollectible, recordManualPayment, refundFromCredit, voidInvoice } from './documents.ts';
import { dunningStateOf } from './dunning-port.ts';
import { providerFailed, refused } from './problems.ts';
import { freezeFeeOf, ledgerOf, ledgerSources, loadPlan, planPrice, planTerms, stateOf, taxColumns, taxRateOf, type CreditNoteRow, type InvoiceRow, type PaymentRow, type PlanRow, type RefundRow, type SubscriptionRow } from './records.ts';
import * as r from './routes.ts';
import { alreadyProcessed, handleStripeEvent } from './stripe-events.ts';
import { accessGraceDays, actOnSubscription, addMemberPlan, removeMemberPlan, settleAfterChange, SubscriptionRefused } from './subscriptions.ts';

type Ctx = { var: { db: Db; organisationId: string }; env: AppEnv['Bindings']; executionCtx: { waitUntil(p: Promise<unknown>): void } };
const depsOf = (c: Ctx): BillingDeps => ({ db: c.var.db, env: c.env, ctx: c.executionCtx });

// ---------------------------------------------------------------------------------------------
// Output shapes

const planOut = (p: PlanRow) => ({
  id: p.id,
  name: p.name,
  currency: p.currency as Currency,
  price: p.price,
  interval: p.interval,
  joiningFee: p.joiningFee,
  minimumTermMonths: p.minimumTermMonths,
  noticePeriod: { unit: p.noticeUnit, count: p.noticeCount },
  taxRate: taxRateOf(p),
  freezeFee: p.freezeFee,
  trialDays: p.trialDays,
  graceDays: p.graceDays,
  maxMembers: p.maxMembers,
  accessProfileId: p.accessProfileId,
  archived: p.archivedAt !== null,
  createdAt: iso(p.createdAt),
  updatedAt: iso(p.updatedAt),
});

/** minGraceDays: the organisation's dunning grace (accessGraceDays), which validUntil includes. */
export const subscriptionOut = (row: SubscriptionRow, minGraceDays: number) => {
  const s: SubscriptionState = stateOf(row);
  const ent = entitlementOf(s, { minGraceDays });
  return {
    id: row.id,
    payerId: row.payerId,
    memberIds: s.memberIds,
    planId: row.planId,
    status: ent.status,
    suspension: ent.suspension,
    timezone: row.timezone,
    homeSiteId: row.homeSiteId,
    startDate: s.startDate,
    trialEnd: s.trialEnd,
    paidThrough: s.paidThrough,
    validUntil: ent.validUntil,
    currentPeriod: ent.status === 'ended' ? null : currentPeriod(s, s.asOf),
    price: s.plan.unitAmount * s.plan.quantity,
    interval: s.interval,
    freeze: s.freeze ? { from: s.freeze.from, to: s.freeze.to } : null,
    cancellation: s.cancellation,
    pendingPlan: s.pendingPlan ? { planId: s.pendingPlan.plan.planId, from: s.pendingPlan.from } : null,
    pendingProrations: row.pendingProrations as ProrationLine[],
    nextReviewOn: row.nextReviewOn,
    createdAt: iso(row.createdAt),
    updatedAt: iso(row.updatedAt),
  };
};

export const invoiceOut = (i: InvoiceRow) => ({
  id: i.id,
  number: i.number,
  status: i.status,
  payerId: i.payerId,
  subscriptionId: i.subscriptionId,
  reason: i.reason,
  currency: i.currency as Currency,
  period: i.periodStart && i.periodEnd ? { start: i.periodStart, end: i.periodEnd } : null,
  lines: i.lines as InvoiceLine[],
  subtotal: i.subtotal,
  tax: i.tax,
  total: i.total,
  startingCreditBalance: i.startingCreditBalance,
  creditApplied: i.creditApplied,
  amountDue: i.amountDue,
  endingCreditBalance: i.endingCreditBalance,
  amountPaid: i.amountPaid,
  amountCredited: i.amountCredited,
  amountRemaining: i.amountRemaining,
  createdAt: iso(i.createdAt),
  finalisedAt: isoOrNull(i.finalisedAt),
  paidAt: isoOrNull(i.paidAt),
  voidedAt: isoOrNull(i.voidedAt),
  uncollectibleAt: isoOrNull(i.uncollectibleAt),
});

export const paymentOut = (p: PaymentRow) => ({
  id: p.id,
  invoiceId: p.invoiceId,
  payerId: p.payerId,
  provider: p.provider,
  method: p.method,
  providerPaymentId: p.providerPaymentId,
  attempt: p.attempt,
  status: p.status,
  amount: p.amount,
  currency: p.currency as Currency,
  amountRefunded: p.amountRefunded,
  failureCode: p.failureCode,
  declineCode: p.declineCode,
  failureMessage: p.failureMessage,
  hardDecline: p.hardDecline,
  reference: p.reference,
  dispute: p.dispute,
  createdAt: iso(p.createdAt),
  settledAt: isoOrNull(p.settledAt),
});

const refundOut = (x: RefundRow) => ({
  id: x.id,
  paymentId: x.paymentId,
  creditNoteId: x.creditNoteId,
  amount: x.amount,
  currency: x.currency as Currency,
  reason: x.reason,
  status: x.status,
  providerRefundId: x.providerRefundId,
  failureMessage: x.failureMessage,
  createdAt: iso(x.createdAt),
});

const creditNoteOut = (n: CreditNoteRow, invoiceNumber: string, refunds: RefundRow[]) => ({
  id: n.id,
  number: n.number,
  invoiceId: n.invoiceId,
  invoiceNumber,
  outcome: n.outcome,
  reason: n.reason,
  memo: n.memo,
  lines: n.lines as CreditNoteLine[],
  subtotal: n.subtotal,
  tax: n.tax,
  total: n.total,
  issuedAt: iso(n.issuedAt),
  refund: refunds[0] ? refundOut(refunds[0]) : null,
  refunds: refunds.map(refundOut),
});

const pendingOut = (p: typeof pendingItems.$inferSelect) => ({
  id: p.id,
  memberId: p.memberId,
  kind: p.kind,
  description: p.description,
  quantity: p.quantity,
  unitAmount: p.unitAmount,
  currency: p.currency as Currency,
  taxRate: taxRateOf(p),
  invoiceId: p.invoiceId,
  createdAt: iso(p.createdAt),
});

const cardOut = (b: typeof billingCustomers.$inferSelect) => ({
  provider: b.provider,
  customerId: b.customerId,
  paymentMethodId: b.defaultPaymentMethodId,
  brand: b.cardBrand,
  last4: b.cardLast4,
  expMonth: b.cardExpMonth,
  expYear: b.cardExpYear,
});

// ---------------------------------------------------------------------------------------------
// Lookups scoped to the organisation

async function own<T>(query: Promise<T[]>, what: string, id: string): Promise<T> {
  const [row] = await query;
  if (!row) throw notFound(what, id);
  return row;
}
const ownPlan = (c: Ctx, id: string) => own(c.var.db.select().from(plans).where(and(eq(plans.id, id), eq(plans.organisationId, c.var.organisationId))), 'Plan', id);
const ownSubscription = (c: Ctx, id: string) =>
  own(c.var.db.select().from(subscriptions).where(and(eq(subscriptions.id, id), eq(subscriptions.organisationId, c.var.organisationId))), 'Subscription', id);
const ownInvoice = (c: Ctx, id: string) => own(c.var.db.select().from(invoices).where(and(eq(invoices.id, id), eq(invoices.organisationId, c.var.organisationId))), 'Invoice', id);
const ownPayment = (c: Ctx, id: string) => own(c.var.db.select().from(payments).where(and(eq(payments.id, id), eq(payments.organisationId, c.var.organisationId))), 'Payment', id);
const ownMember = (c: Ctx, id: string) => own(c.var.db.select().from(members).where(and(eq(members.id, id), eq(members.organisationId, c.var.organisationId))), 'Member', id);

async function checkProfile(c: Ctx, id: string | null | undefined) {
  if (!id) return;
  const [p] = await c.var.db.select({ id: accessProfiles.id }).from(accessProfiles).where(and(eq(accessProfiles.id, id), eq(accessProfiles.organisationId, c.var.organisationId)));
  if (!p) throw invalidField('accessProfileId', `no access profile with id ${id}`);
}

/** The subscription's home site and time zone: see edge/billing/time.ts. */
async function homeSite(c: Ctx, requested: string | undefined, payer: typeof members.$inferSelect, plan: PlanRow): Promise<{ siteId: string | null; timezone: string }> {
  const db = c.var.db;
  const org = c.var.organisationId;
  const siteById = async (id: string) => (await db.select().from(sites).where(and(eq(sites.id, id), eq(sites.organisationId, org))))[0];
  if (requested) {
    const site = await siteById(requested);
    if (!site) throw invalidField('homeSiteId', `no site with id ${requested}`);
    return { siteId: site.id, timezone: site.timezone };
  }
  for (const profileId of [payer.accessProfileId, plan.accessProfileId]) {
    if (!profileId) continue;
    const [profile] = await db.select({ sites: accessProfiles.sites }).from(accessProfiles).where(eq(accessProfiles.id, profileId));
    const first = profile?.sites?.[0];
    const site = first ? await siteById(first) : undefined;
    if (site) return { siteId: site.id, timezone: site.timezone };
  }
  const [oldest] = await db.select().from(sites).where(eq(sites.organisationId, org)).orderBy(asc(sites.createdAt), asc(sites.id)).limit(1);
  return oldest ? { siteId: oldest.id, timezone: oldest.timezone } : { siteId: null, timezone: 'UTC' };
}

function asProblem(error: unknown): never {
  if (error instanceof SubscriptionRefused) throw refused('subscription', error.reason, error.detail);
  if (isPaymentProviderError(error)) throw providerFailed(error.message);
  throw error;
}

const planColumns = (body: Partial<z.infer<typeof PlanUpdate>>) => {
  const out: Partial<PlanRow> = {};
  if (body.name !== undefined) out.name = body.name;
  if (body.price !== undefined) out.price = body.price;
  if (body.interval !== undefined) out.interval = body.interval;
  if (body.joiningFee !== undefined) out.joiningFee = body.joiningFee;
  if (body.minimumTermMonths !== undefined) out.minimumTermMonths = body.minimumTermMonths;
  if (body.noticePeriod !== undefined) Object.assign(out, { noticeUnit: body.noticePeriod.unit, noticeCount: body.noticePeriod.count });
  if (body.taxRate !== undefined) Object.assign(out, taxColumns(body.taxRate));
  if (body.freezeFee !== undefined) out.freezeFee = body.freezeFee;
  if (body.trialDays !== undefined) out.trialDays = body.trialDays;
  if (body.graceDays !== undefined) out.graceDays = body.graceDays;
  if (body.maxMembers !== undefined) out.maxMembers = body.maxMembers;
  if (body.accessProfileId !== undefined) out.accessProfileId = body.accessProfileId;
  return out;
};

/**
 * One payer is billed in one currency: their ledger, credit balance and dunning amounts are sums.
 * The currency is the one of anything already billed to them (invoices, pending items, live
 * subscriptions); a charge in another currency is refused, naming the field.
 */
async function checkPayerCurrency(c: Ctx, payerId: string, currency: string, field: string) {
  const org = c.var.organisationId;
  const rows = await c.var.db.all<{ currency: string }>(sql`
    SELECT currency FROM invoices WHERE organisation_id = ${org} AND payer_id = ${payerId} AND status != 'void' AND currency != ${currency}
    UNION ALL SELECT currency FROM pending_items WHERE organisation_id = ${org} AND member_id = ${payerId} AND invoice_id IS NULL AND currency != ${currency}
    UNION ALL SELECT p.currency FROM subscriptions s JOIN plans p ON p.id = s.plan_id
      WHERE s.organisation_id = ${org} AND s.payer_id = ${payerId} AND s.status != 'ended' AND p.currency != ${currency}
    LIMIT 1`);
  if (rows[0]) throw conflict(field, `member ${payerId} is billed in ${rows[0].currency}; one payer is billed in one currency`);
}

async function subscriptionAction(c: Ctx, id: string, plan: Parameters<typeof actOnSubscription>[3]) {
  await ownSubscription(c, id);
  try {
    const { row } = await actOnSubscription(depsOf(c), id, Date.now(), plan);
    return subscriptionOut(row, await accessGraceDays(depsOf(c), c.var.organisationId));
  } catch (error) {
    return asProblem(error);
  }
}

// ---------------------------------------------------------------------------------------------

export const billingRouter = new OpenAPIHono<AppEnv>()
  // Plans
  .openapi(r.listPlans, async (c) => {
    const { limit, cursor, includeArchived } = c.req.valid('query');
    const rows = await c.var.db
      .select()
      .from(plans)
      .where(and(eq(plans.organisationId, c.var.organisationId), includeArchived === 'true' ? undefined : isNull(plans.archivedAt), cursor ? sql`${plans.id} > ${cursor}` : undefined))
      .orderBy(asc(plans.id))
      .limit(limit + 1);
    return c.json(pageOf(rows, limit, planOut, (p) => p.id), 200);
  })
  .openapi(r.createPlan, async (c) => {
    const body = c.req.valid('json');
    await checkProfile(c, body.accessProfileId);
    const now = Date.now();
    const [row] = await c.var.db
      .insert(plans)
      .values({ id: newId('plan', now), organisationId: c.var.organisationId, currency: body.currency, ...(planColumns(body) as Required<Pick<PlanRow, 'name' | 'price' | 'interval'>>), createdAt: now, updatedAt: now })
      .returning();
    return c.json(planOut(row!), 201);
  })
  .openapi(r.getPlan, async (c) => c.json(planOut(await ownPlan(c, c.req.valid('param').id)), 200))
  .openapi(r.updatePlan, async (c) => {
    const { id } = c.req.valid('param');
    const body = c.req.valid('json');
    await ownPlan(c, id);
    await checkProfile(c, body.accessProfileId);
    const [row] = await c.var.db
      .update(plans)
      .set({ ...planColumns(body), updatedAt: Date.now() })
      .where(and(eq(plans.id, id), eq(plans.organisationId, c.var.organisationId)))
      .returning();
    return c.json(planOut(row!), 200);
  })
  .openapi(r.rolloutPlanPrice, async (c) => {
    const { id } = c.req.valid('param');
    const { after } = c.req.valid('json');
    const plan = await ownPlan(c, id);
    const price = planPrice(plan);
    const PAGE = 100;
    // Running subscriptions on the plan whose price (now or from the next period) is not the plan's.
    const rows = await c.var.db
      .select({ id: subscriptions.id })
      .from(subscriptions)
      .where(
        and(
          eq(subscriptions.organisationId, c.var.organisationId),
          eq(subscriptions.planId, id),
          ne(subscriptions.status, 'ended'),
          after ? sql`${subscriptions.id} > ${after}` : undefined,
          sql`coalesce(json_extract(${subscriptions.state}, '$.pendingPlan.plan.unitAmount'), json_extract(${subscriptions.state}, '$.plan.unitAmount')) != ${price.unitAmount}`,
        ),
      )
      .orderBy(asc(subscriptions.id))
      .limit(PAGE + 1);
    const moved: Array<{ subscriptionId: string; from: string }> = [];
    const skipped: Array<{ subscriptionId: string; reason: string }> = [];
    for (const { id: subscriptionId } of rows.slice(0, PAGE)) {
      try {
        const { row } = await actOnSubscription(depsOf(c), subscriptionId, Date.now(), ({ date }) => ({ events: [{ type: 'change_plan', date, plan: price, timing: 'period_end' }] }));
        moved.push({ subscriptionId, from: stateOf(row).pendingPlan?.from ?? stateOf(row).asOf });
      } catch (error) {
        if (!(error instanceof SubscriptionRefused)) throw error;
        skipped.push({ subscriptionId, reason: `${error.reason}: ${error.detail}` });
      }
    }
    return c.json({ moved, skipped, nextAfter: rows.length > PAGE ? rows[PAGE - 1]!.id : null }, 200);
  })
  .openapi(r.archivePlan, async (c) => {
    const { id } = c.req.valid('param');
    await ownPlan(c, id);
    const now = Date.now();
    const [row] = await c.var.db
      .update(plans)
      .set({ archivedAt: sql`coalesce(${plans.archivedAt}, ${now})`, updatedAt: now })
      .where(and(eq(plans.id, id), eq(plans.organisationId, c.var.organisationId)))
      .returning();
    return c.json(planOut(row!), 200);
  })

  // Subscriptions
  .openapi(r.listSubscriptions, async (c) => {
    const { limit, cursor, payerId, status } = c.req.valid('query');
    const rows = await c.var.db
      .select()
      .from(subscriptions)
      .where(
        and(
          eq(subscriptions.organisationId, c.var.organisationId),
          payerId ? eq(subscriptions.payerId, payerId) : undefined,
          status ? eq(subscriptions.status, status) : undefined,
          cursor ? sql`${subscriptions.id} > ${cursor}` : undefined,
        ),
      )
      .orderBy(asc(subscriptions.id))
      .limit(limit + 1);
    const grace = await accessGraceDays(depsOf(c), c.var.organisationId);
    return c.json(pageOf(rows, limit, (row) => subscriptionOut(row, grace), (s) => s.id), 200);
  })
  .openapi(r.createSubscription, async (c) => {
    const body = c.req.valid('json');
    const db = c.var.db;
    const org = c.var.organisationId;
    const now = Date.now();
    const memberIds = body.memberIds ?? [body.payerId];
    if (new Set(memberIds).size !== memberIds.length) throw invalidField('memberIds', 'must be distinct');
    const [plan] = await db.select().from(plans).where(and(eq(plans.id, body.planId), eq(plans.organisationId, org)));
    if (!plan) throw invalidField('planId', `no plan with id ${body.planId}`);
    if (plan.archivedAt !== null) throw invalidField('planId', 'the plan is archived');
    if (memberIds.length > plan.maxMembers) throw invalidField('memberIds', `the plan covers at most ${plan.maxMembers} member${plan.maxMembers === 1 ? '' : 's'}`);
    const people = await db.select().from(members).where(and(eq(members.organisationId, org), inArray(members.id, [...new Set([body.payerId, ...memberIds])])));
    const payer = people.find((m) => m.id === body.payerId);
    if (!payer) throw invalidField('payerId', `no member with id ${body.payerId}`);
    memberIds.forEach((id, i) => {
      if (!people.some((m) => m.id === id)) throw invalidField(`memberIds.${i}`, `no member with id ${id}`);
    });
    const taken = await db
      .select({ memberId: subscriptionMembers.memberId, subscriptionId: subscriptions.id })
      .from(subscriptionMembers)
      .innerJoin(subscriptions, eq(subscriptionMembers.subscriptionId, subscriptions.id))
      .where(and(inArray(subscriptionMembers.memberId, memberIds), ne(subscriptions.status, 'ended')));
    if (taken[0]) throw conflict('memberIds', `member ${taken[0].memberId} is already covered by subscription ${taken[0].subscriptionId}`);
    await checkPayerCurrency(c, body.payerId, plan.currency, 'planId');
    const home = await homeSite(c, body.homeSiteId, payer, plan);
    const state = startSubscription({
      payerId: body.payerId,
      memberIds,
      maxMembers: plan.maxMembers,
      plan: planPrice(plan),
      interval: plan.interval,
      startDate: body.startDate,
      trialDays: body.trialDays ?? plan.trialDays,
      terms: planTerms(plan),
    });
    const id = newId('sub', now);
    await db.batch([
      db.insert(subscriptions).values({
        id,
        organisationId: org,
        payerId: body.payerId,
        planId: plan.id,
        state,
        status: entitlementOf(state).status,
        homeSiteId: home.siteId,
        timezone: home.timezone,
        // Due at once: if billing below cannot finish, the next run picks the subscription up.
        nextReviewOn: state.startDate,
        nextReviewAt: now,
        joiningFeeDue: plan.joiningFee > 0,
        pendingProrations: [],
        createdAt: now,
        updatedAt: now,
      }),
      ...memberIds.map((memberId) => db.insert(subscriptionMembers).values({ subscriptionId: id, memberId, organisationId: org, createdAt: now })),
    ]);
    await settleAfterChange(depsOf(c), id, org, null, now);
    const [row] = await db.select().from(subscriptions).where(eq(subscriptions.id, id));
    return c.json(subscriptionOut(row!, await accessGraceDays(depsOf(c), org)), 201);
  })
  .openapi(r.getSubscription, async (c) =>
    c.json(subscriptionOut(await ownSubscription(c, c.req.valid('param').id), await accessGraceDays(depsOf(c), c.var.organisationId)), 200),
  )
  .openapi(r.changeSubscriptionPlan, async (c) => {
    const { id } = c.req.valid('param');
    const body = c.req.valid('json');
    const target = await loadPlan(c.var.db, c.var.organisationId, body.planId);
    if (!target) throw invalidField('planId', `no plan with id ${body.planId}`);
    if (target.archivedAt !== null) throw invalidField('planId', 'the plan is archived');
    const current = await ownSubscription(c, id);
    const [currentPlan] = await c.var.db.select().from(plans).where(eq(plans.id, current.planId));
    if (currentPlan && (currentPlan.currency !== target.currency || currentPlan.interval !== target.interval)) {
      throw invalidField('planId', `a plan change keeps the currency and the interval (${currentPlan.currency}, ${currentPlan.interval})`);
    }
    return c.json(await subscriptionAction(c, id, ({ date }) => ({ events: [{ type: 'change_plan', date, plan: planPrice(target), timing: body.timing }] })), 200);
  })
  .openapi(r.freezeSubscription, async (c) => {
    const { id } = c.req.valid('param');
    const body = c.req.valid('json');
    return c.json(
      await subscriptionAction(c, id, async ({ date, row }) => {
        const [plan] = await c.var.db.select().from(plans).where(eq(plans.id, row.planId));
        return { events: [{ type: 'freeze', date, from: body.from, to: body.to, fee: plan ? freezeFeeOf(plan) : null }] };
      }),
      200,
    );
  })
  .openapi(r.unfreezeSubscription, async (c) => c.json(await subscriptionAction(c, c.req.valid('param').id, ({ date }) => ({ events: [{ type: 'unfreeze', date }] })), 200))
  .openapi(r.cancelSubscription, async (c) => {
    const { id } = c.req.valid('param');
    const body = c.req.valid('json');
    return c.json(await subscriptionAction(c, id, ({ date }) => ({ events: [{ type: 'cancel', date, ...(body.endsOn ? { endsOn: body.endsOn } : {}) }] })), 200);
  })
  .openapi(r.withdrawCancellation, async (c) => c.json(await subscriptionAction(c, c.req.valid('param').id, ({ date }) => ({ events: [{ type: 'withdraw_cancellation', date }] })), 200))

  // Family and group plans
  .openapi(r.addSubscriptionMember, async (c) => {
    const { id } = c.req.valid('param');
    const { memberId } = c.req.valid('json');
    const db = c.var.db;
    await ownSubscription(c, id);
    const [member] = await db.select({ id: members.id }).from(members).where(and(eq(members.id, memberId), eq(members.organisationId, c.var.organisationId)));
    if (!member) throw invalidField('memberId', `no member with id ${memberId}`);
    const [taken] = await db
      .select({ subscriptionId: subscriptions.id })
      .from(subscriptionMembers)
      .innerJoin(subscriptions, eq(subscriptionMembers.subscriptionId, subscriptions.id))
      .where(and(eq(subscriptionMembers.memberId, memberId), ne(subscriptions.status, 'ended')));
    if (taken) throw conflict('memberId', `member ${memberId} is already covered by subscription ${taken.subscriptionId}`);
    return c.json(await subscriptionAction(c, id, addMemberPlan(db, c.var.organisationId, id, memberId, Date.now())), 200);
  })
  .openapi(r.removeSubscriptionMember, async (c) => {
    const { id, memberId } = c.req.valid('param');
    return c.json(await subscriptionAction(c, id, removeMemberPlan(c.var.db, c.var.organisationId, id, memberId, Date.now())), 200);
  })

  // Invoice numbering
  .openapi(r.getBillingSettings, async (c) => {
    const [row] = await c.var.db.select({ prefix: invoiceSequences.prefix }).from(invoiceSequences).where(eq(invoiceSequences.organisationId, c.var.organisationId));
    return c.json({ invoicePrefix: row?.prefix ?? 'INV' }, 200);
  })
  .openapi(r.putBillingSettings, async (c) => {
    const { invoicePrefix } = c.req.valid('json');
    await c.var.db
      .insert(invoiceSequences)
      .values({ organisationId: c.var.organisationId, prefix: invoicePrefix })
      .onConflictDoUpdate({ target: invoiceSequences.organisationId, set: { prefix: invoicePrefix } });
    return c.json({ invoicePrefix }, 200);
  })

  // Invoices
  .openapi(r.listInvoices, async (c) => {
    const { limit, cursor, payerId, subscriptionId, status } = c.req.valid('query');
    const rows = await c.var.db
      .select()
      .from(invoices)
      .where(
        and(
          eq(invoices.organisationId, c.var.organisationId),
          payerId ? eq(invoices.payerId, payerId) : undefined,
          subscriptionId ? eq(invoices.subscriptionId, subscriptionId) : undefined,
          status ? eq(invoices.status, status) : undefined,
          cursor ? lt(invoices.id, cursor) : undefined,
        ),
      )
      .orderBy(desc(invoices.id))
      .limit(limit + 1);
    return c.json(pageOf(rows, limit, invoiceOut, (i) => i.id), 200);
  })
  .openapi(r.getInvoice, async (c) => c.json(invoiceOut(await ownInvoice(c, c.req.valid('param').id)), 200))
  .openapi(r.voidInvoiceRoute, async (c) => {
    const invoice = await ownInvoice(c, c.req.valid('param').id);
    return c.json(invoiceOut(await voidInvoice(depsOf(c), invoice, Date.now())), 200);
  })
  .openapi(r.markUncollectibleRoute, async (c) => {
    const invoice = await ownInvoice(c, c.req.valid('param').id);
    return c.json(invoiceOut(await markUncollectible(depsOf(c), invoice, Date.now())), 200);
  })
  .openapi(r.recordPayment, async (c) => {
    const invoice = await ownInvoice(c, c.req.valid('param').id);
    const body = c.req.valid('json');
    return c.json(paymentOut(await recordManualPayment(depsOf(c), invoice, body, Date.now())), 201);
  })
  .openapi(r.chargeInvoiceRoute, async (c) => {
    const invoice = await ownInvoice(c, c.req.valid('param').id);
    try {
      return c.json(paymentOut(await chargeAgain(depsOf(c), invoice, Date.now())), 201);
    } catch (error) {
      return asProblem(error);
    }
  })
  .openapi(r.createCreditNoteRoute, async (c) => {
    const invoice = await ownInvoice(c, c.req.valid('param').id);
    const body = c.req.valid('json');
    const { note, refunds } = await createCreditNote(depsOf(c), invoice, body, Date.now());
    return c.json(creditNoteOut(note, invoice.number ?? '', refunds), 201);
  })
  .openapi(r.listCreditNotes, async (c) => {
    const { limit, cursor, invoiceId, payerId } = c.req.valid('query');
    const db = c.var.db;
    const rows = await db
      .select({ note: creditNotes, invoiceNumber: invoices.number })
      .from(creditNotes)
      .innerJoin(invoices, eq(creditNotes.invoiceId, invoices.id))
      .where(
        and(
          eq(creditNotes.organisationId, c.var.organisationId),
          invoiceId ? eq(creditNotes.invoiceId, invoiceId) : undefined,
          payerId ? eq(creditNotes.payerId, payerId) : undefined,
          cursor ? sql`${creditNotes.id} > ${cursor}` : undefined,
        ),
      )
      .orderBy(asc(creditNotes.id))
      .limit(limit + 1);
    const ids = rows.map((x) => x.note.id);
    const refundRows = ids.length ? await db.select().from(refunds).where(inArray(refunds.creditNoteId, ids)) : [];
    return c.json(
      pageOf(rows, limit, (x) => creditNoteOut(x.note, x.invoiceNumber ?? '', refundRows.filter((f) => f.creditNoteId === x.note.id)), (x) => x.note.id),
      200,
    );
  })
  .openapi(r.listPayments, async (c) => {
    const { limit, cursor, payerId, invoiceId } = c.req.valid('query');
    const rows = await c.var.db
      .select()
      .from(payments)
      .where(
        and(
          eq(payments.organisationId, c.var.organisationId),
          payerId ? eq(payments.payerId, payerId) : undefined,
          invoiceId ? eq(payments.invoiceId, invoiceId) : undefined,
          cursor ? lt(payments.id, cursor) : undefined,
        ),
      )
      .orderBy(desc(payments.id))
      .limit(limit + 1);
    return c.json(pageOf(rows, limit, paymentOut, (p) => p.id), 200);
  })
  .openapi(r.refundPayment, async (c) => {
    const payment = await ownPayment(c, c.req.valid('param').id);
    const body = c.req.valid('json');
    return c.json(refundOut(await refundFromCredit(depsOf(c), payment, body, Date.now())), 201);
  })

  // Per member
  .openapi(r.addPendingItem, async (c) => {
    const { id } = c.req.valid('param');
    const body = c.req.valid('json');
    await ownMember(c, id);
    await checkPayerCurrency(c, id, body.currency, 'currency');
    try {
      const { item, invoice } = await addPendingItemOp(depsOf(c), c.var.organisationId, id, body, Date.now());
      return c.json({ item: pendingOut(item), invoice: invoice ? invoiceOut(invoice) : null }, 201);
    } catch (error) {
      return asProblem(error);
    }
  })
  .openapi(r.listPendingItems, async (c) => {
    const { id } = c.req.valid('param');
    await ownMember(c, id);
    const rows = await c.var.db
      .select()
      .from(pendingItems)
      .where(and(eq(pendingItems.memberId, id), eq(pendingItems.organisationId, c.var.organisationId), isNull(pendingItems.invoiceId)))
      .orderBy(asc(pendingItems.createdAt));
    return c.json({ data: rows.map(pendingOut), nextCursor: null }, 200);
  })
  .openapi(r.deletePendingItemRoute, async (c) => {
    const { id } = c.req.valid('param');
    const [row] = await c.var.db.select().from(pendingItems).where(and(eq(pendingItems.id, id), eq(pendingItems.organisationId, c.var.organisationId)));
    if (!row) throw notFound('Pending item', id);
    if (!(await deletePendingItem(depsOf(c), c.var.organisationId, id))) throw conflict('id', 'the item is on an invoice already; correct it with a credit note');
    return c.json({ id, deleted: true as const }, 200);
  })
  .openapi(r.memberBalance, async (c) => {
    const { id } = c.req.valid('param');
    await ownMember(c, id);
    const ledger = ledgerOf(await ledgerSources(c.var.db, c.var.organisationId, id));
    const [card] = await c.var.db.select().from(billingCustomers).where(eq(billingCustomers.memberId, id));
    return c.json(
      {
        memberId: id,
        creditBalance: ledger.creditBalance,
        amountOwed: ledger.amountOwed,
        outstanding: ledger.outstanding,
        openInvoices: ledger.openInvoices,
        paymentMethod: card ? cardOut(card) : null,
        dunning: await dunningStateOf(c.var.db, id),
      },
      200,
    );
  })
  .openapi(r.memberStatement, async (c) => {
    const { id } = c.req.valid('param');
    await ownMember(c, id);
    const ledger = ledgerOf(await ledgerSources(c.var.db, c.var.organisationId, id));
    return c.json(
      {
        memberId: id,
        entries: ledger.entries.map((e) => ({ ...e, at: iso(e.at) })),
        invoiced: ledger.invoiced,
        credited: ledger.credited,
        paid: ledger.paid,
        refunded: ledger.refunded,
        balance: ledger.balance,
        consistent: checkLedger(ledger).holds,
      },
      200,
    );
  })
  .openapi(r.setupPaymentMethod, async (c) => {
    const { id } = c.req.valid('param');
    const body = c.req.valid('json');
    const member = await ownMember(c, id);
    try {
      return c.json(await startCardSetup(depsOf(c), member, body, Date.now()), 201);
    } catch (error) {
      return asProblem(error);
    }
  })
  .openapi(r.completeSimulatedSetupRoute, async (c) => {
    const { id } = c.req.valid('param');
    const body = c.req.valid('json');
    const member = await ownMember(c, id);
    const saved = await completeSimulatedSetup(depsOf(c), member, body, Date.now());
    if (!saved) throw refused('setupId', 'no_customer', 'start a payment method setup for this member first');
    return c.json(cardOut(saved), 200);
  });

// Stripe webhooks: no API key (the signature is the authentication), and the raw body is needed to
// verify it, so the route is plain Hono and documented by hand.
billingRouter.openAPIRegistry.registerPath({
  method: 'post',
  path: '/v1/webhooks/stripe',
  tags: ['Billing: webhooks'],
  summary: 'Stripe events (payment intents, setup intents, card updates, refunds, disputes); verified by the Stripe-Signature header',
  request: {
    headers: z.object({ 'stripe-signature': z.string() }),
    body: { required: true, content: { 'application/json': { schema: z.object({ id: z.string(), type: z.string() }).passthrough() } } },
  },
  responses: {
    200: { description: 'Received (also for events already handled or not gymgate’s)', content: { 'application/json': { schema: WebhookReceipt } } },
    400: { description: 'The signature is missing, wrong or too old', content: { 'application/problem+json': { schema: z.object({ type: z.string(), title: z.string(), status: z.number() }) } } },
  },
});
billingRouter.post('/v1/webhooks/stripe', async (c) => {
  const raw = await c.req.text();
  const verified = await verifyStripeWebhook(raw, c.req.header('stripe-signature'), c.env.STRIPE_WEBHOOK_SECRET);
  if (!verified.ok) {
    if (verified.error.reason === 'configuration') throw new ApiProblem(503, 'webhooks-not-configured', 'Webhooks are not configured', 'STRIPE_WEBHOOK_SECRET is not set');
    throw new ApiProblem(400, 'bad-signature', 'The webhook signature is not valid', verified.error.message, [{ field: 'stripe-signature', reason: verified.error.reason }]);
  }
  const event = normaliseStripeEvent(verified.event);
  const deps: BillingDeps = { db: c.var.db, env: c.env, ctx: c.executionCtx };
  if (await alreadyProcessed(deps, event.eventId)) return c.json({ received: true as const, eventId: event.eventId, outcome: 'duplicate' }, 200);
  const outcome = await handleStripeEvent(deps, event, Date.now());
  return c.json({ received: true as const, eventId: event.eventId, outcome }, 200);
});
