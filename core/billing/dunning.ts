// Dunning: what to do after a membership payment fails, as one pure transition
//   nextDunningStep(policy, state, event, now) → { state, actions }
// The Worker stores the state per payer, runs the actions (charge the card, send a message,
// suspend or restore the membership, apply the end-of-line policy) and feeds back the results as
// events. `now` is epoch ms; nothing here reads a clock.
//
// Rules:
// - Retries are counted from the first failure: by default 3, 7 and 14 days after it. The
//   organisation sets the days, the number of attempts (the first charge included) and the
//   window; a retry that falls outside either is not made.
// - A hard decline (lost or stolen card, do_not_honor, …) is not retried: the member is asked to
//   update the card. A card update triggers an immediate retry (outside the schedule count).
// - Grace: past_due keeps access until graceDays have passed since the first failure or the
//   amount owed goes above graceMaxOwed, whichever comes first; then the membership is suspended
//   with reason payment_overdue. It is restored when neither limit is passed any more (in
//   practice: paid).
// - After the last retry fails (or the window closes on a hard decline) the end-of-line policy
//   applies: cancel at period end, mark the invoice uncollectible, or hand over to collections.
// - A member can be paused (no charges, notices or suspension while a payment plan is agreed;
//   the clocks keep running) or excluded (pays at the desk: dunning ignores them).
import { z } from 'zod';

const DAY_MS = 86_400_000;

export const END_OF_LINE_POLICIES = ['cancel_at_period_end', 'mark_uncollectible', 'collections'] as const;
export const EndOfLinePolicy = z.enum(END_OF_LINE_POLICIES).meta({ id: 'EndOfLinePolicy' });
export type EndOfLinePolicy = z.infer<typeof EndOfLinePolicy>;

/** Declines that retrying cannot fix: the member must give another card. */
export const DEFAULT_HARD_DECLINES = [
  'lost_card',
  'stolen_card',
  'pickup_card',
  'do_not_honor',
  'restricted_card',
  'fraudulent',
  'expired_card',
  'incorrect_number',
  'invalid_account',
  'card_not_supported',
  'revocation_of_authorization',
  'stop_payment_order',
  'transaction_not_allowed',
] as const;

export const DunningPolicy = z
  .object({
    /** Days after the first failure on which to retry, increasing. */
    retryDays: z.array(z.number().int().min(1).max(90)).max(10).default([3, 7, 14]),
    /** Charge attempts in total, the first one included. */
    maxAttempts: z.number().int().min(1).max(11).default(4),
    /** No retry later than this many days after the first failure. */
    windowDays: z.number().int().min(0).max(90).default(14),
    /** Access continues for this many days after the first failure… */
    graceDays: z.number().int().min(0).max(90).default(7),
    /** …and while the amount owed is at most this (minor units); null = no amount limit. */
    graceMaxOwed: z.number().int().min(0).nullable().default(null),
    endOfLine: EndOfLinePolicy.default('cancel_at_period_end'),
    hardDeclineCodes: z.array(z.string()).default([...DEFAULT_HARD_DECLINES]),
  })
  .refine((p) => p.retryDays.every((d, i) => i === 0 || d > (p.retryDays[i - 1] ?? 0)), {
    message: 'retry days must increase',
    path: ['retryDays'],
  })
  .meta({ id: 'DunningPolicy' });
export type DunningPolicy = z.infer<typeof DunningPolicy>;
export type DunningPolicyInput = z.input<typeof DunningPolicy>;

export const DEFAULT_DUNNING_POLICY: DunningPolicy = DunningPolicy.parse({});

export const DUNNING_PHASES = ['idle', 'retrying', 'charging', 'awaiting_card', 'exhausted'] as const;

export const DunningState = z
  .object({
    /**
     * idle: nothing overdue; retrying: next retry scheduled; charging: a charge was asked for and
     * its result is awaited; awaiting_card: hard decline, waiting for a new card; exhausted: end
     * of line reached.
     */
    phase: z.enum(DUNNING_PHASES),
    invoiceNumber: z.string().nullable(),
    firstFailedAt: z.number().int().nullable(),
    /** Charge attempts made in this case, the first included. */
    attempts: z.number().int().min(0),
    /** Index into retryDays of the next scheduled retry. */
    nextRetryIndex: z.number().int().min(0),
    nextRetryAt: z.number().int().nullable(),
    amountOwed: z.number().int().min(0),
    /** Dunning suspended the membership (payment_overdue). */
    suspended: z.boolean(),
    cardUpdateNeeded: z.boolean(),
    lastDeclineCode: z.string().nullable(),
    /** When the end-of-line policy was applied (it is applied once per case). */
    endOfLineAt: z.number().int().nullable(),
    paused: z.boolean(),
    excluded: z.boolean(),
  })
  .meta({ id: 'DunningState' });
export type DunningState = z.infer<typeof DunningState>;

export const INITIAL_DUNNING_STATE: DunningState = {
  phase: 'idle',
  invoiceNumber: null,
  firstFailedAt: null,
  attempts: 0,
  nextRetryIndex: 0,
  nextRetryAt: null,
  amountOwed: 0,
  suspended: false,
  cardUpdateNeeded: false,
  lastDeclineCode: null,
  endOfLineAt: null,
  paused: false,
  excluded: false,
};

export const DunningEvent = z
  .discriminatedUnion('type', [
    /** A charge failed; amountOwed is what the member owes in total now. `hard` overrides the code list. */
    z.object({
      type: z.literal('payment_failed'),
      invoiceNumber: z.string(),
      amountOwed: z.number().int().min(0),
      declineCode: z.string(),
      hard: z.boolean().optional(),
    }),
    z.object({ type: z.literal('payment_succeeded'), amountOwed: z.number().int().min(0) }),
    /** Another invoice was finalised, or a credit note reduced what is owed. */
    z.object({ type: z.literal('amount_owed_changed'), amountOwed: z.number().int().min(0) }),
    z.object({ type: z.literal('card_updated') }),
    /** The scheduler woke up (at nextWakeAt or on its daily run). */
    z.object({ type: z.literal('tick') }),
    z.object({ type: z.literal('pause') }),
    z.object({ type: z.literal('resume') }),
    z.object({ type: z.literal('exclude') }),
    z.object({ type: z.literal('include') }),
  ])
  .meta({ id: 'DunningEvent' });
export type DunningEvent = z.infer<typeof DunningEvent>;

export const NOTICE_KINDS = ['payment_failed', 'update_card', 'suspended', 'restored', 'payment_recovered', 'final_notice'] as const;
export type NoticeKind = (typeof NOTICE_KINDS)[number];

export type DunningAction =
  | { type: 'charge'; invoiceNumber: string; attempt: number; reason: 'scheduled_retry' | 'card_updated' }
  | { type: 'notify'; kind: NoticeKind; nextRetryAt: number | null }
  | { type: 'suspend'; reason: 'payment_overdue'; trigger: 'grace_days' | 'grace_amount' }
  | { type: 'restore'; reason: 'payment_overdue' }
  | { type: 'end_of_line'; policy: EndOfLinePolicy; invoiceNumber: string };

export type DunningStep = {
  state: DunningState;
  actions: DunningAction[];
  /** When to send the next `tick` (a retry or a grace limit); null = only on events. */
  nextWakeAt: number | null;
};

export const isHardDecline = (policy: DunningPolicy, code: string, hard?: boolean): boolean =>
  hard ?? policy.hardDeclineCodes.includes(code);

/** The scheduled retry times of a case, from the first failure, within attempts and window. */
export function retrySchedule(policy: DunningPolicy, firstFailedAt: number): number[] {
  return policy.retryDays
    .filter((d) => d <= policy.windowDays)
    .slice(0, Math.max(0, policy.maxAttempts - 1))
    .map((d) => firstFailedAt + d * DAY_MS);
}

const closedCase = (s: DunningState): DunningState => ({
  ...INITIAL_DUNNING_STATE,
  paused: s.paused,
  excluded: s.excluded,
  suspended: s.suspended,
});

export function nextDunningStep(policy: DunningPolicy, state: DunningState, event: DunningEvent, now: number): DunningStep {
  let s: DunningState = { ...state };
  const actions: DunningAction[] = [];
  const open = () => s.phase !== 'idle';

  /** After a failure: next scheduled retry later than now, or the end of the line. */
  const scheduleOrEnd = () => {
    const schedule = retrySchedule(policy, s.firstFailedAt ?? now);
    let i = s.nextRetryIndex;
    while (i < schedule.length && (schedule[i] ?? 0) <= now) i++;
    const at = schedule[i];
    if (at !== undefined) {
      s = { ...s, phase: 'retrying', nextRetryIndex: i, nextRetryAt: at };
    } else {
      s = { ...s, nextRetryIndex: i };
      endOfLine();
    }
  };
  const endOfLine = () => {
    const first = s.endOfLineAt === null;
    s = { ...s, phase: 'exhausted', nextRetryAt: null, endOfLineAt: s.endOfLineAt ?? now };
    if (!first) return;
    actions.push({ type: 'end_of_line', policy: policy.endOfLine, invoiceNumber: s.invoiceNumber ?? '' });
    if (!s.paused) actions.push({ type: 'notify', kind: 'final_notice', nextRetryAt: null });
  };
  const charge = (reason: 'scheduled_retry' | 'card_updated') => {
    s = { ...s, phase: 'charging', attempts: s.attempts + 1, nextRetryAt: reason === 'scheduled_retry' ? null : s.nextRetryAt };
    if (reason === 'scheduled_retry') s.nextRetryIndex += 1;
    actions.push({ type: 'charge', invoiceNumber: s.invoiceNumber ?? '', attempt: s.attempts, reason });
  };
  const restoreIfSuspended = () => {
    if (s.suspended) {
      s = { ...s, suspended: false };
      actions.push({ type: 'restore', reason: 'payment_overdue' });
      actions.push({ type: 'notify', kind: 'restored', nextRetryAt: null });
    }
  };

  switch (event.type) {
    case 'payment_failed': {
      if (s.excluded) break;
      const hard = isHardDecline(policy, event.declineCode, event.hard);
      const first = !open();
      const ourCharge = s.phase === 'charging';
      s = {
        ...s,
        invoiceNumber: first ? event.invoiceNumber : (s.invoiceNumber ?? event.invoiceNumber),
        firstFailedAt: first ? now : s.firstFailedAt,
        attempts: first ? 1 : s.attempts,
        nextRetryIndex: first ? 0 : s.nextRetryIndex,
        amountOwed: event.amountOwed,
        lastDeclineCode: event.declineCode,
      };
      if (hard) {
        s = { ...s, phase: s.endOfLineAt === null ? 'awaiting_card' : 'exhausted', cardUpdateNeeded: true, nextRetryAt: null };
        if (!s.paused) actions.push({ type: 'notify', kind: 'update_card', nextRetryAt: null });
        break;
      }
      if (first || ourCharge) {
        // A failed card-update retry goes back to the schedule; a failed scheduled one moves on.
        if (ourCharge && s.nextRetryAt !== null && s.nextRetryAt > now) s = { ...s, phase: 'retrying' };
        else scheduleOrEnd();
        if (!s.paused && s.phase !== 'exhausted') actions.push({ type: 'notify', kind: 'payment_failed', nextRetryAt: s.nextRetryAt });
      }
      break;
    }
    case 'payment_succeeded': {
      s = { ...s, amountOwed: event.amountOwed };
      if (!open()) break;
      if (event.amountOwed === 0) {
        s = closedCase(s);
        restoreIfSuspended();
        actions.push({ type: 'notify', kind: 'payment_recovered', nextRetryAt: null });
      } else if (s.phase === 'charging') {
        // Something was paid but more is owed: keep to the schedule.
        s = { ...s, phase: s.nextRetryAt !== null ? 'retrying' : s.phase };
        if (s.phase === 'charging') scheduleOrEnd();
      }
      break;
    }
    case 'amount_owed_changed':
      s = { ...s, amountOwed: event.amountOwed };
      if (open() && event.amountOwed === 0) {
        s = closedCase(s);
        restoreIfSuspended();
      }
      break;
    case 'card_updated':
      s = { ...s, cardUpdateNeeded: false };
      if (open() && !s.paused && !s.excluded && s.amountOwed > 0 && s.phase !== 'charging') charge('card_updated');
      break;
    case 'tick':
      if (!open() || s.paused || s.excluded) break;
      if (s.phase === 'retrying' && s.nextRetryAt !== null && s.nextRetryAt <= now) charge('scheduled_retry');
      else if (s.phase === 'awaiting_card' && s.firstFailedAt !== null && now >= s.firstFailedAt + policy.windowDays * DAY_MS) {
        endOfLine();
      }
      break;
    case 'pause':
      s = { ...s, paused: true };
      break;
    case 'resume':
      s = { ...s, paused: false };
      break;
    case 'exclude':
      s = { ...closedCase(s), excluded: true };
      restoreIfSuspended();
      break;
    case 'include':
      s = { ...s, excluded: false };
      break;
  }

  // Grace: evaluated after every event, so a tick, a new invoice or a payment can each move it.
  if (open() && !s.paused && !s.excluded && s.firstFailedAt !== null) {
    const overDays = now >= s.firstFailedAt + policy.graceDays * DAY_MS;
    const overAmount = policy.graceMaxOwed !== null && s.amountOwed > policy.graceMaxOwed;
    if ((overDays || overAmount) && !s.suspended) {
      s = { ...s, suspended: true };
      actions.push({ type: 'suspend', reason: 'payment_overdue', trigger: overAmount ? 'grace_amount' : 'grace_days' });
      actions.push({ type: 'notify', kind: 'suspended', nextRetryAt: s.nextRetryAt });
    } else if (!overDays && !overAmount) {
      restoreIfSuspended();
    }
  }

  return { state: s, actions, nextWakeAt: nextWake(policy, s) };
}

function nextWake(policy: DunningPolicy, s: DunningState): number | null {
  if (s.phase === 'idle' || s.paused || s.excluded || s.firstFailedAt === null) return null;
  const times: number[] = [];
  if (s.phase === 'retrying' && s.nextRetryAt !== null) times.push(s.nextRetryAt);
  if (!s.suspended) times.push(s.firstFailedAt + policy.graceDays * DAY_MS);
  if (s.phase === 'awaiting_card') times.push(s.firstFailedAt + policy.windowDays * DAY_MS);
  return times.length ? Math.min(...times) : null;
}
