// Nonces of executed commands, so a captured command cannot be replayed. Each is kept until its
// command's expiry plus the allowed clock skew (after that checkCommand refuses it as expired
// anyway), in command-nonces.json, replaced atomically before the command runs.
import { join } from 'node:path';
import type { Logger } from '../log/logger.ts';
import { readFileIfExists, writeJsonAtomic } from '../storage/atomic-write.ts';

export const NONCE_FILE = 'command-nonces.json';

export class NonceStore {
  private chain: Promise<unknown> = Promise.resolve();

  private constructor(
    private readonly path: string,
    private readonly nonces: Map<string, number>,
    private readonly now: () => number,
  ) {}

  static async open(dataDir: string, options: { log: Logger; now: () => number }): Promise<NonceStore> {
    const path = join(dataDir, NONCE_FILE);
    const nonces = new Map<string, number>();
    try {
      const text = await readFileIfExists(path);
      if (text !== undefined) {
        const value = JSON.parse(text) as { nonces?: Record<string, unknown> };
        for (const [nonce, keepUntil] of Object.entries(value.nonces ?? {})) {
          if (Number.isSafeInteger(keepUntil)) nonces.set(nonce, keepUntil as number);
        }
      }
    } catch (error) {
      // Losing the list only matters for commands still within their lifetime (seconds).
      options.log.warn('the command nonce file is unreadable; starting a new one', { path, error });
    }
    return new NonceStore(path, nonces, options.now);
  }

  has(nonce: string): boolean {
    return this.nonces.has(nonce);
  }

  get size(): number {
    return this.nonces.size;
  }

  /** Records a nonce until keepUntil (epoch ms); resolves once it is on disk. */
  add(nonce: string, keepUntil: number): Promise<void> {
    this.nonces.set(nonce, keepUntil);
    const now = this.now();
    for (const [n, until] of this.nonces) if (until < now) this.nonces.delete(n);
    const snapshot = { nonces: Object.fromEntries(this.nonces) };
    const run = this.chain.then(() => writeJsonAtomic(this.path, snapshot, { mode: 0o600 }));
    this.chain = run.catch(() => undefined);
    return run;
  }
}
