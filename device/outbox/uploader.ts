// Drains the outbox to the Worker in original order, in batches of at most 200 events of one kind
// (check-ins and door alarms go to their own endpoints; a batch ends where the kind changes).
// A batch leaves the
// outbox only after a 2xx. Network errors and 5xx keep the events and retry with capped
// exponential backoff (0.5 s doubling to 10 s); a new event cuts the wait short. A 400 means the
// agent built a malformed event: the batch is resent one event at a time and only the events the
// Worker still rejects are moved to the dead-letter file, so one bad event never blocks the rest.
import { isDoorAlarm, type OutboxEvent } from '../../core/contracts/wire.ts';
import { ApiError, type BatchResult } from '../api/worker-client.ts';
import type { Logger } from '../log/logger.ts';
import type { Outbox } from './outbox.ts';

export const MAX_BATCH = 200;

export type UploaderOptions = {
  outbox: Outbox;
  /** Uploads a batch whose events are all check-ins or all door alarms. */
  upload: (events: OutboxEvent[], signal: AbortSignal) => Promise<BatchResult>;
  log: Logger;
  batchSize?: number;
  minBackoffMs?: number;
  maxBackoffMs?: number;
  /** Called after each acknowledged batch. */
  onUploaded?: (result: BatchResult & { count: number }) => void;
};

/** The leading events that share the first one's kind. */
const sameKind = (events: OutboxEvent[]): OutboxEvent[] => {
  const alarm = events[0] !== undefined && isDoorAlarm(events[0]);
  const cut = events.findIndex((e) => isDoorAlarm(e) !== alarm);
  return cut < 0 ? events : events.slice(0, cut);
};

const isMalformed = (error: unknown) => error instanceof ApiError && (error.status === 400 || error.status === 422);

export class Uploader {
  private loop: Promise<void> | undefined;
  private wake: (() => void) | undefined;
  private woken = false;
  private stopped = false;
  private readonly abort = new AbortController();
  private backoffMs = 0;
  private isolate = 0;
  private readonly batchSize: number;
  private readonly minBackoffMs: number;
  private readonly maxBackoffMs: number;
  /** When the last batch was acknowledged (epoch ms), or null. */
  lastUploadAt: number | null = null;
  /** The last upload error, cleared by a success. */
  lastError: string | null = null;

  constructor(private readonly options: UploaderOptions) {
    this.batchSize = Math.min(options.batchSize ?? MAX_BATCH, MAX_BATCH);
    this.minBackoffMs = options.minBackoffMs ?? 500;
    this.maxBackoffMs = options.maxBackoffMs ?? 10_000;
  }

  /** Starts uploading, or retries now if waiting out a backoff. */
  kick(): void {
    if (this.stopped) return;
    this.woken = true;
    this.wake?.();
    this.loop ??= this.run();
  }

  private sleep(ms?: number): Promise<void> {
    if (this.woken || this.stopped) {
      this.woken = false;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const timer = ms === undefined ? undefined : setTimeout(done, ms);
      const self = this;
      function done() {
        clearTimeout(timer);
        self.wake = undefined;
        self.woken = false;
        resolve();
      }
      this.wake = done;
    });
  }

  private async run(): Promise<void> {
    const { outbox, log } = this.options;
    while (!this.stopped) {
      if (outbox.pending === 0) {
        this.isolate = 0;
        await this.sleep();
        continue;
      }
      this.woken = false;
      const size = this.isolate > 0 ? 1 : this.batchSize;
      const batch = sameKind(outbox.peek(size));
      try {
        const result = await this.options.upload(batch, this.abort.signal);
        await outbox.ack(batch.length);
        if (this.isolate > 0) this.isolate--;
        this.backoffMs = 0;
        this.lastUploadAt = Date.now();
        this.lastError = null;
        log.info('check-ins uploaded', { count: batch.length, kind: isDoorAlarm(batch[0] as OutboxEvent) ? 'door_alarm' : 'checkin', ...result, pending: outbox.pending });
        this.options.onUploaded?.({ ...result, count: batch.length });
      } catch (error) {
        if (this.stopped) break;
        if (isMalformed(error) && batch.length > 1) {
          log.warn('the Worker rejected a check-in batch as malformed; resending its events one by one', {
            error: (error as Error).message,
          });
          this.isolate = batch.length;
          continue;
        }
        if (isMalformed(error)) {
          log.error('the Worker rejected a check-in as malformed; moved to the dead-letter file', {
            error: (error as Error).message,
            event: batch[0],
          });
          await outbox.deadLetter(1, (error as Error).message).catch((e: unknown) => log.error('dead-letter failed', { error: e }));
          if (this.isolate > 0) this.isolate--;
          continue;
        }
        this.backoffMs = this.backoffMs === 0 ? this.minBackoffMs : Math.min(this.backoffMs * 2, this.maxBackoffMs);
        this.lastError = (error as Error).message;
        const auth = error instanceof ApiError && (error.status === 401 || error.status === 403);
        log[auth ? 'error' : 'warn']('check-in upload failed; will retry', {
          error: (error as Error).message,
          pending: outbox.pending,
          retryInMs: this.backoffMs,
        });
        await this.sleep(this.backoffMs);
      }
    }
  }

  /** Stops uploading; an upload in flight is abandoned (its events stay in the outbox). */
  async stop(): Promise<void> {
    this.stopped = true;
    this.abort.abort();
    this.wake?.();
    await this.loop;
  }
}
