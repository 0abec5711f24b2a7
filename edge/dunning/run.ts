// The dunning run (every five minutes and daily): ticks every payer whose wake-up time has come,
// enforces suspensions past their grace, settles charges stuck without an outcome and warns
// members before a suspension. Each payer's step is engine.ts's noteDunning.
import { and, asc, desc, eq, sql } from 'drizzle-orm';
import type { DunningAction, DunningState } from '../../core/billing/dunning.ts';
import { JobTally } from '../audit/index.ts';
import { dunningStates, payments } from '../db/schema.ts';
import { type BillingDeps, chargeInvoice, chargeKey, nextAttempt } from '../billing/index.ts';
import { caseInvoice, dunningSettings, noteDunning, onPayersSubscriptions, onUncoveredPayer, sinkOf, type DunningSettings } from './engine.ts';

/** How the run's audit event counts each kind of action its steps took. */
const ACTION_COUNTS: Record<DunningAction['type'], string> = { charge: 'retries', notify: 'notices', suspend: 'suspensions', restore: 'restores', end_of_line: 'endOfLine' };

/**
 * The dunning run: ticks every payer whose wake-up time has come (retries, grace limits, the end
 * of a card wait). Called by the daily scheduled run; safe to run twice at once.
 */
export async function runDunning(deps: BillingDeps, now: number, options: { organisationId?: string } = {}): Promise<{ ticked: number; failed: number }> {
  const due = await deps.db
    .select({ payerId: dunningStates.payerId, organisationId: dunningStates.organisationId })
    .from(dunningStates)
    .where(and(sql`${dunningStates.nextWakeAt} <= ${now}`, options.organisationId ? eq(dunningStates.organisationId, options.organisationId) : undefined))
    .orderBy(asc(dunningStates.nextWakeAt))
    .limit(500);
  let failed = 0;
  const tally = new JobTally();
  for (const d of due) {
    try {
      const step = await noteDunning(deps, d.organisationId, d.payerId, { type: 'tick' }, now);
      tally.add(d.organisationId, now, 'payers');
      for (const action of step?.actions ?? []) tally.add(d.organisationId, now, ACTION_COUNTS[action.type]);
    } catch (error) {
      failed++;
      tally.add(d.organisationId, now, 'failed');
      console.error(JSON.stringify({ msg: 'dunning tick failed', payerId: d.payerId, error: String(error) }));
    }
  }
  try {
    failed += await settleStuckCharges(deps, now, options, tally);
    failed += await enforceSuspensions(deps, now, options, tally);
    await warnOfSuspension(deps, now, options);
  } finally {
    // Recorded last, so the event counts what the repair passes did and failed too, and recorded
    // even when one of them throws.
    await tally.record(deps.db, 'dunning');
  }
  return { ticked: due.length, failed };
}

/**
 * Payers whose memberships do not match what dunning decided (a suspend or restore write that
 * failed: D1 unavailable, a crash between the step and the write). The step is stored before its
 * actions run, so the decision survives; this applies it again. Both writes are idempotent.
 */
async function enforceSuspensions(deps: BillingDeps, now: number, options: { organisationId?: string }, tally: JobTally): Promise<number> {
  const uncovered = sql`NOT EXISTS (SELECT 1 FROM subscription_members sm JOIN subscriptions s2 ON s2.id = sm.subscription_id
    WHERE sm.member_id = ds.payer_id AND s2.status != 'ended')`;
  const rows = await deps.db.all<{ payerId: string; organisationId: string; suspended: number }>(sql`
    SELECT ds.payer_id AS payerId, ds.organisation_id AS organisationId, json_extract(ds.state, '$.suspended') AS suspended
    FROM dunning_states ds
    WHERE ${options.organisationId ? sql`ds.organisation_id = ${options.organisationId}` : sql`1`} AND (
      (json_extract(ds.state, '$.suspended') = 1 AND (
        EXISTS (SELECT 1 FROM subscriptions s WHERE s.payer_id = ds.payer_id AND s.organisation_id = ds.organisation_id
          AND s.status IN ('active', 'trialing', 'past_due', 'cancelled') AND json_extract(s.state, '$.suspension') IS NULL)
        OR EXISTS (SELECT 1 FROM members m WHERE m.id = ds.payer_id AND m.status = 'active' AND m.suspension IS NULL AND ${uncovered})))
      OR (json_extract(ds.state, '$.suspended') = 0 AND (
        EXISTS (SELECT 1 FROM subscriptions s WHERE s.payer_id = ds.payer_id AND s.organisation_id = ds.organisation_id
          AND s.status != 'ended' AND json_extract(s.state, '$.suspension') = 'payment_overdue')
        OR EXISTS (SELECT 1 FROM members m WHERE m.id = ds.payer_id AND m.status = 'suspended' AND m.suspension = 'payment_overdue' AND ${uncovered})))
    )
    LIMIT 100`);
  let failed = 0;
  for (const row of rows) {
    const action = row.suspended ? 'suspend' : 'restore';
    console.warn(JSON.stringify({ msg: 'membership out of step with dunning; applying again', payerId: row.payerId, action }));
    try {
      await onPayersSubscriptions(deps, row.organisationId, row.payerId, now, () => [{ type: action, reason: 'payment_overdue' }]);
      await onUncoveredPayer(deps, row.organisationId, row.payerId, action, now);
      tally.add(row.organisationId, now, 'reapplied');
    } catch (error) {
      failed++;
      tally.add(row.organisationId, now, 'failed');
      console.error(JSON.stringify({ msg: 'dunning suspension not applied', payerId: row.payerId, action, error: String(error) }));
    }
  }
  return failed;
}

/** A dunning charge whose answer never arrived (network trouble, a crash) is looked at again after this long. */
export const STUCK_CHARGE_MS = 15 * 60_000;

/**
 * Cases left in `charging`: the pending payment is sent again with its own idempotency key (the
 * processor replays its answer, nothing is charged twice); a payment already settled whose
 * outcome did not reach dunning is fed to it now.
 */
async function settleStuckCharges(deps: BillingDeps, now: number, options: { organisationId?: string }, tally: JobTally): Promise<number> {
  const { db } = deps;
  const rows = await db
    .select()
    .from(dunningStates)
    .where(
      and(
        sql`json_extract(${dunningStates.state}, '$.phase') = 'charging'`,
        sql`${dunningStates.updatedAt} <= ${now - STUCK_CHARGE_MS}`,
        options.organisationId ? eq(dunningStates.organisationId, options.organisationId) : undefined,
      ),
    )
    .limit(100);
  let failed = 0;
  for (const row of rows) {
    try {
      const s = row.state as DunningState;
      tally.add(row.organisationId, now, 'stuckCharges');
      const invoice = await caseInvoice(db, row.organisationId, row.payerId, s.invoiceNumber);
      if (!invoice || invoice.status === 'paid' || invoice.amountRemaining <= 0) {
        await noteDunning(deps, row.organisationId, row.payerId, { type: 'payment_succeeded' }, now);
        continue;
      }
      const [last] = await db.select().from(payments).where(eq(payments.invoiceId, invoice.id)).orderBy(desc(payments.attempt)).limit(1);
      if (last?.status === 'pending' && last.provider !== 'manual') {
        // An off-session charge is sent again with its own key; a pay-now payment the member left
        // unfinished gives way (after its hold) to the next card attempt.
        const own = last.idempotencyKey === chargeKey(invoice.id, last.attempt);
        await chargeInvoice(deps, invoice, own ? last.attempt : await nextAttempt(db, invoice.id), now);
      } else if (last?.status === 'failed') {
        await noteDunning(
          deps,
          row.organisationId,
          row.payerId,
          { type: 'payment_failed', invoiceNumber: invoice.number ?? invoice.id, declineCode: last.declineCode ?? last.failureCode ?? 'payment_failed', hard: last.hardDecline },
          now,
        );
      }
    } catch (error) {
      failed++;
      tally.add(row.organisationId, now, 'failed');
      console.error(JSON.stringify({ msg: 'dunning charge not settled', payerId: row.payerId, error: String(error) }));
    }
  }
  return failed;
}

const DAY_MS = 86_400_000;
/** How long before the grace days end the member is warned. */
export const SUSPENSION_WARNING_MS = 2 * DAY_MS;

/** "Suspension upcoming": open, unpaused cases whose grace days end within two days (once per case). */
async function warnOfSuspension(deps: BillingDeps, now: number, options: { organisationId?: string }) {
  const rows = await deps.db
    .select()
    .from(dunningStates)
    .where(and(sql`json_extract(${dunningStates.state}, '$.phase') != 'idle'`, options.organisationId ? eq(dunningStates.organisationId, options.organisationId) : undefined))
    .limit(1000);
  const settingsByOrg = new Map<string, DunningSettings>();
  for (const row of rows) {
    const s = row.state as DunningState;
    if (s.suspended || s.paused || s.excluded || s.firstFailedAt === null) continue;
    let settings = settingsByOrg.get(row.organisationId);
    if (!settings) settingsByOrg.set(row.organisationId, (settings = await dunningSettings(deps.db, row.organisationId)));
    const suspendsAt = s.firstFailedAt + settings.policy.graceDays * DAY_MS;
    if (now < suspendsAt - SUSPENSION_WARNING_MS || now >= suspendsAt) continue;
    const invoice = await caseInvoice(deps.db, row.organisationId, row.payerId, s.invoiceNumber);
    await sinkOf(deps, settings, now).notify({
      organisationId: row.organisationId,
      memberId: row.payerId,
      kind: 'suspension_upcoming',
      payload: { invoiceNumber: s.invoiceNumber, amount: s.amountOwed, currency: invoice?.currency ?? 'THB', suspendsAt, dedupeKey: `${row.payerId}:${s.firstFailedAt}` },
    });
  }
}
