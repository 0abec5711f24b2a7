// The membership lifecycle as a pure state machine over dated events. The Worker stores the
// state (one JSON record per subscription), feeds it events in date order, and publishes the
// entitlement it returns to the doors: one status and validUntil for every member the
// subscription covers (family and group accounts have one payer and several members).
//
// Dates are calendar dates in the organisation's time zone; validUntil and every end date are
// exclusive (access until the start of that day).
//
//   trialing ─(trial ends, paid)→ active ─(payment fails)→ past_due ─(paid)→ active
//   past_due ─(dunning: grace passed)→ suspended(payment_overdue) ─(paid)→ active
//   active ─(freeze from..to)→ frozen → active   (billing and access paused: the paid days left
//                                               at the freeze start are kept, and the billing
//                                               anchor moves to the day they run out)
//   any ─(cancel requested)→ cancelled ─(end date)→ ended
//     end date = max(request + notice, start + minimum term)
//
// Paid-through: the end of the last paid period (a trial counts as paid to its end).
// validUntil = paid-through + grace days (capped at the cancellation end); before anything is
// paid, validUntil is the start date (no grace on a first payment).
import { z } from 'zod';
import { MembershipStatus, SUSPENSIONS } from '../entitlement.ts';
import { Fee } from './invoice.ts';
import {
  addDays,
  addMonths,
  BillingInterval,
  CalendarDate,
  daysBetween,
  maxDate,
  minDate,
  periodAt,
  periodBoundary,
  periodContaining,
  periodDays,
  type Period,
} from './periods.ts';
import { DayFraction, PlanPrice, prorateChange, type ProrationResult } from './proration.ts';
import { refuse, type Outcome } from './result.ts';

export const Suspension = z.enum(SUSPENSIONS).meta({ id: 'Suspension' });

export const NoticePeriod = z
  .object({ unit: z.enum(['days', 'months']), count: z.number().int().min(0).max(3650) })
  .meta({ id: 'NoticePeriod' });
export type NoticePeriod = z.infer<typeof NoticePeriod>;

export const SubscriptionTerms = z
  .object({
    /** Months from the start date before a cancellation may take effect. */
    minimumTermMonths: z.number().int().min(0).max(120),
    notice: NoticePeriod,
    /** Days of access after paid-through while a payment is outstanding. */
    graceDays: z.number().int().min(0).max(90),
  })
  .meta({ id: 'SubscriptionTerms' });
export type SubscriptionTerms = z.infer<typeof SubscriptionTerms>;

export const Freeze = z.object({
  from: CalendarDate,
  to: CalendarDate,
  /** Charged per freeze period instead of the plan; null = free. */
  fee: Fee.nullable(),
  /** Paid days left at the start of the freeze, kept for after it; null until the freeze starts. */
  paidDaysLeft: z.number().int().min(0).nullable(),
});
export type Freeze = z.infer<typeof Freeze>;

export const SubscriptionState = z
  .object({
    payerId: z.string().min(1),
    /** Members whose entry this subscription pays for (the payer may or may not be one). */
    memberIds: z.array(z.string().min(1)).min(1),
    maxMembers: z.number().int().min(1).max(50),
    plan: PlanPrice,
    interval: BillingInterval,
    startDate: CalendarDate,
    /** Billing periods count from here (moves when a freeze ends). */
    anchorDate: CalendarDate,
    trialEnd: CalendarDate.nullable(),
    paidThrough: CalendarDate.nullable(),
    pastDueSince: CalendarDate.nullable(),
    suspension: Suspension.nullable(),
    freeze: Freeze.nullable(),
    cancellation: z.object({ requestedOn: CalendarDate, endsOn: CalendarDate }).nullable(),
    /** A plan change that takes effect at a period boundary. */
    pendingPlan: z.object({ plan: PlanPrice, from: CalendarDate }).nullable(),
    endedOn: CalendarDate.nullable(),
    terms: SubscriptionTerms,
    /** Date of the last event applied. */
    asOf: CalendarDate,
  })
  .meta({ id: 'SubscriptionState' });
export type SubscriptionState = z.infer<typeof SubscriptionState>;

export const SubscriptionStart = z
  .object({
    payerId: z.string().min(1),
    memberIds: z.array(z.string().min(1)).min(1),
    maxMembers: z.number().int().min(1).max(50).default(1),
    plan: PlanPrice,
    interval: BillingInterval,
    startDate: CalendarDate,
    trialDays: z.number().int().min(0).max(365).default(0),
    terms: SubscriptionTerms,
  })
  .meta({ id: 'SubscriptionStart' });
export type SubscriptionStart = z.input<typeof SubscriptionStart>;

const dated = { date: CalendarDate };
export const SubscriptionEvent = z
  .discriminatedUnion('type', [
    /** Time passes (the Worker's daily run); applies trial ends, freezes and cancellation ends. */
    z.object({ type: z.literal('advance'), ...dated }),
    /**
     * A payment succeeded. periodEnd: end of the period it paid (null for a one-off invoice);
     * settled: nothing overdue remains, which ends past_due and a payment_overdue suspension.
     */
    z.object({ type: z.literal('paid'), ...dated, periodEnd: CalendarDate.nullable(), settled: z.boolean() }),
    z.object({ type: z.literal('payment_failed'), ...dated }),
    z.object({ type: z.literal('suspend'), ...dated, reason: Suspension }),
    /** Lifts a suspension of this reason (a dunning restore does not lift a staff suspension). */
    z.object({ type: z.literal('restore'), ...dated, reason: Suspension }),
    z.object({ type: z.literal('freeze'), ...dated, from: CalendarDate, to: CalendarDate, fee: Fee.nullable() }),
    /** Ends a freeze early (or drops one that has not started). */
    z.object({ type: z.literal('unfreeze'), ...dated }),
    /**
     * Cancellation requested. endsOn overrides the notice and minimum-term rule when staff or the
     * dunning end of line decide the date (e.g. the end of the paid period).
     */
    z.object({ type: z.literal('cancel'), ...dated, endsOn: CalendarDate.optional() }),
    z.object({ type: z.literal('withdraw_cancellation'), ...dated }),
    z.object({ type: z.literal('change_plan'), ...dated, plan: PlanPrice, timing: z.enum(['now', 'period_end']) }),
    z.object({ type: z.literal('add_member'), ...dated, memberId: z.string().min(1) }),
    z.object({ type: z.literal('remove_member'), ...dated, memberId: z.string().min(1) }),
  ])
  .meta({ id: 'SubscriptionEvent' });
export type SubscriptionEvent = z.infer<typeof SubscriptionEvent>;

export const SubscriptionEntitlement = z
  .object({
    status: MembershipStatus,
    suspension: Suspension.nullable(),
    /** Entry allowed until the start of this date (exclusive), in the organisation's time zone. */
    validUntil: CalendarDate,
    payerId: z.string(),
    memberIds: z.array(z.string()),
    /** The next date the status or validUntil can change without an event: re-evaluate then. */
    reviewOn: CalendarDate.nullable(),
  })
  .meta({ id: 'SubscriptionEntitlement' });
export type SubscriptionEntitlement = z.infer<typeof SubscriptionEntitlement>;

export function startSubscription(input: SubscriptionStart): SubscriptionState {
  const s = SubscriptionStart.parse(input);
  if (new Set(s.memberIds).size !== s.memberIds.length) throw new RangeError('member ids must be distinct');
  if (s.memberIds.length > s.maxMembers) throw new RangeError(`the plan covers at most ${s.maxMembers} members`);
  const trialEnd = s.trialDays > 0 ? addDays(s.startDate, s.trialDays) : null;
  return {
    payerId: s.payerId,
    memberIds: s.memberIds,
    maxMembers: s.maxMembers,
    plan: s.plan,
    interval: s.interval,
    startDate: s.startDate,
    anchorDate: trialEnd ?? s.startDate,
    trialEnd,
    paidThrough: null,
    pastDueSince: null,
    suspension: null,
    freeze: null,
    cancellation: null,
    pendingPlan: null,
    endedOn: null,
    terms: s.terms,
    asOf: s.startDate,
  };
}

/** End date of a cancellation requested on `requestedOn`: max(request + notice, start + minimum term). */
export function cancellationEndDate(state: Pick<SubscriptionState, 'startDate' | 'terms'>, requestedOn: CalendarDate): CalendarDate {
  const { notice, minimumTermMonths } = state.terms;
  const afterNotice = notice.unit === 'days' ? addDays(requestedOn, notice.count) : addMonths(requestedOn, notice.count);
  return maxDate(afterNotice, addMonths(state.startDate, minimumTermMonths));
}

const freezeActive = (f: Freeze | null, date: CalendarDate): f is Freeze => f !== null && f.from <= date && date < f.to;

/** Paid-through counting a trial as paid; null when nothing is paid or free. */
function coveredThrough(s: SubscriptionState): CalendarDate | null {
  if (s.paidThrough && s.trialEnd) return maxDate(s.paidThrough, s.trialEnd);
  return s.paidThrough ?? s.trialEnd;
}

export function membershipStatus(s: SubscriptionState, date: CalendarDate = s.asOf): MembershipStatus {
  if (s.endedOn !== null && s.endedOn <= date) return 'ended';
  if (s.cancellation && s.cancellation.endsOn <= date) return 'ended';
  if (s.suspension) return 'suspended';
  if (freezeActive(s.freeze, date)) return 'frozen';
  if (s.cancellation) return 'cancelled';
  if (s.pastDueSince) return 'past_due';
  if (s.trialEnd && date < s.trialEnd && s.paidThrough === null) return 'trialing';
  return 'active';
}

/**
 * What the doors get for every member of the subscription, as of the state's date. minGraceDays: the organisation's dunning grace; access
 * after paid-through lasts the longer of it and the plan's own grace days, so a failed renewal is
 * never refused at the door before dunning's grace is over.
 */
export function entitlementOf(s: SubscriptionState, options: { minGraceDays?: number } = {}): SubscriptionEntitlement {
  const status = membershipStatus(s);
  const covered = coveredThrough(s);
  let validUntil: CalendarDate;
  if (status === 'ended') {
    validUntil = s.endedOn ?? s.cancellation?.endsOn ?? s.asOf;
  } else if (covered === null) {
    validUntil = s.startDate;
  } else {
    let through = covered;
    // While frozen, the paid days left are kept for after the freeze.
    if (s.freeze && s.freeze.paidDaysLeft !== null && s.paidThrough && s.paidThrough >= s.freeze.from) {
      through = addDays(s.freeze.to, s.freeze.paidDaysLeft);
    }
    validUntil = addDays(through, Math.max(s.terms.graceDays, options.minGraceDays ?? 0));
    if (s.cancellation) validUntil = minDate(validUntil, s.cancellation.endsOn);
  }
  const candidates = [
    s.trialEnd,
    s.freeze?.from ?? null,
    s.freeze?.to ?? null,
    s.cancellation?.endsOn ?? null,
    s.pendingPlan?.from ?? null,
    status === 'ended' ? null : validUntil,
  ].filter((d): d is CalendarDate => d !== null && d > s.asOf);
  const reviewOn = status === 'ended' || candidates.length === 0 ? null : candidates.reduce(minDate);
  return { status, suspension: s.suspension, validUntil, payerId: s.payerId, memberIds: [...s.memberIds], reviewOn };
}

/** Applies what happens by itself between the state's date and `date`. */
export function advanceTo(state: SubscriptionState, date: CalendarDate): SubscriptionState {
  const s: SubscriptionState = { ...state, asOf: maxDate(state.asOf, date) };
  if (s.endedOn !== null) return s;
  if (s.pendingPlan && s.pendingPlan.from <= date) {
    s.plan = s.pendingPlan.plan;
    s.pendingPlan = null;
  }
  if (s.freeze) {
    let f = s.freeze;
    if (f.paidDaysLeft === null && f.from <= date) {
      f = { ...f, paidDaysLeft: s.paidThrough ? Math.max(0, daysBetween(f.from, s.paidThrough)) : 0 };
    }
    if (f.paidDaysLeft !== null && f.to <= date) {
      if (s.paidThrough !== null && s.paidThrough >= f.from) {
        const resumeThrough = addDays(f.to, f.paidDaysLeft);
        const shift = daysBetween(s.paidThrough, resumeThrough);
        s.paidThrough = resumeThrough;
        s.anchorDate = resumeThrough;
        if (s.pendingPlan && s.pendingPlan.from >= f.from) s.pendingPlan = { ...s.pendingPlan, from: addDays(s.pendingPlan.from, shift) };
      }
      s.freeze = null;
    } else {
      s.freeze = f;
    }
  }
  if (s.cancellation && s.cancellation.endsOn <= date) s.endedOn = s.cancellation.endsOn;
  return s;
}

export const SUBSCRIPTION_REFUSALS = [
  'invalid_event',
  'out_of_order',
  'ended',
  'cannot_freeze',
  'freeze_exists',
  'bad_freeze_dates',
  'not_frozen',
  'already_cancelled',
  'bad_cancel_date',
  'not_cancelled',
  'cannot_change_plan',
  'family_full',
  'already_member',
  'not_a_member',
  'last_member',
  'not_suspended',
] as const;
export type SubscriptionRefusal = (typeof SUBSCRIPTION_REFUSALS)[number];

export type SubscriptionStep = Outcome<
  { state: SubscriptionState; entitlement: SubscriptionEntitlement; proration: ProrationResult | null },
  SubscriptionRefusal
>;

/** Applies one event (events must come in date order) and returns the new state and entitlement. */
export function applySubscriptionEvent(state: SubscriptionState, event: SubscriptionEvent): SubscriptionStep {
  const parsed = SubscriptionEvent.safeParse(event);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    return refuse('invalid_event', `${issue?.path.join('.') || '(event)'}: ${issue?.message}`);
  }
  const e = parsed.data;
  if (e.date < state.asOf) return refuse('out_of_order', `event dated ${e.date} is before the state's date ${state.asOf}`);
  let s = advanceTo(state, e.date);
  const status = membershipStatus(s);
  if (status === 'ended' && e.type !== 'advance') return refuse('ended', `the subscription ended on ${s.endedOn ?? s.cancellation?.endsOn}`);
  let proration: ProrationResult | null = null;

  switch (e.type) {
    case 'advance':
      break;
    case 'paid':
      if (e.periodEnd !== null) s.paidThrough = s.paidThrough === null ? e.periodEnd : maxDate(s.paidThrough, e.periodEnd);
      if (e.settled) {
        s.pastDueSince = null;
        if (s.suspension === 'payment_overdue') s.suspension = null;
      }
      break;
    case 'payment_failed':
      s.pastDueSince ??= e.date;
      break;
    case 'suspend':
      // A staff suspension outranks one for payment; it is not replaced by a later dunning one.
      if (s.suspension !== 'staff') s.suspension = e.reason;
      break;
    case 'restore':
      if (s.suspension !== e.reason) return refuse('not_suspended', `the subscription is not suspended for ${e.reason}`);
      s.suspension = null;
      break;
    case 'freeze': {
      if (s.freeze) return refuse('freeze_exists', `a freeze from ${s.freeze.from} to ${s.freeze.to} is already set`);
      if (status !== 'active') return refuse('cannot_freeze', `a ${status} membership cannot be frozen`);
      if (e.from < e.date || e.to <= e.from) return refuse('bad_freeze_dates', 'a freeze starts today or later and ends after it starts');
      if (s.cancellation && e.from >= s.cancellation.endsOn) return refuse('bad_freeze_dates', 'the membership ends before the freeze would start');
      s.freeze = { from: e.from, to: e.to, fee: e.fee, paidDaysLeft: null };
      break;
    }
    case 'unfreeze': {
      if (!s.freeze) return refuse('not_frozen', 'there is no freeze to end');
      if (s.freeze.paidDaysLeft === null) s.freeze = null;
      else s.freeze = { ...s.freeze, to: e.date };
      break;
    }
    case 'cancel':
      if (s.cancellation) return refuse('already_cancelled', `cancellation already requested; the membership ends on ${s.cancellation.endsOn}`);
      if (e.endsOn !== undefined && e.endsOn < e.date) return refuse('bad_cancel_date', 'a cancellation cannot end before it is requested');
      s.cancellation = { requestedOn: e.date, endsOn: e.endsOn ?? cancellationEndDate(s, e.date) };
      break;
    case 'withdraw_cancellation':
      if (!s.cancellation) return refuse('not_cancelled', 'no cancellation to withdraw');
      s.cancellation = null;
      break;
    case 'change_plan': {
      if (status === 'cancelled' || status === 'suspended' || status === 'frozen') {
        return refuse('cannot_change_plan', `the plan of a ${status} membership cannot be changed`);
      }
      const current = currentPeriod(s, e.date);
      const paid = current !== null && s.paidThrough !== null && s.paidThrough >= current.end;
      if (e.timing === 'period_end') {
        s.pendingPlan = { plan: e.plan, from: current?.end ?? s.anchorDate };
        break;
      }
      if (paid && current) {
        const r = prorateChange({ period: current, changeDate: e.date, from: s.plan, to: e.plan });
        if (!r.ok) return refuse('cannot_change_plan', r.detail);
        const { ok: _ok, ...result } = r;
        proration = result;
      }
      s.plan = e.plan;
      s.pendingPlan = null;
      break;
    }
    case 'add_member':
      if (s.memberIds.includes(e.memberId)) return refuse('already_member', `${e.memberId} is already covered`);
      if (s.memberIds.length >= s.maxMembers) return refuse('family_full', `the plan covers at most ${s.maxMembers} members`);
      s.memberIds = [...s.memberIds, e.memberId];
      break;
    case 'remove_member':
      if (!s.memberIds.includes(e.memberId)) return refuse('not_a_member', `${e.memberId} is not covered by this subscription`);
      if (s.memberIds.length === 1) return refuse('last_member', 'a subscription covers at least one member; cancel it instead');
      s.memberIds = s.memberIds.filter((id) => id !== e.memberId);
      break;
  }
  // A freeze or cancellation that starts today takes effect now.
  s = advanceTo(s, e.date);
  return { ok: true, state: s, entitlement: entitlementOf(s), proration };
}

/** The billing period containing `date` on the subscription's anchor; null during a trial. */
export function currentPeriod(s: SubscriptionState, date: CalendarDate): Period | null {
  if (s.trialEnd && date < s.trialEnd) return null;
  return periodContaining(s.anchorDate, date, s.interval);
}

/** The periods of a freeze for which a freeze fee is due: one per interval started within the freeze. */
export function freezeFeePeriods(freeze: Pick<Freeze, 'from' | 'to'>, interval: BillingInterval): Period[] {
  const periods: Period[] = [];
  for (let i = 0; periodBoundary(freeze.from, interval, i) < freeze.to; i++) {
    const p = periodAt(freeze.from, interval, i);
    periods.push({ start: p.start, end: minDate(p.end, freeze.to) });
  }
  return periods;
}

export type BillingDue =
  | { kind: 'none'; reason: 'trial' | 'ended' | 'frozen' }
  | { kind: 'plan'; period: Period; plan: PlanPrice; planFraction: DayFraction | null }
  | { kind: 'freeze_fee'; period: Period; fee: Fee };

/**
 * What to invoice for the period that starts on (or contains) `date`: the plan, cut short by a
 * cancellation that ends inside the period; the freeze fee for a freeze period; or nothing.
 * Feed the answer to computeDraftInvoice.
 */
export function billingDue(state: SubscriptionState, date: CalendarDate): BillingDue {
  const s = advanceTo(state, date);
  if (membershipStatus(s, date) === 'ended') return { kind: 'none', reason: 'ended' };
  if (s.trialEnd && date < s.trialEnd) return { kind: 'none', reason: 'trial' };
  const f = s.freeze;
  if (f && f.from <= date && date < f.to) {
    const period = freezeFeePeriods(f, s.interval).find((p) => p.start <= date && date < p.end);
    return f.fee && period ? { kind: 'freeze_fee', period, fee: f.fee } : { kind: 'none', reason: 'frozen' };
  }
  const period = periodContaining(s.anchorDate, date, s.interval);
  const plan = s.pendingPlan && s.pendingPlan.from <= period.start ? s.pendingPlan.plan : s.plan;
  const endsOn = s.cancellation?.endsOn;
  let planFraction: DayFraction | null = null;
  if (endsOn && endsOn < period.end) planFraction = { days: daysBetween(period.start, endsOn), periodDays: periodDays(period) };
  return { kind: 'plan', period, plan, planFraction };
}
