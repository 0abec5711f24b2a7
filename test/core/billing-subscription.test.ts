import { describe, expect, it } from 'vitest';
import { prorateChange, type PlanPrice } from '../../core/billing/proration.ts';
import {
  applySubscriptionEvent,
  billingDue,
  cancellationEndDate,
  freezeFeePeriods,
  startSubscription,
  type SubscriptionEvent,
  type SubscriptionStart,
  type SubscriptionState,
} from '../../core/billing/subscription.ts';
import type { TaxRate } from '../../core/billing/tax.ts';
import { MEMBERSHIP_STATUSES } from '../../core/entitlement.ts';

const VAT7: TaxRate = { name: 'VAT 7%', basisPoints: 700, mode: 'inclusive' };
const BASIC: PlanPrice = { planId: 'plan_basic', name: 'Basic', unitAmount: 129000, quantity: 1, taxRate: VAT7 };
const PREMIUM: PlanPrice = { planId: 'plan_premium', name: 'Premium', unitAmount: 199000, quantity: 1, taxRate: VAT7 };
const FREEZE_FEE = { description: 'Freeze fee', amount: 30000, taxRate: VAT7 };

const base: SubscriptionStart = {
  payerId: 'mem_ann',
  memberIds: ['mem_ann'],
  plan: BASIC,
  interval: 'monthly',
  startDate: '2026-01-15',
  terms: { minimumTermMonths: 12, notice: { unit: 'months', count: 1 }, graceDays: 3 },
};

/** Applies events in order, failing the test on a refusal. */
function run(state: SubscriptionState, ...events: SubscriptionEvent[]) {
  let s = state;
  let last = null as ReturnType<typeof applySubscriptionEvent> | null;
  for (const e of events) {
    last = applySubscriptionEvent(s, e);
    if (!last.ok) throw new Error(`${e.type} on ${e.date}: ${last.reason}: ${last.detail}`);
    s = last.state;
  }
  if (!last || !last.ok) throw new Error('no events');
  return last;
}

const paid = (date: string, periodEnd: string): SubscriptionEvent => ({ type: 'paid', date, periodEnd, settled: true });

describe('subscription lifecycle', () => {
  it('uses the door’s membership statuses', () => {
    const s = run(startSubscription(base), paid('2026-01-15', '2026-02-15'));
    expect(MEMBERSHIP_STATUSES).toContain(s.entitlement.status);
  });

  it('trialing → active on payment → past_due on failure → active on payment', () => {
    const s0 = startSubscription({ ...base, trialDays: 7, startDate: '2026-01-01' });
    let r = run(s0, { type: 'advance', date: '2026-01-03' });
    expect(r.entitlement).toMatchObject({ status: 'trialing', validUntil: '2026-01-11', reviewOn: '2026-01-08' }); // trial end + 3 days grace
    expect(billingDue(r.state, '2026-01-03')).toEqual({ kind: 'none', reason: 'trial' });
    expect(billingDue(r.state, '2026-01-08')).toMatchObject({ kind: 'plan', period: { start: '2026-01-08', end: '2026-02-08' } });

    r = run(r.state, paid('2026-01-08', '2026-02-08'));
    expect(r.entitlement).toMatchObject({ status: 'active', validUntil: '2026-02-11' }); // paid-through + 3 days grace
    r = run(r.state, { type: 'payment_failed', date: '2026-02-08' });
    expect(r.entitlement).toMatchObject({ status: 'past_due', validUntil: '2026-02-11' });
    r = run(r.state, paid('2026-02-10', '2026-03-08'));
    expect(r.entitlement).toMatchObject({ status: 'active', validUntil: '2026-03-11' });
  });

  it('gives no access before a first payment when there is no trial', () => {
    const r = run(startSubscription(base), { type: 'advance', date: '2026-01-15' });
    expect(r.entitlement).toMatchObject({ status: 'active', validUntil: '2026-01-15' });
    const failed = run(r.state, { type: 'payment_failed', date: '2026-01-15' });
    expect(failed.entitlement).toMatchObject({ status: 'past_due', validUntil: '2026-01-15' });
  });

  it('dunning suspends for payment_overdue and a settling payment restores; a staff suspension stays', () => {
    let r = run(startSubscription(base), paid('2026-01-15', '2026-02-15'), { type: 'payment_failed', date: '2026-02-15' });
    r = run(r.state, { type: 'suspend', date: '2026-02-22', reason: 'payment_overdue' });
    expect(r.entitlement).toMatchObject({ status: 'suspended', suspension: 'payment_overdue' });
    r = run(r.state, paid('2026-02-23', '2026-03-15'));
    expect(r.entitlement).toMatchObject({ status: 'active', suspension: null, validUntil: '2026-03-18' });

    r = run(r.state, { type: 'suspend', date: '2026-02-24', reason: 'staff' });
    r = run(r.state, { type: 'suspend', date: '2026-02-25', reason: 'payment_overdue' });
    expect(r.entitlement.suspension).toBe('staff');
    expect(applySubscriptionEvent(r.state, { type: 'restore', date: '2026-02-26', reason: 'payment_overdue' })).toMatchObject({ ok: false, reason: 'not_suspended' });
    expect(run(r.state, { type: 'restore', date: '2026-02-26', reason: 'staff' }).entitlement.status).toBe('active');
  });

  it('refuses events out of date order', () => {
    const r = run(startSubscription(base), paid('2026-02-01', '2026-02-15'));
    expect(applySubscriptionEvent(r.state, { type: 'advance', date: '2026-01-31' })).toMatchObject({ ok: false, reason: 'out_of_order' });
  });
});

describe('cancellation: max(request + notice, start + minimum term)', () => {
  it('inside the minimum term the membership runs to the end of the term', () => {
    expect(cancellationEndDate(startSubscription(base), '2026-06-10')).toBe('2027-01-15');
    let r = run(startSubscription(base), paid('2026-06-15', '2026-07-15'), { type: 'cancel', date: '2026-06-20' });
    expect(r.state.cancellation).toEqual({ requestedOn: '2026-06-20', endsOn: '2027-01-15' });
    expect(r.entitlement).toMatchObject({ status: 'cancelled', validUntil: '2026-07-18' });
    r = run(r.state, paid('2027-01-10', '2027-01-15'));
    expect(r.entitlement).toMatchObject({ status: 'cancelled', validUntil: '2027-01-15', reviewOn: '2027-01-15' });
    r = run(r.state, { type: 'advance', date: '2027-01-15' });
    expect(r.entitlement).toMatchObject({ status: 'ended', validUntil: '2027-01-15', reviewOn: null });
    expect(applySubscriptionEvent(r.state, { type: 'withdraw_cancellation', date: '2027-01-16' })).toMatchObject({ ok: false, reason: 'ended' });
  });

  it('after the minimum term, the notice decides, and the last period is charged by days', () => {
    const s = startSubscription(base);
    expect(cancellationEndDate(s, '2026-12-20')).toBe('2027-01-20');
    const r = run(s, paid('2026-12-15', '2027-01-15'), { type: 'cancel', date: '2026-12-20' });
    expect(r.state.cancellation?.endsOn).toBe('2027-01-20');
    expect(billingDue(r.state, '2027-01-15')).toEqual({
      kind: 'plan',
      period: { start: '2027-01-15', end: '2027-02-15' },
      plan: BASIC,
      planFraction: { days: 5, periodDays: 31 },
    });
    expect(billingDue(r.state, '2027-01-20')).toEqual({ kind: 'none', reason: 'ended' });
  });

  it('an explicit end date (dunning end of line: cancel at period end) overrides notice and term', () => {
    const r = run(startSubscription(base), paid('2026-03-15', '2026-04-15'), { type: 'payment_failed', date: '2026-04-15' }, { type: 'cancel', date: '2026-04-29', endsOn: '2026-04-29' });
    expect(r.entitlement).toMatchObject({ status: 'ended', validUntil: '2026-04-29' });
    expect(applySubscriptionEvent(startSubscription(base), { type: 'cancel', date: '2026-02-01', endsOn: '2026-01-31' })).toMatchObject({ ok: false, reason: 'bad_cancel_date' });
  });

  it('notice in days; cancellation can be withdrawn before it ends but not requested twice', () => {
    const s = startSubscription({ ...base, terms: { minimumTermMonths: 0, notice: { unit: 'days', count: 30 }, graceDays: 0 } });
    let r = run(s, paid('2026-01-15', '2026-02-15'), { type: 'cancel', date: '2026-01-20' });
    expect(r.state.cancellation?.endsOn).toBe('2026-02-19');
    expect(applySubscriptionEvent(r.state, { type: 'cancel', date: '2026-01-21' })).toMatchObject({ ok: false, reason: 'already_cancelled' });
    r = run(r.state, { type: 'withdraw_cancellation', date: '2026-01-25' });
    expect(r.entitlement.status).toBe('active');
  });
});

describe('freeze', () => {
  it('pauses access and billing, keeps the paid days, and moves the billing date', () => {
    let r = run(startSubscription({ ...base, startDate: '2026-03-01' }), paid('2026-03-01', '2026-04-01'));
    r = run(r.state, { type: 'freeze', date: '2026-03-10', from: '2026-03-20', to: '2026-04-20', fee: FREEZE_FEE });
    expect(r.entitlement).toMatchObject({ status: 'active', reviewOn: '2026-03-20' });

    r = run(r.state, { type: 'advance', date: '2026-03-20' });
    expect(r.entitlement.status).toBe('frozen');
    expect(r.state.freeze?.paidDaysLeft).toBe(12); // 20–31 March
    expect(r.entitlement.validUntil).toBe('2026-05-05'); // 20 Apr + 12 days + 3 grace
    expect(billingDue(r.state, '2026-04-01')).toEqual({ kind: 'freeze_fee', period: { start: '2026-03-20', end: '2026-04-20' }, fee: FREEZE_FEE });
    expect(applySubscriptionEvent(r.state, { type: 'change_plan', date: '2026-03-25', plan: PREMIUM, timing: 'now' })).toMatchObject({ ok: false, reason: 'cannot_change_plan' });

    r = run(r.state, { type: 'advance', date: '2026-04-20' });
    expect(r.entitlement).toMatchObject({ status: 'active', validUntil: '2026-05-05' });
    expect(r.state).toMatchObject({ paidThrough: '2026-05-02', anchorDate: '2026-05-02', freeze: null });
    expect(billingDue(r.state, '2026-05-02')).toMatchObject({ kind: 'plan', period: { start: '2026-05-02', end: '2026-06-02' } });
  });

  it('ends early on unfreeze; is refused while past due or when one is set', () => {
    let r = run(startSubscription({ ...base, startDate: '2026-03-01' }), paid('2026-03-01', '2026-04-01'));
    r = run(r.state, { type: 'freeze', date: '2026-03-10', from: '2026-03-10', to: '2026-05-10', fee: null });
    expect(r.entitlement.status).toBe('frozen');
    expect(applySubscriptionEvent(r.state, { type: 'freeze', date: '2026-03-11', from: '2026-06-01', to: '2026-07-01', fee: null })).toMatchObject({ ok: false, reason: 'freeze_exists' });
    expect(billingDue(r.state, '2026-04-01')).toEqual({ kind: 'none', reason: 'frozen' });
    r = run(r.state, { type: 'unfreeze', date: '2026-03-31' });
    expect(r.state).toMatchObject({ freeze: null, paidThrough: '2026-04-22', anchorDate: '2026-04-22' }); // 22 paid days kept
    expect(r.entitlement.status).toBe('active');

    const pastDue = run(r.state, { type: 'payment_failed', date: '2026-04-22' });
    expect(applySubscriptionEvent(pastDue.state, { type: 'freeze', date: '2026-04-23', from: '2026-05-01', to: '2026-06-01', fee: null })).toMatchObject({ ok: false, reason: 'cannot_freeze' });
    expect(applySubscriptionEvent(r.state, { type: 'freeze', date: '2026-04-01', from: '2026-03-30', to: '2026-04-30', fee: null })).toMatchObject({ ok: false, reason: 'bad_freeze_dates' });
  });

  it('charges the freeze fee once per started interval', () => {
    expect(freezeFeePeriods({ from: '2026-01-31', to: '2026-04-15' }, 'monthly')).toEqual([
      { start: '2026-01-31', end: '2026-02-28' },
      { start: '2026-02-28', end: '2026-03-31' },
      { start: '2026-03-31', end: '2026-04-15' },
    ]);
  });
});

describe('plan change', () => {
  it('now: prorates against the paid period', () => {
    const s = run(startSubscription({ ...base, startDate: '2026-03-01' }), paid('2026-03-01', '2026-04-01'));
    const r = run(s.state, { type: 'change_plan', date: '2026-03-15', plan: PREMIUM, timing: 'now' });
    const expected = prorateChange({ period: { start: '2026-03-01', end: '2026-04-01' }, changeDate: '2026-03-15', from: BASIC, to: PREMIUM });
    expect(expected.ok).toBe(true);
    if (!expected.ok) return;
    const { ok: _ok, ...result } = expected;
    expect(r.proration).toEqual(result);
    expect(r.proration?.netGross).toBe(38387);
    expect(r.state.plan).toEqual(PREMIUM);
  });

  it('at period end: billed on the new plan from the next period, no proration', () => {
    const s = run(startSubscription({ ...base, startDate: '2026-03-01' }), paid('2026-03-01', '2026-04-01'));
    const r = run(s.state, { type: 'change_plan', date: '2026-03-15', plan: PREMIUM, timing: 'period_end' });
    expect(r.proration).toBeNull();
    expect(r.state.pendingPlan).toEqual({ plan: PREMIUM, from: '2026-04-01' });
    expect(billingDue(r.state, '2026-04-01')).toMatchObject({ kind: 'plan', plan: PREMIUM });
    expect(run(r.state, { type: 'advance', date: '2026-04-01' }).state.plan).toEqual(PREMIUM);
  });

  it('during a trial: switches without proration', () => {
    const s = startSubscription({ ...base, trialDays: 7 });
    const r = run(s, { type: 'change_plan', date: '2026-01-16', plan: PREMIUM, timing: 'now' });
    expect(r.proration).toBeNull();
    expect(r.state.plan).toEqual(PREMIUM);
  });
});

describe('family accounts', () => {
  it('one payer covers several members, all with the same entitlement', () => {
    const s = startSubscription({ ...base, payerId: 'mem_parent', memberIds: ['mem_kid1', 'mem_kid2'], maxMembers: 3 });
    let r = run(s, paid('2026-01-15', '2026-02-15'), { type: 'add_member', date: '2026-01-20', memberId: 'mem_parent' });
    expect(r.entitlement).toMatchObject({ payerId: 'mem_parent', memberIds: ['mem_kid1', 'mem_kid2', 'mem_parent'], status: 'active', validUntil: '2026-02-18' });
    expect(applySubscriptionEvent(r.state, { type: 'add_member', date: '2026-01-21', memberId: 'mem_kid3' })).toMatchObject({ ok: false, reason: 'family_full' });
    expect(applySubscriptionEvent(r.state, { type: 'add_member', date: '2026-01-21', memberId: 'mem_kid1' })).toMatchObject({ ok: false, reason: 'already_member' });
    r = run(r.state, { type: 'remove_member', date: '2026-01-22', memberId: 'mem_kid2' }, { type: 'remove_member', date: '2026-01-22', memberId: 'mem_parent' });
    expect(r.entitlement.memberIds).toEqual(['mem_kid1']);
    expect(applySubscriptionEvent(r.state, { type: 'remove_member', date: '2026-01-23', memberId: 'mem_kid1' })).toMatchObject({ ok: false, reason: 'last_member' });
    expect(applySubscriptionEvent(r.state, { type: 'remove_member', date: '2026-01-23', memberId: 'mem_nobody' })).toMatchObject({ ok: false, reason: 'not_a_member' });
  });

  it('refuses a family larger than the plan allows', () => {
    expect(() => startSubscription({ ...base, memberIds: ['mem_a', 'mem_b'] })).toThrow('at most 1');
  });
});
