// Subscriptions in D1: the core state machine's state per subscription, changed only by
// compare-and-swap on its version. The same write updates the members the subscription covers
// (status, suspension, validFrom, validUntil, access profile) through writeWithChanges, so the
// doors learn of it at once, and those member updates only take effect if the swap won.
//
// processSubscription is the whole of the billing run for one subscription at an instant:
// advance the state to the day, invoice the current period if it is not yet (finalise, charge the
// saved card), take what the invoices and payments say (paid, failed) into the state, and write
// the entitlement and the next day to look again. Running it twice, or twice at once, is the same
// as running it once.
import { and, eq, sql } from 'drizzle-orm';
import type { Db } from '../env.ts';
import { computeDraftInvoice, type PendingItem } from '../../core/billing/invoice.ts';
import { type CalendarDate } from '../../core/billing/periods.ts';
import type { ProrationLine } from '../../core/billing/proration.ts';
import { applySubscriptionEvent,
  billingDue,
  entitlementOf,
  type SubscriptionEntitlement,
  type SubscriptionEvent,
  type SubscriptionRefusal,
  type SubscriptionState,
} from '../../core/billing/subscription.ts';
import { invoices, members, pendingItems, plans, subscriptionMembers, subscriptions } from '../db/schema.ts';
import { isPaymentProviderError } from '../payments/index.ts';
import { newId } from '../lib/ids.ts';
import { type BillingDeps } from './deps.ts';
import { raw, chargeInvoice, draftInvoiceStatements, finaliseInvoice, insertDraftInvoice, type ChargeAttempt, type DraftToStore } from './invoices.ts';
import { joiningFeeOf, loadSubscription, memberLedger, subscriptionFacts, taxRateOf, type InvoiceRow, type SubscriptionRow } from './records.ts';
import { localDate } from './time.ts';
import { ownedBy } from '../lib/owned.ts';

import { billedPeriods, billingTarget, nextReviewDate, reconcileEvents } from './subscription-state.ts';
import { accessGraceDays, commitSubscription, entitlementWrites, stateOnBillingDay, tokenHolds, type Commit } from './subscription-writes.ts';

const MAX_ROUNDS = 10;
/** Periods one run catches up on at most (a year of weekly periods); the next run goes on. */
const MAX_MISSED_PERIODS = 53;

export class SubscriptionRefused extends Error {
  constructor(
    readonly reason: SubscriptionRefusal | 'invoice_refused',
    readonly detail: string,
  ) {
    super(detail);
  }
}

// ---------------------------------------------------------------------------------------------
// The billing run for one subscription

export type ProcessResult = {
  subscriptionId: string;
  status: SubscriptionEntitlement['status'];
  validUntil: CalendarDate;
  nextReviewOn: CalendarDate | null;
  /** The period invoice this run looked at, if any. */
  invoice: InvoiceRow | null;
  charge: ChargeAttempt['kind'] | null;
};

type Billed = { kind: 'none' } | { kind: 'reload' } | { kind: 'billed'; invoice: InvoiceRow; charge: ChargeAttempt['kind'] | null };

async function pendingFor(deps: BillingDeps, row: SubscriptionRow, currency: string): Promise<{ items: PendingItem[]; ids: string[] }> {
  const rows = await deps.db
    .select()
    .from(pendingItems)
    .where(and(eq(pendingItems.organisationId, row.organisationId), eq(pendingItems.memberId, row.payerId), sql`${pendingItems.invoiceId} IS NULL`, eq(pendingItems.currency, currency)))
    .orderBy(pendingItems.createdAt, pendingItems.id)
    .limit(80);
  return {
    ids: rows.map((r) => r.id),
    items: rows.map((r) => ({ id: r.id, kind: r.kind, description: r.description, quantity: r.quantity, unitAmount: r.unitAmount, taxRate: taxRateOf(r) })),
  };
}

/** Invoices (once), finalises and charges (attempt 1) the period the subscription is in on `date`. */
async function billPeriod(deps: BillingDeps, row: SubscriptionRow, s: SubscriptionState, date: CalendarDate, now: number): Promise<Billed> {
  const { db } = deps;
  const due = billingDue(s, date);
  if (due.kind === 'none') return { kind: 'none' };
  // Periods are billed in advance on their first day, not before (a subscription starting next week).
  if (localDate(now, row.timezone) < due.period.start) return { kind: 'none' };
  if (due.kind === 'plan' && s.paidThrough !== null && s.paidThrough >= due.period.end) return { kind: 'none' };
  const [existing] = await db
    .select()
    .from(invoices)
    .where(and(eq(invoices.subscriptionId, row.id), eq(invoices.periodStart, due.period.start), eq(invoices.reason, due.kind)));
  let invoice = existing;
  if (!invoice) {
    const [plan] = await db.select().from(plans).where(eq(plans.id, row.planId));
    if (!plan) throw new Error(`plan ${row.planId} of subscription ${row.id} is missing`);
    const currency = plan.currency;
    const pending = await pendingFor(deps, row, currency);
    const draft = computeDraftInvoice({
      currency: currency as never,
      period: due.period,
      plan: due.kind === 'plan' ? due.plan : null,
      planFraction: due.kind === 'plan' ? due.planFraction : null,
      freezeFee: due.kind === 'freeze_fee' ? due.fee : null,
      joiningFee: row.joiningFeeDue ? joiningFeeOf(plan) : null,
      pendingItems: pending.items,
      prorations: row.pendingProrations as ProrationLine[],
      // The credit balance is applied by finaliseInvoice, from the ledger as it is then.
      creditBalance: 0,
    });
    if (!draft.ok) throw new Error(`draft invoice for ${row.id} refused: ${draft.detail}`);
    // The joining fee and the downgrade credits are the subscription's; they are spent with the
    // insert, so the draft must have been computed from the version that held them, and the
    // subscription is read again afterwards. A plain renewal spends nothing of it and goes on.
    const spends = row.joiningFeeDue || (row.pendingProrations as ProrationLine[]).length > 0;
    const store: DraftToStore = {
      id: newId('inv', now),
      organisationId: row.organisationId,
      payerId: row.payerId,
      subscriptionId: row.id,
      reason: due.kind,
      sourceKey: null,
      invoice: draft.invoice,
      pendingItemIds: pending.ids,
      guard: spends ? sql`(SELECT version FROM subscriptions WHERE id = ${row.id}) = ${row.version}` : null,
      after: spends
        ? [
            db
              .update(subscriptions)
              .set({ version: row.version + 1, joiningFeeDue: false, pendingProrations: [], updatedAt: now })
              .where(and(eq(subscriptions.id, row.id), eq(subscriptions.version, row.version))),
          ]
        : [],
      now,
    };
    // Lost to a concurrent run (the period's invoice is unique), or the subscription changed: read again.
    if (!(await insertDraftInvoice(db, store)) || spends) return { kind: 'reload' };
    invoice = await finaliseInvoice(db, row.organisationId, store.id, now);
  }
  if (invoice.status === 'draft') invoice = await finaliseInvoice(db, row.organisationId, invoice.id, now);
  let charge: ChargeAttempt['kind'] | null = null;
  if (invoice.status === 'open' && invoice.amountRemaining > 0) {
    const attempt = await chargeInvoice(deps, invoice, 1, now);
    charge = attempt.kind;
    if (attempt.kind === 'charged') invoice = (await db.select().from(invoices).where(eq(invoices.id, invoice.id)))[0] ?? invoice;
  }
  return { kind: 'billed', invoice, charge };
}

/**
 * Brings one subscription up to `now` (epoch ms): see the top of this file. `bill: false` only
 * takes payments into account and writes the entitlement (webhooks).
 */
export async function processSubscription(deps: BillingDeps, subscriptionId: string, now: number, options: { bill?: boolean } = {}): Promise<ProcessResult | null> {
  const bill = options.bill ?? true;
  let invoice: InvoiceRow | null = null;
  let charge: ChargeAttempt['kind'] | null = null;
  let missed = 0;
  let grace: number | null = null;
  for (let round = 0; round < MAX_ROUNDS + 2 * missed; round++) {
    const row = await loadSubscription(deps.db, subscriptionId);
    if (!row) return null;
    grace ??= await accessGraceDays(deps, row.organisationId);
    const { date, state: advanced } = stateOnBillingDay(row, now);
    let s = advanced;
    if (bill) {
      const target = billingTarget(s, await billedPeriods(deps.db, subscriptionId), date);
      const billed = await billPeriod(deps, row, s, target, now);
      if (billed.kind === 'reload') continue;
      if (billed.kind === 'billed') {
        invoice = billed.invoice;
        charge = billed.charge ?? charge;
        // A missed period is billed: go on with the next one (a few rounds each).
        if (target < date && missed < MAX_MISSED_PERIODS) {
          missed++;
          continue;
        }
      }
    }
    const facts = await subscriptionFacts(deps.db, subscriptionId);
    const events: SubscriptionEvent[] = [];
    for (const e of reconcileEvents(s, facts, date)) {
      const r = applySubscriptionEvent(s, e);
      if (r.ok) {
        s = r.state;
        events.push(e);
      }
    }
    const nextReviewOn = nextReviewDate(s, facts, date, grace);
    const ent = entitlementOf(s, { minGraceDays: grace });
    const result: ProcessResult = { subscriptionId, status: ent.status, validUntil: ent.validUntil, nextReviewOn, invoice, charge };
    const unchanged = JSON.stringify(s) === JSON.stringify(row.state) && nextReviewOn === row.nextReviewOn && ent.status === row.status;
    if (unchanged && !(await membersDiffer(deps, row, s, ent))) return result;
    if (await commitSubscription(deps, row, { state: s, events, nextReviewOn, graceDays: grace }, now)) return result;
  }
  throw new Error(`subscription ${subscriptionId} kept changing under the billing run; try again`);
}

async function membersDiffer(deps: BillingDeps, row: SubscriptionRow, s: SubscriptionState, ent: SubscriptionEntitlement): Promise<boolean> {
  const { changed } = await entitlementWrites(deps, row, s, ent, 'probe', 0);
  return changed.length > 0;
}

// ---------------------------------------------------------------------------------------------
// Staff actions (API)

export type ActionContext = { row: SubscriptionRow; state: SubscriptionState; date: CalendarDate };
export type ActionPlan = { events: SubscriptionEvent[]; extra?: Commit['extra']; alsoChanged?: string[] };

/**
 * Applies staff events to a subscription on today's date (never before its state's date), with
 * the proration they cause: an upgrade's lines become an invoice in the same write, a
 * downgrade's wait for the next invoice. Then runs processSubscription. Refusals of the rules
 * throw SubscriptionRefused.
 */
export async function actOnSubscription(
  deps: BillingDeps,
  subscriptionId: string,
  now: number,
  plan: (ctx: ActionContext) => ActionPlan | Promise<ActionPlan>,
): Promise<{ row: SubscriptionRow; prorationInvoiceId: string | null }> {
  const { db } = deps;
  for (let round = 0; round < MAX_ROUNDS; round++) {
    const row = await loadSubscription(db, subscriptionId);
    if (!row) throw new Error(`subscription ${subscriptionId} is missing`);
    const { date, state: advanced } = stateOnBillingDay(row, now);
    let s = advanced;
    const { events, extra, alsoChanged } = await plan({ row, state: s, date });
    const prorations: ProrationLine[] = [];
    let upgrade: ProrationLine[] | null = null;
    for (const e of events) {
      const r = applySubscriptionEvent(s, e);
      if (!r.ok) throw new SubscriptionRefused(r.reason, r.detail);
      s = r.state;
      if (r.proration && r.proration.lines.length > 0) {
        if (r.proration.settlement === 'invoice_now') upgrade = r.proration.lines;
        else prorations.push(...r.proration.lines);
      }
    }
    const facts = await subscriptionFacts(db, subscriptionId);
    const commit: Commit = { state: s, events, nextReviewOn: nextReviewDate(s, facts, date, await accessGraceDays(deps, row.organisationId)), ...(alsoChanged ? { alsoChanged } : {}) };
    if (prorations.length > 0) commit.pendingProrations = [...(row.pendingProrations as ProrationLine[]), ...prorations];
    let prorationInvoiceId: string | null = null;
    if (upgrade) {
      const [planRow] = await db.select().from(plans).where(eq(plans.id, row.planId));
      const ledger = await memberLedger(db, row.organisationId, row.payerId);
      const draft = computeDraftInvoice({ currency: (planRow?.currency ?? 'THB') as never, period: null, plan: null, prorations: upgrade, creditBalance: ledger.creditBalance });
      if (!draft.ok) throw new SubscriptionRefused('invoice_refused', draft.detail);
      const id = newId('inv', now);
      prorationInvoiceId = id;
      commit.extra = (token) => [
        ...(extra?.(token) ?? []),
        ...draftInvoiceStatements(db, {
          id,
          organisationId: row.organisationId,
          payerId: row.payerId,
          subscriptionId: row.id,
          reason: 'proration',
          sourceKey: `${row.id}:proration:${row.version + 1}`,
          invoice: draft.invoice,
          pendingItemIds: [],
          guard: tokenHolds(row.id, token),
          after: [],
          now,
        }),
      ];
    } else if (extra) {
      commit.extra = extra;
    }
    if (!(await commitSubscription(deps, row, commit, now))) continue;
    await settleAfterChange(deps, subscriptionId, row.organisationId, prorationInvoiceId, now);
    return { row: (await loadSubscription(db, subscriptionId)) ?? row, prorationInvoiceId };
  }
  throw new Error(`subscription ${subscriptionId} kept changing; try again`);
}

/**
 * After a committed change: finalise and charge its proration invoice, then bill and reconcile.
 * The change stands even when the processor cannot be reached: the charge stays pending and the
 * next run (or a queue retry) repeats it with the same idempotency key.
 */
export async function settleAfterChange(deps: BillingDeps, subscriptionId: string, organisationId: string, prorationInvoiceId: string | null, now: number): Promise<void> {
  try {
    if (prorationInvoiceId) {
      const invoice = await finaliseInvoice(deps.db, organisationId, prorationInvoiceId, now);
      await chargeInvoice(deps, invoice, 1, now);
    }
    await processSubscription(deps, subscriptionId, now);
  } catch (error) {
    if (!isPaymentProviderError(error) || !error.retryable) throw error;
    console.warn(JSON.stringify({ msg: 'payment processor unavailable; the billing run will retry', subscriptionId, error: error.message }));
  }
}

// ---------------------------------------------------------------------------------------------
// Family and group plans: members joining and leaving a running subscription

/** Covers one more member (up to the plan's maxMembers); the member gets the subscription's access in the same write. */
export function addMemberPlan(db: Db, organisationId: string, subscriptionId: string, memberId: string, now: number) {
  return ({ date }: ActionContext): ActionPlan => ({
    events: [{ type: 'add_member', date, memberId }],
    extra: (token) => [
      raw(
        db,
        sql`INSERT INTO subscription_members (subscription_id, member_id, organisation_id, created_at)
          SELECT ${subscriptionId}, ${memberId}, ${organisationId}, ${now} WHERE ${tokenHolds(subscriptionId, token)}`,
      ),
    ],
  });
}

/** Stops covering a member: their access ends in the same write (the payer keeps paying for the others). */
export function removeMemberPlan(db: Db, organisationId: string, subscriptionId: string, memberId: string, now: number) {
  return ({ date }: ActionContext): ActionPlan => ({
    events: [{ type: 'remove_member', date, memberId }],
    alsoChanged: [memberId],
    extra: (token) => [
      db
        .delete(subscriptionMembers)
        .where(and(eq(subscriptionMembers.subscriptionId, subscriptionId), eq(subscriptionMembers.memberId, memberId), tokenHolds(subscriptionId, token))),
      db
        .update(members)
        .set({ status: 'ended', suspension: null, validUntil: now, updatedAt: now })
        .where(ownedBy(members, memberId, organisationId, tokenHolds(subscriptionId, token))),
    ],
  });
}
