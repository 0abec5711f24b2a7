// What the billing API's handlers share: output shapes, lookups scoped to the organisation (another
// organisation's id is a 404), and the checks several resources make.
import { z } from '@hono/zod-openapi';
import { and, asc, eq, sql } from 'drizzle-orm';
import type { CreditNoteLine } from '../../../core/billing/credit-notes.ts';
import type { InvoiceLine } from '../../../core/billing/invoice.ts';
import type { Currency } from '../../../core/billing/money.ts';
import type { ProrationLine } from '../../../core/billing/proration.ts';
import { entitlementOf, currentPeriod, type SubscriptionState } from '../../../core/billing/subscription.ts';
import { accessProfiles, billingCustomers, invoices, members, payments, pendingItems, plans, sites, subscriptions } from '../../db/schema.ts';
import type { AppEnv, Db } from '../../env.ts';
import { findOwned, ownedBy } from '../../lib/owned.ts';
import { conflict, invalidField } from '../../lib/problem.ts';
import { iso, isoOrNull } from '../../lib/time.ts';
import { isPaymentProviderError } from '../../payments/index.ts';
import { PlanUpdate } from '../contracts.ts';
import type { BillingDeps } from '../deps.ts';
import { providerFailed, refused } from '../problems.ts';
import { stateOf, taxColumns, taxRateOf, type CreditNoteRow, type InvoiceRow, type PaymentRow, type PlanRow, type RefundRow, type SubscriptionRow } from '../records.ts';
import { accessGraceDays } from '../subscription-writes.ts';
import { actOnSubscription, SubscriptionRefused } from '../subscriptions.ts';

export type Ctx = { var: { db: Db; organisationId: string }; env: AppEnv['Bindings']; executionCtx: { waitUntil(p: Promise<unknown>): void } };
export const depsOf = (c: Ctx): BillingDeps => ({ db: c.var.db, env: c.env, ctx: c.executionCtx });

// ---------------------------------------------------------------------------------------------
// Output shapes

export const planOut = (p: PlanRow) => ({
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

export const refundOut = (x: RefundRow) => ({
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

export const creditNoteOut = (n: CreditNoteRow, invoiceNumber: string, refunds: RefundRow[]) => ({
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

export const pendingOut = (p: typeof pendingItems.$inferSelect) => ({
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

export const cardOut = (b: typeof billingCustomers.$inferSelect) => ({
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

export const ownPlan = (c: Ctx, id: string) => findOwned(c.var.db, plans, id, c.var.organisationId, 'Plan');
export const ownSubscription = (c: Ctx, id: string) => findOwned(c.var.db, subscriptions, id, c.var.organisationId, 'Subscription');
export const ownInvoice = (c: Ctx, id: string) => findOwned(c.var.db, invoices, id, c.var.organisationId, 'Invoice');
export const ownPayment = (c: Ctx, id: string) => findOwned(c.var.db, payments, id, c.var.organisationId, 'Payment');
export const ownMember = (c: Ctx, id: string) => findOwned(c.var.db, members, id, c.var.organisationId, 'Member');

export async function checkProfile(c: Ctx, id: string | null | undefined) {
  if (!id) return;
  const [p] = await c.var.db.select({ id: accessProfiles.id }).from(accessProfiles).where(ownedBy(accessProfiles, id, c.var.organisationId));
  if (!p) throw invalidField('accessProfileId', `no access profile with id ${id}`);
}

/** The subscription's home site and time zone: see edge/billing/time.ts. */
export async function homeSite(c: Ctx, requested: string | undefined, payer: typeof members.$inferSelect, plan: PlanRow): Promise<{ siteId: string | null; timezone: string }> {
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

export function asProblem(error: unknown): never {
  if (error instanceof SubscriptionRefused) throw refused('subscription', error.reason, error.detail);
  if (isPaymentProviderError(error)) throw providerFailed(error.message);
  throw error;
}

export const planColumns = (body: Partial<z.infer<typeof PlanUpdate>>) => {
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
export async function checkPayerCurrency(c: Ctx, payerId: string, currency: string, field: string) {
  const org = c.var.organisationId;
  const rows = await c.var.db.all<{ currency: string }>(sql`
    SELECT currency FROM invoices WHERE organisation_id = ${org} AND payer_id = ${payerId} AND status != 'void' AND currency != ${currency}
    UNION ALL SELECT currency FROM pending_items WHERE organisation_id = ${org} AND member_id = ${payerId} AND invoice_id IS NULL AND currency != ${currency}
    UNION ALL SELECT p.currency FROM subscriptions s JOIN plans p ON p.id = s.plan_id
      WHERE s.organisation_id = ${org} AND s.payer_id = ${payerId} AND s.status != 'ended' AND p.currency != ${currency}
    LIMIT 1`);
  if (rows[0]) throw conflict(field, `member ${payerId} is billed in ${rows[0].currency}; one payer is billed in one currency`);
}

export async function subscriptionAction(c: Ctx, id: string, plan: Parameters<typeof actOnSubscription>[3]) {
  await ownSubscription(c, id);
  try {
    const { row } = await actOnSubscription(depsOf(c), id, Date.now(), plan);
    return subscriptionOut(row, await accessGraceDays(depsOf(c), c.var.organisationId));
  } catch (error) {
    return asProblem(error);
  }
}
