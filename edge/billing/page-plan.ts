// Steps 1 and 2 of the billing run for a page of subscriptions (see page.ts): one batch of reads,
// then, as a pure function of what was read, which subscriptions are plain renewals and the
// invoice of each; the rest go back to processSubscription.
import { sql, type SQL } from 'drizzle-orm';
import { alias } from 'drizzle-orm/sqlite-core';
import { computeDraftInvoice, invoiceTotals, type Invoice } from '../../core/billing/invoice.ts';
import { billingDue } from '../../core/billing/subscription.ts';
import { billingCustomers, creditNotes, dunningStates, invoices, members, payments, pendingItems, plans, refunds, subscriptions } from '../db/schema.ts';
import { newId } from '../lib/ids.ts';
import { inJson } from '../lib/json-rows.ts';
import type { BillingDeps } from './deps.ts';
import { cardAttemptRow } from './invoices.ts';
import { INVOICE_FACT_COLUMNS, latestLedgerTime, ledgerFingerprint, ledgerOf, type InvoiceFact, type LedgerSources, type PaymentRow, type SubscriptionRow } from './records.ts';
import { billingTarget, reconcileEvents } from './subscription-state.ts';
import { stateOnBillingDay } from './subscription-writes.ts';
import { localDate } from './time.ts';


/** A drizzle members update as SQL column names (what the JSON rows of a page carry). */
export const toColumns = (set: { status: string; suspension: string | null; validFrom: number; validUntil: number; accessProfileId: string | null; updatedAt: number }) => ({
  status: set.status,
  suspension: set.suspension,
  valid_from: set.validFrom,
  valid_until: set.validUntil,
  access_profile_id: set.accessProfileId,
  updated_at: set.updatedAt,
});



export type Renewal = {
  row: SubscriptionRow;
  date: string;
  state: ReturnType<typeof stateOnBillingDay>['state'];
  facts: InvoiceFact[];
  invoiceId: string;
  invoice: Invoice;
  totals: ReturnType<typeof invoiceTotals>;
  fingerprint: string;
  finalisedAt: number;
  customer: { customerId: string; defaultPaymentMethodId: string };
  payment: typeof payments.$inferInsert & { id: string };
  graceDays: number;
  planAccessProfileId: string | null;
};

/** Step 1: everything the page's decisions need, in one batch of reads. */
export async function readPage(deps: BillingDeps, ids: string[]) {
  const { db } = deps;
  const subs = sql`(SELECT id FROM subscriptions WHERE ${inJson(sql`id`, ids)})`;
  const payers = sql`(SELECT payer_id FROM subscriptions WHERE ${inJson(sql`id`, ids)})`;
  // The page's subscriptions under another name, so each payer's fingerprint subqueries can name its columns.
  const outer = alias(subscriptions, 'page_subscription');
  const ofPayers = (table: { payerId: unknown }) => sql`${table.payerId} IN ${payers}`;
  const [subRows, planRows, subInvoices, subPayments, ledgerInvoices, notes, pays, refs, fingerprints, customers, dunning, pending, covered] = await db.batch([
    db.select().from(subscriptions).where(inJson(sql`${subscriptions.id}`, ids)),
    db.select().from(plans).where(sql`${plans.id} IN (SELECT plan_id FROM subscriptions WHERE ${inJson(sql`id`, ids)})`),
    db
      .select({ ...INVOICE_FACT_COLUMNS, subscriptionId: invoices.subscriptionId })
      .from(invoices)
      .where(sql`${invoices.subscriptionId} IN ${subs}`),
    db
      .select({ invoiceId: payments.invoiceId, attempt: payments.attempt, status: payments.status })
      .from(payments)
      .where(sql`${payments.invoiceId} IN (SELECT id FROM invoices WHERE subscription_id IN ${subs})`),
    db.select().from(invoices).where(sql`${ofPayers(invoices)} AND ${invoices.number} IS NOT NULL`),
    db.select().from(creditNotes).where(ofPayers(creditNotes)),
    db.select().from(payments).where(sql`${ofPayers(payments)} AND ${payments.status} = 'succeeded'`),
    db.select().from(refunds).where(sql`${ofPayers(refunds)} AND ${refunds.status} IN ('pending', 'succeeded')`),
    db
      .select({ payerId: outer.payerId, fingerprint: sql<string>`${ledgerFingerprint(sql`${outer.organisationId}`, sql`${outer.payerId}`)}`.as('fingerprint') })
      .from(outer)
      .where(inJson(sql`${outer.id}`, ids)),
    db.select().from(billingCustomers).where(sql`${billingCustomers.memberId} IN ${payers}`),
    db.select({ payerId: dunningStates.payerId }).from(dunningStates).where(sql`${dunningStates.payerId} IN ${payers}`),
    db
      .select({ memberId: pendingItems.memberId })
      .from(pendingItems)
      .where(sql`${pendingItems.memberId} IN ${payers} AND ${pendingItems.invoiceId} IS NULL`),
    db
      .select()
      .from(members)
      .where(sql`${members.id} IN (SELECT member_id FROM subscription_members WHERE subscription_id IN ${subs}) OR ${members.id} IN ${payers}`),
  ]);
  return { subRows, planRows, subInvoices, subPayments, ledgerInvoices, notes, pays, refs, fingerprints, customers, dunning, pending, covered };
}

export type PageData = Awaited<ReturnType<typeof readPage>>;

export const byKey = <T, K>(rows: T[], key: (row: T) => K): Map<K, T[]> => {
  const map = new Map<K, T[]>();
  for (const r of rows) {
    const k = key(r);
    const list = map.get(k);
    if (list) list.push(r);
    else map.set(k, [r]);
  }
  return map;
};

/** The subscription's invoices (void excluded) with each one's latest payment status, as subscriptionFacts gives them. */
export function factsOf(subInvoices: PageData['subInvoices'], paymentsByInvoice: Map<string | null, PageData['subPayments']>): InvoiceFact[] {
  return subInvoices
    .filter((i) => i.status !== 'void')
    .map((i) => {
      const latest = (paymentsByInvoice.get(i.id) ?? []).reduce<PageData['subPayments'][number] | null>((a, p) => (a === null || p.attempt > a.attempt ? p : a), null);
      return { id: i.id, reason: i.reason, status: i.status, periodStart: i.periodStart, periodEnd: i.periodEnd, amountRemaining: i.amountRemaining, lastPaymentStatus: latest?.status ?? null };
    });
}

/** Step 2 (pure on what was read): the plain renewals of the page and the draft of each. */
export function planRenewals(data: PageData, now: number, providerName: PaymentRow['provider'], graceOf: Map<string, number>): { renewals: Renewal[]; rest: string[] } {
  const plansById = new Map(data.planRows.map((p) => [p.id, p]));
  const paymentsByInvoice = byKey(data.subPayments, (p) => p.invoiceId);
  const fingerprint = new Map(data.fingerprints.map((f) => [f.payerId, f.fingerprint]));
  const customer = new Map(data.customers.map((c) => [c.memberId, c]));
  const inDunning = new Set(data.dunning.map((d) => d.payerId));
  const withPending = new Set(data.pending.map((p) => p.memberId));
  const payersInPage = byKey(data.subRows, (r) => r.payerId);
  const invoicesBySubscription = byKey(data.subInvoices, (i) => i.subscriptionId);
  // Each payer's ledger documents, grouped once and in the order ledgerSources reads them.
  const invoicesOf = byKey(data.ledgerInvoices, (i) => i.payerId);
  const notesOf = byKey(data.notes, (n) => n.payerId);
  const paymentsOf = byKey(data.pays, (p) => p.payerId);
  const refundsOf = byKey(data.refs, (r) => r.payerId);
  const sources = (payerId: string): LedgerSources => ({
    invoices: (invoicesOf.get(payerId) ?? []).sort((a, b) => (a.finalisedAt ?? 0) - (b.finalisedAt ?? 0) || (a.id < b.id ? -1 : 1)),
    creditNotes: (notesOf.get(payerId) ?? []).sort((a, b) => a.issuedAt - b.issuedAt),
    payments: (paymentsOf.get(payerId) ?? []).sort((a, b) => (a.settledAt ?? 0) - (b.settledAt ?? 0)),
    refunds: (refundsOf.get(payerId) ?? []).sort((a, b) => a.createdAt - b.createdAt),
  });

  const renewals: Renewal[] = [];
  const rest: string[] = [];
  for (const row of data.subRows) {
    const plan = plansById.get(row.planId);
    const card = customer.get(row.payerId);
    const fp = fingerprint.get(row.payerId);
    const plainRow =
      card?.provider === providerName &&
      !row.joiningFeeDue &&
      (row.pendingProrations as unknown[]).length === 0 &&
      !inDunning.has(row.payerId) &&
      !withPending.has(row.payerId) &&
      // Two invoices of one payer finalised in one batch would both read the same credit.
      payersInPage.get(row.payerId)!.length === 1;
    if (!plainRow || !plan || fp === undefined || !card?.defaultPaymentMethodId) {
      rest.push(row.id);
      continue;
    }
    const { date, state } = stateOnBillingDay(row, now);
    const mine = invoicesBySubscription.get(row.id) ?? [];
    const billed = mine.filter((i) => i.reason === 'plan' || i.reason === 'freeze_fee');
    const facts = factsOf(mine, paymentsByInvoice);
    const due = billingDue(state, date);
    const ledgerSources = sources(row.payerId);
    const ledger = ledgerOf(ledgerSources);
    const plain =
      due.kind === 'plan' &&
      billingTarget(state, billed, date) === date &&
      localDate(now, row.timezone) >= due.period.start &&
      !(state.paidThrough !== null && state.paidThrough >= due.period.end) &&
      !billed.some((b) => b.reason === 'plan' && b.periodStart === due.period.start) &&
      // Nothing else is under way for it (a failed or unanswered charge, a past-due state).
      reconcileEvents(state, facts, date).length === 0 &&
      state.pastDueSince === null &&
      // A plan change taking effect today goes the slow way (its access profile is another plan's).
      state.plan.planId === row.planId &&
      ledger.creditBalance === 0;
    if (!plain || due.kind !== 'plan') {
      rest.push(row.id);
      continue;
    }
    const draft = computeDraftInvoice({
      currency: plan.currency as never,
      period: due.period,
      plan: due.plan,
      planFraction: due.planFraction,
      freezeFee: null,
      joiningFee: null,
      pendingItems: [],
      prorations: [],
      creditBalance: 0,
    });
    if (!draft.ok || draft.invoice.amountDue <= 0) {
      rest.push(row.id);
      continue;
    }
    const invoiceId = newId('inv', now);
    const totals = invoiceTotals(draft.invoice.lines, 0);
    renewals.push({
      row,
      date,
      state,
      facts,
      invoiceId,
      invoice: draft.invoice,
      totals,
      fingerprint: fp,
      finalisedAt: Math.max(now, latestLedgerTime(ledgerSources) + 1),
      customer: { customerId: card.customerId, defaultPaymentMethodId: card.defaultPaymentMethodId },
      payment: cardAttemptRow(
        { id: invoiceId, organisationId: row.organisationId, payerId: row.payerId, amountRemaining: totals.amountDue, currency: draft.invoice.currency },
        providerName,
        1,
        now,
      ) as Renewal['payment'],
      graceDays: graceOf.get(row.organisationId)!,
      planAccessProfileId: plan.accessProfileId,
    });
  }
  return { renewals, rest };
}
