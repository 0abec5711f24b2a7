// The billing run for a page of subscriptions at once. Most subscriptions on a billing day are
// plain renewals: one period due, nothing pending, a saved card, no dunning. Billing them one by
// one costs some 25 D1 round trips each; here a page of them costs a handful in all:
//
//   1. one batch of reads: the subscriptions, their plans, invoices and payments, the payers'
//      ledgers and fingerprints, saved cards, dunning rows and pending items, the covered members;
//   2. (pure) which of them are plain renewals, and the invoice of each;
//   3. one batch: every draft inserted and finalised (gap-free numbers) with its pending card
//      payment row — the same statements processSubscription uses, with the same guards;
//   4. the charges, through the processor's many-at-once path when it has one;
//   5. one batch: each successful payment applied to its invoice and each subscription's
//      compare-and-swap with its members' entitlements and the change log the doors sync from;
//   6. one read of the invoices, for the results.
//
// Anything else (a missed period, a joining fee, pending items, credit, a declined card, a lost
// race) is handed back to be billed by processSubscription, which picks up whatever this left: a
// draft, an open invoice whose pending payment it repeats with the same idempotency key. So the
// page path only ever does part of the work processSubscription would do, never something else.
import { eq, sql } from 'drizzle-orm';
import type { BatchItem } from 'drizzle-orm/batch';
import { invoiceProblems } from '../../core/billing/invoice.ts';
import { applySubscriptionEvent, entitlementOf, type SubscriptionEvent } from '../../core/billing/subscription.ts';
import { invoices, invoiceSequences, payments, subscriptionEvents } from '../db/schema.ts';
import { announceEntitlementChanges, type BumpedSite, recordChanges } from '../entitlements/index.ts';
import { field, inJson, insertRows, jsonRows, raw } from '../lib/json-rows.ts';
import type { ChargeOffSessionInput, ChargeOutcome } from '../payments/index.ts';
import { paymentProvider, type BillingDeps } from './deps.ts';
import { dunningGraceDays } from './dunning-port.ts';
import { isRateLimited, RATE_LIMITED_TRIES, rateLimitWait, withRateLimitRetries } from './rate-limit.ts';
import { batch, chargeRequest, invoiceRowOf, isConstraintError, outcomeResult, randomToken } from './invoices.ts';
import { ledgerFingerprint, type InvoiceFact, type InvoiceRow } from './records.ts';
import { nextReviewDate, reconcileEvents } from './subscription-state.ts';
import { memberChanges, subscriptionEventRows, subscriptionWrite } from './subscription-writes.ts';
import type { ProcessResult } from './subscriptions.ts';

import { byKey, planRenewals, readPage, toColumns, type Renewal } from './page-plan.ts';

export type PageResult = {
  /** Subscriptions billed and committed here. */
  results: ProcessResult[];
  /** Subscriptions left to processSubscription (not plain renewals, or something changed). */
  rest: string[];
};

/**
 * Step 3: the invoices, finalised with the organisations' next numbers, and their pending card
 * payments, in one batch of a few statements: every row of one kind is one statement over a JSON
 * array. Each invoice is written only while its subscription is at the version and its payer's
 * ledger has the fingerprint the draft was computed from (else NULL goes into a NOT NULL column
 * and the whole batch rolls back: null is returned and nothing was written). Returns the numbers.
 */
async function storeRenewals(deps: BillingDeps, renewals: Renewal[], now: number): Promise<Map<string, string> | null> {
  const { db } = deps;
  const perOrg = byKey(renewals, (r) => r.row.organisationId);
  const k = new Map<string, number>();
  for (const list of perOrg.values()) list.forEach((r, i) => k.set(r.invoiceId, i));
  for (const r of renewals) {
    const problems = invoiceProblems(r.invoice);
    if (problems.length > 0) throw new Error(`refusing to store an inconsistent invoice: ${problems.join('; ')}`);
  }
  const org = field('organisation_id');
  const unchanged = sql`(SELECT version FROM subscriptions WHERE id = ${field('subscription_id')}) = ${field('version')}
    AND ${ledgerFingerprint(org, field('payer_id'))} = ${field('fingerprint')}`;
  const statements: BatchItem<'sqlite'>[] = [
    ...[...perOrg.keys()].map((organisationId) => db.insert(invoiceSequences).values({ organisationId }).onConflictDoNothing()),
    insertRows(
      db,
      invoices,
      renewals.map((r) => ({
        ...invoiceRowOf({ id: r.invoiceId, organisationId: r.row.organisationId, payerId: r.row.payerId, subscriptionId: r.row.id, reason: 'plan', sourceKey: null, invoice: r.invoice, pendingItemIds: [], guard: null, after: [], now }),
        ...r.totals,
        amountRemaining: r.totals.amountDue,
        status: 'open' as const,
        finalisedAt: r.finalisedAt,
        pendingItemCount: 0,
      })),
      {
        extra: renewals.map((r) => ({ k: k.get(r.invoiceId), version: r.row.version, fingerprint: r.fingerprint })),
        set: {
          number: sql`(SELECT prefix || '-' || printf('%06d', next_invoice + ${field('k')}) FROM invoice_sequences WHERE organisation_id = ${org})`,
          pendingItemCount: sql`CASE WHEN ${unchanged} THEN 0 END`,
        },
        returning: 'id, number',
      },
    ),
    ...[...perOrg].map(([organisationId, list]) =>
      db
        .update(invoiceSequences)
        .set({ nextInvoice: sql`${invoiceSequences.nextInvoice} + ${list.length}` })
        .where(eq(invoiceSequences.organisationId, organisationId)),
    ),
    insertRows(
      db,
      payments,
      renewals.map((r) => r.payment),
    ),
  ];
  let results: unknown[];
  try {
    results = await batch(db, statements);
  } catch (error) {
    if (isConstraintError(error)) return null;
    throw error;
  }
  const rows = (results[perOrg.size] as { results?: { id: string; number: string | null }[] }).results ?? [];
  return new Map(rows.map((r) => [r.id, r.number ?? '']));
}

/** Charges of a page made at the same time when the processor takes them one request each. */
const CHARGE_LANES = 20;

/**
 * Step 4: the charges. A processor with a many-at-once path gets them in one call; others get
 * one request per charge, CHARGE_LANES at a time. Charges refused with 429 are asked again
 * (rate-limit.ts); any other error leaves the payment pending, and processSubscription asks
 * again with the same key.
 */
async function chargeAll(deps: BillingDeps, inputs: ChargeOffSessionInput[]): Promise<(ChargeOutcome | null)[]> {
  const provider = paymentProvider(deps);
  const answers: (ChargeOutcome | null)[] = inputs.map(() => null);
  const many = provider.chargeOffSessionMany?.bind(provider);
  if (many) {
    let waiting = inputs.map((_, i) => i);
    for (let tries = 1; waiting.length > 0 && tries <= RATE_LIMITED_TRIES; tries++) {
      if (tries > 1) await rateLimitWait();
      const settled = await many(waiting.map((i) => inputs[i]!));
      const again: number[] = [];
      settled.forEach((s, k) => {
        if (s.status === 'fulfilled') answers[waiting[k]!] = s.value;
        else if (isRateLimited(s.reason)) again.push(waiting[k]!);
      });
      waiting = again;
    }
    return answers;
  }
  let next = 0;
  const lane = async () => {
    for (let i = next++; i < inputs.length; i = next++) {
      answers[i] = await withRateLimitRetries(() => provider.chargeOffSession(inputs[i]!)).catch(() => null);
    }
  };
  await Promise.all(Array.from({ length: Math.min(CHARGE_LANES, inputs.length) }, lane));
  return answers;
}

/**
 * Bills `ids` at `now`: the plain renewals here, the rest left to processSubscription (see the top
 * of this file). Safe next to other runs: every write is guarded like processSubscription's.
 * `withInvoices: false` leaves each result's invoice null and saves the read that returns them
 * (the queue consumer only needs to know what was billed).
 */
export async function billPage(
  deps: BillingDeps,
  ids: string[],
  now: number,
  options: { withInvoices?: boolean; organisationIds?: string[] } = {},
): Promise<PageResult> {
  const unique = [...new Set(ids)];
  if (unique.length === 0) return { results: [], rest: [] };
  const { db } = deps;
  const provider = paymentProvider(deps);
  // The organisations the caller knows (a queue message names its own) are asked for their grace
  // while the page is read, a round trip less per page; any other is asked once the page shows it.
  const graceAsked = new Map([...new Set(options.organisationIds ?? [])].map((o) => [o, dunningGraceDays(db, o)] as const));
  for (const asked of graceAsked.values()) asked.catch(() => undefined);
  const data = await readPage(deps, unique);
  const found = new Set(data.subRows.map((r) => r.id));
  const missing = unique.filter((id) => !found.has(id));
  const orgs = [...new Set(data.subRows.map((r) => r.organisationId))];
  const graceOf = new Map(await Promise.all(orgs.map(async (o) => [o, await (graceAsked.get(o) ?? dunningGraceDays(db, o))] as const)));
  const planned = planRenewals(data, now, provider.name, graceOf);
  const rest = [...missing, ...planned.rest];
  if (planned.renewals.length === 0) return { results: [], rest };

  const numbers = await storeRenewals(deps, planned.renewals, now);
  if (!numbers) return { results: [], rest: unique };

  const outcomes = await chargeAll(
    deps,
    planned.renewals.map((r) =>
      chargeRequest({ id: r.invoiceId, organisationId: r.row.organisationId, number: numbers.get(r.invoiceId)! }, r.customer, { amount: r.payment.amount, currency: r.payment.currency }, 1),
    ),
  );

  // Step 5: successful charges, and the subscriptions they pay for.
  const paid = planned.renewals.filter((_, i) => outcomes[i]?.status === 'succeeded');
  rest.push(...planned.renewals.filter((_, i) => outcomes[i]?.status !== 'succeeded').map((r) => r.row.id));
  if (paid.length === 0) return { results: [], rest };
  const payers: { id: string; token: string; pi: string | null; ch: string | null }[] = [];
  const writes: Record<string, unknown>[] = [];
  const events: ReturnType<typeof subscriptionEventRows> = [];
  const eventTokens: { token: string }[] = [];
  const memberWrites: Record<string, unknown>[] = [];
  const changedByOrg = new Map<string, string[]>();
  const committed = new Map<string, ProcessResult>();
  for (const [i, r] of planned.renewals.entries()) {
    const outcome = outcomes[i];
    if (outcome?.status !== 'succeeded') continue;
    const result = outcomeResult(outcome);
    payers.push({ id: r.payment.id, token: randomToken(), pi: result.providerPaymentId ?? null, ch: result.chargeId ?? null });
    const facts: InvoiceFact[] = [
      ...r.facts,
      { id: r.invoiceId, reason: 'plan', status: 'paid', periodStart: r.invoice.period!.start, periodEnd: r.invoice.period!.end, amountRemaining: 0, lastPaymentStatus: 'succeeded' },
    ];
    let s = r.state;
    const applied: SubscriptionEvent[] = [];
    for (const e of reconcileEvents(s, facts, r.date)) {
      const step = applySubscriptionEvent(s, e);
      if (step.ok) {
        s = step.state;
        applied.push(e);
      }
    }
    const commit = { state: s, events: applied, nextReviewOn: nextReviewDate(s, facts, r.date, r.graceDays) };
    const ent = entitlementOf(s, { minGraceDays: r.graceDays });
    const token = randomToken();
    const w = subscriptionWrite(r.row, commit, ent, token, now);
    writes.push({ id: r.row.id, version: r.row.version, token, state: JSON.stringify(w.state), status: w.status, plan_id: w.planId, next_review_on: w.nextReviewOn, next_review_at: w.nextReviewAt });
    for (const e of subscriptionEventRows(r.row, commit, now)) {
      events.push(e);
      eventTokens.push({ token });
    }
    const changes = memberChanges(r.row, s, ent, now, { rows: data.covered, planAccessProfileId: r.planAccessProfileId });
    for (const c of changes) memberWrites.push({ id: c.id, organisation_id: r.row.organisationId, subscription_id: r.row.id, token, ...toColumns(c.set) });
    if (changes.length > 0) changedByOrg.set(r.row.organisationId, [...(changedByOrg.get(r.row.organisationId) ?? []), ...changes.map((c) => c.id)]);
    committed.set(r.row.id, { subscriptionId: r.row.id, status: ent.status, validUntil: ent.validUntil, nextReviewOn: commit.nextReviewOn, invoice: null, charge: 'charged' });
  }
  // Each kind of write is one statement over a JSON array; every subscription's own writes run
  // only where its compare-and-swap won (its write token is on the row).
  const tokenHolds = sql`EXISTS (SELECT 1 FROM subscriptions WHERE id = ${field('subscription_id')} AND write_token = ${field('token')})`;
  const statements: BatchItem<'sqlite'>[] = [
    // The payments succeeded, at most once (as succeedStatements), then their money on their invoices.
    raw(
      db,
      sql`UPDATE payments SET status = 'succeeded', applied_token = ${field('token')}, settled_at = coalesce(payments.settled_at, ${now}),
        failure_code = NULL, decline_code = NULL, failure_message = NULL, hard_decline = 0, updated_at = ${now},
        provider_payment_id = coalesce(${field('pi')}, payments.provider_payment_id), charge_id = coalesce(${field('ch')}, payments.charge_id)
      FROM ${jsonRows(payers)} WHERE payments.id = ${field('id')} AND payments.applied_token IS NULL`,
    ),
    raw(
      db,
      sql`UPDATE invoices SET
        amount_paid = invoices.amount_paid + min(p.amount, invoices.amount_remaining),
        amount_remaining = invoices.amount_remaining - min(p.amount, invoices.amount_remaining),
        status = CASE WHEN invoices.amount_remaining - min(p.amount, invoices.amount_remaining) = 0 THEN 'paid' ELSE invoices.status END,
        paid_at = CASE WHEN invoices.amount_remaining - min(p.amount, invoices.amount_remaining) = 0 THEN ${now} ELSE invoices.paid_at END
      FROM payments AS p, ${jsonRows(payers)}
      WHERE p.id = ${field('id')} AND p.applied_token = ${field('token')} AND invoices.id = p.invoice_id AND invoices.status IN ('open', 'uncollectible')`,
    ),
    raw(
      db,
      sql`UPDATE subscriptions SET state = ${field('state')}, status = ${field('status')}, plan_id = ${field('plan_id')},
        next_review_on = ${field('next_review_on')}, next_review_at = ${field('next_review_at')},
        version = subscriptions.version + 1, write_token = ${field('token')}, updated_at = ${now}
      FROM ${jsonRows(writes)} WHERE subscriptions.id = ${field('id')} AND subscriptions.version = ${field('version')}
      RETURNING subscriptions.id AS id`,
    ),
    ...(events.length ? [insertRows(db, subscriptionEvents, events, { extra: eventTokens, where: tokenHolds })] : []),
    ...(memberWrites.length
      ? [
          raw(
            db,
            sql`UPDATE members SET status = ${field('status')}, suspension = ${field('suspension')}, valid_from = ${field('valid_from')},
              valid_until = ${field('valid_until')}, access_profile_id = ${field('access_profile_id')}, updated_at = ${field('updated_at')}
            FROM ${jsonRows(memberWrites)} WHERE members.id = ${field('id')} AND members.organisation_id = ${field('organisation_id')} AND ${tokenHolds}`,
          ),
        ]
      : []),
  ];
  const casAt = 2;
  const bumps: number[] = [];
  for (const [organisationId, changed] of changedByOrg) {
    bumps.push(statements.length);
    statements.push(...recordChanges(db, { organisationId }, changed.map((entityId) => ({ kind: 'member' as const, entityId }))));
  }
  const results = await batch(db, statements);
  const bumped = bumps.flatMap((at) => results[at] as BumpedSite[]);
  if (bumped.length > 0) deps.ctx.waitUntil(announceEntitlementChanges(deps.env, db, bumped));

  // A subscription whose swap lost (changed since it was read) is looked at again by the slow path.
  const won = new Set(((results[casAt] as { results?: { id: string }[] }).results ?? []).map((r) => r.id));
  for (const id of [...committed.keys()]) {
    if (!won.has(id)) {
      committed.delete(id);
      rest.push(id);
    }
  }
  // Step 6: the invoices as stored, for the results.
  const stored = committed.size && options.withInvoices !== false
    ? await db
        .select()
        .from(invoices)
        .where(
          inJson(
            sql`${invoices.id}`,
            paid.filter((r) => committed.has(r.row.id)).map((r) => r.invoiceId),
          ),
        )
    : [];
  const invoiceOf = new Map<string | null, InvoiceRow>(stored.map((i) => [i.subscriptionId, i]));
  return { results: [...committed.values()].map((c) => ({ ...c, invoice: invoiceOf.get(c.subscriptionId) ?? null })), rest };
}
