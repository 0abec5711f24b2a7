// The agent's runtime: the features a soft restart stops and starts again, wired in this one
// place. Started in order (doors, sync, broker, heartbeat, uploads); stopped the other way round
// except that the doors go first, so every relay locks before anything else stops.
import { isDoorAlarm, type CheckinUpload, type DoorAlarmUpload, type Heartbeat } from '../../core/contracts/wire.ts';
import type { Decider } from '../access/decider.ts';
import type { WorkerClient } from '../api/worker-client.ts';
import type { SnapshotBuilder } from '../cache/builder.ts';
import type { EntitlementCache } from '../cache/entitlement-cache.ts';
import type { CacheStore } from '../cache/store.ts';
import type { DoorClock } from '../clock/door-clock.ts';
import type { CommandReceiver } from '../commands/command-receiver.ts';
import type { AgentConfig, DeviceIdentity } from '../config/schema.ts';
import type { WorkerKey } from '../crypto/worker-key.ts';
import type { PinVerifier } from '../door/pin.ts';
import type { GpioDriver } from '../gpio/driver.ts';
import type { Logger } from '../log/logger.ts';
import type { BrokerLink, ReconnectCounter } from '../mqtt/broker-link.ts';
import type { Outbox } from '../outbox/outbox.ts';
import { Uploader } from '../outbox/uploader.ts';
import type { DecisionEvent } from '../sim/control-server.ts';
import { EntitlementSync, type CompactionLimits, type UpdateInfo } from '../sync/entitlement-sync.ts';
import { HeartbeatLoop } from '../sync/heartbeat.ts';
import { brokerLinkFor, brokerSettings } from './broker.ts';
import { DoorsFeature, type AlarmCounts } from './doors.ts';
import type { Feature } from './feature.ts';

/** What the runtime's features share with the long-lived agent. */
export type RuntimeParts = {
  identity: DeviceIdentity;
  config: AgentConfig | undefined;
  gpio: GpioDriver;
  outbox: Outbox;
  client: WorkerClient;
  clock: DoorClock;
  store: CacheStore;
  builder: SnapshotBuilder;
  workerKey: WorkerKey;
  decider: Decider;
  alarmCounts: AlarmCounts;
  reconnects: ReconnectCounter;
  commands: CommandReceiver;
  log: Logger;
  /** The cache and last sync a previous runtime left (or the one loaded from disk). */
  parked: { cache: EntitlementCache | undefined; lastSyncAt: number | null };
  stopping: () => boolean;
  /** True once the Worker said this door was revoked. */
  revoked: () => boolean;
  /** Stores a decision or alarm in the outbox. */
  record: (event: CheckinUpload | DoorAlarmUpload) => void;
  decided: (event: DecisionEvent) => void;
  heartbeatBody: () => Heartbeat;
  entitlementsChanged: (cache: EntitlementCache, info: UpdateInfo) => void;
};

export type RuntimeSettings = {
  mqttUrl?: string;
  pullIntervalSeconds?: number;
  heartbeatSeconds?: number;
  deniedPullDebounceMs?: number;
  uploadBackoffMs?: { min: number; max: number };
  holdCheckMs?: number;
  compaction?: Partial<CompactionLimits>;
  pinVerifier?: PinVerifier;
};

const feature = (name: string, unit: { start?(): void; stop(): Promise<void> }): Feature => ({ name, start: () => unit.start?.(), stop: () => unit.stop() });

export class AgentRuntime {
  readonly doors: DoorsFeature;
  readonly uploader: Uploader;
  readonly sync: EntitlementSync;
  readonly link: BrokerLink | undefined;
  readonly heartbeat: HeartbeatLoop;
  private readonly features: Feature[];
  private readonly offs: Array<() => void>;

  constructor(
    private readonly p: RuntimeParts,
    s: RuntimeSettings,
  ) {
    const { identity, config, log, clock } = p;
    this.doors = new DoorsFeature({
      config,
      gpio: p.gpio,
      clock,
      log,
      decider: p.decider,
      alarmCounts: p.alarmCounts,
      cache: () => this.sync.cache,
      revoked: p.revoked,
      stopping: p.stopping,
      record: p.record,
      denied: (reason) => this.sync.requestPull(`denied tap (${reason})`),
      decided: p.decided,
      pinVerifier: s.pinVerifier,
      holdCheckMs: s.holdCheckMs,
    });
    this.uploader = new Uploader({
      outbox: p.outbox,
      upload: (events, signal) => (events.every(isDoorAlarm) ? p.client.uploadAlarms(events, signal) : p.client.uploadCheckins(events as CheckinUpload[], signal)),
      log,
      minBackoffMs: s.uploadBackoffMs?.min,
      maxBackoffMs: s.uploadBackoffMs?.max,
    });
    const sync = new EntitlementSync({
      client: p.client,
      store: p.store,
      builder: p.builder,
      organisationId: identity.organisationId,
      siteId: identity.siteId,
      workerKey: p.workerKey,
      log,
      clock,
      pullIntervalMs: (s.pullIntervalSeconds ?? config?.pullIntervalSeconds ?? 30) * 1000,
      deniedPullDebounceMs: s.deniedPullDebounceMs,
      initial: p.parked.cache,
      lastSyncAt: p.parked.lastSyncAt,
      compaction: s.compaction,
    });
    this.sync = sync;
    this.link = brokerLinkFor({
      identity,
      settings: brokerSettings(identity, config, s.mqttUrl),
      log,
      now: () => clock.now(),
      reconnects: p.reconnects,
      notice: (notice) => sync.handleNotice(notice),
      command: (payload, packet) => void p.commands.receive(payload, packet),
    });
    this.heartbeat = new HeartbeatLoop({
      client: p.client,
      intervalMs: (s.heartbeatSeconds ?? config?.heartbeatSeconds ?? 30) * 1000,
      body: p.heartbeatBody,
      onReply: ({ reply, sentAt, receivedAt }) => {
        clock.learn(reply.serverTime, sentAt, receivedAt);
        sync.compare({ version: reply.entitlementVersion, hash: reply.entitlementHash, serverTime: reply.serverTime }, 'heartbeat');
        this.doors.evaluateHolds();
      },
      log,
    });
    this.offs = [
      sync.onUpdate(p.entitlementsChanged),
      clock.onJump(() => {
        this.heartbeat.kick();
        this.doors.evaluateHolds();
      }),
    ];
    this.features = [this.doors, feature('sync', sync), ...(this.link ? [feature('broker', this.link)] : []), feature('heartbeat', this.heartbeat), feature('uploads', this.uploader)];
  }

  start(): void {
    for (const f of this.features) f.start();
    if (this.p.outbox.pending > 0) this.uploader.kick();
    this.doors.evaluateHolds();
  }

  /** Stops every feature, doors first; returns what the next runtime starts from. */
  async stop(): Promise<{ cache: EntitlementCache | undefined; lastSyncAt: number | null }> {
    for (const off of this.offs) off();
    const [doors, ...rest] = this.features;
    await doors!.stop();
    for (const f of rest.filter((f) => f.name !== 'uploads').reverse()) await f.stop();
    const parked = { cache: this.sync.cache, lastSyncAt: this.sync.lastSyncAt };
    // The uploader goes last: what the doors recorded while stopping still gets its chance.
    await this.uploader.stop();
    await this.p.store.flush();
    return parked;
  }
}
