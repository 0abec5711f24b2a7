// Heartbeats: right after start and then every 30 s (config heartbeatSeconds), the agent tells the
// Worker how it is (version, content hash, clock offset, broker, outbox, GPIO driver). The reply
// carries the server time and the server's entitlement version and hash, which the agent uses to
// correct its clock and to find drift.
import type { z } from 'zod';
import type { Heartbeat, HeartbeatReply } from '../../core/contracts/wire.ts';
import { ApiError, type Timed, type WorkerClient } from '../api/worker-client.ts';
import type { Logger } from '../log/logger.ts';

export type HeartbeatOptions = {
  client: Pick<WorkerClient, 'heartbeat'>;
  intervalMs: number;
  body: () => Heartbeat;
  onReply: (reply: Timed<{ reply: z.infer<typeof HeartbeatReply> }>) => void;
  log: Logger;
};

export class HeartbeatLoop {
  private timer: NodeJS.Timeout | undefined;
  private inflight: Promise<void> | undefined;
  private stopped = false;
  private failures = 0;
  private readonly abort = new AbortController();
  /** When the Worker last answered a heartbeat (local wall clock), or null. */
  lastHeartbeatAt: number | null = null;

  constructor(private readonly options: HeartbeatOptions) {}

  start(): void {
    void this.beat();
  }

  /** Sends a heartbeat now (unless one is in flight) and restarts the interval. */
  kick(): void {
    void this.beat();
  }

  private schedule() {
    clearTimeout(this.timer);
    if (this.stopped) return;
    this.timer = setTimeout(() => void this.beat(), this.options.intervalMs);
  }

  private beat(): Promise<void> {
    if (this.stopped) return Promise.resolve();
    this.inflight ??= (async () => {
      const { log } = this.options;
      try {
        const reply = await this.options.client.heartbeat(this.options.body(), this.abort.signal);
        if (this.stopped) return;
        if (this.failures > 0) log.info('heartbeats work again', { after: this.failures });
        this.failures = 0;
        this.lastHeartbeatAt = Date.now();
        this.options.onReply(reply);
      } catch (error) {
        if (this.stopped) return;
        this.failures++;
        const auth = error instanceof ApiError && (error.status === 401 || error.status === 403);
        const level = auth ? 'error' : this.failures === 1 || this.failures % 10 === 0 ? 'warn' : 'debug';
        log[level]('heartbeat failed', { error: (error as Error).message, failures: this.failures });
      } finally {
        this.inflight = undefined;
        this.schedule();
      }
    })();
    return this.inflight;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    this.abort.abort();
    await this.inflight?.catch(() => undefined);
  }
}
