// Keeps each payer's DunningState (core/billing/dunning.ts) up to date with the payment outcomes
// billing sees, and the time it asks to be woken. The actions it returns (retries, notices,
// suspension, end of line) are not carried out yet: the state is stored so that the dunning
// worker can start from it.
import { and, eq } from 'drizzle-orm';
import { DEFAULT_DUNNING_POLICY, INITIAL_DUNNING_STATE, nextDunningStep, type DunningEvent, type DunningState } from '../../core/billing/dunning.ts';
import { dunningStates } from '../db/schema.ts';
import type { BillingDeps } from './deps.ts';
import { memberLedger } from './records.ts';

type Partial =
  | { type: 'payment_failed'; invoiceNumber: string; declineCode: string; hard: boolean }
  | { type: 'payment_succeeded' }
  | { type: 'amount_owed_changed' }
  | { type: 'card_updated' };

export async function noteDunning(deps: BillingDeps, organisationId: string, payerId: string, partial: Partial, now: number): Promise<void> {
  const { db } = deps;
  const amountOwed = partial.type === 'card_updated' ? 0 : (await memberLedger(db, organisationId, payerId)).amountOwed;
  const event: DunningEvent =
    partial.type === 'payment_failed'
      ? { type: 'payment_failed', invoiceNumber: partial.invoiceNumber, amountOwed, declineCode: partial.declineCode, hard: partial.hard }
      : partial.type === 'card_updated'
        ? { type: 'card_updated' }
        : { type: partial.type, amountOwed };
  // Compare-and-swap on the row's version; a lost race reads again.
  for (let i = 0; i < 5; i++) {
    const [row] = await db.select().from(dunningStates).where(eq(dunningStates.payerId, payerId));
    const state = (row?.state as DunningState | undefined) ?? INITIAL_DUNNING_STATE;
    if (!row && partial.type !== 'payment_failed') return; // nothing to track until something fails
    const step = nextDunningStep(DEFAULT_DUNNING_POLICY, state, event, now);
    if (!row) {
      const inserted = await db
        .insert(dunningStates)
        .values({ payerId, organisationId, state: step.state, nextWakeAt: step.nextWakeAt, version: 1, updatedAt: now })
        .onConflictDoNothing()
        .returning({ payerId: dunningStates.payerId });
      if (inserted.length > 0) return;
      continue;
    }
    const updated = await db
      .update(dunningStates)
      .set({ state: step.state, nextWakeAt: step.nextWakeAt, version: row.version + 1, updatedAt: now })
      .where(and(eq(dunningStates.payerId, payerId), eq(dunningStates.version, row.version)))
      .returning({ payerId: dunningStates.payerId });
    if (updated.length > 0) return;
  }
}

export async function dunningStateOf(deps: Pick<BillingDeps, 'db'>, payerId: string): Promise<DunningState | null> {
  const [row] = await deps.db.select().from(dunningStates).where(eq(dunningStates.payerId, payerId));
  return (row?.state as DunningState | undefined) ?? null;
}
