import { describe, expect, it } from 'vitest';
import {
  DEFAULT_DUNNING_POLICY,
  DunningPolicy,
  INITIAL_DUNNING_STATE,
  nextDunningStep,
  retrySchedule,
  type DunningAction,
  type DunningEvent,
  type DunningPolicyInput,
  type DunningState,
} from '../../core/billing/dunning.ts';

const DAY = 86_400_000;
const T0 = Date.UTC(2026, 2, 1, 2); // first failure
const at = (days: number) => T0 + days * DAY;
const OWED = 199000;
const failed = (declineCode = 'insufficient_funds', amountOwed = OWED): DunningEvent => ({ type: 'payment_failed', invoiceNumber: 'GG-000042', amountOwed, declineCode });

/** Walks a list of [day, event] through the policy; returns the final state and the actions per step. */
function walk(policyInput: DunningPolicyInput, steps: Array<[number, DunningEvent]>, start: DunningState = INITIAL_DUNNING_STATE) {
  const policy = DunningPolicy.parse(policyInput);
  let state = start;
  const log: Array<{ day: number; event: string; actions: DunningAction[]; nextWakeAt: number | null; state: DunningState }> = [];
  for (const [day, event] of steps) {
    const r = nextDunningStep(policy, state, event, at(day));
    state = r.state;
    log.push({ day, event: event.type, actions: r.actions, nextWakeAt: r.nextWakeAt, state });
  }
  return { state, log };
}

const kinds = (actions: DunningAction[]) =>
  actions.map((a) => (a.type === 'notify' ? `notify:${a.kind}` : a.type === 'charge' ? `charge:${a.reason}#${a.attempt}` : a.type === 'suspend' ? `suspend:${a.trigger}` : a.type === 'end_of_line' ? `end_of_line:${a.policy}` : a.type));

describe('dunning policy', () => {
  it('defaults: retry 3, 7 and 14 days after the first failure', () => {
    expect(DEFAULT_DUNNING_POLICY).toMatchObject({ retryDays: [3, 7, 14], maxAttempts: 4, windowDays: 14, graceDays: 7, graceMaxOwed: null, endOfLine: 'cancel_at_period_end' });
    expect(retrySchedule(DEFAULT_DUNNING_POLICY, T0)).toEqual([at(3), at(7), at(14)]);
    expect(retrySchedule(DunningPolicy.parse({ maxAttempts: 2 }), T0)).toEqual([at(3)]);
    expect(retrySchedule(DunningPolicy.parse({ windowDays: 10 }), T0)).toEqual([at(3), at(7)]);
    expect(DunningPolicy.safeParse({ retryDays: [7, 3] }).success).toBe(false);
  });
});

describe('dunning walk', () => {
  it('fail, fail, card updated → immediate retry → paid → restored', () => {
    const { state, log } = walk({}, [
      [0, failed()],
      [3, { type: 'tick' }],
      [3, failed()],
      [7, { type: 'tick' }],
      [7, failed()],
      [8, { type: 'card_updated' }],
      [8, { type: 'payment_succeeded', amountOwed: 0 }],
    ]);
    expect(log.map((l) => [l.day, l.event, kinds(l.actions)])).toEqual([
      [0, 'payment_failed', ['notify:payment_failed']],
      [3, 'tick', ['charge:scheduled_retry#2']],
      [3, 'payment_failed', ['notify:payment_failed']],
      [7, 'tick', ['charge:scheduled_retry#3', 'suspend:grace_days', 'notify:suspended']], // 7 days of grace used up
      [7, 'payment_failed', ['notify:payment_failed']],
      [8, 'card_updated', ['charge:card_updated#4']],
      [8, 'payment_succeeded', ['restore', 'notify:restored', 'notify:payment_recovered']],
    ]);
    expect(log[0]?.nextWakeAt).toBe(at(3));
    expect(log[2]?.state).toMatchObject({ phase: 'retrying', nextRetryAt: at(7) });
    expect(log[4]?.state).toMatchObject({ phase: 'retrying', nextRetryAt: at(14), suspended: true });
    expect(state).toEqual(INITIAL_DUNNING_STATE);
  });

  it('fails to the end of the line and applies the chosen policy once', () => {
    const { state, log } = walk({ endOfLine: 'mark_uncollectible' }, [
      [0, failed()],
      [3, { type: 'tick' }],
      [3, failed()],
      [7, { type: 'tick' }],
      [7, failed()],
      [14, { type: 'tick' }],
      [14, failed()],
      [15, { type: 'tick' }],
    ]);
    expect(kinds(log[6]?.actions ?? [])).toEqual(['end_of_line:mark_uncollectible', 'notify:final_notice']);
    expect(log[6]?.actions[0]).toEqual({ type: 'end_of_line', policy: 'mark_uncollectible', invoiceNumber: 'GG-000042' });
    expect(kinds(log[7]?.actions ?? [])).toEqual([]);
    expect(state).toMatchObject({ phase: 'exhausted', attempts: 4, suspended: true, endOfLineAt: at(14) });
    expect(log[7]?.nextWakeAt).toBeNull();

    // A new card after the end of the line is still charged; failing again does not repeat the end of the line.
    const late = walk({ endOfLine: 'mark_uncollectible' }, [[20, { type: 'card_updated' }], [20, failed()]], state);
    expect(late.log.map((l) => kinds(l.actions))).toEqual([['charge:card_updated#5'], []]);
  });

  it('a shorter window or fewer attempts ends the line sooner', () => {
    const { log } = walk({ windowDays: 10, endOfLine: 'collections' }, [
      [0, failed()],
      [3, { type: 'tick' }],
      [3, failed()],
      [7, { type: 'tick' }],
      [7, failed()],
    ]);
    expect(kinds(log[4]?.actions ?? [])).toEqual(['end_of_line:collections', 'notify:final_notice']);
    const single = walk({ maxAttempts: 1, endOfLine: 'cancel_at_period_end' }, [[0, failed()]]);
    expect(kinds(single.log[0]?.actions ?? [])).toEqual(['end_of_line:cancel_at_period_end', 'notify:final_notice']);
  });

  it('grace by amount is reached before grace by days', () => {
    const { log } = walk({ graceDays: 7, graceMaxOwed: OWED }, [
      [0, failed()],
      [2, { type: 'tick' }],
      [2, { type: 'amount_owed_changed', amountOwed: OWED + 30000 }], // a PT package invoiced meanwhile
      [3, { type: 'tick' }],
      [3, { type: 'payment_succeeded', amountOwed: 30000 }], // the retry collects the membership
    ]);
    expect(log.map((l) => kinds(l.actions))).toEqual([
      ['notify:payment_failed'],
      [],
      ['suspend:grace_amount', 'notify:suspended'],
      ['charge:scheduled_retry#2'],
      ['restore', 'notify:restored'], // back under the amount limit, within the days
    ]);
    expect(log[4]?.state).toMatchObject({ phase: 'retrying', nextRetryAt: at(7), suspended: false, amountOwed: 30000 });
  });

  it('a hard decline is not retried: the member is asked for a new card', () => {
    const { state, log } = walk({}, [
      [0, failed('stolen_card')],
      [3, { type: 'tick' }],
      [7, { type: 'tick' }],
      [14, { type: 'tick' }],
    ]);
    expect(log.map((l) => kinds(l.actions))).toEqual([
      ['notify:update_card'],
      [],
      ['suspend:grace_days', 'notify:suspended'],
      ['end_of_line:cancel_at_period_end', 'notify:final_notice'],
    ]);
    expect(log[0]?.state).toMatchObject({ phase: 'awaiting_card', cardUpdateNeeded: true, nextRetryAt: null, lastDeclineCode: 'stolen_card' });
    expect(log[0]?.nextWakeAt).toBe(at(7));
    expect(state.attempts).toBe(1);

    const updated = walk({}, [[0, failed('do_not_honor')], [2, { type: 'card_updated' }], [2, failed()]]);
    expect(updated.log.map((l) => kinds(l.actions))).toEqual([['notify:update_card'], ['charge:card_updated#2'], ['notify:payment_failed']]);
    expect(updated.state).toMatchObject({ phase: 'retrying', nextRetryAt: at(3), cardUpdateNeeded: false });
  });

  it('paused members are not charged or suspended; excluded members are left alone', () => {
    const paused = walk({}, [
      [0, failed()],
      [1, { type: 'pause' }],
      [3, { type: 'tick' }],
      [8, { type: 'tick' }],
      [9, { type: 'resume' }],
      [9, { type: 'tick' }],
    ]);
    expect(paused.log.map((l) => kinds(l.actions))).toEqual([
      ['notify:payment_failed'],
      [],
      [],
      [],
      ['suspend:grace_days', 'notify:suspended'],
      ['charge:scheduled_retry#2'],
    ]);
    const excluded = walk({}, [[0, { type: 'exclude' }], [0, failed()], [3, { type: 'tick' }]]);
    expect(excluded.log.map((l) => kinds(l.actions))).toEqual([[], [], []]);
    expect(excluded.state.phase).toBe('idle');
  });
});
