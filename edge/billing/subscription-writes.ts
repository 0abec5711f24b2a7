// Writing a subscription: one compare-and-swap on its version, in the same batch as the member
// updates that follow its entitlement (through writeWithChanges, so the doors hear of it) and its
// event log; those statements only take effect if the swap won.
import { and, eq, inArray, sql, type SQL } from 'drizzle-orm';
import type { BatchItem } from 'drizzle-orm/batch';
import type { Db } from '../env.ts';
import { type CalendarDate } from '../../core/billing/periods.ts';
import type { ProrationLine } from '../../core/billing/proration.ts';
import { applySubscriptionEvent,
  entitlementOf,
  type SubscriptionEntitlement,
  type SubscriptionEvent,
  type SubscriptionState } from '../../core/billing/subscription.ts';
import { members, plans, subscriptions } from '../db/schema.ts';
import { writeWithChanges } from '../entitlements/index.ts';
import { newId } from '../lib/ids.ts';
import { changeContext, type BillingDeps } from './deps.ts';
import { batch, raw, isConstraintError, randomToken } from './invoices.ts';
import { stateOf, type SubscriptionRow } from './records.ts';
import { startOfDay } from './time.ts';
import { dunningGraceDays } from './dunning-port.ts';

import { billingDate } from './subscription-state.ts';

// ---------------------------------------------------------------------------------------------
// Writing

export type Commit = {
  state: SubscriptionState;
  /** Events to log (not the passing of time). */
  events: SubscriptionEvent[];
  nextReviewOn: CalendarDate | null;
  pendingProrations?: ProrationLine[];
  /** Statements that must take effect only if this write wins; given the write's token. */
  extra?: (token: string) => BatchItem<'sqlite'>[];
  /** Members the extra statements change (for the doors), beyond those the subscription covers. */
  alsoChanged?: string[];
  /** The organisation's dunning grace days when the caller has read them (accessGraceDays). */
  graceDays?: number;
};

export const tokenHolds = (subscriptionId: string, token: string): SQL =>
  sql`EXISTS (SELECT 1 FROM subscriptions WHERE id = ${subscriptionId} AND write_token = ${token})`;

type MemberRow = typeof members.$inferSelect;

/**
 * The covered members whose door data must change to follow the entitlement, with their new
 * values, from their rows and the plan's access profile (undefined: the plan is gone, each member
 * keeps theirs).
 */
export function memberChanges(
  row: SubscriptionRow,
  s: SubscriptionState,
  ent: SubscriptionEntitlement,
  now: number,
  covered: { rows: MemberRow[]; planAccessProfileId: string | null | undefined },
) {
  const ids = new Set(ent.memberIds);
  const desired = {
    status: ent.status,
    suspension: ent.status === 'suspended' ? ent.suspension : null,
    validFrom: startOfDay(s.startDate, row.timezone),
    validUntil: startOfDay(ent.validUntil, row.timezone),
  };
  const changes: { id: string; set: typeof desired & { accessProfileId: string | null; updatedAt: number } }[] = [];
  for (const m of covered.rows) {
    if (!ids.has(m.id) || m.organisationId !== row.organisationId) continue;
    // The plan's access profile is the access it grants (null: general doors at every site, 24/7).
    const accessProfileId = covered.planAccessProfileId === undefined ? m.accessProfileId : covered.planAccessProfileId;
    if (
      m.status === desired.status &&
      m.suspension === desired.suspension &&
      m.validFrom === desired.validFrom &&
      m.validUntil === desired.validUntil &&
      m.accessProfileId === accessProfileId
    ) {
      continue;
    }
    changes.push({ id: m.id, set: { ...desired, accessProfileId, updatedAt: now } });
  }
  return changes;
}

/** memberChanges as updates that run only if the subscription write holding `token` won. */
export function memberUpdates(db: Db, row: SubscriptionRow, s: SubscriptionState, ent: SubscriptionEntitlement, token: string, now: number, covered: Parameters<typeof memberChanges>[4]) {
  const changes = memberChanges(row, s, ent, now, covered);
  return {
    statements: changes.map((c) =>
      db
        .update(members)
        .set(c.set)
        .where(and(eq(members.id, c.id), eq(members.organisationId, row.organisationId), tokenHolds(row.id, token))),
    ),
    changed: changes.map((c) => c.id),
  };
}

/** memberUpdates, reading the covered members and the plan first. */
export async function entitlementWrites(deps: BillingDeps, row: SubscriptionRow, s: SubscriptionState, ent: SubscriptionEntitlement, token: string, now: number) {
  const { db } = deps;
  const ids = ent.memberIds;
  if (ids.length === 0) return { statements: [] as BatchItem<'sqlite'>[], changed: [] as string[] };
  const [[plan], rows] = await db.batch([
    db.select({ accessProfileId: plans.accessProfileId }).from(plans).where(eq(plans.id, s.plan.planId)),
    db.select().from(members).where(and(eq(members.organisationId, row.organisationId), inArray(members.id, ids))),
  ]);
  return memberUpdates(db, row, s, ent, token, now, { rows, planAccessProfileId: plan?.accessProfileId });
}

/** The organisation's dunning grace in days: access lasts at least that long after paid-through. */
export async function accessGraceDays(deps: BillingDeps, organisationId: string): Promise<number> {
  return dunningGraceDays(deps.db, organisationId);
}

/**
 * The compare-and-swap of the subscription (first; it returns the id when it won) and the event
 * log, each event written only if the swap won. `token` is the write's.
 */
export function commitStatements(db: Db, row: SubscriptionRow, c: Commit, ent: SubscriptionEntitlement, token: string, now: number): BatchItem<'sqlite'>[] {
  const cas = db
    .update(subscriptions)
    .set(subscriptionWrite(row, c, ent, token, now))
    .where(and(eq(subscriptions.id, row.id), eq(subscriptions.version, row.version)))
    .returning({ id: subscriptions.id });
  const log = subscriptionEventRows(row, c, now).map((e) =>
    raw(db, sql`INSERT INTO subscription_events (id, subscription_id, organisation_id, version, type, date, event, created_at)
      SELECT ${e.id}, ${e.subscriptionId}, ${e.organisationId}, ${e.version}, ${e.type}, ${e.date}, ${JSON.stringify(e.event)}, ${e.createdAt}
      WHERE ${tokenHolds(row.id, token)}`),
  );
  return [cas, ...log];
}

/** What the compare-and-swap writes on the subscription. */
export function subscriptionWrite(row: SubscriptionRow, c: Commit, ent: SubscriptionEntitlement, token: string, now: number) {
  return {
    state: c.state,
    status: ent.status,
    planId: c.state.plan.planId,
    nextReviewOn: c.nextReviewOn,
    nextReviewAt: c.nextReviewOn === null ? null : startOfDay(c.nextReviewOn, row.timezone),
    ...(c.pendingProrations ? { pendingProrations: c.pendingProrations } : {}),
    version: row.version + 1,
    writeToken: token,
    updatedAt: now,
  };
}

/** The subscription_events rows of a commit (written only if its swap won). */
export function subscriptionEventRows(row: SubscriptionRow, c: Commit, now: number) {
  return c.events.map((e, i) => ({
    id: newId('sev', now),
    subscriptionId: row.id,
    organisationId: row.organisationId,
    version: row.version + 1,
    type: e.type,
    date: e.date,
    event: e,
    createdAt: now + i,
  }));
}

/** Compare-and-swap of the subscription; false when another write got there first (nothing was written). */
export async function commitSubscription(deps: BillingDeps, row: SubscriptionRow, c: Commit, now: number): Promise<boolean> {
  const { db } = deps;
  const token = randomToken();
  const ent = entitlementOf(c.state, { minGraceDays: c.graceDays ?? (await accessGraceDays(deps, row.organisationId)) });
  const { statements: memberWrites, changed: covered } = await entitlementWrites(deps, row, c.state, ent, token, now);
  const changed = [...new Set([...covered, ...(c.alsoChanged ?? [])])];
  const statements = [...commitStatements(db, row, c, ent, token, now), ...memberWrites, ...(c.extra?.(token) ?? [])];
  try {
    const results =
      changed.length > 0
        ? await writeWithChanges(changeContext(deps), statements, { organisationId: row.organisationId }, changed.map((entityId) => ({ kind: 'member' as const, entityId })))
        : await batch(db, statements);
    return ((results[0] as unknown[]) ?? []).length > 0;
  } catch (error) {
    if (isConstraintError(error)) return false;
    throw error;
  }
}

/** The subscription's state moved to the day billing acts on at `now` (see billingDate). */
export function stateOnBillingDay(row: SubscriptionRow, now: number): { date: CalendarDate; state: SubscriptionState } {
  const date = billingDate(row, now);
  let state = stateOf(row);
  if (date > state.asOf) {
    const advanced = applySubscriptionEvent(state, { type: 'advance', date });
    if (advanced.ok) state = advanced.state;
  }
  return { date, state };
}
