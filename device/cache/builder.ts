// Turns Worker response bodies into cache parts. Small bodies (deltas, `current`, small sites) are
// handled inline; large ones go to a worker thread, so parsing and building a million-credential
// snapshot (about a second of CPU on a Pi) never blocks the event loop that decides card taps. The
// thread is started on first use; if it cannot start, or dies, the work runs inline instead.
import { Worker } from 'node:worker_threads';
import type { Logger } from '../log/logger.ts';
import { DeltaError, SnapshotError, type CacheParts } from './cache-parts.ts';
import { processBody, rewriteParts, type ProcessResult, type RewriteResult } from './snapshot-work.ts';

export type ThreadRequest = { id: number; op: 'process'; bytes: Uint8Array } | { id: number; op: 'rewrite'; parts: CacheParts };
export type ThreadResponse =
  | { id: number; ok: true; result: ProcessResult | RewriteResult }
  | { id: number; ok: false; error: { name: string; message: string } };

export type BuilderOptions = {
  log: Logger;
  /** Use the worker thread for large bodies (default true). */
  thread?: boolean;
  /** Bodies and caches up to this size are handled inline. Default 256 KiB / 20,000 members. */
  inlineBytes?: number;
  inlineMembers?: number;
};

const THREAD_ENTRY = new URL('./snapshot-thread.mjs', import.meta.url);

const ownBuffer = (bytes: Uint8Array): Uint8Array =>
  bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength && bytes.buffer instanceof ArrayBuffer ? bytes : bytes.slice();

function rethrow(error: { name: string; message: string }): never {
  if (error.name === 'SnapshotError') throw new SnapshotError(error.message);
  if (error.name === 'DeltaError') throw new DeltaError(error.message);
  throw Object.assign(new Error(error.message), { name: error.name });
}

export class SnapshotBuilder {
  private worker: Worker | undefined;
  private threadFailed = false;
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (r: ProcessResult | RewriteResult) => void; reject: (e: Error) => void }>();
  private readonly inlineBytes: number;
  private readonly inlineMembers: number;
  private closed = false;

  constructor(private readonly options: BuilderOptions) {
    this.inlineBytes = options.inlineBytes ?? 256 * 1024;
    this.inlineMembers = options.inlineMembers ?? 20_000;
  }

  /** Whether work of this size runs in the thread. */
  private useThread(large: boolean): boolean {
    return large && (this.options.thread ?? true) && !this.threadFailed && !this.closed;
  }

  /** Parses a response body: a snapshot becomes cache parts (and keeps its bytes for cache.json). */
  async process(bytes: Uint8Array): Promise<ProcessResult> {
    if (!this.useThread(bytes.byteLength > this.inlineBytes)) return processBody(bytes);
    const own = ownBuffer(bytes);
    try {
      return (await this.call({ id: this.nextId++, op: 'process', bytes: own }, [own.buffer as ArrayBuffer])) as ProcessResult;
    } catch (error) {
      if (!(error instanceof ThreadUnavailable)) throw error;
      if (own.byteLength > 0) return processBody(own);
      // The bytes were transferred to a thread that died before answering; they are gone.
      throw new SnapshotError('the snapshot thread stopped while building; the next pull retries');
    }
  }

  /** Rebuilds a delta-changed cache compactly and renders its snapshot text. */
  async rewrite(parts: CacheParts): Promise<RewriteResult> {
    if (!this.useThread(parts.flags.length + parts.extras.length > this.inlineMembers)) return rewriteParts(parts);
    try {
      // Not transferred: the live cache keeps using these arrays; posting copies them.
      return (await this.call({ id: this.nextId++, op: 'rewrite', parts }, [])) as RewriteResult;
    } catch (error) {
      if (error instanceof ThreadUnavailable) return rewriteParts(parts);
      throw error;
    }
  }

  private thread(): Worker {
    if (this.worker) return this.worker;
    const worker = new Worker(THREAD_ENTRY);
    worker.unref();
    worker.on('message', (response: ThreadResponse) => {
      const waiter = this.pending.get(response.id);
      if (!waiter) return;
      this.pending.delete(response.id);
      if (response.ok) waiter.resolve(response.result);
      else {
        try {
          rethrow(response.error);
        } catch (error) {
          waiter.reject(error as Error);
        }
      }
    });
    const fail = (error: Error) => {
      if (this.worker !== worker) return;
      this.worker = undefined;
      // A thread that never answered (e.g. cannot load its code) will not do better next time.
      if (!this.everAnswered) this.threadFailed = true;
      if (!this.closed) this.options.log.warn('the snapshot thread failed; building inline until it restarts', { error });
      for (const waiter of this.pending.values()) waiter.reject(new ThreadUnavailable(error.message));
      this.pending.clear();
    };
    worker.on('error', fail);
    worker.on('exit', (code) => fail(new Error(`the snapshot thread exited with code ${code}`)));
    this.worker = worker;
    return worker;
  }

  private everAnswered = false;

  private call(request: ThreadRequest, transfer: ArrayBuffer[]): Promise<ProcessResult | RewriteResult> {
    let worker: Worker;
    try {
      worker = this.thread();
    } catch (error) {
      this.threadFailed = true;
      this.options.log.warn('cannot start the snapshot thread; building inline', { error });
      return Promise.reject(new ThreadUnavailable((error as Error).message));
    }
    return new Promise<ProcessResult | RewriteResult>((resolve, reject) => {
      this.pending.set(request.id, {
        resolve: (r) => {
          this.everAnswered = true;
          resolve(r);
        },
        reject,
      });
      worker.ref();
      worker.postMessage(request, transfer);
    }).finally(() => {
      if (this.pending.size === 0) this.worker?.unref();
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    const worker = this.worker;
    this.worker = undefined;
    for (const waiter of this.pending.values()) waiter.reject(new ThreadUnavailable('the agent is stopping'));
    this.pending.clear();
    if (worker) await worker.terminate();
  }
}

class ThreadUnavailable extends Error {
  override name = 'ThreadUnavailable';
}
