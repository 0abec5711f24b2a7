// The door's idea of the time. A Pi has no battery-backed clock and may boot hours or years off,
// so the agent learns the Worker's time on every sync and heartbeat (offset = server time minus
// the midpoint of the request) and decides with the corrected clock. It also keeps:
//   - whether the clock can be trusted with time-limited access (`synced`): true once a sync
//     succeeded in this run, or at start when the local clock is not behind the last sync's server
//     time persisted in clock.json;
//   - the server time of the last sync that confirmed the cache, for the offline limit;
//   - a watch for clock jumps: every few seconds wall-clock progress is compared with monotonic
//     progress. A jump over 5 s is logged with its size and the learned offset is adjusted so the
//     corrected clock stays continuous; a backwards jump that lands before the last sync marks the
//     clock unsynced until the next sync.
import { join } from 'node:path';
import type { Logger } from '../log/logger.ts';
import { readFileIfExists, writeJsonAtomic } from '../storage/atomic-write.ts';

export const CLOCK_FILE = 'clock.json';
const JUMP_THRESHOLD_MS = 5000;
/** clock.json is rewritten at most this often for routine confirmations (it is on an SD card). */
const PERSIST_EVERY_MS = 60_000;

export type ClockOptions = {
  dataDir: string;
  log: Logger;
  /** The local wall clock (Date.now). */
  wall?: () => number;
  /** A monotonic clock in ms (performance.now). */
  monotonic?: () => number;
  /** How often to compare wall and monotonic progress, ms. Default 2000. */
  checkIntervalMs?: number;
};

export type ClockJump = { jumpMs: number; synced: boolean };

export async function readLastSync(dataDir: string): Promise<number | null> {
  try {
    const text = await readFileIfExists(join(dataDir, CLOCK_FILE));
    if (text === undefined) return null;
    const value = (JSON.parse(text) as { lastSyncServerTime?: unknown }).lastSyncServerTime;
    return Number.isSafeInteger(value) ? (value as number) : null;
  } catch {
    return null;
  }
}

export const writeLastSync = (dataDir: string, serverTime: number) =>
  writeJsonAtomic(join(dataDir, CLOCK_FILE), { lastSyncServerTime: serverTime }, { mode: 0o600 });

export class DoorClock {
  readonly wall: () => number;
  private readonly monotonic: () => number;
  /** Server time minus local time, ms; null until learned in this run. */
  offsetMs: number | null = null;
  /** Server time of the last sync that confirmed the cache, epoch ms; null = never. */
  lastSyncServerTime: number | null;
  synced: boolean;
  private persistedAt: number | null;
  private persisting: Promise<void> = Promise.resolve();
  private timer: NodeJS.Timeout | undefined;
  private mark: { wall: number; mono: number } | undefined;
  private readonly jumpListeners = new Set<(jump: ClockJump) => void>();

  private constructor(
    private readonly options: ClockOptions,
    lastSync: number | null,
  ) {
    this.wall = options.wall ?? Date.now;
    this.monotonic = options.monotonic ?? (() => performance.now());
    this.lastSyncServerTime = lastSync;
    this.persistedAt = lastSync;
    this.synced = lastSync !== null && this.wall() >= lastSync;
  }

  static async open(options: ClockOptions): Promise<DoorClock> {
    const lastSync = await readLastSync(options.dataDir);
    const clock = new DoorClock(options, lastSync);
    if (lastSync !== null && !clock.synced) {
      options.log.warn('the local clock is behind the last sync; time-limited access waits for a sync', {
        lastSyncAt: new Date(lastSync).toISOString(),
        localTime: new Date(clock.wall()).toISOString(),
      });
    }
    return clock;
  }

  /** The corrected time, epoch ms. */
  now(): number {
    return this.wall() + (this.offsetMs ?? 0);
  }

  /** Learns the offset from a server time read between sentAt and receivedAt (local wall times). */
  learn(serverTime: number, sentAt: number, receivedAt: number): void {
    const offset = Math.round(serverTime - (sentAt + receivedAt) / 2);
    const first = this.offsetMs === null;
    const before = this.offsetMs;
    this.offsetMs = offset;
    if (!this.synced) this.options.log.info('clock synchronised with the Worker', { clockOffsetMs: offset });
    else if (first || Math.abs(offset - (before ?? 0)) > JUMP_THRESHOLD_MS) {
      this.options.log.info('clock offset learned', { clockOffsetMs: offset });
    }
    this.synced = true;
  }

  /** The cache was confirmed current at this server time. */
  confirmSync(serverTime: number): void {
    if (this.lastSyncServerTime !== null && serverTime < this.lastSyncServerTime) return;
    this.lastSyncServerTime = serverTime;
    if (this.persistedAt === null || serverTime - this.persistedAt >= PERSIST_EVERY_MS) this.persist(serverTime);
  }

  /** Writes the last sync time now (e.g. on stop). */
  flush(): Promise<void> {
    if (this.lastSyncServerTime !== null && this.lastSyncServerTime !== this.persistedAt) this.persist(this.lastSyncServerTime);
    return this.persisting;
  }

  private persist(serverTime: number) {
    this.persistedAt = serverTime;
    this.persisting = this.persisting
      .then(() => writeLastSync(this.options.dataDir, serverTime))
      .catch((error: unknown) => this.options.log.warn('cannot save the last sync time', { error }));
  }

  /** Milliseconds since the cache was last confirmed current, on the corrected clock; null = never. */
  cacheAgeMs(): number | null {
    return this.lastSyncServerTime === null ? null : Math.max(0, this.now() - this.lastSyncServerTime);
  }

  onJump(listener: (jump: ClockJump) => void): () => void {
    this.jumpListeners.add(listener);
    return () => this.jumpListeners.delete(listener);
  }

  start(): void {
    if (this.timer) return;
    this.mark = { wall: this.wall(), mono: this.monotonic() };
    this.timer = setInterval(() => this.check(), this.options.checkIntervalMs ?? 2000);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Compares wall-clock and monotonic progress since the last check. */
  check(): void {
    const wall = this.wall();
    const mono = this.monotonic();
    const mark = this.mark;
    this.mark = { wall, mono };
    if (!mark) return;
    const jumpMs = Math.round(wall - mark.wall - (mono - mark.mono));
    if (Math.abs(jumpMs) <= JUMP_THRESHOLD_MS) return;
    if (this.offsetMs !== null) this.offsetMs -= jumpMs;
    const behind = jumpMs < 0 && this.lastSyncServerTime !== null && wall < this.lastSyncServerTime;
    this.options.log.warn('clock jumped', {
      jumpMs,
      direction: jumpMs > 0 ? 'forward' : 'backward',
      localTime: new Date(wall).toISOString(),
      clockOffsetMs: this.offsetMs,
      ...(behind ? { behindLastSync: true } : {}),
    });
    if (behind && this.synced) {
      this.synced = false;
      this.options.log.warn('the clock went back before the last sync; time-limited access waits for the next sync', {
        lastSyncAt: new Date(this.lastSyncServerTime as number).toISOString(),
      });
    }
    for (const listener of [...this.jumpListeners]) listener({ jumpMs, synced: this.synced });
  }
}
