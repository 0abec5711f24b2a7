// The entitlements subsystem: the per-site change log every writer records into (changes.ts), the
// snapshots and deltas doors sync from (state.ts, built from records.ts) and the signed notices
// over MQTT that tell doors a site changed (notices.ts, mqtt-publisher.ts). It depends on no writer.
export { recordChanges, writeWithChanges, type Change, type ChangeKind, type ChangeScope } from './changes.ts';
export { publishMessages, MqttPublishError, type MqttMessage, type MqttTarget } from './mqtt-publisher.ts';
export { announceEntitlementChanges, brokerOf, orgTopicPrefix, topicPrefix, type BumpedSite } from './notices.ts';
export { accessProfile, doorPolicy, memberAccess, schedulesOf, sitePolicy } from './records.ts';
export { buildSnapshot, currentHash, entitlementUpdate } from './state.ts';
