// The agent's one MQTT connection: entitlement notices and signed commands come in on it, and it
// carries the door's presence. The broker holds a retained last will `{online: false}` on the
// presence topic, published for us if the connection drops; on every connect the agent publishes
// `{online: true}` (retained), and on a clean stop `{online: false}` (retained) before it leaves.
import { connect, type IClientPublishOptions, type IPublishPacket, type MqttClient } from 'mqtt';
import { presenceTopic } from '../../core/contracts/wire.ts';
import type { Logger } from '../log/logger.ts';

/** Largest MQTT message the agent will look at (an inline delta is at most a few KiB). */
export const MAX_MESSAGE_BYTES = 64 * 1024;

export type BrokerSettings = {
  url: string;
  username?: string;
  password?: string;
  clientId: string;
};

export type MessageHandler = (payload: Buffer, packet: IPublishPacket) => void;

const HOUR = 3_600_000;

/** Hides credentials embedded in a broker URL before it is logged. */
export function redact(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return url;
  }
}

/** Broker reconnections over the last hour; survives a soft restart of the link. */
export class ReconnectCounter {
  private readonly times: number[] = [];
  constructor(private readonly now: () => number = Date.now) {}
  record(): void {
    this.times.push(this.now());
    this.prune();
  }
  private prune() {
    const cutoff = this.now() - HOUR;
    while (this.times.length > 0 && (this.times[0] as number) < cutoff) this.times.shift();
  }
  get lastHour(): number {
    this.prune();
    return this.times.length;
  }
}

export type BrokerLinkOptions = {
  settings: BrokerSettings;
  deviceId: string;
  topicPrefix: string;
  log: Logger;
  /** Corrected clock for presence timestamps. */
  now: () => number;
  reconnects: ReconnectCounter;
};

export class BrokerLink {
  private client: MqttClient | undefined;
  private readonly handlers = new Map<string, MessageHandler>();
  private connectedOnce = false;
  private errorLogged = false;
  connected = false;

  constructor(private readonly options: BrokerLinkOptions) {}

  get presenceTopic(): string {
    return presenceTopic(this.options.topicPrefix, this.options.deviceId);
  }

  private presence(online: boolean, at: number | null): Buffer {
    return Buffer.from(JSON.stringify({ deviceId: this.options.deviceId, online, at }));
  }

  /** Registers a handler for a topic (QoS 1), subscribed on every connect. Call before start. */
  subscribe(topic: string, handler: MessageHandler): void {
    this.handlers.set(topic, handler);
    if (this.connected) this.client?.subscribe(topic, { qos: 1 });
  }

  start(): void {
    const { settings, log } = this.options;
    const client = connect(settings.url, {
      clientId: settings.clientId,
      username: settings.username,
      password: settings.password,
      clean: true,
      resubscribe: false,
      reconnectPeriod: 2000,
      // A refused CONNACK (the broker cannot reach what checks credentials, or the door was revoked)
      // is retried like a lost connection: a door recovers by itself once the broker lets it in.
      reconnectOnConnackError: true,
      connectTimeout: 5000,
      keepalive: 30,
      will: { topic: this.presenceTopic, payload: this.presence(false, null), qos: 1, retain: true },
    });
    this.client = client;
    client.on('connect', () => {
      this.connected = true;
      this.errorLogged = false;
      if (this.connectedOnce) this.options.reconnects.record();
      this.connectedOnce = true;
      log.info('broker connected', { url: redact(settings.url), topics: [...this.handlers.keys()] });
      const retained: IClientPublishOptions = { qos: 1, retain: true };
      client.publish(this.presenceTopic, this.presence(true, this.options.now()), retained, (error) => {
        if (error) log.warn('cannot publish presence', { error });
      });
      for (const topic of this.handlers.keys()) {
        client.subscribe(topic, { qos: 1 }, (error) => {
          if (error) log.error('cannot subscribe', { topic, error });
        });
      }
    });
    client.on('close', () => {
      if (this.connected) log.warn('broker disconnected; periodic pulls continue', { url: redact(settings.url) });
      this.connected = false;
    });
    client.on('error', (error) => {
      // Reconnection failures repeat every couple of seconds: log the first of a run at warn.
      log[this.errorLogged ? 'debug' : 'warn']('broker error', { url: redact(settings.url), error });
      this.errorLogged = true;
    });
    client.on('message', (topic, payload, packet) => {
      const handler = this.handlers.get(topic);
      if (!handler) return;
      // Notices and commands are small; anything this big is not ours to parse.
      if (payload.byteLength > MAX_MESSAGE_BYTES) {
        log.warn('dropping an oversized broker message', { topic, bytes: payload.byteLength, limit: MAX_MESSAGE_BYTES });
        return;
      }
      try {
        handler(payload, packet);
      } catch (error) {
        log.error('a broker message handler failed', { topic, error });
      }
    });
  }

  /** Publishes `{online: false}` (retained) if connected, then disconnects. */
  async stop(): Promise<void> {
    const client = this.client;
    this.client = undefined;
    if (!client) return;
    const bounded = <T>(p: Promise<T>, ms: number) => Promise.race([p, new Promise<void>((resolve) => setTimeout(resolve, ms).unref())]);
    if (this.connected) {
      await bounded(
        client.publishAsync(this.presenceTopic, this.presence(false, this.options.now()), { qos: 1, retain: true }).catch((error: unknown) => {
          this.options.log.warn('cannot publish offline presence', { error });
        }),
        1500,
      );
    }
    // A graceful end sends DISCONNECT, so the broker drops the last will instead of publishing it
    // over our retained offline presence; if that stalls, the socket is closed anyway.
    await bounded(client.endAsync(false).catch(() => undefined), 1500);
    if (!client.disconnected) await bounded(client.endAsync(true).catch(() => undefined), 1000);
    this.connected = false;
  }
}
