// Announces new entitlement versions over MQTT after the response. The notice names the site
// and version and, when small, carries the delta itself, signed with the door-command key: a door
// applies nothing it cannot verify, and pulls anything else over HTTPS.
import { entitlementTopic, type EntitlementNotice, type SignedDeltaBody } from '../../core/contracts/wire.ts';
import { commandPublicKey, signText } from '../lib/signing.ts';
import { entitlementDelta, type HashWrites } from './state.ts';
import type { Db, Env } from '../env.ts';
import { publishMessages } from './mqtt-publisher.ts';

/** A site whose entitlement version a write moved on (edge/entitlements/changes.ts): what is announced. */
export type BumpedSite = { siteId: string; organisationId: string; version: number };

export const topicPrefix = (env: Env) => env.MQTT_TOPIC_PREFIX || 'gymgate';
export const orgTopicPrefix = (env: Env, organisationId: string) => `${topicPrefix(env)}/${organisationId}`;

/** Inline deltas above this size are left for the door to pull. */
const INLINE_DELTA_BYTES = 4096;

export const brokerOf = (env: Env) =>
  env.MQTT_URL ? { url: env.MQTT_URL, username: env.MQTT_USERNAME, password: env.MQTT_PASSWORD } : null;

async function noticeFor(env: Env, db: Db, b: BumpedSite, writes: HashWrites): Promise<EntitlementNotice> {
  // Without a signing key there is nothing a door could verify: the notice is only a hint to pull.
  if (!commandPublicKey(env.COMMAND_SIGNING_KEY)) return { siteId: b.siteId, version: b.version };
  try {
    // Only a delta goes inline: when the log cannot give one, the door pulls whatever it needs.
    const update = await entitlementDelta(db, b.siteId, b.version - 1, Date.now(), writes, { hashStale: true });
    if (update && update !== 'full' && update.kind === 'delta' && update.delta.version === b.version) {
      const d = update.delta;
      const body: SignedDeltaBody = { organisationId: b.organisationId, siteId: d.siteId, fromVersion: d.fromVersion, version: d.version, hash: d.hash, delta: d };
      const text = JSON.stringify(body);
      if (text.length <= INLINE_DELTA_BYTES) {
        return { siteId: b.siteId, version: b.version, signedDelta: { text, signature: await signText(env.COMMAND_SIGNING_KEY, text, 'inline deltas') } };
      }
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
  // The sites' remembered hashes are written alongside: the notices do not wait for those commits.
  const afterwards: Promise<unknown>[] = [];
  const writes: HashWrites = { later: (write) => afterwards.push(write.catch((err) => console.error(JSON.stringify({ msg: 'site hash not remembered', error: String(err) })))) };
  for (const [organisationId, changes] of byOrg) {
    try {
      const notices = await Promise.all(changes.map((b) => noticeFor(env, db, b, writes)));
      // A notice without its delta sends doors to pull at once: they find the hash remembered.
      if (notices.some((n) => !n.signedDelta)) await Promise.all(afterwards);
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
  await Promise.all(afterwards);
}
