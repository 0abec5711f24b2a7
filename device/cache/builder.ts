// Turns Worker response bodies into cache parts. Small bodies (deltas, `current`, small sites) are
// handled inline; large ones go to a short-lived child process (snapshot-process.ts), so parsing
// and building a million-credential snapshot (about a second of CPU on a Pi) never blocks the event
// loop that decides card taps, and the parse's garbage leaves with the process: a worker thread
// shares the agent's malloc arena, and what it left there stayed in the agent's memory (about
// 10 MB, varying from run to run, at a million cards). The process is started per large body and
// stopped once nothing is pending; if it cannot start, or dies, the work runs inline instead.
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { Logger } from '../log/logger.ts';
import { DeltaError, ownedParts, PARTS_LAYOUT, SnapshotError, type CacheParts } from './cache-parts.ts';
import { processBody, rewriteParts, type ProcessResult, type RewriteResult } from './snapshot-work.ts';

export type ProcessRequest = { id: number; op: 'process'; bytes: Uint8Array } | { id: number; op: 'rewrite'; parts: CacheParts };
export type ProcessResponse =
  | { id: number; ok: true; layout: number; result: ProcessResult | RewriteResult }
  | { id: number; ok: false; error: { name: string; message: string } };

export type BuilderOptions = {
  log: Logger;
  /** Build large bodies in a child process (default true). */
  childProcess?: boolean;
  /** Bodies and caches up to this size are handled inline. Default 256 KiB / 20,000 members. */
  inlineBytes?: number;
  inlineMembers?: number;
};

const CHILD_ENTRY = fileURLToPath(new URL('./snapshot-process.mjs', import.meta.url));

function rethrow(error: { name: string; message: string }): never {
  if (error.name === 'SnapshotError') throw new SnapshotError(error.message);
  if (error.name === 'DeltaError') throw new DeltaError(error.message);
  throw Object.assign(new Error(error.message), { name: error.name });
}

export class SnapshotBuilder {
  private child: ChildProcess | undefined;
  private childFailed = false;
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (r: ProcessResult | RewriteResult) => void; reject: (e: Error) => void }>();
  private readonly inlineBytes: number;
  private readonly inlineMembers: number;
  private closed = false;

  constructor(private readonly options: BuilderOptions) {
    this.inlineBytes = options.inlineBytes ?? 256 * 1024;
    this.inlineMembers = options.inlineMembers ?? 20_000;
  }

  /** Whether a child process is running (it runs only while work is pending). */
  get childRunning(): boolean {
    return this.child !== undefined;
  }

  /** Whether work of this size runs in the child process. */
  private offload(large: boolean): boolean {
    return large && (this.options.childProcess ?? true) && !this.childFailed && !this.closed;
  }

  /** Parses a response body: a snapshot becomes cache parts (and keeps its bytes for cache.json). */
  async process(bytes: Uint8Array): Promise<ProcessResult> {
    if (!this.offload(bytes.byteLength > this.inlineBytes)) return processBody(bytes);
    try {
      const result = (await this.call({ id: this.nextId++, op: 'process', bytes })) as ProcessResult;
      // The child does not send the bytes back: these are the same.
      return result.kind === 'snapshot' ? { ...result, bytes } : result;
    } catch (error) {
      if (error instanceof ChildUnavailable) return processBody(bytes);
      throw error;
    }
  }

  /** Rebuilds a delta-changed cache compactly and renders its snapshot text. */
  async rewrite(parts: CacheParts): Promise<RewriteResult> {
    if (!this.offload(parts.flags.length + parts.extras.length > this.inlineMembers)) return rewriteParts(parts);
    try {
      return (await this.call({ id: this.nextId++, op: 'rewrite', parts })) as RewriteResult;
    } catch (error) {
      if (error instanceof ChildUnavailable) return rewriteParts(parts);
      throw error;
    }
  }

  private start(): ChildProcess {
    if (this.child) return this.child;
    // A bare Node: the entry registers its own loader, and the agent's flags are not the child's.
    const child = fork(CHILD_ENTRY, [], { serialization: 'advanced', execArgv: [], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    let answered = false;
    child.on('message', (response: ProcessResponse) => {
      if (response.ok && response.layout !== PARTS_LAYOUT) {
        // Other code than this agent's is on disk (an upgrade in progress): build inline until restarted.
        this.childFailed = true;
        fail(new Error(`the snapshot process answered in layout ${response.layout}, this agent reads ${PARTS_LAYOUT}`));
        return;
      }
      answered = true;
      const waiter = this.pending.get(response.id);
      if (!waiter) return;
      this.pending.delete(response.id);
      if (response.ok) {
        const result = response.result;
        waiter.resolve('parts' in result ? { ...result, parts: ownedParts(result.parts) } : result);
      } else {
        try {
          rethrow(response.error);
        } catch (error) {
          waiter.reject(error as Error);
        }
      }
    });
    const fail = (error: Error) => {
      if (this.child !== child) return;
      this.child = undefined;
      // A process that never answered (e.g. cannot load its code) will not do better next time.
      if (!answered) this.childFailed = true;
      if (!this.closed) this.options.log.warn('the snapshot process failed; building inline until it restarts', { error });
      for (const waiter of this.pending.values()) waiter.reject(new ChildUnavailable(error.message));
      this.pending.clear();
      child.kill('SIGKILL');
    };
    child.on('error', fail);
    child.on('exit', (code, signal) => fail(new Error(`the snapshot process exited with ${signal ?? `code ${code}`}`)));
    this.child = child;
    return child;
  }

  /** Stops the child once nothing is pending: its memory goes back to the system. */
  private stopWhenIdle() {
    const child = this.child;
    if (!child || this.pending.size > 0) return;
    this.child = undefined;
    child.disconnect();
  }

  private call(request: ProcessRequest): Promise<ProcessResult | RewriteResult> {
    let child: ChildProcess;
    try {
      child = this.start();
    } catch (error) {
      this.childFailed = true;
      this.options.log.warn('cannot start the snapshot process; building inline', { error });
      return Promise.reject(new ChildUnavailable((error as Error).message));
    }
    return new Promise<ProcessResult | RewriteResult>((resolve, reject) => {
      this.pending.set(request.id, { resolve, reject });
      child.send(request, (error) => {
        if (error && this.pending.delete(request.id)) reject(new ChildUnavailable(error.message));
      });
    }).finally(() => this.stopWhenIdle());
  }

  async close(): Promise<void> {
    this.closed = true;
    const child = this.child;
    this.child = undefined;
    for (const waiter of this.pending.values()) waiter.reject(new ChildUnavailable('the agent is stopping'));
    this.pending.clear();
    if (child && child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGKILL');
      await exited;
    }
  }
}

class ChildUnavailable extends Error {
  override name = 'ChildUnavailable';
}
