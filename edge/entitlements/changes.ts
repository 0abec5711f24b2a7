// Every write that can change who may pass a door records what changed, in the same D1 batch:
// the affected sites' versions go up by one and the change log gets a row per changed record at
// the new version. Deltas for doors are read back from that log.
import { eq, inArray, sql, type SQL } from 'drizzle-orm';
import type { BatchItem } from 'drizzle-orm/batch';
import { sites } from '../db/schema.ts';
import type { Db, Env } from '../env.ts';
import { field, jsonRows, raw } from '../lib/json-rows.ts';
import { announceEntitlementChanges, type BumpedSite } from './notices.ts';

export type ChangeKind = 'site' | 'door' | 'profile' | 'member' | 'credential';
export type Change = { kind: ChangeKind; entityId: string };
export type ChangeScope = { organisationId: string } | { siteId: string } | { siteIds: string[] };

const scopeWhere = (scope: ChangeScope): SQL | undefined =>
  'siteId' in scope ? eq(sites.id, scope.siteId) : 'siteIds' in scope ? inArray(sites.id, scope.siteIds) : eq(sites.organisationId, scope.organisationId);

/**
 * Statements to add to the batch that makes the change: first the version bump (its result
 * lists the bumped sites), then one change-log insert per changed record.
 */
export function recordChanges(db: Db, scope: ChangeScope, changes: Change[]) {
  const where = scopeWhere(scope);
  const bump = db
    .update(sites)
    .set({ entitlementVersion: sql`${sites.entitlementVersion} + 1` })
    .where(where)
    .returning({ siteId: sites.id, organisationId: sites.organisationId, version: sites.entitlementVersion });
  // One statement for every changed record, however many (a billing page changes hundreds).
  const log = changes.length
    ? [
        raw(
          db,
          sql`INSERT INTO entitlement_changes (site_id, version, kind, entity_id)
            SELECT ${sites.id}, ${sites.entitlementVersion}, ${field('kind')}, ${field('entityId')} FROM ${sites}, ${jsonRows(changes)}
            WHERE ${where ?? sql`true`} ON CONFLICT DO NOTHING`,
        ),
      ]
    : [];
  return [bump, ...log] as const;
}

/**
 * Runs `statements` and the change records as one D1 batch (one transaction), then announces the
 * new versions after the response. Returns the results of `statements`, in order.
 */
export async function writeWithChanges(
  c: { var: { db: Db }; env: Env; executionCtx: { waitUntil(p: Promise<unknown>): void } },
  statements: BatchItem<'sqlite'>[],
  scope: ChangeScope,
  changes: Change[],
): Promise<unknown[]> {
  const db = c.var.db;
  const [bump, ...log] = recordChanges(db, scope, changes);
  const results = (await db.batch([...statements, bump, ...log] as unknown as [BatchItem<'sqlite'>, ...BatchItem<'sqlite'>[]])) as unknown[];
  const bumped = results[statements.length] as BumpedSite[];
  c.executionCtx.waitUntil(announceEntitlementChanges(c.env, db, bumped));
  return results.slice(0, statements.length);
}
