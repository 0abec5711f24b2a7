// The cache's running content hash. A snapshot's hash is computed once with EntitlementHash.of
// (possibly in the snapshot process, so it arrives here as a number); deltas then add and remove
// canonical records through an EntitlementHash of the changes. Both are sums modulo 2^52 of
// per-record hashes (core/entitlement-hash.ts), so the value is their sum.
import { EntitlementHash } from '../../core/entitlement-hash.ts';

const MOD = 2 ** 52;

export const hashNumber = (value: string): number => Number.parseInt(value, 16);
export const hashText = (sum: number): string => sum.toString(16).padStart(13, '0');

export class ContentHash {
  private readonly changes = new EntitlementHash();

  constructor(private readonly base: number) {}

  add(kind: string, text: string): void {
    this.changes.add(kind, text);
  }

  remove(kind: string, text: string): void {
    this.changes.remove(kind, text);
  }

  get sum(): number {
    return (this.base + hashNumber(this.changes.value)) % MOD;
  }

  get value(): string {
    return hashText(this.sum);
  }
}
