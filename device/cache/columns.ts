// The narrow columns the cache keeps per member and per card (entitlement-cache.ts):
//   - UintColumn: small unsigned integers in the narrowest of 1, 2, 3 or 4 bytes that holds the
//     largest, widening in place when a delta writes a larger one (rare: a new profile beyond the
//     256th, a new distinct paid-through date beyond the 255th);
//   - KeyIndex: the sorted Wiegand keys, split into a small table of high parts and, per card,
//     only the low 8, 16 or 32 bits, whichever split costs fewest bytes for these keys.
// Both come apart into plain typed arrays (…Parts) for posting between threads.

export type UintParts = { width: 1 | 2 | 3 | 4; length: number; data: Uint8Array | Uint16Array | Uint32Array };

const widthFor = (max: number): 1 | 2 | 3 | 4 => (max <= 0xff ? 1 : max <= 0xffff ? 2 : max <= 0xff_ffff ? 3 : 4);
const allocate = (width: 1 | 2 | 3 | 4, length: number) =>
  width === 1 ? new Uint8Array(length) : width === 2 ? new Uint16Array(length) : width === 3 ? new Uint8Array(length * 3) : new Uint32Array(length);

export class UintColumn {
  private width: 1 | 2 | 3 | 4;
  private data: Uint8Array | Uint16Array | Uint32Array;
  readonly length: number;

  private constructor(parts: UintParts) {
    this.width = parts.width;
    this.data = parts.data;
    this.length = parts.length;
  }

  /** A column of `length` zeros wide enough for values up to max. */
  static sized(length: number, max: number): UintColumn {
    const width = widthFor(max);
    return new UintColumn({ width, length, data: allocate(width, length) });
  }

  static fromParts(parts: UintParts): UintColumn {
    return new UintColumn(parts);
  }

  parts(): UintParts {
    return { width: this.width, length: this.length, data: this.data };
  }

  get byteLength(): number {
    return this.data.byteLength;
  }

  get(i: number): number {
    const d = this.data;
    if (this.width !== 3) return d[i] as number;
    const at = i * 3;
    return ((d[at] as number) << 16) | ((d[at + 1] as number) << 8) | (d[at + 2] as number);
  }

  set(i: number, value: number): void {
    if (!Number.isInteger(value) || value < 0 || value > 0xffff_ffff) throw new RangeError(`column value ${value} is not a 32-bit unsigned integer`);
    if (widthFor(value) > this.width) this.widen(widthFor(value));
    if (this.width !== 3) {
      this.data[i] = value;
      return;
    }
    const at = i * 3;
    this.data[at] = value >>> 16;
    this.data[at + 1] = (value >>> 8) & 0xff;
    this.data[at + 2] = value & 0xff;
  }

  private widen(width: 1 | 2 | 3 | 4) {
    const next = new UintColumn({ width, length: this.length, data: allocate(width, this.length) });
    for (let i = 0; i < this.length; i++) next.set(i, this.get(i));
    this.width = width;
    this.data = next.data;
  }
}

export type KeyIndexParts = {
  /** Bits of each key kept per card: the low bits. */
  lowBits: 8 | 16 | 32;
  low: Uint8Array | Uint16Array | Uint32Array;
  /** The distinct high parts (key / 2^lowBits), ascending. */
  highs: Float64Array;
  /** Slot where each high part's cards start; one more entry, the number of cards. */
  starts: Uint32Array;
};

const LOW_BITS = [8, 16, 32] as const;

/**
 * Splits ascending keys (below 2^53) at the cheapest of 8, 16 or 32 low bits: a card costs
 * lowBits / 8 bytes, and each distinct high part 12 bytes (its value and where its cards start).
 * Cards issued in runs, as they usually are, share high parts, so most sites get one byte a card.
 */
export function splitKeys(sorted: ArrayLike<number>): KeyIndexParts {
  const n = sorted.length;
  const distinct = LOW_BITS.map((bits) => {
    const scale = 2 ** bits;
    let count = 0;
    let previous = -1;
    for (let i = 0; i < n; i++) {
      const high = Math.floor((sorted[i] as number) / scale);
      if (high !== previous) count++;
      previous = high;
    }
    return count;
  });
  let best = 0;
  const cost = (b: number) => n * (LOW_BITS[b] as number / 8) + (distinct[b] as number) * 12;
  for (let b = 1; b < LOW_BITS.length; b++) if (cost(b) < cost(best)) best = b;
  const lowBits = LOW_BITS[best] as 8 | 16 | 32;
  const scale = 2 ** lowBits;
  const low = lowBits === 8 ? new Uint8Array(n) : lowBits === 16 ? new Uint16Array(n) : new Uint32Array(n);
  const highs = new Float64Array(distinct[best] as number);
  const starts = new Uint32Array(highs.length + 1);
  let h = -1;
  for (let i = 0; i < n; i++) {
    const key = sorted[i] as number;
    const high = Math.floor(key / scale);
    if (h < 0 || highs[h] !== high) {
      highs[++h] = high;
      starts[h] = i;
    }
    low[i] = key - high * scale;
  }
  starts[highs.length] = n;
  return { lowBits, low, highs, starts };
}

export class KeyIndex {
  private readonly scale: number;
  constructor(private readonly p: KeyIndexParts) {
    this.scale = 2 ** p.lowBits;
  }

  parts(): KeyIndexParts {
    return this.p;
  }

  get length(): number {
    return this.p.low.length;
  }

  get byteLength(): number {
    return this.p.low.byteLength + this.p.highs.byteLength + this.p.starts.byteLength;
  }

  /** The slot of a key, or -1. */
  slotOf(key: number): number {
    const { highs, starts, low } = this.p;
    const high = Math.floor(key / this.scale);
    const want = key - high * this.scale;
    let lo = 0;
    let hi = highs.length - 1;
    let bucket = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const v = highs[mid] as number;
      if (v < high) lo = mid + 1;
      else if (v > high) hi = mid - 1;
      else {
        bucket = mid;
        break;
      }
    }
    if (bucket < 0) return -1;
    lo = starts[bucket] as number;
    hi = (starts[bucket + 1] as number) - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const v = low[mid] as number;
      if (v < want) lo = mid + 1;
      else if (v > want) hi = mid - 1;
      else return mid;
    }
    return -1;
  }

  /** Calls fn with every slot and its key, in key order. */
  forEach(fn: (slot: number, key: number) => void): void {
    const { highs, starts, low } = this.p;
    for (let b = 0; b < highs.length; b++) {
      const base = (highs[b] as number) * this.scale;
      for (let s = starts[b] as number; s < (starts[b + 1] as number); s++) fn(s, base + (low[s] as number));
    }
  }
}
