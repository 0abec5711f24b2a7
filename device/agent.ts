// The door agent: reads cards, decides with core's access rule against the local entitlement
// cache, pulses the strike on a grant (or holds it while the door is held open), records every
// decision in the durable outbox, keeps the cache in sync with the Worker, sends heartbeats and
// executes signed commands. Each part lives in its own folder and the runtime's features (doors,
// broker, command effects, health) in device/features/; this file only wires them.
//
// Long-lived for the whole process: identity, GPIO driver, outbox, clock, cache store, snapshot
// builder, command nonces, local overrides and tap history, and the control endpoint. The
// "runtime" — doors (readers and relays), uploader, entitlement sync, broker link, heartbeat and
// the hold-open ticker — can be stopped and started again in place (the `restart` command), with
// every relay locked while it is down.
import { join, resolve } from 'node:path';
import { isDoorAlarm, type CheckinUpload, type DoorAlarmUpload, type Heartbeat } from '../core/contracts/wire.ts';
import { Decider } from './access/decider.ts';
import { WorkerClient, type FetchLike } from './api/worker-client.ts';
import { SnapshotBuilder } from './cache/builder.ts';
import type { EntitlementCache } from './cache/entitlement-cache.ts';
import { CacheStore, loadCache } from './cache/store.ts';
import { readRevocation, recordRevocation, type Revocation } from './features/revocation.ts';
import { DoorClock } from './clock/door-clock.ts';
import { CommandReceiver } from './commands/command-receiver.ts';
import { NonceStore } from './commands/nonce-store.ts';
import { WorkerKey } from './crypto/worker-key.ts';
import { ConfigError, readAgentConfig, readDeviceIdentity, writeAgentConfig } from './config/files.ts';
import { configForDoors, type AgentConfig, type DeviceIdentity } from './config/schema.ts';
import type { Door } from './door/door.ts';
import type { PinVerifier } from './door/pin.ts';
import { brokerSettings } from './features/broker.ts';
import { executeCommand } from './features/commands.ts';
import type { AlarmCounts, DoorStatus } from './features/doors.ts';
import { healthReport, type AgentStatus } from './features/health.ts';
import { AgentRuntime } from './features/runtime.ts';
import type { DriverName, GpioDriver } from './gpio/driver.ts';
import { autoFallbackReason, selectDriver } from './gpio/select.ts';
import { isSimulated, type SimulatedGpio } from './gpio/simulated.ts';
import { createLogger, type Logger } from './log/logger.ts';
import { ReconnectCounter, redact } from './mqtt/broker-link.ts';
import { Outbox, OUTBOX_DIR } from './outbox/outbox.ts';
import { startHealthServer, type HealthReport, type HealthServer } from './health/health-server.ts';
import { startControlServer, type ControlServer, type ControlTarget, type DecisionEvent } from './sim/control-server.ts';
import { EntitlementSync, type CompactionLimits, type UpdateInfo } from './sync/entitlement-sync.ts';
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
  /** Build large snapshots in a child process (default true). */
  snapshotProcess?: boolean;
  compaction?: Partial<CompactionLimits>;
  commandAckRetryMs?: number[];
  /** Checks PINs at card + PIN doors; default: the member's PIN verifier from the cache, else the door's configured codes. */
  pinVerifier?: PinVerifier;
};

export type { AgentStatus, DoorStatus };

type DecisionListener = (event: DecisionEvent) => void;

export { brokerSettings };


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
  revocation: Revocation | undefined;
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
  /** Alarms per door since start, kept across soft restarts. */
  private readonly alarmCounts: AlarmCounts = new Map();
  private readonly reconnects = new ReconnectCounter();
  private readonly commands: CommandReceiver;
  /** Verifies what the Worker signs: commands and inline entitlement deltas. */
  private readonly workerKey: WorkerKey;
  private readonly listeners = new Set<DecisionListener>();
  private runtime: AgentRuntime | undefined;
  /** The cache and last sync while no runtime holds them (before the first start, during a restart). */
  private parked: { cache: EntitlementCache | undefined; lastSyncAt: number | null };
  /** Set once the Worker says this door was revoked (features/revocation.ts). */
  private revocation: Revocation | undefined;
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
    this.parked = { cache: shared.cache, lastSyncAt: null };
    this.revocation = shared.revocation;
    this.workerKey = new WorkerKey(shared.identity.commandPublicKey);
    this.commands = new CommandReceiver({
      deviceId: shared.identity.deviceId,
      publicKey: shared.identity.commandPublicKey,
      nonces: shared.nonces,
      client: shared.client,
      log: shared.log,
      now: () => this.clock.now(),
      clockSynced: () => this.clock.synced,
      execute: (command) =>
        executeCommand(command, {
          cache: this.cache,
          doors: this.doors(),
          decider: this.decider,
          sync: this.runtime?.sync,
          evaluateHolds: () => this.evaluateHolds(),
          restart: () => this.restart(),
          revoked: this.revocation !== undefined,
        }),
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
    const builder = new SnapshotBuilder({ log, childProcess: options.snapshotProcess });
    const store = new CacheStore(dataDir);
    const revocation = await readRevocation(dataDir);
    if (revocation) {
      log.error('this door was revoked in gymgate: it refuses every tap until it is provisioned again', { revokedAt: new Date(revocation.at).toISOString(), detail: revocation.detail });
      await store.wipe();
    }
    const cache = revocation ? undefined : await loadCache(dataDir, { log, siteId: identity.siteId, builder, store });
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
      onRevoked: (problem) => void agent?.revoke(problem.detail ?? problem.title ?? 'device revoked'),
    });
    if (identity.commandPublicKey === null) log.info('no command key in device.json; signed door commands will be ignored');
    agent = new Agent(options, { dataDir, identity, config, gpio, outbox, client, clock, store, builder, nonces, cache, revocation, log });
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
    // A revoked door has no cache to wait for: it is ready to refuse.
    const cache = sync && !this.revocation ? await Promise.race([sync.ready(), this.whenStopping()]) : undefined;
    if (this.stopping || (!cache && !this.revocation)) return;
    if (cache && !this.config) {
      this.config = configForDoors(cache.doors);
      await writeAgentConfig(this.dataDir, this.config);
      log.info('wrote default door wiring to config.json', { doors: this.config.doors.length });
      this.runtime?.doors.rewire(this.config);
    }
    if (cache) this.runtime?.doors.check(cache);
    this.evaluateHolds();
    const broker = brokerSettings(this.identity, this.config, this.options.mqttUrl);
    log.info('agent ready', {
      deviceId: this.identity.deviceId,
      siteId: this.identity.siteId,
      agentVersion: AGENT_VERSION,
      driver: this.gpio.name,
      controlUrl: this.control?.url ?? null,
      healthUrl: this.health ? `${this.health.url}/health` : null,
      entitlementVersion: cache?.version ?? null,
      credentials: cache?.size ?? 0,
      revoked: this.revocation !== undefined,
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
    const runtime = new AgentRuntime(
      {
        identity: this.identity,
        config: this.config,
        gpio: this.gpio,
        outbox: this.outbox,
        client: this.client,
        clock: this.clock,
        store: this.store,
        builder: this.builder,
        workerKey: this.workerKey,
        decider: this.decider,
        alarmCounts: this.alarmCounts,
        reconnects: this.reconnects,
        commands: this.commands,
        log: this.log,
        parked: this.parked,
        stopping: () => this.stopping,
        revoked: () => this.revocation !== undefined,
        record: (event) => this.enqueue(event),
        decided: (event) => {
          for (const listener of [...this.listeners]) listener(event);
        },
        heartbeatBody: () => this.heartbeatBody(),
        entitlementsChanged: (cache, info) => this.onEntitlements(cache, info),
      },
      this.options,
    );
    this.parked = { cache: undefined, lastSyncAt: null };
    this.runtime = runtime;
    runtime.start();
    // A revoked door pulls no member list (its heartbeat still asks, and is still refused).
    if (this.revocation) void runtime.sync.forget();
  }

  private async stopRuntime(): Promise<void> {
    const runtime = this.runtime;
    this.runtime = undefined;
    if (!runtime) return;
    this.parked = await runtime.stop();
  }

  /** The Worker said this door was revoked: wipe the member list, refuse every tap, ignore commands. */
  private async revoke(detail: string): Promise<void> {
    if (this.revocation) return;
    const revocation = { at: Date.now(), detail };
    this.revocation = revocation;
    this.log.error('the Worker says this door was revoked: its member list is wiped and every tap is refused until it is provisioned again', { detail });
    this.evaluateHolds();
    await this.runtime?.sync.forget();
    this.parked = { cache: undefined, lastSyncAt: null };
    await recordRevocation(this.dataDir, revocation);
    await this.store.wipe();
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
      if (cache) this.runtime?.doors.check(cache);
      this.log.info('agent restarted', { doors: this.doorSummary().length, entitlementVersion: cache?.version ?? null });
    })().finally(() => {
      this.restarting = undefined;
    });
    return this.restarting;
  }

  private onEntitlements(cache: EntitlementCache, info: UpdateInfo) {
    if (info.from !== cache.version && this.decider.settle(cache.serverTime)) {
      this.log.info('local door overrides now carried by the Worker’s data', { version: cache.version, overrides: this.decider.overrides });
    }
    if (info.kind === 'snapshot') this.runtime?.doors.check(cache);
    this.evaluateHolds();
  }

  /** Stores an event in the outbox and wakes the uploader; nothing is queued once stopping. */
  private enqueue(event: CheckinUpload | DoorAlarmUpload): void {
    if (this.stopping) return;
    this.outbox.append(event).then(
      () => this.runtime?.uploader.kick(),
      (error: unknown) => this.log.error(isDoorAlarm(event) ? 'cannot store a door alarm' : 'cannot store a check-in event', { error, event }),
    );
  }

  /** Holds the relay of every door held open by mode or schedule; relocks the rest. */
  private evaluateHolds(): void {
    this.runtime?.doors.evaluateHolds();
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
    return this.runtime?.doors.doors ?? [];
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
    return this.runtime?.doors.summary() ?? [];
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
      revoked: this.revocation ?? null,
    };
  }

  /** What GET /health answers: ok while the agent can decide at its doors. */
  healthReport(): HealthReport {
    return healthReport(this.status(), { stopping: this.stopping, running: this.runtime !== undefined });
  }

  get healthUrl(): string | null {
    return this.health?.url ?? null;
  }

  get controlUrl(): string | null {
    return this.control?.url ?? null;
  }

  /** The current entitlement cache, if any. */
  get cache(): EntitlementCache | undefined {
    return this.runtime?.sync.cache ?? this.parked.cache;
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
