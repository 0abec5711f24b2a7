// Keeps the door's entitlement cache current with `GET /v1/device/entitlements?since=<version>`,
// which answers with a delta (the change log reaches back to our version), `current`, or a full
// snapshot. Triggers:
//   - an MQTT EntitlementNotice (retained, QoS 1) announcing a newer version; a small delta may
//     ride inline, signed by the Worker, and is applied directly when its signature verifies, it
//     is for this door's organisation and site and it starts at the cached version. Anything else
//     on the broker is only a hint to pull: unsigned or mis-signed inline data is logged and
//     ignored, and the door pulls over HTTPS (the device-token channel is the source of truth);
//   - a periodic pull (every 30 s by default), the backstop when the broker is unreachable;
//   - a denied tap (debounced), so a card added a moment ago works on the second tap;
//   - a heartbeat reply announcing a newer version, or the same version with another content hash.
// After a delta the content hash must equal the Worker's; when it does not (drift), or a delta
// does not start at our version, the door pulls a full snapshot. Pulls and delta applications run
// one at a time; a trigger during a pull runs one more pull after it.
import { EntitlementUpdate, readSignedDelta, type EntitlementDelta, type EntitlementNotice, type NoticeRefusal, type SignedDelta } from '../../core/contracts/wire.ts';
import { ApiError, type Timed, type WorkerClient } from '../api/worker-client.ts';
import type { SnapshotBuilder } from '../cache/builder.ts';
import { DeltaError, type CacheParts } from '../cache/cache-parts.ts';
import { EntitlementCache } from '../cache/entitlement-cache.ts';
import type { CacheStore } from '../cache/store.ts';
import type { DoorClock } from '../clock/door-clock.ts';
import type { WorkerKey } from '../crypto/worker-key.ts';
import type { Logger } from '../log/logger.ts';

export type UpdateKind = 'snapshot' | 'delta';
export type UpdateInfo = { kind: UpdateKind; reason: string; from: number | null };

export type CompactionLimits = {
  /** Fold the journal into cache.json beyond this many deltas or bytes. */
  journalDeltas: number;
  journalBytes: number;
  /** Rebuild the arrays when the overlay holds more than this many changes (or 2% of members). */
  overlay: number;
};

export const DEFAULT_COMPACTION: CompactionLimits = { journalDeltas: 500, journalBytes: 4 * 1024 * 1024, overlay: 5000 };

export type EntitlementSyncOptions = {
  client: Pick<WorkerClient, 'fetchSnapshot' | 'fetchEntitlements'>;
  store: CacheStore;
  builder: SnapshotBuilder;
  organisationId: string;
  siteId: string;
  /** Verifies inline deltas; without a key, notices are only hints to pull. */
  workerKey: WorkerKey;
  log: Logger;
  clock: DoorClock;
  pullIntervalMs: number;
  /** Minimum time between a pull and a pull caused by a denied tap. Default 1000 ms. */
  deniedPullDebounceMs?: number;
  /** The cache loaded from disk (or kept across a soft restart), if any. */
  initial?: EntitlementCache;
  /** When entitlements were last confirmed (kept across a soft restart). */
  lastSyncAt?: number | null;
  compaction?: Partial<CompactionLimits>;
};

type PendingPull = { reason: string; full: boolean; promise: Promise<void> };

export class EntitlementSync {
  cache: EntitlementCache | undefined;
  /** When entitlements were last confirmed current (corrected clock, epoch ms), or null. */
  lastSyncAt: number | null = null;
  private queue: Promise<void> = Promise.resolve();
  private pending: PendingPull | undefined;
  private timer: NodeJS.Timeout | undefined;
  private deniedTimer: NodeJS.Timeout | undefined;
  private lastPullStartedAt = 0;
  private failures = 0;
  private stopped = false;
  private started = false;
  /** `version:hash` for which a full snapshot was already pulled because the hashes differed. */
  private mismatchPulled: string | undefined;
  private mismatchLogged: string | undefined;
  private compacting: Promise<void> | undefined;
  /** The last delta's journal write (and the compaction check after it). */
  private journaling: Promise<void> = Promise.resolve();
  private readyWaiters: Array<(cache: EntitlementCache) => void> = [];
  private readonly updateListeners = new Set<(cache: EntitlementCache, info: UpdateInfo) => void>();
  private readonly abort = new AbortController();
  private readonly limits: CompactionLimits;
  /** Notices whose inline data was refused, by reason (status and the forged-input figures). */
  readonly refusedNotices: Partial<Record<NoticeRefusal, number>> = {};

  constructor(private readonly options: EntitlementSyncOptions) {
    this.cache = options.initial;
    this.lastSyncAt = options.lastSyncAt ?? null;
    this.limits = { ...DEFAULT_COMPACTION, ...options.compaction };
  }

  /** Calls listener with every change of the cache (new snapshot or applied delta). */
  onUpdate(listener: (cache: EntitlementCache, info: UpdateInfo) => void): () => void {
    this.updateListeners.add(listener);
    return () => this.updateListeners.delete(listener);
  }

  /** Resolves once a cache is available (from disk or the first successful pull). */
  ready(): Promise<EntitlementCache> {
    if (this.cache) return Promise.resolve(this.cache);
    return new Promise((resolve) => this.readyWaiters.push(resolve));
  }

  start(): void {
    this.started = true;
    this.schedule(0, 'startup');
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

  private enqueue(task: () => Promise<void>): Promise<void> {
    const run = this.queue.then(task);
    this.queue = run.catch((error: unknown) => this.options.log.error('entitlement sync task failed', { error }));
    return this.queue;
  }

  /**
   * Pulls now (or right after the pull in progress): `since` the cached version, or a full
   * snapshot with full = true. Never throws.
   */
  pull(reason: string, full = false): Promise<void> {
    if (this.stopped) return Promise.resolve();
    if (this.pending) {
      // A full pull outranks a `since` pull already queued, and names the reason.
      if (full && !this.pending.full) {
        this.pending.full = true;
        this.pending.reason = reason;
      }
      return this.pending.promise;
    }
    const pending: PendingPull = { reason, full, promise: Promise.resolve() };
    pending.promise = this.enqueue(async () => {
      if (this.pending === pending) this.pending = undefined;
      if (!this.stopped) await this.pullOnce(pending.reason, pending.full);
    });
    this.pending = pending;
    return pending.promise;
  }

  /** A denied tap asks for fresh entitlements, at most once per debounce interval. */
  requestPull(reason: string): void {
    if (this.stopped || this.deniedTimer || !this.started) return;
    const debounce = this.options.deniedPullDebounceMs ?? 1000;
    const wait = Math.max(0, this.lastPullStartedAt + debounce - Date.now());
    this.deniedTimer = setTimeout(() => {
      this.deniedTimer = undefined;
      void this.pull(reason);
    }, wait);
  }

  private logFailure(reason: string, error: unknown) {
    const { log } = this.options;
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
  }

  private async pullOnce(reason: string, full: boolean): Promise<void> {
    const { log, client, clock } = this.options;
    this.lastPullStartedAt = Date.now();
    const cache = this.cache;
    let fetched: Timed<{ bytes: Uint8Array }>;
    try {
      fetched = !cache || full ? await client.fetchSnapshot(this.abort.signal) : await client.fetchEntitlements(cache.version, this.abort.signal);
    } catch (error) {
      if (!this.stopped) this.logFailure(reason, error);
      return;
    }
    if (this.stopped) return;
    let result;
    try {
      result = await this.options.builder.process(fetched.bytes);
    } catch (error) {
      if (this.stopped) return;
      this.failures++;
      log.error('the Worker sent an entitlement response this agent cannot use', { reason, error });
      return;
    }
    if (this.stopped) return;
    if (this.failures > 0) log.info('entitlement pulls work again', { after: this.failures });
    this.failures = 0;

    if (result.kind === 'snapshot') {
      clock.learn(result.parts.serverTime, fetched.sentAt, fetched.receivedAt);
      await this.adoptSnapshot(result.parts, result.bytes, full && cache ? `${reason} (full)` : reason);
      return;
    }
    const update = EntitlementUpdate.safeParse(result.value);
    if (!update.success) {
      const issue = update.error.issues[0];
      log.error('the Worker sent a malformed entitlement update', { reason, error: `${issue?.path.join('.')}: ${issue?.message}` });
      return;
    }
    const u = update.data;
    if (u.kind === 'snapshot') return; // handled above; the builder routes every snapshot there
    if (u.kind === 'current') {
      clock.learn(u.serverTime, fetched.sentAt, fetched.receivedAt);
      this.compare({ version: u.version, hash: u.hash, serverTime: u.serverTime }, reason);
      return;
    }
    clock.learn(u.delta.serverTime, fetched.sentAt, fetched.receivedAt);
    await this.applyDelta(u.delta, reason);
  }

  private emit(cache: EntitlementCache, info: UpdateInfo) {
    for (const listener of [...this.updateListeners]) listener(cache, info);
    for (const resolve of this.readyWaiters.splice(0)) resolve(cache);
  }

  private confirmed(serverTime: number) {
    this.options.clock.confirmSync(serverTime);
    this.lastSyncAt = this.options.clock.now();
  }

  private async adoptSnapshot(parts: CacheParts, bytes: Uint8Array, reason: string): Promise<void> {
    const { log } = this.options;
    if (parts.siteId !== this.options.siteId) {
      this.failures++;
      log.error('the Worker sent a snapshot for another site; ignoring it', { siteId: parts.siteId });
      return;
    }
    const previous = this.cache;
    const cache = EntitlementCache.fromParts(parts);
    this.confirmed(parts.serverTime);
    if (cache.hashValue !== parts.serverHash) {
      log.error('the snapshot content does not match the hash the Worker declared for it', {
        version: parts.version,
        declared: parts.serverHash,
        computed: cache.hashValue,
      });
    }
    if (previous && previous.version === cache.version && previous.hashValue === cache.hashValue) {
      log.debug('entitlements unchanged', { reason, version: cache.version });
      return;
    }
    const skipped = parts.unusableKeys.size;
    if (skipped > 0) log.warn('snapshot holds credential keys this agent cannot read; skipped them', { skipped });
    if (previous && cache.version < previous.version) {
      log.warn('the Worker sent an older entitlement version than the cached one; using it', { from: previous.version, to: cache.version });
    }
    // Swap first so a card added a moment ago works at once; then persist for the next start.
    this.cache = cache;
    log.info('entitlements updated', {
      reason,
      kind: 'snapshot',
      from: previous?.version ?? null,
      version: cache.version,
      credentials: cache.size,
      members: cache.memberCount,
      doors: cache.doors.length,
    });
    this.emit(cache, { kind: 'snapshot', reason, from: previous?.version ?? null });
    try {
      await this.options.store.saveSnapshot(bytes);
    } catch (error) {
      log.error('cannot save the entitlement cache to disk; using it from memory', { error });
    }
  }

  /** Applies a delta (from a pull or a notice); pulls a full snapshot when it does not fit. */
  private async applyDelta(delta: EntitlementDelta, reason: string): Promise<void> {
    const { log } = this.options;
    const cache = this.cache;
    if (delta.siteId !== this.options.siteId) {
      log.error('the Worker sent a delta for another site; ignoring it', { siteId: delta.siteId });
      return;
    }
    if (!cache || delta.fromVersion !== cache.version) {
      if (cache && delta.version <= cache.version) {
        log.debug('ignoring a delta the cache already holds', { version: delta.version, cachedVersion: cache.version });
        return;
      }
      log.info('the delta does not start at the cached version; pulling a full snapshot', {
        fromVersion: delta.fromVersion,
        cachedVersion: cache?.version ?? null,
      });
      void this.pull(reason, true);
      return;
    }
    let result;
    try {
      result = cache.applyDelta(delta);
    } catch (error) {
      if (!(error instanceof DeltaError)) throw error;
      log.error('cannot apply an entitlement delta; pulling a full snapshot', { error, version: delta.version });
      void this.pull('unusable delta', true);
      return;
    }
    const from = delta.fromVersion;
    log.info('entitlements updated', {
      reason,
      kind: 'delta',
      from,
      version: cache.version,
      credentials: cache.size,
      members: cache.memberCount,
      doors: cache.doors.length,
      changes: delta.members.upsert.length + delta.members.remove.length + delta.credentials.upsert.length + delta.credentials.remove.length,
    });
    if (result.hashMatches) this.confirmed(delta.serverTime);
    else {
      log.warn('entitlement hash mismatch after a delta; pulling a full snapshot', {
        version: cache.version,
        expected: delta.hash,
        computed: cache.hashValue,
      });
      void this.pull('hash mismatch', true);
    }
    this.emit(cache, { kind: 'delta', reason, from });
    // The journal's fdatasync does not hold up the next update (the door already decides from the
    // new state): the store keeps its writes in order, and settled()/stop() wait for them.
    this.journaling = this.options.store.appendDelta(delta).then(
      () => {
        if (!this.stopped && this.cache === cache) this.maybeCompact(cache);
      },
      (error: unknown) => log.error('cannot journal the entitlement delta; using it from memory', { error }),
    );
  }

  /**
   * The Worker's version and hash (from `current` or a heartbeat). Same version and hash confirms
   * the cache; same version and another hash pulls a full snapshot (once per version and hash:
   * if they still differ after that, the door keeps the Worker's snapshot and says so); a newer
   * version pulls.
   */
  compare(remote: { version: number; hash: string; serverTime: number }, source: string): void {
    const cache = this.cache;
    const { log } = this.options;
    if (!cache || this.stopped) return;
    if (remote.version > cache.version) {
      log.info('the Worker has newer entitlements', { source, version: remote.version, cachedVersion: cache.version });
      void this.pull(source);
      return;
    }
    if (remote.version < cache.version) {
      log.debug('the Worker reports an older entitlement version', { source, version: remote.version, cachedVersion: cache.version });
      return;
    }
    if (remote.hash === cache.hashValue) {
      this.confirmed(remote.serverTime);
      return;
    }
    const key = `${remote.version}:${remote.hash}`;
    if (this.mismatchPulled === key) {
      // We hold the Worker's own snapshot of this version; the hashes disagree in how they are computed.
      this.confirmed(remote.serverTime);
      if (this.mismatchLogged !== key) {
        this.mismatchLogged = key;
        log.error('the content hash still differs from the Worker after a full snapshot; keeping the snapshot', {
          version: remote.version,
          remote: remote.hash,
          local: cache.hashValue,
        });
      }
      return;
    }
    this.mismatchPulled = key;
    log.warn('entitlement hash differs from the Worker at the same version; pulling a full snapshot', {
      source,
      version: remote.version,
      remote: remote.hash,
      local: cache.hashValue,
    });
    void this.pull('hash mismatch', true);
  }

  /**
   * An MQTT notice. Its signed inline delta is verified, then applied when it starts at our
   * version; every other notice only makes the door pull when it names a newer version.
   */
  handleNotice(notice: EntitlementNotice): void {
    const { log } = this.options;
    if (this.stopped) return;
    if (notice.siteId !== this.options.siteId) {
      log.warn('ignoring an entitlement notice for another site', { siteId: notice.siteId });
      return;
    }
    const signed = notice.signedDelta;
    if (signed) {
      void this.enqueue(() => this.applySignedNotice(notice, signed));
      return;
    }
    if (notice.delta !== undefined) {
      this.refuseInline('unsigned', 'the notice carries an inline delta without the Worker’s signature', notice.version);
      return;
    }
    const cached = this.cache?.version;
    if (cached === undefined || notice.version > cached) {
      log.info('entitlement notice received', { version: notice.version, cachedVersion: cached ?? null });
      void this.pull('notice');
    } else {
      log.debug('entitlement notice is not newer than the cache', { version: notice.version, cachedVersion: cached });
    }
  }

  /**
   * Inline data the door will not use: logged with the reason, then the door asks the Worker
   * itself. A flood of forgeries costs at most one pull per debounce interval and one log line
   * per reason for the first and every hundredth.
   */
  private refuseInline(reason: NoticeRefusal, detail: string, version: number) {
    const count = (this.refusedNotices[reason] ?? 0) + 1;
    this.refusedNotices[reason] = count;
    if (count === 1 || count % 100 === 0) {
      this.options.log.warn('ignoring the inline delta of an entitlement notice; pulling over HTTPS', {
        reason,
        detail,
        version,
        cachedVersion: this.cache?.version ?? null,
        refusedSoFar: count,
      });
    }
    this.requestPull(`notice (inline delta refused: ${reason})`);
  }

  private async applySignedNotice(notice: EntitlementNotice, signed: SignedDelta): Promise<void> {
    const { log, workerKey } = this.options;
    if (this.stopped) return;
    if (!workerKey.configured) return this.refuseInline('unsigned', 'this door has no Worker key to verify with (re-provision it)', notice.version);
    if (!(await workerKey.verify(signed.text, signed.signature))) {
      return this.refuseInline('bad_signature', 'the signature does not verify with the Worker’s key', notice.version);
    }
    const read = readSignedDelta(signed.text, { organisationId: this.options.organisationId, siteId: this.options.siteId });
    if (!read.ok) return this.refuseInline(read.reason, read.detail, notice.version);
    const delta = read.body.delta;
    const cached = this.cache?.version;
    if (cached !== undefined && delta.fromVersion === cached) {
      log.info('entitlement notice received', { version: delta.version, cachedVersion: cached, inlineDelta: true });
      await this.applyDelta(delta, 'notice');
    } else if (cached === undefined || delta.version > cached) {
      log.info('entitlement notice received', { version: delta.version, cachedVersion: cached ?? null });
      void this.pull('notice');
    } else {
      // A replayed, older notice: the Worker did sign it, but the cache is already past it.
      log.debug('entitlement notice is not newer than the cache', { version: delta.version, cachedVersion: cached });
    }
  }

  /** Folds deltas into the arrays and cache.json when the overlay or the journal has grown. */
  private maybeCompact(cache: EntitlementCache) {
    const { store, log } = this.options;
    const overlayLimit = Math.max(this.limits.overlay, Math.floor(cache.memberCount / 50));
    const due =
      cache.overlaySize > overlayLimit || store.journalDeltas >= this.limits.journalDeltas || store.journalBytes >= this.limits.journalBytes;
    if (!due || this.compacting) return;
    const version = cache.version;
    this.compacting = (async () => {
      const started = Date.now();
      try {
        const result = await this.options.builder.rewrite(cache.parts());
        if (this.stopped) return;
        // Deltas that arrived meanwhile are not in the result: try again after the next one.
        if (this.cache !== cache || cache.version !== version) return;
        const rebuilt = EntitlementCache.fromParts(result.parts);
        if (rebuilt.hashValue !== cache.hashValue) {
          log.warn('the rebuilt cache hashes differently from the running one', {
            running: cache.hashValue,
            rebuilt: rebuilt.hashValue,
            droppedCredentials: result.dropped,
          });
        }
        this.cache = rebuilt;
        await store.saveSnapshot(result.text);
        log.info('entitlement cache compacted', { version, members: rebuilt.memberCount, credentials: rebuilt.size, ms: Date.now() - started });
      } catch (error) {
        log.error('cannot compact the entitlement cache', { error });
      } finally {
        this.compacting = undefined;
      }
    })();
  }

  /** Waits for a compaction in progress (tests, stop). */
  async settled(): Promise<void> {
    await this.queue;
    await this.journaling;
    await this.compacting;
  }

  /** Stops and drops the cache from memory (the door was revoked): nothing is decided from it again. */
  async forget(): Promise<void> {
    await this.stop();
    this.cache = undefined;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.abort.abort();
    clearTimeout(this.timer);
    clearTimeout(this.deniedTimer);
    await this.queue.catch(() => undefined);
    await this.journaling;
    await this.compacting;
  }
}
