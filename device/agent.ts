// The door agent: reads cards, decides with core's access rule against the local entitlement
// cache, pulses the strike on a grant (or holds it while the door is held open), records every
// decision in the durable outbox, keeps the cache in sync with the Worker, sends heartbeats and
// executes signed commands. Each part lives in its own folder; this file only wires them.
//
// Long-lived for the whole process: identity, GPIO driver, outbox, clock, cache store, snapshot
// builder, command nonces, local overrides and tap history, and the control endpoint. The
// "runtime" — doors (readers and relays), uploader, entitlement sync, broker link, heartbeat and
// the hold-open ticker — can be stopped and started again in place (the `restart` command), with
// every relay locked while it is down.
import { randomUUID } from 'node:crypto';
import { join, resolve } from 'node:path';
import type { AccessDecision, CardRead, DeciderState, PinEntry } from '../core/access.ts';
import { pinMatches } from '../core/entitlement.ts';
import { commandTopic, type DoorCommand } from '../core/commands.ts';
import { EntitlementNotice, entitlementTopic, isDoorAlarm, SIMULATED_FALLBACK_PROBLEM, type CheckinUpload, type DoorAlarmUpload, type Heartbeat } from '../core/contracts/wire.ts';
import type { AccessReason } from '../core/reasons.ts';
import { Decider } from './access/decider.ts';
import { WorkerClient, type FetchLike } from './api/worker-client.ts';
import { SnapshotBuilder } from './cache/builder.ts';
import type { EntitlementCache } from './cache/entitlement-cache.ts';
import { CacheStore, loadCache } from './cache/store.ts';
import { DoorClock } from './clock/door-clock.ts';
import { CommandReceiver, type CommandOutcome } from './commands/command-receiver.ts';
import { NonceStore } from './commands/nonce-store.ts';
import { WorkerKey } from './crypto/worker-key.ts';
import { ConfigError, readAgentConfig, readDeviceIdentity, writeAgentConfig } from './config/files.ts';
import { configForDoors, type AgentConfig, type DeviceIdentity, type DoorWiring } from './config/schema.ts';
import { cardRead, Door, type DoorRead } from './door/door.ts';
import type { DoorAlarm } from './door/monitor.ts';
import { codeListVerifier, nodePbkdf2, type PinVerifier } from './door/pin.ts';
import type { DriverName, GpioDriver } from './gpio/driver.ts';
import { autoFallbackReason, selectDriver } from './gpio/select.ts';
import { isSimulated, type SimulatedGpio } from './gpio/simulated.ts';
import { createLogger, type Logger } from './log/logger.ts';
import { BrokerLink, ReconnectCounter, redact, type BrokerSettings } from './mqtt/broker-link.ts';
import { Outbox, OUTBOX_DIR } from './outbox/outbox.ts';
import { Uploader } from './outbox/uploader.ts';
import { startHealthServer, type HealthReport, type HealthServer } from './health/health-server.ts';
import { startControlServer, type ControlServer, type ControlTarget, type DecisionEvent } from './sim/control-server.ts';
import { EntitlementSync, type CompactionLimits, type UpdateInfo } from './sync/entitlement-sync.ts';
import { HeartbeatLoop } from './sync/heartbeat.ts';
import { AGENT_VERSION } from './version.ts';

export type AgentOptions = {
  dataDir: string;
  /** Overrides config.json's driver. */
  driver?: DriverName;
  /** A ready-made driver (tests); wins over `driver`. */
  gpio?: GpioDriver;
  /** Overrides config.json's controlPort; 0 picks a free port. */
  controlPort?: number;
  /** Overrides config.json's healthPort; 0 picks a free port, null turns it off. */
  healthPort?: number | null;
  /** Overrides the broker from enrollment and config.json. */
  mqttUrl?: string;
  /** Overrides config.json's pullIntervalSeconds. */
  pullIntervalSeconds?: number;
  /** Overrides config.json's heartbeatSeconds. */
  heartbeatSeconds?: number;
  /** Debounce of the pull a denied tap triggers, ms. */
  deniedPullDebounceMs?: number;
  uploadBackoffMs?: { min: number; max: number };
  log?: Logger;
  fetch?: FetchLike;
  /** The local wall clock (Date.now); the agent corrects it with the Worker's time. */
  clock?: () => number;
  /** A monotonic clock in ms (performance.now), for clock-jump detection. */
  monotonic?: () => number;
  /** How often to look for clock jumps, ms. Default 2000. */
  clockCheckMs?: number;
  /** How often to re-evaluate held-open doors, ms. Default 1000. */
  holdCheckMs?: number;
  /** Build large snapshots in a worker thread (default true). */
  snapshotThread?: boolean;
  compaction?: Partial<CompactionLimits>;
  commandAckRetryMs?: number[];
  /** Checks PINs at card + PIN doors; default: the member's PIN verifier from the cache, else the door's configured codes. */
  pinVerifier?: PinVerifier;
};

export type DoorStatus = {
  id: string;
  name: string;
  slot: number;
  /** The mode in force, with local overrides; null when the door is not in the snapshot. */
  mode: string | null;
  heldOpen: boolean;
  relayActive: boolean;
  /** Debounced door position; null without a door sensor. */
  doorOpen: boolean | null;
  /** The keyboard-wedge reader: grab (through the python3 helper) or direct; null without one. */
  keyboard: { mode: string; connected: boolean; grabbed: boolean } | null;
  alarms: { doorForced: number; doorHeldOpen: number; last: DoorAlarm | null };
};

export type AgentStatus = {
  deviceId: string;
  siteId: string;
  agentVersion: string;
  driver: string;
  /** Why driver "auto" fell back to the simulated driver (no usable GPIO: no relay moves), or null. */
  gpioFallback: string | null;
  entitlementVersion: number | null;
  entitlementHash: string | null;
  credentials: number;
  members: number;
  doors: DoorStatus[];
  outboxPending: number;
  lastSyncAt: number | null;
  lastUploadAt: number | null;
  lastHeartbeatAt: number | null;
  brokerConnected: boolean;
  reconnectsLastHour: number;
  clockSynced: boolean;
  clockOffsetMs: number | null;
  cacheAgeMs: number | null;
  commandsEnabled: boolean;
  /** Entitlement notices whose inline data the door refused, by reason (unsigned, bad_signature, wrong_site…). */
  refusedNotices: Record<string, number>;
  overrides: { lockdown: boolean; modes: Record<string, string> };
  controlUrl: string | null;
};

type DecisionListener = (event: DecisionEvent) => void;

/** Where a broker comes from: --mqtt, then config.json, then the enrollment response; or none. */
export function brokerSettings(
  identity: DeviceIdentity,
  config: AgentConfig | undefined,
  mqttUrl: string | undefined,
): BrokerSettings | undefined {
  const clientId = `gymgate-${identity.deviceId}`;
  const chosen = config?.mqtt ?? identity.mqtt;
  // --mqtt moves the door to another broker address; the door's own broker identity goes with it.
  if (mqttUrl) return { url: mqttUrl, username: chosen?.username, password: chosen?.password, clientId };
  if (!chosen) return undefined;
  return { url: chosen.url, username: chosen.username, password: chosen.password, clientId };
}

/** Denials that a fresher member list might turn into a grant: they trigger a pull. */
const PULL_ON_DENIAL = new Set<AccessReason>([
  'unknown_credential',
  'member_suspended',
  'payment_overdue',
  'membership_frozen',
  'membership_ended',
  'membership_cancelled',
  'membership_expired',
  'membership_not_started',
  'pass_used_up',
  'door_not_included',
  'wrong_site',
  'offline_expired',
  'clock_not_synced',
  // The member may have just changed their PIN.
  'pin_mismatch',
]);

type Runtime = {
  doors: Door[];
  uploader: Uploader;
  sync: EntitlementSync;
  link: BrokerLink | undefined;
  heartbeat: HeartbeatLoop;
  holdTimer: NodeJS.Timeout;
  offUpdate: () => void;
  offJump: () => void;
};

type Shared = {
  dataDir: string;
  identity: DeviceIdentity;
  config: AgentConfig | undefined;
  gpio: GpioDriver;
  outbox: Outbox;
  client: WorkerClient;
  clock: DoorClock;
  store: CacheStore;
  builder: SnapshotBuilder;
  nonces: NonceStore;
  cache: EntitlementCache | undefined;
  log: Logger;
};

/** How far simulated time travel has moved the door's clocks, ms. */
export class TimeShift {
  ms = 0;
}

export class Agent implements ControlTarget {
  readonly dataDir: string;
  readonly identity: DeviceIdentity;
  private config: AgentConfig | undefined;
  private readonly gpio: GpioDriver;
  private readonly outbox: Outbox;
  private readonly client: WorkerClient;
  readonly clock: DoorClock;
  private readonly store: CacheStore;
  private readonly builder: SnapshotBuilder;
  private readonly log: Logger;
  private readonly decider = new Decider();
  private readonly reconnects = new ReconnectCounter();
  private readonly commands: CommandReceiver;
  /** Verifies what the Worker signs: commands and inline entitlement deltas. */
  private readonly workerKey: WorkerKey;
  private readonly listeners = new Set<DecisionListener>();
  private runtime: Runtime | undefined;
  /** The cache while no runtime holds it (before the first start, during a restart). */
  private parkedCache: EntitlementCache | undefined;
  private parkedLastSyncAt: number | null = null;
  private control: ControlServer | undefined;
  private health: HealthServer | undefined;
  private stopping = false;
  private stopped: Promise<void> | undefined;
  private restarting: Promise<void> | undefined;
  private readonly startedUp: Promise<void>;

  private constructor(
    private readonly options: AgentOptions,
    shared: Shared,
  ) {
    this.dataDir = shared.dataDir;
    this.identity = shared.identity;
    this.config = shared.config;
    this.gpio = shared.gpio;
    this.outbox = shared.outbox;
    this.client = shared.client;
    this.clock = shared.clock;
    this.store = shared.store;
    this.builder = shared.builder;
    this.log = shared.log;
    this.parkedCache = shared.cache;
    this.workerKey = new WorkerKey(shared.identity.commandPublicKey);
    this.commands = new CommandReceiver({
      deviceId: shared.identity.deviceId,
      publicKey: shared.identity.commandPublicKey,
      nonces: shared.nonces,
      client: shared.client,
      log: shared.log,
      now: () => this.clock.now(),
      clockSynced: () => this.clock.synced,
      execute: (command) => this.execute(command),
      ackRetryMs: options.commandAckRetryMs,
    });
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
    // Both clocks move together under simulated time travel (control endpoint, simulated driver
    // only), as if that much time had really passed at the door.
    const shift = new TimeShift();
    const wall = options.clock ?? Date.now;
    const monotonic = options.monotonic ?? (() => performance.now());
    const clock = await DoorClock.open({
      dataDir,
      log,
      wall: () => wall() + shift.ms,
      monotonic: () => monotonic() + shift.ms,
      checkIntervalMs: options.clockCheckMs,
    });
    const builder = new SnapshotBuilder({ log, thread: options.snapshotThread });
    const store = new CacheStore(dataDir);
    const cache = await loadCache(dataDir, { log, siteId: identity.siteId, builder, store });
    if (cache) log.info('entitlement cache loaded from disk', { version: cache.version, credentials: cache.size });
    if (!config && cache) {
      config = configForDoors(cache.doors);
      await writeAgentConfig(dataDir, config);
      log.info('config.json was missing; wrote default wiring for the cached doors', { doors: config.doors.length });
    }
    const driverName = options.driver ?? config?.driver ?? 'auto';
    const gpio = options.gpio ?? (await selectDriver(driverName, { gpioBase: config?.gpioBase, gpioChip: config?.gpioChip, log }));
    const outbox = await Outbox.open(join(dataDir, OUTBOX_DIR), { log, maxEvents: config?.outboxMaxEvents });
    const nonces = await NonceStore.open(dataDir, { log, now: () => clock.now() });

    let agent: Agent | undefined;
    const client = new WorkerClient({
      api: identity.api,
      deviceToken: identity.deviceToken,
      entitlementVersion: () => agent?.cache?.version,
      fetch: options.fetch,
      wall: clock.wall,
    });
    if (identity.commandPublicKey === null) log.info('no command key in device.json; signed door commands will be ignored');
    agent = new Agent(options, { dataDir, identity, config, gpio, outbox, client, clock, store, builder, nonces, cache, log });
    agent.timeShift = shift;
    return agent;
  }

  private async bringUp(): Promise<void> {
    const { log } = this;
    this.clock.start();
    this.startRuntime();
    if (isSimulated(this.gpio)) {
      this.control = await startControlServer({ target: this, log, port: this.options.controlPort ?? this.config?.controlPort });
      log.info('simulated driver control endpoint listening', { controlUrl: this.control.url });
    }
    const healthPort = this.options.healthPort !== undefined ? this.options.healthPort : (this.config?.healthPort ?? 7468);
    if (healthPort !== null && !this.stopping) {
      try {
        this.health = await startHealthServer({ port: healthPort, report: () => this.healthReport(), log });
      } catch (error) {
        // The doors matter more than the health endpoint: carry on without it.
        log.error('health endpoint cannot listen; running without it', { port: healthPort, error });
      }
    }
    const sync = this.runtime?.sync;
    const cache = sync ? await Promise.race([sync.ready(), this.whenStopping()]) : undefined;
    if (!cache || this.stopping) return;
    if (!this.config) {
      this.config = configForDoors(cache.doors);
      await writeAgentConfig(this.dataDir, this.config);
      log.info('wrote default door wiring to config.json', { doors: this.config.doors.length });
      if (this.runtime) this.runtime.doors = this.wireDoors(this.config);
    }
    this.checkDoors(cache);
    this.evaluateHolds();
    const broker = brokerSettings(this.identity, this.config, this.options.mqttUrl);
    log.info('agent ready', {
      deviceId: this.identity.deviceId,
      siteId: this.identity.siteId,
      agentVersion: AGENT_VERSION,
      driver: this.gpio.name,
      controlUrl: this.control?.url ?? null,
      healthUrl: this.health ? `${this.health.url}/health` : null,
      entitlementVersion: cache.version,
      credentials: cache.size,
      doors: this.doorSummary(),
      broker: broker ? redact(broker.url) : null,
      clockSynced: this.clock.synced,
      commandsEnabled: this.commands.enabled,
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

  // Runtime: what a soft restart stops and starts again.

  private startRuntime(): void {
    const { log, identity } = this;
    const config = this.config;
    const doors = config ? this.wireDoors(config) : [];
    const uploader = new Uploader({
      outbox: this.outbox,
      upload: (events, signal) =>
        events.every(isDoorAlarm) ? this.client.uploadAlarms(events, signal) : this.client.uploadCheckins(events as CheckinUpload[], signal),
      log,
      minBackoffMs: this.options.uploadBackoffMs?.min,
      maxBackoffMs: this.options.uploadBackoffMs?.max,
    });
    const sync = new EntitlementSync({
      client: this.client,
      store: this.store,
      builder: this.builder,
      organisationId: identity.organisationId,
      siteId: identity.siteId,
      workerKey: this.workerKey,
      log,
      clock: this.clock,
      pullIntervalMs: (this.options.pullIntervalSeconds ?? config?.pullIntervalSeconds ?? 30) * 1000,
      deniedPullDebounceMs: this.options.deniedPullDebounceMs,
      initial: this.parkedCache,
      lastSyncAt: this.parkedLastSyncAt,
      compaction: this.options.compaction,
    });
    this.parkedCache = undefined;
    const settings = brokerSettings(identity, config, this.options.mqttUrl);
    let link: BrokerLink | undefined;
    if (settings) {
      link = new BrokerLink({
        settings,
        deviceId: identity.deviceId,
        topicPrefix: identity.topicPrefix,
        log,
        now: () => this.clock.now(),
        reconnects: this.reconnects,
      });
      const noticeTopic = entitlementTopic(identity.topicPrefix, identity.siteId);
      link.subscribe(noticeTopic, (payload) => {
        let notice: EntitlementNotice;
        try {
          notice = EntitlementNotice.parse(JSON.parse(payload.toString('utf8')));
        } catch {
          log.warn('ignoring a malformed entitlement notice', { topic: noticeTopic });
          return;
        }
        sync.handleNotice(notice);
      });
      link.subscribe(commandTopic(identity.topicPrefix, identity.deviceId), (payload, packet) => void this.commands.receive(payload, packet));
    } else log.info('no MQTT broker configured; relying on periodic pulls');
    const heartbeat = new HeartbeatLoop({
      client: this.client,
      intervalMs: (this.options.heartbeatSeconds ?? config?.heartbeatSeconds ?? 30) * 1000,
      body: () => this.heartbeatBody(),
      onReply: ({ reply, sentAt, receivedAt }) => {
        this.clock.learn(reply.serverTime, sentAt, receivedAt);
        this.runtime?.sync.compare({ version: reply.entitlementVersion, hash: reply.entitlementHash, serverTime: reply.serverTime }, 'heartbeat');
        this.evaluateHolds();
      },
      log,
    });
    const offUpdate = sync.onUpdate((cache, info) => this.onEntitlements(cache, info));
    const offJump = this.clock.onJump(() => {
      this.runtime?.heartbeat.kick();
      this.evaluateHolds();
    });
    const holdTimer = setInterval(() => {
      this.evaluateHolds();
      this.decider.prune(this.clock.now());
    }, this.options.holdCheckMs ?? 1000);
    this.runtime = { doors, uploader, sync, link, heartbeat, holdTimer, offUpdate, offJump };
    sync.start();
    link?.start();
    heartbeat.start();
    if (this.outbox.pending > 0) uploader.kick();
    this.evaluateHolds();
  }

  private async stopRuntime(): Promise<void> {
    const runtime = this.runtime;
    this.runtime = undefined;
    if (!runtime) return;
    clearInterval(runtime.holdTimer);
    runtime.offUpdate();
    runtime.offJump();
    // Doors first: every relay locks before anything else stops.
    for (const door of runtime.doors) door.close();
    await runtime.heartbeat.stop();
    await runtime.link?.stop();
    await runtime.sync.stop();
    this.parkedCache = runtime.sync.cache;
    this.parkedLastSyncAt = runtime.sync.lastSyncAt;
    await runtime.uploader.stop();
    await this.store.flush();
  }

  /** Soft restart: stops and starts the runtime without leaving the process; relays stay locked. */
  restart(reason = 'restart command'): Promise<void> {
    this.restarting ??= (async () => {
      this.log.warn('agent restarting in place', { reason });
      await this.stopRuntime();
      if (this.stopping) return;
      try {
        this.config = (await readAgentConfig(this.dataDir)) ?? this.config;
      } catch (error) {
        this.log.error('config.json is invalid; restarting with the previous configuration', { error });
      }
      this.startRuntime();
      const cache = this.cache;
      if (cache) this.checkDoors(cache);
      this.log.info('agent restarted', { doors: this.doorSummary().length, entitlementVersion: cache?.version ?? null });
    })().finally(() => {
      this.restarting = undefined;
    });
    return this.restarting;
  }

  private wireDoors(config: AgentConfig): Door[] {
    return config.doors.map(
      (wiring, i) =>
        new Door({
          wiring,
          slot: i + 1,
          driver: this.gpio,
          gapMs: config.wiegandGapMs,
          onRead: (door, read) => this.handleRead(door, read),
          log: this.log.child({ door: wiring.id }),
          pinVerifier: this.pinVerifierFor(wiring),
          defaultGrantMs: () => (this.cache?.door(wiring.id)?.grantSeconds ?? 5) * 1000,
          onAlarm: (door, alarm) => this.doorAlarm(door, alarm),
          clock: () => this.clock.now(),
          onExitRequest: (door) => this.log.info('request to exit: door unlocked', { door: door.id, event: 'request_to_exit' }),
        }),
    );
  }

  private pinVerifierFor(wiring: DoorWiring): PinVerifier {
    if (this.options.pinVerifier) return this.options.pinVerifier;
    const doorCodes = codeListVerifier(wiring.pin?.codes ?? []);
    return (check) => {
      const verifier = check.memberId ? this.cache?.member(check.memberId)?.member.pinVerifier : undefined;
      // The member's own PIN wins; the door's code serves members who have none.
      return verifier ? pinMatches(check.pin, verifier, nodePbkdf2) : doorCodes(check);
    };
  }

  private onEntitlements(cache: EntitlementCache, info: UpdateInfo) {
    if (info.from !== cache.version && this.decider.settle(cache.serverTime)) {
      this.log.info('local door overrides now carried by the Worker’s data', { version: cache.version, overrides: this.decider.overrides });
    }
    if (info.kind === 'snapshot') this.checkDoors(cache);
    this.evaluateHolds();
  }

  private checkDoors(cache: EntitlementCache) {
    const doors = this.runtime?.doors ?? [];
    for (const door of doors) {
      if (!cache.door(door.id)) this.log.warn('a wired door is not in the site snapshot; taps there are denied', { door: door.id });
    }
    const wired = new Set(doors.map((d) => d.id));
    for (const door of cache.doors) {
      if (!wired.has(door.id)) this.log.warn('a site door has no wiring in config.json', { door: door.id, name: door.name });
    }
  }

  /** Door alarms are logged (one JSON line with `event`), counted in status and queued in the outbox for the Worker. */
  private readonly alarmCounts = new Map<string, { door_forced: number; door_held_open: number; last: DoorAlarm | null }>();

  private doorAlarm(door: Door, alarm: DoorAlarm): void {
    let counts = this.alarmCounts.get(door.id);
    if (!counts) this.alarmCounts.set(door.id, (counts = { door_forced: 0, door_held_open: 0, last: null }));
    if (alarm.type !== 'door_held_open_cleared') counts[alarm.type]++;
    counts.last = alarm;
    const event: DoorAlarmUpload = {
      kind: 'door_alarm',
      id: randomUUID(),
      doorId: door.id,
      type: alarm.type,
      occurredAt: alarm.at,
      openForMs: alarm.openForMs === undefined ? null : Math.round(alarm.openForMs),
    };
    const fields = { door: door.id, slot: door.slot, event: alarm.type, eventId: event.id, at: new Date(alarm.at).toISOString(), ...(alarm.openForMs !== undefined ? { openForMs: alarm.openForMs } : {}) };
    if (alarm.type === 'door_held_open_cleared') this.log.info('door closed after being held open', fields);
    else this.log.warn(alarm.type === 'door_forced' ? 'door forced open' : 'door held open too long', fields);
    this.enqueue(event);
  }

  /** Stores an event in the outbox and wakes the uploader; nothing is queued once stopping. */
  private enqueue(event: CheckinUpload | DoorAlarmUpload): void {
    if (this.stopping) return;
    this.outbox.append(event).then(
      () => this.runtime?.uploader.kick(),
      (error: unknown) => this.log.error(isDoorAlarm(event) ? 'cannot store a door alarm' : 'cannot store a check-in event', { error, event }),
    );
  }

  private deciderState(): DeciderState {
    return { clockSynced: this.clock.synced, cacheAgeMs: this.clock.cacheAgeMs() };
  }

  /** Holds the relay of every door that is held open (unlocked mode or unlock schedule); relocks the rest. */
  private evaluateHolds(): void {
    const runtime = this.runtime;
    if (!runtime || this.stopping) return;
    const cache = runtime.sync.cache;
    const at = this.clock.now();
    const state = this.deciderState();
    for (const door of runtime.doors) {
      const held = cache ? this.decider.heldOpen(cache, door.id, at, state) : false;
      if (held === door.relay.held) continue;
      door.relay.hold(held);
      const mode = cache ? (this.decider.door(cache, door.id)?.mode ?? null) : null;
      this.log.info(held ? 'door held open' : 'door relocked after being held open', {
        door: door.id,
        mode,
        ...(held ? { by: mode === 'unlocked' ? 'mode' : 'schedule' } : {}),
      });
    }
  }

  private handleRead(door: Door, read: DoorRead): void {
    const at = this.clock.now();
    const cache = this.cache;
    const card = cardRead(read);
    const pin = door.pin;
    const { heldOpen, commit: _deferred, ...decision } = this.decider.decide({ cache, doorId: door.id, read: card, at, state: this.deciderState(), defer: pin !== undefined });
    if (pin && decision.granted && !heldOpen && card.ok) {
      // Card + PIN: the strike waits for the PIN; the decision is recorded once it is known.
      this.log.info('card accepted; waiting for the PIN', { door: door.id, credentialKey: card.credentialKey, memberId: decision.memberId });
      void pin.await(card.credentialKey, decision.memberId).then((outcome) => {
        if (this.stopping && !outcome.ok && outcome.why === 'closed') return;
        const entry: PinEntry = outcome.ok ? 'match' : outcome.why === 'wrong_pin' ? 'mismatch' : 'missing';
        if (!outcome.ok) this.log.info('PIN refused', { door: door.id, memberId: decision.memberId, why: outcome.why });
        // The PIN is part of core's decision: decide again for the tap's time, now with the PIN.
        // Without defer, a grant is remembered (anti-passback, daily limit, pass use) right here.
        const { heldOpen: held, commit: _committed, ...final } = this.decider.decide({ cache: this.cache, doorId: door.id, read: card, at, state: this.deciderState(), pin: entry });
        this.finishRead(door, read, card, final, held, at);
      });
      return;
    }
    this.finishRead(door, read, card, decision, heldOpen, at);
  }

  private finishRead(door: Door, read: DoorRead, card: CardRead, decision: AccessDecision, heldOpen: boolean, at: number): void {
    const cache = this.cache;
    const grantMs = (cache?.door(door.id)?.grantSeconds ?? 5) * 1000;
    // A door held open is already unlocked; a pulse would only outlast the hold.
    if (decision.granted && !heldOpen && !this.stopping) door.unlock(grantMs);
    if (!this.stopping) door.signal(decision.granted, grantMs);
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
      usesPass: decision.usesPass,
    };
    const bits = read.source === 'wiegand' ? read.read.bits : undefined;
    const typed = read.source === 'keyboard' ? read.text : undefined;
    this.log.info('access decision', {
      door: door.id,
      slot: door.slot,
      granted: decision.granted,
      reason: decision.reason,
      explanation: decision.explanation,
      credentialKey,
      memberId: decision.memberId,
      usesPass: decision.usesPass,
      eventId: event.id,
      entitlementVersion: cache?.version ?? null,
      ...(card.ok ? {} : { bits, typed }),
      ...(read.source === 'wiegand' && read.read.ok ? { format: read.read.format, endedBy: read.read.endedBy } : {}),
    });
    this.enqueue(event);
    if (!decision.granted && PULL_ON_DENIAL.has(decision.reason)) this.runtime?.sync.requestPull(`denied tap (${decision.reason})`);
    const published: DecisionEvent = { door: door.id, slot: door.slot, credentialKey, decision: decision as AccessDecision, ...(bits ? { bits } : {}) };
    for (const listener of [...this.listeners]) listener(published);
  }

  // Commands

  private async execute(command: DoorCommand): Promise<CommandOutcome> {
    const action = command.action;
    const cache = this.cache;
    switch (action.type) {
      case 'unlock': {
        const door = this.runtime?.doors.find((d) => d.id === action.doorId);
        if (!door) return { status: 'rejected', reason: 'unknown_door', detail: `door ${action.doorId} is not wired to this agent` };
        door.relay.pulse(action.seconds * 1000);
        return { status: 'executed', detail: `unlocked for ${action.seconds} s` };
      }
      case 'set_mode': {
        if (!cache?.door(action.doorId) && !this.runtime?.doors.some((d) => d.id === action.doorId)) {
          return { status: 'rejected', reason: 'unknown_door', detail: `door ${action.doorId} is not known to this agent` };
        }
        this.decider.setMode(action.doorId, action.mode, command.issuedAt, cache?.serverTime ?? null);
        this.evaluateHolds();
        return { status: 'executed', detail: `mode ${action.mode}, kept by the Worker until changed` };
      }
      case 'lockdown':
        this.decider.lockDown(command.issuedAt, cache?.serverTime ?? null);
        this.evaluateHolds();
        return { status: 'executed', detail: 'all doors in lockdown until released' };
      case 'release':
        this.decider.release();
        this.evaluateHolds();
        return { status: 'executed', detail: 'local overrides cleared' };
      case 'sync_now': {
        const sync = this.runtime?.sync;
        if (!sync) return { status: 'rejected', reason: 'restarting', detail: 'the agent is restarting' };
        await sync.pull('sync_now command', true);
        return { status: 'executed', detail: `entitlement version ${sync.cache?.version ?? 'none'}` };
      }
      case 'restart':
        await this.restart();
        return { status: 'executed', detail: 'restarted in place' };
    }
  }

  private heartbeatBody(): Heartbeat {
    const cache = this.cache;
    return {
      agentVersion: AGENT_VERSION.slice(0, 40),
      entitlementVersion: cache?.version ?? null,
      entitlementHash: cache?.hashValue ?? null,
      uptimeSeconds: process.uptime(),
      clockOffsetMs: this.clock.offsetMs,
      mqttConnected: this.runtime?.link?.connected ?? false,
      reconnectsLastHour: this.reconnects.lastHour,
      outboxPending: this.outbox.pending,
      gpio: { driver: this.gpio.name, simulatedFallback: autoFallbackReason(this.gpio) !== undefined },
    };
  }

  // ControlTarget

  timeShift = new TimeShift();

  /** Simulated time travel: the door's clocks jump ahead as if `ms` had passed (e.g. offline for days). */
  advanceTime(ms: number): { shiftedMs: number; now: number } {
    if (!isSimulated(this.gpio)) throw new Error('time travel needs the simulated driver');
    this.timeShift.ms += ms;
    this.log.warn('simulated time moved ahead', { advancedMs: ms, shiftedMs: this.timeShift.ms });
    return { shiftedMs: this.timeShift.ms, now: this.clock.now() };
  }

  get driver(): SimulatedGpio {
    if (!isSimulated(this.gpio)) throw new Error('the control endpoint needs the simulated driver');
    return this.gpio;
  }

  doors(): readonly Door[] {
    return this.runtime?.doors ?? [];
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

  private doorSummary(): DoorStatus[] {
    const cache = this.cache;
    const at = this.clock.now();
    const state = this.deciderState();
    return this.doors().map((d) => {
      const policy = cache ? this.decider.door(cache, d.id) : undefined;
      return {
        id: d.id,
        name: policy?.name ?? d.name,
        slot: d.slot,
        mode: policy?.mode ?? null,
        heldOpen: cache ? this.decider.heldOpen(cache, d.id, at, state) : false,
        relayActive: d.relay.active,
        doorOpen: d.monitor?.doorOpen ?? null,
        keyboard: d.keyboard ? { mode: d.keyboard.mode, connected: d.keyboard.isConnected, grabbed: d.keyboard.grabbed } : null,
        alarms: {
          doorForced: this.alarmCounts.get(d.id)?.door_forced ?? 0,
          doorHeldOpen: this.alarmCounts.get(d.id)?.door_held_open ?? 0,
          last: this.alarmCounts.get(d.id)?.last ?? null,
        },
      };
    });
  }

  status(): AgentStatus {
    const cache = this.cache;
    return {
      deviceId: this.identity.deviceId,
      siteId: this.identity.siteId,
      agentVersion: AGENT_VERSION,
      driver: this.gpio.name,
      gpioFallback: autoFallbackReason(this.gpio) ?? null,
      entitlementVersion: cache?.version ?? null,
      entitlementHash: cache?.hashValue ?? null,
      credentials: cache?.size ?? 0,
      members: cache?.memberCount ?? 0,
      doors: this.doorSummary(),
      outboxPending: this.outbox.pending,
      lastSyncAt: this.runtime?.sync.lastSyncAt ?? null,
      lastUploadAt: this.runtime?.uploader.lastUploadAt ?? null,
      lastHeartbeatAt: this.runtime?.heartbeat.lastHeartbeatAt ?? null,
      brokerConnected: this.runtime?.link?.connected ?? false,
      reconnectsLastHour: this.reconnects.lastHour,
      clockSynced: this.clock.synced,
      clockOffsetMs: this.clock.offsetMs,
      cacheAgeMs: this.clock.cacheAgeMs(),
      commandsEnabled: this.commands.enabled,
      refusedNotices: { ...this.runtime?.sync.refusedNotices },
      overrides: this.decider.overrides,
      controlUrl: this.control?.url ?? null,
    };
  }

  /** What GET /health answers: ok while the agent can decide at its doors. */
  healthReport(): HealthReport {
    const s = this.status();
    const problems: string[] = [];
    if (this.stopping) problems.push('stopping');
    if (!this.runtime) problems.push('restarting');
    if (s.entitlementVersion === null) problems.push('no entitlement cache');
    if (s.doors.length === 0) problems.push('no doors wired');
    // A provisioned door on `auto` that found no GPIO decides taps but moves no relay.
    if (s.gpioFallback !== null) problems.push(SIMULATED_FALLBACK_PROBLEM);
    return {
      ok: problems.length === 0,
      problems,
      deviceId: s.deviceId,
      agentVersion: s.agentVersion,
      driver: s.driver,
      gpioFallback: s.gpioFallback,
      uptimeSeconds: Math.round(process.uptime()),
      entitlementVersion: s.entitlementVersion,
      cacheAgeMs: s.cacheAgeMs,
      lastSyncAt: s.lastSyncAt,
      clockSynced: s.clockSynced,
      brokerConnected: s.brokerConnected,
      outboxPending: s.outboxPending,
      doors: s.doors.map((d) => ({ id: d.id, slot: d.slot, relayActive: d.relayActive, doorOpen: d.doorOpen, alarms: d.alarms })),
    };
  }

  get healthUrl(): string | null {
    return this.health?.url ?? null;
  }

  get controlUrl(): string | null {
    return this.control?.url ?? null;
  }

  /** The current entitlement cache, if any. */
  get cache(): EntitlementCache | undefined {
    return this.runtime?.sync.cache ?? this.parkedCache;
  }

  /** The entitlement sync of the running runtime (tests). */
  get sync(): EntitlementSync | undefined {
    return this.runtime?.sync;
  }

  /** Waits for command messages and acknowledgements in flight (tests). */
  commandsSettled(): Promise<void> {
    return this.commands.settled();
  }

  /** Locks every door, disconnects from the broker (offline presence), flushes and releases the pins. */
  stop(): Promise<void> {
    this.stopped ??= (async () => {
      this.stopping = true;
      this.stopSignal?.();
      await this.startedUp.catch(() => undefined);
      await this.restarting?.catch(() => undefined);
      await this.control?.close();
      await this.health?.close();
      await this.commands.stop();
      await this.stopRuntime();
      this.clock.stop();
      await this.clock.flush();
      await this.builder.close();
      await this.outbox.close();
      this.gpio.close();
      await this.gpio.settled?.();
      this.log.info('agent stopped', { outboxPending: this.outbox.pending });
    })();
    return this.stopped;
  }
}
