// "Access changed" bookkeeping: every write that can change who may pass a door bumps the
// entitlement version of the affected sites in the same D1 batch, and the new versions are
// announced over MQTT after the response (the doors then pull the data over HTTPS).
import { eq, sql } from 'drizzle-orm';
import { entitlementTopic, type EntitlementNotice } from '../../core/contracts/wire.ts';
import { sites } from '../db/schema.ts';
import type { Db, Env } from '../env.ts';
import { publishRetained } from './mqtt-publisher.ts';

export const topicPrefix = (env: Env) => env.MQTT_TOPIC_PREFIX || 'gymgate';

/** The statement that bumps versions; put it in the same batch as the change it announces. */
export const bumpSiteVersions = (db: Db, scope: { organisationId: string } | { siteId: string }) =>
  db
    .update(sites)
    .set({ entitlementVersion: sql`${sites.entitlementVersion} + 1` })
    .where('siteId' in scope ? eq(sites.id, scope.siteId) : eq(sites.organisationId, scope.organisationId))
    .returning({ siteId: sites.id, organisationId: sites.organisationId, version: sites.entitlementVersion });

export type BumpedSite = { siteId: string; organisationId: string; version: number };

export async function announceEntitlementChanges(env: Env, bumped: BumpedSite[]): Promise<void> {
  if (!env.MQTT_URL || bumped.length === 0) return;
  const byOrg = new Map<string, BumpedSite[]>();
  for (const b of bumped) byOrg.set(b.organisationId, [...(byOrg.get(b.organisationId) ?? []), b]);
  for (const [organisationId, changes] of byOrg) {
    try {
      await publishRetained(
        { url: env.MQTT_URL, username: env.MQTT_USERNAME, password: env.MQTT_PASSWORD },
        changes.map((b) => ({
          topic: entitlementTopic(`${topicPrefix(env)}/${organisationId}`, b.siteId),
          payload: JSON.stringify({ siteId: b.siteId, version: b.version } satisfies EntitlementNotice),
        })),
        { clientId: `gymgate-worker-${crypto.randomUUID().slice(0, 8)}` },
      );
    } catch (err) {
      // Doors still converge through their periodic pull; the failure is only logged.
      console.error(JSON.stringify({ msg: 'entitlement notice not published', organisationId, error: String(err) }));
    }
  }
}
