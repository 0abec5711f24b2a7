// What a door does once the Worker says it was revoked (401 device-revoked, on any call): it
// wipes its entitlement cache, refuses every tap and ignores commands, and remembers that in
// revoked.json, so a restart while offline stays revoked. Provisioning the door again clears it.
import { unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { readFileIfExists, writeJsonAtomic } from '../storage/atomic-write.ts';

export const REVOKED_FILE = 'revoked.json';

const Revocation = z.object({ at: z.number(), detail: z.string() });
export type Revocation = z.infer<typeof Revocation>;

const revokedPath = (dataDir: string) => join(dataDir, REVOKED_FILE);

/** The revocation this door remembers, if any. An unreadable file counts as revoked: fail secure. */
export async function readRevocation(dataDir: string): Promise<Revocation | undefined> {
  const text = await readFileIfExists(revokedPath(dataDir));
  if (text === undefined) return undefined;
  try {
    return Revocation.parse(JSON.parse(text));
  } catch {
    return { at: 0, detail: `${REVOKED_FILE} is unreadable; treated as revoked` };
  }
}

export const recordRevocation = (dataDir: string, revocation: Revocation): Promise<void> => writeJsonAtomic(revokedPath(dataDir), revocation, { mode: 0o600 });

/** Forgets a revocation: a door provisioned again starts trusted. */
export async function clearRevocation(dataDir: string): Promise<void> {
  try {
    await unlink(revokedPath(dataDir));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
}
