// Billing sits below dunning: billing tells dunning what happened to a payer's money and asks it
// two things, but never imports it (dunning imports billing to charge, suspend and write off).
// Dunning answers through the DunningPort it registers once at start (edge/wiring.ts); before
// that a call fails loudly rather than letting a payment outcome skip dunning.
import type { DunningState } from '../../core/billing/dunning.ts';
import type { Db } from '../env.ts';
import type { BillingDeps } from './deps.ts';

/** What billing tells dunning about a payer: a payment's outcome, a change of what they owe, a new card. */
export type PayerEvent =
  | { type: 'payment_failed'; invoiceNumber: string; declineCode: string; hard: boolean }
  | { type: 'payment_succeeded' }
  | { type: 'amount_owed_changed' }
  | { type: 'card_updated' };

export interface DunningPort {
  /** Dunning takes its next step for the payer (a retry, a notice, a restore…). */
  payerChanged(deps: BillingDeps, organisationId: string, payerId: string, event: PayerEvent, now: number): Promise<unknown>;
  /** How many days past its paid-through date a membership keeps door access (the dunning policy's grace). */
  graceDays(db: Db, organisationId: string): Promise<number>;
  /** The payer's dunning state, shown with their billing; null when nothing is tracked. */
  stateOf(db: Db, payerId: string): Promise<DunningState | null>;
}

let port: DunningPort | null = null;

/** Connects dunning to billing; called once, by edge/wiring.ts. */
export function connectDunning(dunning: DunningPort): void {
  port = dunning;
}

function dunning(): DunningPort {
  if (!port) throw new Error('dunning is not connected to billing: wireSubsystems() (edge/wiring.ts) must run first');
  return port;
}

export const tellDunning = (deps: BillingDeps, organisationId: string, payerId: string, event: PayerEvent, now: number) =>
  dunning().payerChanged(deps, organisationId, payerId, event, now);
export const dunningGraceDays = (db: Db, organisationId: string) => dunning().graceDays(db, organisationId);
export const dunningStateOf = (db: Db, payerId: string) => dunning().stateOf(db, payerId);
