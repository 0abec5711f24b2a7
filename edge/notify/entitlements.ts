// Announces new entitlement versions over MQTT after the response. The notice names the site
// and version (and, when small, carries the delta itself); doors pull anything else over HTTPS.
import { entitlementTopic, type EntitlementNotice } from '../../core/contracts/wire.ts';
import type { BumpedSite } from '../entitlements/changes.ts';
import { entitlementUpdate } from '../entitlements/state.ts';
import type { Db, Env } from '../env.ts';
import { publishMessages } from './mqtt-publisher.ts';

export const topicPrefix = (env: Env) => env.MQTT_TOPIC_PREFIX || 'gymgate';
export const orgTopicPrefix = (env: Env, organisationId: string) => `${topicPrefix(env)}/${organisationId}`;

/** Inline deltas above this size are left for the door to pull. */
const INLINE_DELTA_BYTES = 4096;

export const brokerOf = (env: Env) =>
  env.MQTT_URL ? { url: env.MQTT_URL, username: env.MQTT_USERNAME, password: env.MQTT_PASSWORD } : null;

async function noticeFor(db: Db, b: BumpedSite): Promise<EntitlementNotice> {
  try {
    const update = await entitlementUpdate(db, b.siteId, b.version - 1, Date.now());
    if (update?.kind === 'delta' && update.delta.version === b.version && JSON.stringify(update.delta).length <= INLINE_DELTA_BYTES) {
      return { siteId: b.siteId, version: b.version, delta: update.delta };
    }
  } catch (err) {
    console.error(JSON.stringify({ msg: 'inline delta not built', siteId: b.siteId, error: String(err) }));
  }
  return { siteId: b.siteId, version: b.version };
}

export async function announceEntitlementChanges(env: Env, db: Db, bumped: BumpedSite[]): Promise<void> {
  const broker = brokerOf(env);
  if (!broker || bumped.length === 0) return;
  const byOrg = new Map<string, BumpedSite[]>();
  for (const b of bumped) byOrg.set(b.organisationId, [...(byOrg.get(b.organisationId) ?? []), b]);
  for (const [organisationId, changes] of byOrg) {
    try {
      const notices = await Promise.all(changes.map((b) => noticeFor(db, b)));
      await publishMessages(
        broker,
        notices.map((n) => ({ topic: entitlementTopic(orgTopicPrefix(env, organisationId), n.siteId), payload: JSON.stringify(n), retain: true })),
        { clientId: `gymgate-worker-${crypto.randomUUID().slice(0, 8)}` },
      );
    } catch (err) {
      // Doors still converge through their periodic pull; the failure is only logged.
      console.error(JSON.stringify({ msg: 'entitlement notice not published', organisationId, error: String(err) }));
    }
  }
}
