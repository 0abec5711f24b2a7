// Who a client of the MQTT broker is. Every door has its own identity, issued at enrollment:
// username = its device id, password = a random secret whose mosquitto-format hash is kept on the
// device row. The Worker's own publisher is MQTT_USERNAME / MQTT_PASSWORD. Revoking a device
// removes its identity: the broker hooks and the mosquitto files both read from here.
import { and, eq, isNotNull, isNull } from 'drizzle-orm';
import { brokerRules, type AclRule, type BrokerIdentity } from '../../../core/broker-acl.ts';
import { devices } from '../../db/schema.ts';
import type { Db, Env } from '../../env.ts';
import { newSecret } from '../../lib/ids.ts';
import { topicPrefix } from '../../entitlements/index.ts';
import { hashBrokerPassword, verifyBrokerPassword } from './password-hash.ts';

export type BrokerClient = BrokerIdentity & { username: string; rules: AclRule[] };

/** A new broker password for a door and the hash to store (mosquitto's `$7$` PBKDF2-SHA512). */
export async function newDevicePassword(): Promise<{ password: string; hash: string }> {
  const password = newSecret('ggm');
  return { password, hash: await hashBrokerPassword(password) };
}

const sameText = (a: string, b: string) => {
  // Constant time over the longer input: the publisher's password is compared on every connect.
  const x = new TextEncoder().encode(a);
  const y = new TextEncoder().encode(b);
  let diff = x.length ^ y.length;
  for (let i = 0; i < Math.max(x.length, y.length); i++) diff |= (x[i] ?? 0) ^ (y[i] ?? 0);
  return diff === 0;
};

const publisherOf = (env: Env): BrokerClient | null =>
  env.MQTT_USERNAME ? { role: 'publisher', username: env.MQTT_USERNAME, rules: brokerRules({ role: 'publisher' }, topicPrefix(env)) } : null;

const deviceClient = (env: Env, d: { id: string; organisationId: string; siteId: string }): BrokerClient => {
  const identity: BrokerIdentity = { role: 'device', organisationId: d.organisationId, siteId: d.siteId, deviceId: d.id };
  return { ...identity, username: d.id, rules: brokerRules(identity, topicPrefix(env)) };
};

/** The client named `username`, without checking a password (the broker asks once it has authenticated it). */
export async function brokerClientNamed(env: Env, db: Db, username: string): Promise<BrokerClient | null> {
  const publisher = publisherOf(env);
  if (publisher && username === publisher.username) return publisher;
  if (!username.startsWith('dev_')) return null;
  const [device] = await db
    .select({ id: devices.id, organisationId: devices.organisationId, siteId: devices.siteId })
    .from(devices)
    .where(and(eq(devices.id, username), isNull(devices.revokedAt), isNotNull(devices.mqttPasswordHash)));
  return device ? deviceClient(env, device) : null;
}

/** Checks a CONNECT's credentials: the client and its rules, or null (unknown, wrong password, revoked). */
export async function authenticateBrokerClient(env: Env, db: Db, username: string, password: string): Promise<BrokerClient | null> {
  const publisher = publisherOf(env);
  if (publisher && username === publisher.username) return env.MQTT_PASSWORD && sameText(password, env.MQTT_PASSWORD) ? publisher : null;
  if (!username.startsWith('dev_')) return null;
  const [device] = await db
    .select({ id: devices.id, organisationId: devices.organisationId, siteId: devices.siteId, hash: devices.mqttPasswordHash })
    .from(devices)
    .where(and(eq(devices.id, username), isNull(devices.revokedAt)));
  if (!device?.hash || !(await verifyBrokerPassword(password, device.hash))) return null;
  return deviceClient(env, device);
}

/** Every identity the broker should know, with its password hash: for mosquitto's files. */
export async function allBrokerClients(env: Env, db: Db): Promise<Array<BrokerClient & { hash: string }>> {
  const rows = await db
    .select({ id: devices.id, organisationId: devices.organisationId, siteId: devices.siteId, hash: devices.mqttPasswordHash })
    .from(devices)
    .where(and(isNull(devices.revokedAt), isNotNull(devices.mqttPasswordHash)));
  const out = rows.map((d) => ({ ...deviceClient(env, d), hash: d.hash as string }));
  const publisher = publisherOf(env);
  if (publisher && env.MQTT_PASSWORD) out.unshift({ ...publisher, hash: await hashBrokerPassword(env.MQTT_PASSWORD) });
  return out;
}
