// The door agent: reads cards, decides with core's access rule against the local entitlement
// cache, pulses the strike on a grant, records every decision in the durable outbox and keeps the
// cache in sync with the Worker. Each part lives in its own folder; this file only wires them.
import { randomUUID } from 'node:crypto';
import { join, resolve } from 'node:path';
import { decideAccess } from '../core/access.ts';
import type { CheckinUpload } from '../core/contracts/wire.ts';
import { entitlementTopic } from '../core/contracts/wire.ts';
import { WorkerClient, type FetchLike } from './api/worker-client.ts';
import type { EntitlementCache } from './cache/entitlement-cache.ts';
import { loadCache } from './cache/store.ts';
import { ConfigError, readAgentConfig, readDeviceIdentity, writeAgentConfig } from './config/files.ts';
import { configForDoors, type AgentConfig, type DeviceIdentity } from './config/schema.ts';
import { cardRead, Door, type DoorRead } from './door/door.ts';
import type { DriverName, GpioDriver } from './gpio/driver.ts';
import { selectDriver } from './gpio/select.ts';
import { isSimulated, type SimulatedGpio } from './gpio/simulated.ts';
import { createLogger, type Logger } from './log/logger.ts';
import { Outbox, OUTBOX_DIR } from './outbox/outbox.ts';
import { Uploader } from './outbox/uploader.ts';
import { startControlServer, type ControlServer, type ControlTarget, type DecisionEvent } from './sim/control-server.ts';
import { EntitlementSync, redact, type BrokerSettings } from './sync/entitlement-sync.ts';
import { AGENT_VERSION } from './version.ts';

export type AgentOptions = {
  dataDir: string;
  /** Overrides config.json's driver. */
  driver?: DriverName;
  /** A ready-made driver (tests); wins over `driver`. */
  gpio?: GpioDriver;
  /** Overrides config.json's controlPort; 0 picks a free port. */
  controlPort?: number;
  /** Overrides the broker from enrollment and config.json. */
  mqttUrl?: string;
  /** Overrides config.json's pullIntervalSeconds. */
  pullIntervalSeconds?: number;
  /** Debounce of the pull a denied tap triggers, ms. */
  deniedPullDebounceMs?: number;
  uploadBackoffMs?: { min: number; max: number };
  log?: Logger;
  fetch?: FetchLike;
  clock?: () => number;
};

export type AgentStatus = {
  deviceId: string;
  siteId: string;
  agentVersion: string;
  driver: string;
  entitlementVersion: number | null;
  credentials: number;
  doors: Array<{ id: string; name: string; slot: number }>;
  outboxPending: number;
  lastSyncAt: number | null;
  lastUploadAt: number | null;
  brokerConnected: boolean;
  controlUrl: string | null;
};

type DecisionListener = (event: DecisionEvent) => void;

/** Where a broker comes from: --mqtt, then config.json, then the enrollment response; or none. */
export function brokerSettings(
  identity: DeviceIdentity,
  config: AgentConfig | undefined,
  mqttUrl: string | undefined,
): BrokerSettings | undefined {
  const topic = entitlementTopic(identity.topicPrefix, identity.siteId);
  const clientId = `gymgate-${identity.deviceId}`;
  if (mqttUrl) return { url: mqttUrl, topic, clientId };
  const chosen = config?.mqtt ?? identity.mqtt;
  if (!chosen) return undefined;
  return { url: chosen.url, username: chosen.username, password: chosen.password, topic, clientId };
}

export class Agent implements ControlTarget {
  private doorList: Door[] = [];
  private readonly listeners = new Set<DecisionListener>();
  private control: ControlServer | undefined;
  private stopping = false;
  private stopped: Promise<void> | undefined;
  private readonly startedUp: Promise<void>;
  private readonly clock: () => number;

  private constructor(
    private readonly options: AgentOptions,
    readonly dataDir: string,
    readonly identity: DeviceIdentity,
    private config: AgentConfig | undefined,
    private readonly gpio: GpioDriver,
    private readonly outbox: Outbox,
    private readonly uploader: Uploader,
    private readonly sync: EntitlementSync,
    private readonly log: Logger,
  ) {
    this.clock = options.clock ?? Date.now;
    this.startedUp = this.bringUp();
    this.startedUp.catch(() => undefined);
  }

  /**
   * Starts the agent. It decides from the cache on disk straight away when there is one; `ready`
   * resolves once a cache is loaded and the control endpoint (simulated driver) listens.
   */
  static async start(options: AgentOptions): Promise<Agent> {
    const log = options.log ?? createLogger();
    const dataDir = resolve(options.dataDir);
    const identity = await readDeviceIdentity(dataDir);
    if (!identity) throw new ConfigError(`${join(dataDir, 'device.json')} not found: run \`gymgate-agent provision\` first`);
    let config = await readAgentConfig(dataDir);
    const cache = await loadCache(dataDir, { log, siteId: identity.siteId });
    if (cache) log.info('entitlement cache loaded from disk', { version: cache.version, credentials: cache.size });
    if (!config && cache) {
      config = configForDoors(cache.doors);
      await writeAgentConfig(dataDir, config);
      log.info('config.json was missing; wrote default wiring for the cached doors', { doors: config.doors.length });
    }

    const driverName = options.driver ?? config?.driver ?? 'auto';
    const gpio = options.gpio ?? (await selectDriver(driverName, { gpioBase: config?.gpioBase, log }));
    const outbox = await Outbox.open(join(dataDir, OUTBOX_DIR), { log });

    let sync: EntitlementSync | undefined;
    const client = new WorkerClient({
      api: identity.api,
      deviceToken: identity.deviceToken,
      entitlementVersion: () => sync?.cache?.version,
      fetch: options.fetch,
    });
    const uploader = new Uploader({
      outbox,
      upload: (events, signal) => client.uploadCheckins(events, signal),
      log,
      minBackoffMs: options.uploadBackoffMs?.min,
      maxBackoffMs: options.uploadBackoffMs?.max,
    });
    const broker = brokerSettings(identity, config, options.mqttUrl);
    sync = new EntitlementSync({
      client,
      dataDir,
      siteId: identity.siteId,
      log,
      pullIntervalMs: (options.pullIntervalSeconds ?? config?.pullIntervalSeconds ?? 30) * 1000,
      deniedPullDebounceMs: options.deniedPullDebounceMs,
      initial: cache,
      broker,
    });
    if (!broker) log.info('no MQTT broker configured; relying on periodic pulls');
    const agent = new Agent(options, dataDir, identity, config, gpio, outbox, uploader, sync, log);
    return agent;
  }

  private async bringUp(): Promise<void> {
    const { log } = this;
    if (this.config) this.wireDoors(this.config);
    this.sync.onUpdate((cache) => this.checkDoors(cache));
    this.sync.start();
    if (this.outbox.pending > 0) this.uploader.kick();
    if (isSimulated(this.gpio)) {
      this.control = await startControlServer({
        target: this,
        log,
        port: this.options.controlPort ?? this.config?.controlPort,
      });
      log.info('simulated driver control endpoint listening', { controlUrl: this.control.url });
    }
    const cache = await Promise.race([this.sync.ready(), this.whenStopping()]);
    if (!cache || this.stopping) return;
    if (!this.config) {
      this.config = configForDoors(cache.doors);
      await writeAgentConfig(this.dataDir, this.config);
      log.info('wrote default door wiring to config.json', { doors: this.config.doors.length });
      this.wireDoors(this.config);
    }
    this.checkDoors(cache);
    const broker = brokerSettings(this.identity, this.config, this.options.mqttUrl);
    log.info('agent ready', {
      deviceId: this.identity.deviceId,
      siteId: this.identity.siteId,
      agentVersion: AGENT_VERSION,
      driver: this.gpio.name,
      controlUrl: this.control?.url ?? null,
      entitlementVersion: cache.version,
      credentials: cache.size,
      doors: this.doorSummary(),
      broker: broker ? redact(broker.url) : null,
    });
  }

  private stopSignal: (() => void) | undefined;
  private readonly stopPromise = new Promise<undefined>((resolve) => {
    this.stopSignal = () => resolve(undefined);
  });
  private whenStopping(): Promise<undefined> {
    return this.stopPromise;
  }

  /** Resolves when the agent is ready (cache loaded, doors wired, control endpoint listening). */
  get ready(): Promise<void> {
    return this.startedUp;
  }

  private wireDoors(config: AgentConfig) {
    this.doorList = config.doors.map(
      (wiring, i) =>
        new Door({
          wiring,
          slot: i + 1,
          driver: this.gpio,
          gapMs: config.wiegandGapMs,
          onRead: (door, read) => this.handleRead(door, read),
        }),
    );
  }

  private checkDoors(cache: EntitlementCache) {
    for (const door of this.doorList) {
      if (!cache.door(door.id)) this.log.warn('a wired door is not in the site snapshot; taps there are denied', { door: door.id });
    }
    const wired = new Set(this.doorList.map((d) => d.id));
    for (const door of cache.doors) {
      if (!wired.has(door.id)) this.log.warn('a site door has no wiring in config.json', { door: door.id, name: door.name });
    }
  }

  private handleRead(door: Door, read: DoorRead): void {
    const at = this.clock();
    const cache = this.sync.cache;
    const card = cardRead(read);
    const member = card.ok ? cache?.lookup(card.credentialKey) : undefined;
    const decision = decideAccess({ read: card, door: cache?.door(door.id), member, at });
    if (decision.granted) door.unlock();
    const credentialKey = card.ok ? card.credentialKey : null;
    const event: CheckinUpload = {
      id: randomUUID(),
      doorId: door.id,
      memberId: decision.memberId,
      credentialKey,
      granted: decision.granted,
      reason: decision.reason,
      explanation: decision.explanation.slice(0, 500),
      occurredAt: at,
    };
    const bits = read.source === 'wiegand' ? read.read.bits : undefined;
    this.log.info('access decision', {
      door: door.id,
      slot: door.slot,
      granted: decision.granted,
      reason: decision.reason,
      explanation: decision.explanation,
      credentialKey,
      memberId: decision.memberId,
      eventId: event.id,
      entitlementVersion: cache?.version ?? null,
      ...(card.ok ? {} : { bits }),
    });
    if (!this.stopping) {
      this.outbox.append(event).then(
        () => this.uploader.kick(),
        (error: unknown) => this.log.error('cannot store a check-in event', { error, event }),
      );
    }
    if (decision.reason === 'unknown_credential' || decision.reason === 'member_suspended') {
      this.sync.requestPull(`denied tap (${decision.reason})`);
    }
    const published: DecisionEvent = { door: door.id, slot: door.slot, credentialKey, decision, ...(bits ? { bits } : {}) };
    for (const listener of [...this.listeners]) listener(published);
  }

  // ControlTarget

  get driver(): SimulatedGpio {
    if (!isSimulated(this.gpio)) throw new Error('the control endpoint needs the simulated driver');
    return this.gpio;
  }

  doors(): readonly Door[] {
    return this.doorList;
  }

  onDecision(listener: DecisionListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  nextDecision(doorId: string, timeoutMs: number): Promise<DecisionEvent> {
    return new Promise((resolve, reject) => {
      const off = this.onDecision((event) => {
        if (event.door !== doorId) return;
        clearTimeout(timer);
        off();
        resolve(event);
      });
      const timer = setTimeout(() => {
        off();
        reject(new Error(`no access decision at ${doorId} within ${timeoutMs} ms`));
      }, timeoutMs);
    });
  }

  private doorSummary() {
    const names = new Map(this.sync.cache?.doors.map((d) => [d.id, d.name]) ?? []);
    return this.doorList.map((d) => ({ id: d.id, name: names.get(d.id) ?? d.name, slot: d.slot }));
  }

  status(): AgentStatus {
    const cache = this.sync.cache;
    return {
      deviceId: this.identity.deviceId,
      siteId: this.identity.siteId,
      agentVersion: AGENT_VERSION,
      driver: this.gpio.name,
      entitlementVersion: cache?.version ?? null,
      credentials: cache?.size ?? 0,
      doors: this.doorSummary(),
      outboxPending: this.outbox.pending,
      lastSyncAt: this.sync.lastSyncAt,
      lastUploadAt: this.uploader.lastUploadAt,
      brokerConnected: this.sync.brokerConnected,
      controlUrl: this.control?.url ?? null,
    };
  }

  get controlUrl(): string | null {
    return this.control?.url ?? null;
  }

  /** The current entitlement cache, if any. */
  get cache(): EntitlementCache | undefined {
    return this.sync.cache;
  }

  /** Locks every door, disconnects from the broker, flushes the outbox and releases the pins. */
  stop(): Promise<void> {
    this.stopped ??= (async () => {
      this.stopping = true;
      this.stopSignal?.();
      await this.startedUp.catch(() => undefined);
      await this.control?.close();
      for (const door of this.doorList) door.close();
      await this.sync.stop();
      await this.uploader.stop();
      await this.outbox.close();
      this.gpio.close();
      this.log.info('agent stopped', { outboxPending: this.outbox.pending });
    })();
    return this.stopped;
  }
}
