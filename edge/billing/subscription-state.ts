// Where a subscription stands on a day: the day billing acts on, the events that bring the state in
// line with its invoices and payments, the next date anything happens by itself, and which period
// to bill. Pure reads of the state and the invoices (see subscriptions.ts for the writes).
import { and, eq, inArray } from 'drizzle-orm';
import { addDays, maxDate, minDate, type CalendarDate } from '../../core/billing/periods.ts';
import { billingDue,
  entitlementOf,
  type SubscriptionEvent,
  type SubscriptionState } from '../../core/billing/subscription.ts';
import { invoices } from '../db/schema.ts';
import { type BillingDeps } from './deps.ts';
import { stateOf, type InvoiceFact, type SubscriptionRow } from './records.ts';
import { localDate } from './time.ts';


/** The day billing acts on: today in the subscription's zone, never before the state's own date. */
export const billingDate = (row: SubscriptionRow, now: number): CalendarDate => maxDate(localDate(now, row.timezone), stateOf(row).asOf);

// ---------------------------------------------------------------------------------------------
// Reconciling invoices and payments into the state

/**
 * The events that bring the state in line with the subscription's invoices: a paid period moves
 * paid-through; an open or uncollectible invoice whose last collection attempt failed makes it past due; nothing
 * overdue any more ends past due (and a payment_overdue suspension).
 */
export function reconcileEvents(s: SubscriptionState, facts: InvoiceFact[], date: CalendarDate): SubscriptionEvent[] {
  const live = facts.filter((f) => f.status !== 'void' && f.status !== 'draft');
  // An uncollectible invoice (written off by staff or the dunning end of line) is still owed.
  const overdue = live.filter(
    (f) => (f.status === 'open' || f.status === 'uncollectible') && f.amountRemaining > 0 && (f.lastPaymentStatus === 'failed' || f.lastPaymentStatus === 'requires_action'),
  );
  const paidEnds = live.filter((f) => f.reason === 'plan' && f.status === 'paid' && f.periodEnd !== null).map((f) => f.periodEnd as string);
  const maxPaid = paidEnds.length ? paidEnds.reduce(maxDate) : null;
  const events: SubscriptionEvent[] = [];
  const settled = overdue.length === 0;
  if (maxPaid !== null && (s.paidThrough === null || maxPaid > s.paidThrough)) {
    events.push({ type: 'paid', date, periodEnd: maxPaid, settled });
  } else if (settled && (s.pastDueSince !== null || s.suspension === 'payment_overdue')) {
    events.push({ type: 'paid', date, periodEnd: null, settled: true });
  }
  if (!settled && s.pastDueSince === null) events.push({ type: 'payment_failed', date });
  return events;
}

/** The next date anything can happen to the subscription by itself: billing, trial end, freeze, cancellation, validUntil. */
export function nextReviewDate(s: SubscriptionState, facts: InvoiceFact[], date: CalendarDate, minGraceDays = 0): CalendarDate | null {
  const ent = entitlementOf(s, { minGraceDays });
  if (ent.status === 'ended') return null;
  let next = ent.reviewOn;
  // A charge whose answer never came (network trouble, a concurrent request): look again next run.
  if (facts.some((f) => f.status === 'open' && f.lastPaymentStatus === 'pending')) return date;
  const due = billingDue(s, date);
  if (due.kind !== 'none') {
    const invoiced =
      facts.some((f) => f.reason === due.kind && f.periodStart === due.period.start) ||
      (due.kind === 'plan' && s.paidThrough !== null && s.paidThrough >= due.period.end);
    const at = invoiced ? due.period.end : date;
    next = next === null ? at : minDate(next, at);
  }
  return next;
}

/** A period invoice of the subscription, void ones included (a voided period is not billed again). */
export type BilledPeriod = { reason: string; status: string; periodStart: string | null; periodEnd: string | null };

/**
 * The day whose period the run bills next: the earliest period after the last one invoiced that
 * is due and not invoiced yet, up to `date`. When runs did not happen for a while (an outage, a
 * paused cron) every missed period is billed, oldest first, not just today's. A subscription with
 * no period invoice yet starts with today's period.
 */
export function billingTarget(s: SubscriptionState, billed: BilledPeriod[], date: CalendarDate): CalendarDate {
  // A draft left by the previous round (or a crash) is finalised and charged first.
  const drafts = billed.filter((b) => b.status === 'draft' && b.periodStart !== null && b.periodStart < date).map((b) => b.periodStart as string);
  if (drafts.length > 0) return drafts.reduce(minDate);
  const ends = billed.filter((b) => (b.reason === 'plan' || b.reason === 'freeze_fee') && b.periodEnd !== null).map((b) => b.periodEnd as string);
  if (ends.length === 0) return date;
  let d = ends.reduce(maxDate);
  // Bounded: trial and unpaid-freeze days are stepped over one at a time.
  for (let steps = 0; steps < 800 && d < date; steps++) {
    const due = billingDue(s, d);
    if (due.kind === 'none') {
      if (due.reason === 'ended') return date;
      d = addDays(d, 1);
      continue;
    }
    const invoiced =
      billed.some((b) => b.reason === due.kind && b.periodStart === due.period.start) || (due.kind === 'plan' && s.paidThrough !== null && s.paidThrough >= due.period.end);
    if (!invoiced) return d;
    d = maxDate(due.period.end, addDays(d, 1));
  }
  return date;
}

export async function billedPeriods(db: BillingDeps['db'], subscriptionId: string): Promise<BilledPeriod[]> {
  return db
    .select({ reason: invoices.reason, status: invoices.status, periodStart: invoices.periodStart, periodEnd: invoices.periodEnd })
    .from(invoices)
    .where(and(eq(invoices.subscriptionId, subscriptionId), inArray(invoices.reason, ['plan', 'freeze_fee'])));
}
