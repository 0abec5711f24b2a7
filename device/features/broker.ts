// The broker feature: the door's link to the MQTT broker as its own user, subscribed to its site's
// entitlement notices (handed to the sync, which verifies any inline data) and its own commands
// (handed to the command receiver, which verifies them). Without a broker the door relies on
// periodic pulls.
import { commandTopic } from '../../core/commands.ts';
import { EntitlementNotice, entitlementTopic } from '../../core/contracts/wire.ts';
import type { AgentConfig, DeviceIdentity } from '../config/schema.ts';
import type { Logger } from '../log/logger.ts';
import { BrokerLink, type BrokerSettings, type MessageHandler, type ReconnectCounter } from '../mqtt/broker-link.ts';

/** Where a broker comes from: --mqtt, then config.json, then the enrollment response; or none. */
export function brokerSettings(identity: DeviceIdentity, config: AgentConfig | undefined, mqttUrl: string | undefined): BrokerSettings | undefined {
  const clientId = `gymgate-${identity.deviceId}`;
  const chosen = config?.mqtt ?? identity.mqtt;
  // --mqtt moves the door to another broker address; the door's own broker identity goes with it.
  if (mqttUrl) return { url: mqttUrl, username: chosen?.username, password: chosen?.password, clientId };
  if (!chosen) return undefined;
  return { url: chosen.url, username: chosen.username, password: chosen.password, clientId };
}

export type BrokerOptions = {
  identity: DeviceIdentity;
  settings: BrokerSettings | undefined;
  log: Logger;
  now: () => number;
  reconnects: ReconnectCounter;
  notice: (notice: EntitlementNotice) => void;
  command: MessageHandler;
};

/** The door's broker link with its two subscriptions, not yet started; undefined without a broker. */
export function brokerLinkFor(o: BrokerOptions): BrokerLink | undefined {
  const { identity, settings, log } = o;
  if (!settings) {
    log.info('no MQTT broker configured; relying on periodic pulls');
    return undefined;
  }
  const link = new BrokerLink({ settings, deviceId: identity.deviceId, topicPrefix: identity.topicPrefix, log, now: o.now, reconnects: o.reconnects });
  const noticeTopic = entitlementTopic(identity.topicPrefix, identity.siteId);
  link.subscribe(noticeTopic, (payload) => {
    let notice: EntitlementNotice;
    try {
      notice = EntitlementNotice.parse(JSON.parse(payload.toString('utf8')));
    } catch {
      log.warn('ignoring a malformed entitlement notice', { topic: noticeTopic });
      return;
    }
    o.notice(notice);
  });
  link.subscribe(commandTopic(identity.topicPrefix, identity.deviceId), (payload, packet) => o.command(payload, packet));
  return link;
}
