import type { DrizzleD1Database } from 'drizzle-orm/d1';
import type * as schema from './db/schema.ts';
import type { Permission } from '../core/permissions.ts';
import type { AuditActorType } from '../core/contracts/audit.ts';

/** One message of BILLING_QUEUE: bill one subscription due at `now` (edge/billing/queue.ts). */
export type BillingMessage = { type: 'bill_subscription'; subscriptionId: string; organisationId: string; now: number };

/** Worker bindings: D1, plain vars from wrangler.toml and secrets (`wrangler secret put`). */
export type Env = {
  DB: D1Database;
  MQTT_TOPIC_PREFIX?: string;
  /** Broker the Worker publishes to, e.g. mqtt://127.0.0.1:1883 or mqtts://broker.example:8883. */
  MQTT_URL?: string;
  /** The Worker's own broker identity: it may only publish notices and commands (core/broker-acl.ts). */
  MQTT_USERNAME?: string;
  MQTT_PASSWORD?: string;
  /** Broker address handed to door agents at enrollment when it differs from MQTT_URL. Each door gets its own user and password. */
  DEVICE_MQTT_URL?: string;
  /** Bearer secret a broker uses to ask /v1/broker/* who a client is and what it may do (unset: those routes answer 404). */
  BROKER_AUTH_SECRET?: string;
  /** Ed25519 private key (JWK JSON) that signs door commands. */
  COMMAND_SIGNING_KEY?: string;
  /** Billing work, one message per subscription due (produced by the daily run, consumed by this Worker). */
  BILLING_QUEUE?: Queue<BillingMessage>;
  /** "off" bills every due subscription on its own instead of plain renewals a page at a time (edge/billing/page.ts). */
  BILLING_PAGE_PATH?: string;
  /** "stripe" (deployed) or "simulated" (local runs and tests: no money moves). */
  PAYMENT_PROVIDER?: string;
  STRIPE_SECRET_KEY?: string;
  /** Stripe's publishable key (pk_live_… / pk_test_…): the pay-now page hands it to Stripe.js. Not a secret. */
  STRIPE_PUBLISHABLE_KEY?: string;
  /**
   * The Worker's public address, e.g. https://gym.example: the origin of the pay-now and update-card
   * links in member notices when the organisation has set no payLinkBase. Unset (and no payLinkBase):
   * notices go out without a link, and the gap is logged. Local runs set it to the local URL.
   */
  PUBLIC_BASE_URL?: string;
  /** Signing secret of the Stripe webhook endpoint (whsec_…). */
  STRIPE_WEBHOOK_SECRET?: string;
  /** Test only: origin of a fake Stripe API, e.g. http://127.0.0.1:12111. */
  STRIPE_API_BASE?: string;
  /** Member notices by email: "resend", "sendgrid" or "dev" (default: the local dev mailbox, nothing leaves the Worker). */
  EMAIL_PROVIDER?: string;
  /** Sender of member email, e.g. "Sukhumvit Gym <billing@gym.example>". */
  EMAIL_FROM?: string;
  RESEND_API_KEY?: string;
  SENDGRID_API_KEY?: string;
  /** Member notices by SMS: "twilio" or "dev" (default: the local dev mailbox). */
  SMS_PROVIDER?: string;
  TWILIO_ACCOUNT_SID?: string;
  TWILIO_AUTH_TOKEN?: string;
  /** Sender number (E.164), alphanumeric sender id, or a Messaging Service SID (MG…). */
  TWILIO_FROM?: string;
  /** Test only: origins of fake provider APIs, e.g. http://127.0.0.1:12112. */
  RESEND_API_BASE?: string;
  SENDGRID_API_BASE?: string;
  TWILIO_API_BASE?: string;
  /** "on" serves GET /dev/mailbox, the page listing what the dev transports stored (local runs only). */
  DEV_MAILBOX?: string;
  /**
   * Where staff open the pages, e.g. https://gym.example: passkeys are made for its host name and
   * accepted only from it. Unset: the address each request came to (fine for one host).
   */
  WEBAUTHN_ORIGIN?: string;
};

export type Db = DrizzleD1Database<typeof schema>;

/** A signed-in staff person (edge/staff/): the session, who they are, and what they may do here. */
export type StaffSessionContext = {
  session: typeof schema.staffSessions.$inferSelect;
  /** `mfa`: the person has a second factor (authenticator app or passkey). */
  user: { id: string; name: string; email: string; mfa: boolean };
  /** The person signs in with an authenticator app (code) as well as a password. */
  totp: boolean;
  organisationName: string;
  /** The organisation requires an authenticator app and this person has none yet. */
  mfaSetupRequired: boolean;
  /** `roles`: built-in role names and custom role ids. */
  member: { id: string; roles: string[]; siteIds: string[] | null };
  permissions: Permission[];
  /** The session's secret, from the cookie: its CSRF token derives from it. */
  token: string;
};

export type AppVariables = {
  db: Db;
  organisationId: string;
  /** The sites the caller works at (a staff membership's or a key's); null: every site. */
  siteIds: string[] | null;
  /** The calling API key's permissions; null for an owner key, which holds them all. */
  scopes: Permission[] | null;
  device: { id: string; organisationId: string; siteId: string };
  /** Who is calling the owner API, as the audit log names them. */
  actor: { type: AuditActorType; id: string | null; name: string | null };
  /** The signed-in staff person, when the caller came with a session cookie rather than a key. */
  staff: StaffSessionContext;
};

export type AppEnv = { Bindings: Env; Variables: AppVariables };
