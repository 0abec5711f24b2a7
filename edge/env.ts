import type { DrizzleD1Database } from 'drizzle-orm/d1';
import type * as schema from './db/schema.ts';

/** Worker bindings: D1, plain vars from wrangler.toml and secrets (`wrangler secret put`). */
export type Env = {
  DB: D1Database;
  MQTT_TOPIC_PREFIX?: string;
  /** Broker the Worker publishes to, e.g. mqtt://127.0.0.1:1883 or mqtts://broker.example:8883. */
  MQTT_URL?: string;
  MQTT_USERNAME?: string;
  MQTT_PASSWORD?: string;
  /** Broker address handed to door agents at enrollment when it differs from MQTT_URL. */
  DEVICE_MQTT_URL?: string;
  DEVICE_MQTT_USERNAME?: string;
  DEVICE_MQTT_PASSWORD?: string;
  /** Ed25519 private key (JWK JSON) that signs door commands. */
  COMMAND_SIGNING_KEY?: string;
};

export type Db = DrizzleD1Database<typeof schema>;

export type AppVariables = {
  db: Db;
  organisationId: string;
  device: { id: string; organisationId: string; siteId: string };
};

export type AppEnv = { Bindings: Env; Variables: AppVariables };
