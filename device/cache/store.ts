// cache.json: the last snapshot the door accepted, so it can decide with the Worker unreachable.
import { join } from 'node:path';
import type { EntitlementSnapshot } from '../../core/contracts/wire.ts';
import type { Logger } from '../log/logger.ts';
import { readFileIfExists, writeFileAtomic } from '../storage/atomic-write.ts';
import { EntitlementCache, parseSnapshot } from './entitlement-cache.ts';

export const CACHE_FILE = 'cache.json';

export const cachePath = (dataDir: string) => join(dataDir, CACHE_FILE);

/** Saves a snapshot; pass the response body as received to avoid serialising a large one again. */
export async function saveSnapshot(dataDir: string, snapshot: EntitlementSnapshot | string): Promise<void> {
  const text = typeof snapshot === 'string' ? snapshot : JSON.stringify(snapshot);
  await writeFileAtomic(cachePath(dataDir), text, { mode: 0o600 });
}

/**
 * Loads the cache saved on disk. A missing file gives undefined; so does an unreadable, corrupt
 * or foreign one, which is logged and otherwise ignored (the next pull replaces it).
 */
export async function loadCache(
  dataDir: string,
  options: { log: Logger; siteId?: string },
): Promise<EntitlementCache | undefined> {
  const path = cachePath(dataDir);
  let text: string | undefined;
  try {
    text = await readFileIfExists(path);
  } catch (error) {
    options.log.warn('cannot read the entitlement cache; ignoring it', { path, error });
    return undefined;
  }
  if (text === undefined) return undefined;
  try {
    const snapshot = parseSnapshot(text);
    if (options.siteId && snapshot.siteId !== options.siteId) {
      options.log.warn('the entitlement cache belongs to another site; ignoring it', {
        path,
        cacheSiteId: snapshot.siteId,
        siteId: options.siteId,
      });
      return undefined;
    }
    return EntitlementCache.fromSnapshot(snapshot, { validated: true });
  } catch (error) {
    options.log.warn('the entitlement cache is corrupt; ignoring it', { path, error });
    return undefined;
  }
}
