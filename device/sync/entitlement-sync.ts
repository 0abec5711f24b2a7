// Keeps the door's entitlement cache current. Three triggers pull the snapshot over HTTPS:
//   - an MQTT EntitlementNotice (retained, QoS 1) announcing a version newer than the cache;
//   - a periodic pull (every 30 s by default), the backstop when the broker is unreachable;
//   - a denied tap (debounced), so a card added a moment ago works on the second tap even if
//     the notice was lost.
// Pulls are single-flight: a trigger during a pull runs one more pull after it.
import { connect, type MqttClient } from 'mqtt';
import { EntitlementNotice } from '../../core/contracts/wire.ts';
import { ApiError } from '../api/worker-client.ts';
import type { WorkerClient } from '../api/worker-client.ts';
import { EntitlementCache } from '../cache/entitlement-cache.ts';
import { saveSnapshot } from '../cache/store.ts';
import type { Logger } from '../log/logger.ts';

export type BrokerSettings = {
  url: string;
  username?: string;
  password?: string;
  topic: string;
  clientId: string;
};

export type EntitlementSyncOptions = {
  client: Pick<WorkerClient, 'fetchSnapshot'>;
  dataDir: string;
  siteId: string;
  log: Logger;
  pullIntervalMs: number;
  /** Minimum time between a pull and a pull caused by a denied tap. Default 1000 ms. */
  deniedPullDebounceMs?: number;
  /** The cache loaded from disk, if any. */
  initial?: EntitlementCache;
  onUpdate?: (cache: EntitlementCache) => void;
  broker?: BrokerSettings;
  clock?: () => number;
};

export class EntitlementSync {
  cache: EntitlementCache | undefined;
  /** When a snapshot was last fetched successfully (epoch ms), or null. */
  lastSyncAt: number | null = null;
  brokerConnected = false;
  private inflight: Promise<void> | undefined;
  private again = false;
  private timer: NodeJS.Timeout | undefined;
  private deniedTimer: NodeJS.Timeout | undefined;
  private lastPullStartedAt = 0;
  private failures = 0;
  private stopped = false;
  private mqtt: MqttClient | undefined;
  private brokerErrorLogged = false;
  private readyWaiters: Array<(cache: EntitlementCache) => void> = [];
  private readonly updateListeners = new Set<(cache: EntitlementCache) => void>();
  private readonly clock: () => number;
  private readonly abort = new AbortController();

  constructor(private readonly options: EntitlementSyncOptions) {
    this.cache = options.initial;
    this.clock = options.clock ?? Date.now;
    if (options.onUpdate) this.updateListeners.add(options.onUpdate);
  }

  /** Calls listener with every new cache adopted from a pull. */
  onUpdate(listener: (cache: EntitlementCache) => void): () => void {
    this.updateListeners.add(listener);
    return () => this.updateListeners.delete(listener);
  }

  /** Resolves once a cache is available (from disk or the first successful pull). */
  ready(): Promise<EntitlementCache> {
    if (this.cache) return Promise.resolve(this.cache);
    return new Promise((resolve) => this.readyWaiters.push(resolve));
  }

  start(): void {
    this.schedule(0, 'startup');
    if (this.options.broker) this.connectBroker(this.options.broker);
  }

  private schedule(delayMs: number, reason = 'periodic') {
    clearTimeout(this.timer);
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      void this.pull(reason).then(() => {
        // Without any cache yet, retry sooner than the periodic interval.
        const retry = this.cache ? this.options.pullIntervalMs : Math.min(500 * 2 ** Math.min(this.failures, 5), this.options.pullIntervalMs);
        this.schedule(retry);
      });
    }, delayMs);
  }

  /** Pulls the snapshot now (or right after the pull in progress). Never throws. */
  pull(reason: string): Promise<void> {
    if (this.stopped) return Promise.resolve();
    if (this.inflight) {
      this.again = true;
      return this.inflight;
    }
    this.inflight = (async () => {
      try {
        do {
          this.again = false;
          await this.pullOnce(reason);
          reason = 'requested during a pull';
        } while (this.again && !this.stopped);
      } finally {
        this.inflight = undefined;
      }
    })();
    return this.inflight;
  }

  /** A denied tap asks for a fresh snapshot, at most once per debounce interval. */
  requestPull(reason: string): void {
    if (this.stopped || this.deniedTimer) return;
    const debounce = this.options.deniedPullDebounceMs ?? 1000;
    const wait = Math.max(0, this.lastPullStartedAt + debounce - this.clock());
    this.deniedTimer = setTimeout(() => {
      this.deniedTimer = undefined;
      void this.pull(reason);
    }, wait);
  }

  private async pullOnce(reason: string): Promise<void> {
    const { log } = this.options;
    this.lastPullStartedAt = this.clock();
    let fetched;
    try {
      fetched = await this.options.client.fetchSnapshot(this.abort.signal);
    } catch (error) {
      if (this.stopped) return;
      this.failures++;
      const auth = error instanceof ApiError && (error.status === 401 || error.status === 403);
      // During an outage, warn on the first failure and every tenth; the rest go to debug.
      const level = auth ? 'error' : this.failures === 1 || this.failures % 10 === 0 ? 'warn' : 'debug';
      log[level](auth ? 'the Worker refused the device token (revoked?)' : 'entitlement pull failed', {
        reason,
        error: (error as Error).message,
        failures: this.failures,
        cachedVersion: this.cache?.version ?? null,
      });
      return;
    }
    if (this.stopped) return;
    const { snapshot, text } = fetched;
    if (snapshot.siteId !== this.options.siteId) {
      this.failures++;
      log.error('the Worker sent a snapshot for another site; ignoring it', { siteId: snapshot.siteId });
      return;
    }
    if (this.failures > 0) log.info('entitlement pulls work again', { after: this.failures });
    this.failures = 0;
    this.lastSyncAt = this.clock();
    const previous = this.cache;
    if (previous && previous.version === snapshot.version) {
      log.debug('entitlements unchanged', { reason, version: snapshot.version });
      return;
    }
    const cache = EntitlementCache.fromSnapshot(snapshot, { validated: true });
    if (cache.skipped > 0) log.warn('snapshot holds credential keys this agent cannot read; skipped them', { skipped: cache.skipped });
    if (previous && snapshot.version < previous.version) {
      log.warn('the Worker sent an older entitlement version than the cached one; using it', {
        from: previous.version,
        to: snapshot.version,
      });
    }
    // Swap first so a card added a moment ago works at once; then persist for the next start.
    this.cache = cache;
    log.info('entitlements updated', {
      reason,
      from: previous?.version ?? null,
      version: cache.version,
      credentials: cache.size,
      members: cache.memberCount,
      doors: cache.doors.length,
    });
    for (const listener of this.updateListeners) listener(cache);
    for (const resolve of this.readyWaiters.splice(0)) resolve(cache);
    try {
      await saveSnapshot(this.options.dataDir, text);
    } catch (error) {
      log.error('cannot save the entitlement cache to disk; using it from memory', { error });
    }
  }

  private connectBroker(settings: BrokerSettings) {
    const { log } = this.options;
    const client = connect(settings.url, {
      clientId: settings.clientId,
      username: settings.username,
      password: settings.password,
      clean: true,
      resubscribe: false,
      reconnectPeriod: 2000,
      connectTimeout: 5000,
      keepalive: 30,
    });
    this.mqtt = client;
    client.on('connect', () => {
      this.brokerConnected = true;
      this.brokerErrorLogged = false;
      log.info('broker connected', { url: redact(settings.url), topic: settings.topic });
      client.subscribe(settings.topic, { qos: 1 }, (error) => {
        if (error) log.error('cannot subscribe to entitlement notices', { topic: settings.topic, error });
      });
    });
    client.on('close', () => {
      if (this.brokerConnected) log.warn('broker disconnected; periodic pulls continue', { url: redact(settings.url) });
      this.brokerConnected = false;
    });
    client.on('error', (error) => {
      // Reconnection failures repeat every couple of seconds: log the first of a run at warn.
      log[this.brokerErrorLogged ? 'debug' : 'warn']('broker error', { url: redact(settings.url), error });
      this.brokerErrorLogged = true;
    });
    client.on('message', (topic, payload) => {
      let notice: EntitlementNotice;
      try {
        notice = EntitlementNotice.parse(JSON.parse(payload.toString('utf8')));
      } catch {
        log.warn('ignoring a malformed entitlement notice', { topic });
        return;
      }
      if (notice.siteId !== this.options.siteId) return;
      const cached = this.cache?.version;
      if (cached === undefined || notice.version > cached) {
        log.info('entitlement notice received', { version: notice.version, cachedVersion: cached ?? null });
        void this.pull('notice');
      } else {
        log.debug('entitlement notice is not newer than the cache', { version: notice.version, cachedVersion: cached });
      }
    });
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.abort.abort();
    clearTimeout(this.timer);
    clearTimeout(this.deniedTimer);
    const client = this.mqtt;
    this.mqtt = undefined;
    if (client) {
      await Promise.race([
        client.endAsync(true).catch(() => undefined),
        new Promise((resolve) => setTimeout(resolve, 2000).unref()),
      ]);
      this.brokerConnected = false;
    }
    await this.inflight?.catch(() => undefined);
  }
}

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
