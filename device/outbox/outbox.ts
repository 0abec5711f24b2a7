// Durable queue of check-in events and door alarms. Each event is appended to outbox/events.jsonl and fdatasync'd
// before it becomes uploadable, so it survives kill -9 and power loss. The byte offset of what
// the Worker has acknowledged lives in outbox/acked.json (replaced atomically); events before it
// are done. When everything is acknowledged the log is truncated. Events the Worker rejects as
// malformed go to outbox/dead-letter.jsonl for a human to look at.
import { mkdir, open, readFile, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import type { OutboxEvent } from '../../core/contracts/wire.ts';
import type { Logger } from '../log/logger.ts';
import { writeFileAtomic, writeJsonAtomic } from '../storage/atomic-write.ts';

export const OUTBOX_DIR = 'outbox';
const EVENTS = 'events.jsonl';
const ACKED = 'acked.json';
const DEAD = 'dead-letter.jsonl';

type Pending = { event: OutboxEvent; end: number };

export class OutboxClosedError extends Error {
  override name = 'OutboxClosedError';
}

/** Default bound: at a busy door (a tap every 10 s, day and night) about eight weeks. */
export const DEFAULT_OUTBOX_MAX_EVENTS = 500_000;

export class Outbox {
  private chain: Promise<unknown> = Promise.resolve();
  private closed = false;
  /** Events dropped (oldest first) because the outbox was full, since it was opened. */
  dropped = 0;
  private maxEvents = DEFAULT_OUTBOX_MAX_EVENTS;

  private constructor(
    readonly dir: string,
    private handle: FileHandle,
    private size: number,
    private acked: number,
    private readonly queue: Pending[],
    private readonly log: Logger,
  ) {}

  /** Opens (or creates) the outbox in dir, recovering events left by a previous run. */
  static async open(dir: string, options: { log: Logger; maxEvents?: number }): Promise<Outbox> {
    const { log } = options;
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const eventsPath = join(dir, EVENTS);
    let acked = 0;
    try {
      const value = JSON.parse(await readFile(join(dir, ACKED), 'utf8')) as { offset?: unknown };
      if (Number.isSafeInteger(value.offset) && (value.offset as number) >= 0) acked = value.offset as number;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') log.warn('outbox acknowledgement file unreadable; resending from the start', { error });
    }
    const handle = await open(eventsPath, 'a+', 0o600);
    let data = await handle.readFile();
    // A line cut short by a crash mid-append was never acknowledged as durable: drop it.
    const complete = data.lastIndexOf(0x0a) + 1;
    if (complete < data.length) {
      log.warn('outbox ends with a partial event from an interrupted write; dropping it', { bytes: data.length - complete });
      await handle.truncate(complete);
      await handle.sync();
      data = data.subarray(0, complete);
    }
    // Larger than the log: the log was truncated after everything was acknowledged.
    if (acked > data.length) acked = 0;
    const queue: Pending[] = [];
    let start = acked;
    while (start < data.length) {
      const end = data.indexOf(0x0a, start) + 1;
      const line = data.subarray(start, end - 1).toString('utf8');
      try {
        queue.push({ event: JSON.parse(line) as OutboxEvent, end });
      } catch {
        log.error('outbox holds an unreadable event; skipping it', { offset: start });
      }
      start = end;
    }
    if (queue.length > 0) log.info('outbox recovered events from disk', { pending: queue.length });
    const outbox = new Outbox(dir, handle, data.length, acked, queue, log);
    outbox.maxEvents = options.maxEvents ?? DEFAULT_OUTBOX_MAX_EVENTS;
    return outbox;
  }

  /** Events stored and not yet acknowledged. */
  get pending(): number {
    return this.queue.length;
  }

  /** The oldest max pending events, in the order they happened. */
  peek(max: number): OutboxEvent[] {
    return this.queue.slice(0, max).map((p) => p.event);
  }

  private serial<T>(task: () => Promise<T>): Promise<T> {
    if (this.closed) return Promise.reject(new OutboxClosedError('the outbox is closed'));
    const run = this.chain.then(task);
    this.chain = run.catch(() => undefined);
    return run;
  }

  /** Stores an event durably; it is uploadable once the returned promise resolves. */
  append(event: OutboxEvent): Promise<void> {
    const line = Buffer.from(`${JSON.stringify(event)}\n`, 'utf8');
    return this.serial(async () => {
      try {
        await this.handle.write(line);
        await this.handle.datasync();
      } catch (error) {
        // Do not leave half a line for the next append to run into.
        await this.handle.truncate(this.size).catch(() => undefined);
        throw error;
      }
      this.size += line.length;
      this.queue.push({ event, end: this.size });
      if (this.queue.length > this.maxEvents) await this.dropOldest();
    });
  }

  /**
   * Full: drops the oldest events, a slice at a time (1% of the bound) so the acknowledgement file
   * is not rewritten per tap, logs how many, and compacts the log file so it stays bounded too.
   */
  private async dropOldest(): Promise<void> {
    const count = Math.max(this.queue.length - this.maxEvents, Math.ceil(this.maxEvents / 100));
    const gone = this.queue.splice(0, Math.min(count, this.queue.length - 1));
    const last = gone.at(-1);
    if (!last) return;
    this.dropped += gone.length;
    this.log.warn('outbox full; dropped the oldest check-ins', {
      dropped: gone.length,
      droppedTotal: this.dropped,
      maxEvents: this.maxEvents,
      oldestKept: this.queue[0]?.event.occurredAt ?? null,
    });
    this.acked = last.end;
    await writeJsonAtomic(join(this.dir, ACKED), { offset: this.acked }, { mode: 0o600 });
    // Rewrite the log without the acknowledged and dropped prefix once it is most of the file.
    if (this.acked > this.size / 2) await this.compact();
  }

  private async compact(): Promise<void> {
    const path = join(this.dir, EVENTS);
    const keep = Buffer.alloc(this.size - this.acked);
    await this.handle.read(keep, 0, keep.length, this.acked);
    // Offset 0 first: a crash between the two writes then resends events (the Worker ignores
    // duplicate ids) instead of skipping some.
    const shift = this.acked;
    await writeJsonAtomic(join(this.dir, ACKED), { offset: 0 }, { mode: 0o600 });
    await writeFileAtomic(path, keep, { mode: 0o600 });
    await this.handle.close();
    this.handle = await open(path, 'a+', 0o600);
    for (const p of this.queue) p.end -= shift;
    this.size -= shift;
    this.acked = 0;
  }

  /** Removes the oldest count events after the Worker acknowledged them. */
  ack(count: number): Promise<void> {
    return this.serial(async () => {
      const done = this.queue.splice(0, Math.min(count, this.queue.length));
      const last = done.at(-1);
      if (!last) return;
      if (this.queue.length === 0) {
        // Everything is uploaded: start the log afresh (truncate first; see open()).
        await this.handle.truncate(0);
        await this.handle.sync();
        this.size = 0;
        this.acked = 0;
      } else {
        this.acked = last.end;
      }
      await writeJsonAtomic(join(this.dir, ACKED), { offset: this.acked }, { mode: 0o600 });
    });
  }

  /** Moves the oldest count events to the dead-letter file, with the reason, and removes them. */
  async deadLetter(count: number, reason: string): Promise<void> {
    const events = this.peek(count);
    if (events.length === 0) return;
    await this.serial(async () => {
      const dead = await open(join(this.dir, DEAD), 'a', 0o600);
      try {
        const at = new Date().toISOString();
        await dead.write(events.map((event) => `${JSON.stringify({ at, reason, event })}\n`).join(''));
        await dead.datasync();
      } finally {
        await dead.close();
      }
    });
    await this.ack(events.length);
  }

  /** Waits for writes in progress, then closes the log. */
  async close(): Promise<void> {
    if (this.closed) return;
    await this.chain;
    this.closed = true;
    await this.handle.close();
  }

  static deadLetterPath(dir: string): string {
    return join(dir, DEAD);
  }
}
