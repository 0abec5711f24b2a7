// The entitlement cache on disk, so the door can decide with the Worker unreachable:
//   cache.json          the last full snapshot (as the Worker sent it, or rebuilt from deltas),
//                       replaced atomically;
//   cache-deltas.jsonl  the deltas applied since, one per line, each fdatasync'd before the next.
// Loading applies the journal on top of the snapshot. The sync folds the journal into a new
// cache.json when it grows (see EntitlementSync), so it stays short.
import { open, readFile, unlink } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { EntitlementDelta, type EntitlementSnapshot } from '../../core/contracts/wire.ts';
import type { Logger } from '../log/logger.ts';
import { fsyncDirectory, readFileIfExists, removeStaleTemps, writeFileAtomic } from '../storage/atomic-write.ts';
import type { SnapshotBuilder } from './builder.ts';
import { EntitlementCache } from './entitlement-cache.ts';

export const CACHE_FILE = 'cache.json';
export const DELTAS_FILE = 'cache-deltas.jsonl';

export const cachePath = (dataDir: string) => join(dataDir, CACHE_FILE);
export const deltasPath = (dataDir: string) => join(dataDir, DELTAS_FILE);

/** Saves a snapshot; pass the response body as received to avoid serialising a large one again. */
export async function saveSnapshot(dataDir: string, snapshot: EntitlementSnapshot | string | Uint8Array): Promise<void> {
  const data = typeof snapshot === 'string' || snapshot instanceof Uint8Array ? snapshot : JSON.stringify(snapshot);
  await writeFileAtomic(cachePath(dataDir), data, { mode: 0o600 });
}

async function removeIfExists(path: string) {
  try {
    await unlink(path);
    await fsyncDirectory(dirname(path));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
}

/** Serialises writes to cache.json and the delta journal. */
export class CacheStore {
  private chain: Promise<unknown> = Promise.resolve();
  /** Deltas and bytes in the journal since the last snapshot. */
  journalDeltas = 0;
  journalBytes = 0;

  constructor(readonly dataDir: string) {}

  private enqueue<T>(task: () => Promise<T>): Promise<T> {
    const run = this.chain.then(task, task);
    this.chain = run.catch(() => undefined);
    return run;
  }

  /** Replaces cache.json and empties the journal. */
  saveSnapshot(data: string | Uint8Array): Promise<void> {
    return this.enqueue(async () => {
      await saveSnapshot(this.dataDir, data);
      await removeIfExists(deltasPath(this.dataDir));
      this.journalDeltas = 0;
      this.journalBytes = 0;
    });
  }

  /** Appends a delta to the journal (durable when the promise resolves). */
  appendDelta(delta: EntitlementDelta): Promise<void> {
    return this.enqueue(async () => {
      const line = `${JSON.stringify(delta)}\n`;
      const handle = await open(deltasPath(this.dataDir), 'a', 0o600);
      try {
        await handle.writeFile(line);
        await handle.datasync();
      } finally {
        await handle.close();
      }
      this.journalDeltas++;
      this.journalBytes += Buffer.byteLength(line);
    });
  }

  /** Removes cache.json and the journal (a revoked door keeps no member list), after queued writes. */
  wipe(): Promise<void> {
    return this.enqueue(async () => {
      await removeIfExists(cachePath(this.dataDir));
      await removeIfExists(deltasPath(this.dataDir));
      this.journalDeltas = 0;
      this.journalBytes = 0;
    });
  }

  /** Waits for queued writes. */
  async flush(): Promise<void> {
    await this.chain;
  }
}

/**
 * Loads the cache saved on disk: cache.json, then the journal's deltas in order. A missing file
 * gives undefined; so does an unreadable, corrupt or foreign one, which is logged and otherwise
 * ignored (the next pull replaces it). Journal deltas that do not follow on are dropped.
 */
export async function loadCache(
  dataDir: string,
  options: { log: Logger; siteId?: string; builder: SnapshotBuilder; store?: CacheStore },
): Promise<EntitlementCache | undefined> {
  const { log } = options;
  const path = cachePath(dataDir);
  const stale = await removeStaleTemps(dataDir);
  if (stale > 0) log.info('removed temporary files left by an interrupted write', { dataDir, files: stale });
  let bytes: Uint8Array;
  try {
    bytes = await readFile(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') log.warn('cannot read the entitlement cache; ignoring it', { path, error });
    return undefined;
  }
  let cache: EntitlementCache;
  try {
    const result = await options.builder.process(bytes);
    if (result.kind !== 'snapshot') throw new Error('cache.json holds an update, not a snapshot');
    if (options.siteId && result.parts.siteId !== options.siteId) {
      log.warn('the entitlement cache belongs to another site; ignoring it', { path, cacheSiteId: result.parts.siteId, siteId: options.siteId });
      return undefined;
    }
    cache = EntitlementCache.fromParts(result.parts);
  } catch (error) {
    log.warn('the entitlement cache is corrupt; ignoring it', { path, error });
    return undefined;
  }

  let journal: string | undefined;
  try {
    journal = await readFileIfExists(deltasPath(dataDir));
  } catch (error) {
    log.warn('cannot read the entitlement delta journal; using cache.json alone', { error });
  }
  if (!journal) return cache;
  let applied = 0;
  let lines = 0;
  for (const line of journal.split('\n')) {
    if (line.trim() === '') continue;
    lines++;
    let delta: EntitlementDelta;
    try {
      delta = EntitlementDelta.parse(JSON.parse(line));
    } catch {
      log.warn('the entitlement delta journal ends with a damaged entry; ignoring the rest', { applied });
      break;
    }
    if (delta.version <= cache.version) continue;
    if (delta.fromVersion !== cache.version) {
      log.warn('the entitlement delta journal does not follow on from cache.json; ignoring the rest', {
        cacheVersion: cache.version,
        fromVersion: delta.fromVersion,
      });
      break;
    }
    try {
      const result = cache.applyDelta(delta);
      applied++;
      if (!result.hashMatches) log.warn('a journalled delta left a different content hash than the Worker declared', { version: delta.version });
    } catch (error) {
      log.warn('cannot apply a journalled delta; ignoring the rest', { error, version: delta.version });
      break;
    }
  }
  if (options.store) {
    options.store.journalDeltas = lines;
    options.store.journalBytes = Buffer.byteLength(journal);
  }
  if (applied > 0) log.info('applied journalled entitlement deltas', { applied, version: cache.version });
  return cache;
}
