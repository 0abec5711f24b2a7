// Dunning in the Worker: keeps each payer's DunningState (core/billing/dunning.ts) up to date with
// the payment outcomes billing sees, and carries out the actions nextDunningStep returns.
//
// - The state is one row per payer, changed by compare-and-swap on its version. Only the writer
//   that wins the swap carries out the step's actions, so two schedulers (or a webhook and a
//   scheduler) ticking the same payer at once charge once.
// - charge: the case's invoice (or the payer's oldest open one once it is paid) is charged through
//   chargeInvoice with the next attempt number, i.e. a new idempotency key `{invoice}:attempt:{n}`.
//   The answer comes back here as payment_failed / payment_succeeded through recordPaymentResult.
// - suspend / restore: a subscription event (suspend / restore, reason payment_overdue) on every
//   live subscription the payer pays for, written with the member rows through writeWithChanges
//   (edge/billing/subscriptions.ts), so the doors are told in the same request.
// - end_of_line: the organisation's policy (cancel at period end, mark the invoice uncollectible,
//   hand it to collections).
// - notify: a NoticeSink (the notification outbox by default).
// Everything dunning does is written to dunning_log (the queue and metrics read it).
import { and, asc, eq, gt, ne, sql } from 'drizzle-orm';
import { DEFAULT_DUNNING_POLICY, DunningPolicy, INITIAL_DUNNING_STATE, nextDunningStep, type DunningAction, type DunningEvent, type DunningState, type DunningStep } from '../../core/billing/dunning.ts';
import { currentPeriod } from '../../core/billing/subscription.ts';
import { dunningCollections, dunningLog, dunningPolicies, dunningStates, invoices, members, subscriptions, DUNNING_LOG_TYPES } from '../db/schema.ts';
import { writeWithChanges } from '../entitlements/index.ts';
import type { Db } from '../env.ts';
import { newId } from '../lib/ids.ts';
import { actOnSubscription, type BillingDeps, changeContext, chargeInvoice, type DunningPort, type InvoiceRow, markUncollectible, memberLedger, nextAttempt, type PayerEvent, SubscriptionRefused } from '../billing/index.ts';
import { outboxNoticeSink, type NoticeSink } from './notices.ts';
import { ownedBy } from '../lib/owned.ts';

/** What moves a payer's dunning: billing's events (../billing/dunning-port.ts), the run's tick, and staff. */
type Partial = PayerEvent | { type: 'tick' } | { type: 'pause' | 'resume' | 'exclude' | 'include'; note?: string | null };

export type DunningSettings = { policy: DunningPolicy; payLinkBase: string | null };

export async function dunningSettings(db: Db, organisationId: string): Promise<DunningSettings> {
  const [row] = await db.select().from(dunningPolicies).where(eq(dunningPolicies.organisationId, organisationId));
  if (!row) return { policy: DEFAULT_DUNNING_POLICY, payLinkBase: null };
  const parsed = DunningPolicy.safeParse(row.policy);
  return { policy: parsed.success ? parsed.data : DEFAULT_DUNNING_POLICY, payLinkBase: row.payLinkBase };
}

type LogType = (typeof DUNNING_LOG_TYPES)[number];

/** Where a run's notices go: the notification outbox. */
export const sinkOf = (deps: BillingDeps, settings: DunningSettings, now: number): NoticeSink =>
  outboxNoticeSink(deps.db, { now, payLinkBase: settings.payLinkBase, publicBaseUrl: deps.env.PUBLIC_BASE_URL });

/**
 * Feeds one event about a payer into their dunning state and carries out what it asks. Returns the
 * step taken (null when nothing is tracked for the payer and the event opens nothing).
 */
export async function noteDunning(deps: BillingDeps, organisationId: string, payerId: string, partial: Partial, now: number): Promise<DunningStep | null> {
  const { db } = deps;
  const settings = await dunningSettings(db, organisationId);
  const needsAmount = partial.type === 'payment_failed' || partial.type === 'payment_succeeded' || partial.type === 'amount_owed_changed';
  const amountOwed = needsAmount ? (await memberLedger(db, organisationId, payerId)).amountOwed : 0;
  const event: DunningEvent =
    partial.type === 'payment_failed'
      ? { type: 'payment_failed', invoiceNumber: partial.invoiceNumber, amountOwed, declineCode: partial.declineCode, hard: partial.hard }
      : partial.type === 'payment_succeeded' || partial.type === 'amount_owed_changed'
        ? { type: partial.type, amountOwed }
        : { type: partial.type };
  const opens = partial.type === 'payment_failed' || partial.type === 'pause' || partial.type === 'exclude';
  // Compare-and-swap on the row's version; a lost race reads again.
  for (let i = 0; i < 8; i++) {
    const [row] = await db.select().from(dunningStates).where(eq(dunningStates.payerId, payerId));
    if (!row && !opens) return null; // nothing to track until something fails
    const before = (row?.state as DunningState | undefined) ?? INITIAL_DUNNING_STATE;
    const step = nextDunningStep(settings.policy, before, event, now);
    if (!row) {
      const inserted = await db
        .insert(dunningStates)
        .values({ payerId, organisationId, state: step.state, nextWakeAt: step.nextWakeAt, version: 1, updatedAt: now })
        .onConflictDoNothing()
        .returning({ payerId: dunningStates.payerId });
      if (inserted.length === 0) continue;
    } else {
      if (JSON.stringify(step.state) === JSON.stringify(before) && step.nextWakeAt === row.nextWakeAt && step.actions.length === 0) return step;
      const updated = await db
        .update(dunningStates)
        .set({ state: step.state, nextWakeAt: step.nextWakeAt, version: row.version + 1, updatedAt: now })
        .where(and(eq(dunningStates.payerId, payerId), eq(dunningStates.version, row.version)))
        .returning({ payerId: dunningStates.payerId });
      if (updated.length === 0) continue;
    }
    await afterStep(deps, settings, { organisationId, payerId, before, step, partial, now });
    return step;
  }
  throw new Error(`dunning state of ${payerId} kept changing; try again`);
}

type StepContext = { organisationId: string; payerId: string; before: DunningState; step: DunningStep; partial: Partial; now: number };

export async function caseInvoice(db: Db, organisationId: string, payerId: string, number: string | null): Promise<InvoiceRow | undefined> {
  if (number) {
    const [inv] = await db.select().from(invoices).where(and(eq(invoices.organisationId, organisationId), eq(invoices.number, number)));
    if (inv && (inv.status === 'open' || inv.status === 'uncollectible') && inv.amountRemaining > 0) return inv;
    if (inv && inv.status !== 'paid' && inv.status !== 'void') return inv;
  }
  // The case's invoice is settled but more is owed: the oldest open one.
  const [oldest] = await db
    .select()
    .from(invoices)
    .where(and(eq(invoices.organisationId, organisationId), eq(invoices.payerId, payerId), eq(invoices.status, 'open'), gt(invoices.amountRemaining, 0)))
    .orderBy(asc(invoices.finalisedAt), asc(invoices.number))
    .limit(1);
  return oldest;
}

async function afterStep(deps: BillingDeps, settings: DunningSettings, ctx: StepContext): Promise<void> {
  const { db } = deps;
  const { organisationId, payerId, before, step, partial, now } = ctx;
  const s = step.state;
  const number = s.invoiceNumber ?? before.invoiceNumber;
  const invoice = number || s.phase !== 'idle' ? await caseInvoice(db, organisationId, payerId, number) : undefined;
  const currency = invoice?.currency ?? 'THB';
  const logs: Array<{ type: LogType; amount?: number | null; detail?: string | null; note?: string | null }> = [];
  if (before.phase === 'idle' && s.phase !== 'idle') logs.push({ type: 'case_opened', amount: s.amountOwed });
  if (before.phase !== 'idle' && s.phase === 'idle' && partial.type === 'payment_succeeded') logs.push({ type: 'recovered', amount: before.amountOwed });
  if (partial.type === 'pause' || partial.type === 'resume' || partial.type === 'exclude' || partial.type === 'include') {
    const type: LogType = partial.type === 'pause' ? 'paused' : partial.type === 'resume' ? 'resumed' : partial.type === 'exclude' ? 'excluded' : 'included';
    logs.push({ type, note: partial.note ?? null });
  }
  for (const a of step.actions) {
    if (a.type === 'charge') logs.push({ type: 'retry', detail: `${a.reason}:${a.attempt}` });
    if (a.type === 'suspend') logs.push({ type: 'suspended', detail: a.trigger, amount: s.amountOwed });
    if (a.type === 'restore') logs.push({ type: 'restored' });
    if (a.type === 'end_of_line') logs.push({ type: 'end_of_line', detail: a.policy, amount: s.amountOwed });
  }
  if (logs.length > 0) {
    await db.insert(dunningLog).values(
      logs.map((l, i) => ({
        id: newId('dlg', now),
        organisationId,
        payerId,
        type: l.type,
        invoiceNumber: number,
        amount: l.amount ?? null,
        currency,
        detail: l.detail ?? null,
        note: l.note ?? null,
        at: now + i,
      })),
    );
  }

  const sink = sinkOf(deps, settings, now);
  const caseKey = `${payerId}:${before.firstFailedAt ?? s.firstFailedAt ?? now}`;
  // Notices, the membership and the end of line first; a charge last (its answer comes back as a new event).
  const ordered = [...step.actions.filter((a) => a.type !== 'charge'), ...step.actions.filter((a) => a.type === 'charge')];
  for (const a of ordered) {
    try {
      await perform(deps, a, { ...ctx, invoice, currency, caseKey, sink, settings });
    } catch (error) {
      // The step is stored; a charge left pending is sent again by the run (settleStuckCharges).
      console.error(JSON.stringify({ msg: 'dunning action failed', payerId, action: a.type, error: String(error) }));
    }
  }
}

type ActionContext = StepContext & { invoice: InvoiceRow | undefined; currency: string; caseKey: string; sink: NoticeSink; settings: DunningSettings };

async function perform(deps: BillingDeps, a: DunningAction, ctx: ActionContext): Promise<void> {
  const { organisationId, payerId, step, now } = ctx;
  const s = step.state;
  switch (a.type) {
    case 'notify': {
      const amount = a.kind === 'payment_recovered' ? ctx.before.amountOwed : s.amountOwed;
      await ctx.sink.notify({
        organisationId,
        memberId: payerId,
        kind: a.kind,
        payload: {
          invoiceNumber: s.invoiceNumber ?? ctx.before.invoiceNumber,
          amount,
          currency: ctx.currency,
          nextRetryAt: a.nextRetryAt,
          dedupeKey: `${ctx.caseKey}:${Math.max(s.attempts, ctx.before.attempts)}`,
        },
      });
      return;
    }
    case 'charge': {
      const invoice = ctx.invoice;
      if (!invoice || invoice.amountRemaining <= 0 || (invoice.status !== 'open' && invoice.status !== 'uncollectible')) {
        await noteDunning(deps, organisationId, payerId, { type: 'amount_owed_changed' }, now);
        return;
      }
      const attempt = Math.max(a.attempt, await nextAttempt(deps.db, invoice.id));
      const result = await chargeInvoice(deps, invoice, attempt, now);
      if (result.kind === 'nothing_due') await noteDunning(deps, organisationId, payerId, { type: 'amount_owed_changed' }, now);
      if (result.kind === 'no_payment_method') {
        await noteDunning(deps, organisationId, payerId, { type: 'payment_failed', invoiceNumber: invoice.number ?? invoice.id, declineCode: 'no_payment_method', hard: true }, now);
      }
      return;
    }
    case 'suspend':
    case 'restore':
      await onPayersSubscriptions(deps, organisationId, payerId, now, () => [{ type: a.type, reason: 'payment_overdue' }]);
      await onUncoveredPayer(deps, organisationId, payerId, a.type, now);
      return;
    case 'end_of_line': {
      const policy = a.policy;
      if (policy === 'cancel_at_period_end') {
        await onPayersSubscriptions(deps, organisationId, payerId, now, (state, date) => [{ type: 'cancel', endsOn: currentPeriod(state, date)?.end ?? date }]);
      } else if (policy === 'mark_uncollectible') {
        const invoice = ctx.invoice;
        if (invoice?.status === 'open') {
          await markUncollectible(deps, invoice, now);
        }
      } else {
        const invoice = ctx.invoice;
        if (invoice) {
          await deps.db
            .insert(dunningCollections)
            .values({
              id: newId('col', now),
              organisationId,
              payerId,
              invoiceId: invoice.id,
              invoiceNumber: invoice.number,
              amount: invoice.amountRemaining,
              currency: invoice.currency,
              createdAt: now,
            })
            .onConflictDoNothing();
        }
      }
      return;
    }
  }
}

type SubEvent = { type: 'suspend' | 'restore'; reason: 'payment_overdue' } | { type: 'cancel'; endsOn: string };

/** Applies a staff-style event to every live subscription the payer pays for (a refusal, e.g. already cancelled, is skipped). */
export async function onPayersSubscriptions(
  deps: BillingDeps,
  organisationId: string,
  payerId: string,
  now: number,
  events: (state: Parameters<typeof currentPeriod>[0], date: string) => SubEvent[],
): Promise<void> {
  const subs = await deps.db
    .select({ id: subscriptions.id })
    .from(subscriptions)
    .where(and(eq(subscriptions.organisationId, organisationId), eq(subscriptions.payerId, payerId), ne(subscriptions.status, 'ended')));
  for (const sub of subs) {
    try {
      await actOnSubscription(deps, sub.id, now, ({ state, date }) => ({ events: events(state, date).map((e) => ({ ...e, date }) as never) }));
    } catch (error) {
      if (!(error instanceof SubscriptionRefused)) throw error;
    }
  }
}

/**
 * A payer whose debt is only one-off invoices (a PT package, a shop tab) and whom no live
 * subscription covers: the member row itself is suspended for payment and restored, through the
 * change log like any entitlement. A staff suspension or another status is left alone.
 */
export async function onUncoveredPayer(deps: BillingDeps, organisationId: string, payerId: string, action: 'suspend' | 'restore', now: number): Promise<void> {
  const { db } = deps;
  const covered = sql`EXISTS (SELECT 1 FROM subscription_members sm JOIN subscriptions s ON s.id = sm.subscription_id
    WHERE sm.member_id = ${payerId} AND s.organisation_id = ${organisationId} AND s.status != 'ended')`;
  const from = action === 'suspend' ? and(eq(members.status, 'active'), sql`${members.suspension} IS NULL`) : and(eq(members.status, 'suspended'), eq(members.suspension, 'payment_overdue'));
  const where = ownedBy(members, payerId, organisationId, from, sql`NOT ${covered}`);
  const [candidate] = await db.select({ id: members.id }).from(members).where(where);
  if (!candidate) return;
  const to = action === 'suspend' ? { status: 'suspended' as const, suspension: 'payment_overdue' as const } : { status: 'active' as const, suspension: null };
  await writeWithChanges(changeContext(deps), [db.update(members).set({ ...to, updatedAt: now }).where(where)], { organisationId }, [{ kind: 'member', entityId: payerId }]);
}

export async function dunningStateOf(db: Db, payerId: string): Promise<DunningState | null> {
  const [row] = await db.select().from(dunningStates).where(eq(dunningStates.payerId, payerId));
  return (row?.state as DunningState | undefined) ?? null;
}

/** Dunning as billing sees it (connected in edge/wiring.ts). */
export const dunningForBilling: DunningPort = {
  payerChanged: (deps, organisationId, payerId, event, now) => noteDunning(deps, organisationId, payerId, event, now),
  graceDays: async (db, organisationId) => (await dunningSettings(db, organisationId)).policy.graceDays,
  stateOf: dunningStateOf,
};
