// What travels between the Worker and the door agents: enrollment, the entitlement snapshot,
// the MQTT change notification and check-in uploads. Times on this wire are epoch milliseconds.
import { z } from 'zod';
import { AccessReason, CheckinId, DeviceId, DoorId, MemberId, OrganisationId, SiteId } from './api.ts';
import { MemberStatus } from './common.ts';

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
  })
  .meta({ id: 'EnrollResponse' });
export type EnrollResponse = z.infer<typeof EnrollResponse>;

export const SnapshotDoor = z.object({ id: DoorId, name: z.string() });
export const SnapshotMember = z.object({ id: MemberId, status: MemberStatus });

export const EntitlementSnapshot = z
  .object({
    siteId: SiteId,
    version: z.number().int().min(0),
    serverTime: z.number().int().meta({ description: 'Server clock when the snapshot was cut, epoch ms' }),
    doors: z.array(SnapshotDoor),
    members: z.array(SnapshotMember),
    credentials: z
      .array(z.tuple([z.string(), z.number().int().min(0)]))
      .meta({ description: 'Pairs of [credential key, index into members]' }),
  })
  .meta({ id: 'EntitlementSnapshot' });
export type EntitlementSnapshot = z.infer<typeof EntitlementSnapshot>;

/** Published on `<topicPrefix>/sites/<siteId>/entitlements`, retained. No personal data. */
export const EntitlementNotice = z.object({ siteId: SiteId, version: z.number().int().min(0) });
export type EntitlementNotice = z.infer<typeof EntitlementNotice>;

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
  })
  .meta({ id: 'CheckinUpload' });
export type CheckinUpload = z.infer<typeof CheckinUpload>;

export const CheckinBatch = z
  .object({ events: z.array(CheckinUpload).min(1).max(200) })
  .meta({ id: 'CheckinBatch' });
export const CheckinBatchResult = z
  .object({ accepted: z.number().int(), duplicates: z.number().int() })
  .meta({ id: 'CheckinBatchResult' });
