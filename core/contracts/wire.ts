// What travels between the Worker and the door agents: enrollment, the entitlement snapshot,
// the MQTT change notification and check-in uploads. Times on this wire are epoch milliseconds.
import { z } from 'zod';
import { AccessReason, CheckinId, DeviceId, DoorAlarmType, DoorId, MemberId, OrganisationId, SiteId } from './api.ts';
import { AccessProfile, DoorPolicy, MemberAccess, SitePolicy } from '../entitlement.ts';
import { Schedule } from '../schedule.ts';

/**
 * The problem slug the Worker answers a revoked device's own token with (401). Unlike an unknown
 * token (a typo, a restored backup of another door), it is definite: the agent wipes its cache and
 * stops granting.
 */
export const DEVICE_REVOKED = 'device-revoked';
/** Whether a problem's `type` is the revocation above. */
export const isDeviceRevoked = (problemType: string | undefined) => problemType?.endsWith(`/problems/${DEVICE_REVOKED}`) === true;

export const EnrollRequest = z
  .object({
    code: z.string().trim().min(4, 'must be the code the owner was given').max(32),
    name: z.string().trim().min(1).max(100).optional(),
    agentVersion: z.string().max(40).optional(),
  })
  .meta({ id: 'EnrollRequest' });

export const MqttSettings = z
  .object({
    url: z.string().meta({ description: 'Broker URL for the agent, mqtt:// or mqtts://' }),
    username: z.string().optional(),
    password: z.string().optional(),
  })
  .meta({ id: 'MqttSettings' });
export type MqttSettings = z.infer<typeof MqttSettings>;

export const EnrollResponse = z
  .object({
    deviceId: DeviceId,
    deviceToken: z.string().meta({ description: 'Bearer token for the device endpoints. Shown once.' }),
    organisationId: OrganisationId,
    siteId: SiteId,
    topicPrefix: z.string(),
    mqtt: MqttSettings.nullable(),
    commandPublicKey: z
      .string()
      .nullable()
      .meta({ description: 'Ed25519 public key (raw, base64url) that signs door commands; null when commands are not configured' }),
  })
  .meta({ id: 'EnrollResponse' });
export type EnrollResponse = z.infer<typeof EnrollResponse>;

const credentialPairs = z
  .array(z.tuple([z.string(), z.number().int().min(0)]))
  .meta({ description: 'Pairs of [credential key, index into members]' });

export const EntitlementSnapshot = z
  .object({
    siteId: SiteId,
    version: z.number().int().min(0),
    serverTime: z.number().int().meta({ description: 'Server clock when the snapshot was cut, epoch ms' }),
    hash: z.string().meta({ description: 'Content hash of the state (core/entitlement-hash.ts)' }),
    site: SitePolicy,
    schedules: z.record(z.string(), Schedule),
    doors: z.array(DoorPolicy),
    profiles: z.array(AccessProfile),
    members: z.array(MemberAccess),
    credentials: credentialPairs,
  })
  .meta({ id: 'EntitlementSnapshot' });
export type EntitlementSnapshot = z.infer<typeof EntitlementSnapshot>;

/**
 * The changes between two versions. Parts that are present replace the door's copy whole (site,
 * schedules, doors, profiles); members and credentials change record by record. Members refer to
 * profiles by position in `profiles` when it is present, else in the door's current list.
 */
export const EntitlementDelta = z
  .object({
    siteId: SiteId,
    fromVersion: z.number().int().min(0),
    version: z.number().int().min(0),
    serverTime: z.number().int(),
    hash: z.string(),
    site: SitePolicy.optional(),
    schedules: z.record(z.string(), Schedule).optional(),
    doors: z.array(DoorPolicy).optional(),
    profiles: z.array(AccessProfile).optional(),
    members: z.object({ upsert: z.array(MemberAccess), remove: z.array(z.string()) }),
    credentials: z.object({
      upsert: z.array(z.tuple([z.string(), z.string()])).meta({ description: 'Pairs of [credential key, member id]' }),
      remove: z.array(z.string()),
    }),
  })
  .meta({ id: 'EntitlementDelta' });
export type EntitlementDelta = z.infer<typeof EntitlementDelta>;

/** `GET /v1/device/entitlements?since=N`: a delta when the change log reaches back to N, else a snapshot. */
export const EntitlementUpdate = z
  .discriminatedUnion('kind', [
    z.object({ kind: z.literal('snapshot'), snapshot: EntitlementSnapshot }),
    z.object({ kind: z.literal('delta'), delta: EntitlementDelta }),
    z.object({ kind: z.literal('current'), version: z.number().int(), hash: z.string(), serverTime: z.number().int() }),
  ])
  .meta({ id: 'EntitlementUpdate' });
export type EntitlementUpdate = z.infer<typeof EntitlementUpdate>;

/**
 * What the Worker signs for an inline delta: whom it is for, the versions it moves between, the
 * content hash after it, and the delta itself. Anyone can publish to a broker a door listens to, so
 * a door applies inline data only when this text verifies with the Worker's key.
 */
export const SignedDeltaBody = z.object({
  organisationId: OrganisationId,
  siteId: SiteId,
  fromVersion: z.number().int().min(0),
  version: z.number().int().min(0),
  hash: z.string(),
  delta: EntitlementDelta,
});
export type SignedDeltaBody = z.infer<typeof SignedDeltaBody>;

/** The signed body as the exact text that was signed (Ed25519, the door-command key), and the signature. */
export const SignedDelta = z.object({
  text: z.string().max(16_384),
  signature: z.string().regex(/^[A-Za-z0-9_-]+$/, 'must be url-safe base64'),
});
export type SignedDelta = z.infer<typeof SignedDelta>;

/**
 * Published on `<topicPrefix>/sites/<siteId>/entitlements`, retained. No personal data. Without
 * `signedDelta` it is only a hint to pull over HTTPS; a small delta may ride along signed, so the
 * door can apply it without a round trip. `delta` is what Workers before signing sent: doors
 * never apply it.
 */
export const EntitlementNotice = z.object({
  siteId: SiteId,
  version: z.number().int().min(0),
  signedDelta: SignedDelta.optional(),
  delta: z.unknown().optional(),
});
export type EntitlementNotice = z.infer<typeof EntitlementNotice>;

export const NOTICE_REFUSALS = ['unsigned', 'bad_signature', 'malformed', 'wrong_organisation', 'wrong_site', 'inconsistent'] as const;
export type NoticeRefusal = (typeof NOTICE_REFUSALS)[number];

/**
 * Reads the body of an inline delta whose signature already verified, and checks it is for this
 * door's organisation and site and agrees with itself. Pure: verifying is a WebCrypto call at the door.
 */
export function readSignedDelta(
  text: string,
  door: { organisationId: string; siteId: string },
): { ok: true; body: SignedDeltaBody } | { ok: false; reason: NoticeRefusal; detail: string } {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return { ok: false, reason: 'malformed', detail: 'signed delta is not JSON' };
  }
  const result = SignedDeltaBody.safeParse(parsed);
  if (!result.success) {
    const issue = result.error.issues[0];
    return { ok: false, reason: 'malformed', detail: `${issue?.path.join('.') || '(body)'}: ${issue?.message}` };
  }
  const body = result.data;
  if (body.organisationId !== door.organisationId) return { ok: false, reason: 'wrong_organisation', detail: `signed for ${body.organisationId}` };
  if (body.siteId !== door.siteId) return { ok: false, reason: 'wrong_site', detail: `signed for ${body.siteId}` };
  const d = body.delta;
  if (d.siteId !== body.siteId || d.fromVersion !== body.fromVersion || d.version !== body.version || d.hash !== body.hash) {
    return { ok: false, reason: 'inconsistent', detail: 'the delta does not match the signed site, versions or hash' };
  }
  return { ok: true, body };
}

export const entitlementTopic = (topicPrefix: string, siteId: string) => `${topicPrefix}/sites/${siteId}/entitlements`;

export const CheckinUpload = z
  .object({
    id: CheckinId,
    doorId: DoorId.nullable(),
    memberId: MemberId.nullable(),
    credentialKey: z.string().max(80).nullable(),
    granted: z.boolean(),
    reason: AccessReason,
    explanation: z.string().max(500),
    occurredAt: z.number().int().min(0).meta({ description: 'When the tap happened at the door, epoch ms' }),
    usesPass: z.boolean().default(false).meta({ description: 'The grant used one entry of a day or guest pass' }),
  })
  .meta({ id: 'CheckinUpload' });
export type CheckinUpload = z.infer<typeof CheckinUpload>;

export const CheckinBatch = z
  .object({ events: z.array(CheckinUpload).min(1).max(200) })
  .meta({ id: 'CheckinBatch' });
export const CheckinBatchResult = z
  .object({ accepted: z.number().int(), duplicates: z.number().int() })
  .meta({ id: 'CheckinBatchResult' });

export { DOOR_ALARM_TYPES, DoorAlarmType } from './api.ts';

/** A door alarm as the agent queues it in its outbox (`kind` tells it from a check-in there) and uploads it. */
export const DoorAlarmUpload = z
  .object({
    kind: z.literal('door_alarm'),
    id: z.uuid().meta({ description: 'Event id chosen by the door agent (UUID)' }),
    doorId: DoorId,
    type: DoorAlarmType,
    occurredAt: z.number().int().min(0).meta({ description: 'When the door raised it, epoch ms' }),
    openForMs: z.number().int().min(0).nullable().default(null).meta({ description: 'How long the door had been open (held-open alarms)' }),
  })
  .meta({ id: 'DoorAlarmUpload' });
export type DoorAlarmUpload = z.infer<typeof DoorAlarmUpload>;

export const DoorAlarmBatch = z
  .object({ events: z.array(DoorAlarmUpload).min(1).max(200) })
  .meta({ id: 'DoorAlarmBatch' });

/** What the agent's outbox holds: check-ins and door alarms, in the order they happened. */
export type OutboxEvent = CheckinUpload | DoorAlarmUpload;
export const isDoorAlarm = (event: OutboxEvent): event is DoorAlarmUpload => (event as { kind?: unknown }).kind === 'door_alarm';

export const presenceTopic = (topicPrefix: string, deviceId: string) => `${topicPrefix}/devices/${deviceId}/presence`;

/** Retained on the presence topic: `online` on connect, `offline` as the broker-sent last will. */
export const Presence = z.object({ deviceId: DeviceId, online: z.boolean(), at: z.number().int().nullable() });

/** The problem a door shows, at the door and in the cloud, when driver `auto` fell back to the simulated driver. */
export const SIMULATED_FALLBACK_PROBLEM = 'simulated GPIO: no relay moves (driver "auto" found no usable GPIO; run gymgate-agent doctor)';

export const HeartbeatGpio = z
  .object({
    driver: z.string().min(1).max(40).meta({ description: 'The GPIO driver running the pins: gpiod, onoff or simulated' }),
    simulatedFallback: z
      .boolean()
      .meta({ description: 'Driver "auto" found no usable GPIO and runs the simulated driver: taps are decided but no relay moves' }),
  })
  .meta({ id: 'HeartbeatGpio' });

export const Heartbeat = z
  .object({
    agentVersion: z.string().max(40),
    entitlementVersion: z.number().int().min(0).nullable(),
    entitlementHash: z.string().max(32).nullable(),
    uptimeSeconds: z.number().min(0),
    /** Server time minus door time at the last sync, ms; null = never synced. */
    clockOffsetMs: z.number().nullable(),
    mqttConnected: z.boolean(),
    /** Broker reconnections in the last hour. */
    reconnectsLastHour: z.number().int().min(0),
    outboxPending: z.number().int().min(0),
    /** Optional: agents older than this field do not send it. */
    gpio: HeartbeatGpio.optional(),
  })
  .meta({ id: 'Heartbeat' });
export type Heartbeat = z.infer<typeof Heartbeat>;

/** `GET /v1/device/whoami`: a cheap authenticated check for the technician's `doctor`. */
export const DeviceWhoami = z
  .object({ deviceId: DeviceId, siteId: SiteId, serverTime: z.number().int(), entitlementVersion: z.number().int() })
  .meta({ id: 'DeviceWhoami' });

export const HeartbeatReply = z
  .object({ serverTime: z.number().int(), entitlementVersion: z.number().int(), entitlementHash: z.string() })
  .meta({ id: 'HeartbeatReply' });

export const CommandAck = z
  .object({
    status: z.enum(['executed', 'rejected']),
    reason: z.string().max(40).optional(),
    detail: z.string().max(500).optional(),
  })
  .meta({ id: 'CommandAck' });
export type CommandAck = z.infer<typeof CommandAck>;
