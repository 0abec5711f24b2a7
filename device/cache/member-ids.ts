// Member ids, stored compactly and sorted, so the cache can find a member by id (for deltas)
// without a million-entry Map. Ids look like `mem_` plus lowercase base-32 characters (the
// Worker's, edge/lib/ids.ts) or base-36 ones; when every id in a snapshot has one of those shapes
// and the same length (the usual case), the suffix is packed into 16-bit words: 5 bits a character
// for base 32 (a 22-character suffix in 14 bytes), three characters a word for base 36 (16 bytes),
// instead of a ~60-byte string. Both alphabets are in character-code order, so word order equals
// string order for same-length ids: a packed table is sorted by a radix sort over the words and
// searched by binary search. Any other shape falls back to a plain sorted array of strings.

const PREFIX = 'mem_';

/** How a suffix of one alphabet becomes 16-bit words, and back. */
type Codec = {
  radix: 32 | 36;
  /** The character's value, or -1 when it is not in the alphabet. */
  value: Int8Array;
  alphabet: string;
  wordsPerId(suffixLength: number): number;
  /** Writes the suffix's words at words[at..]; false when a character is outside the alphabet. */
  encode(id: string, suffixLength: number, words: Uint16Array, at: number): boolean;
  decode(words: Uint16Array, at: number, suffixLength: number): string;
};

const valuesOf = (alphabet: string) => {
  const value = new Int8Array(128).fill(-1);
  for (let i = 0; i < alphabet.length; i++) value[alphabet.charCodeAt(i)] = i;
  return value;
};
const valueAt = (value: Int8Array, id: string, i: number) => {
  const code = id.charCodeAt(i);
  return code < 128 ? (value[code] as number) : -1;
};

// Three characters a word (36^3 < 2^16).
const BASE36: Codec = (() => {
  const alphabet = '0123456789abcdefghijklmnopqrstuvwxyz';
  const value = valuesOf(alphabet);
  return {
    radix: 36,
    value,
    alphabet,
    wordsPerId: (suffixLength) => Math.ceil(suffixLength / 3),
    encode(id, suffixLength, words, at) {
      for (let w = 0; w * 3 < suffixLength; w++) {
        let word = 0;
        const start = PREFIX.length + w * 3;
        const end = Math.min(start + 3, id.length);
        for (let i = start; i < end; i++) {
          const v = valueAt(value, id, i);
          if (v < 0) return false;
          word = word * 36 + v;
        }
        words[at + w] = word;
      }
      return true;
    },
    decode(words, at, suffixLength) {
      let out = '';
      for (let w = 0; w * 3 < suffixLength; w++) {
        let word = words[at + w] as number;
        const chars = Math.min(3, suffixLength - w * 3);
        let chunk = '';
        for (let c = 0; c < chars; c++) {
          chunk = alphabet[word % 36] + chunk;
          word = Math.floor(word / 36);
        }
        out += chunk;
      }
      return out;
    },
  };
})();

// Five bits a character, most significant first, the last word padded with zeros.
const BASE32: Codec = (() => {
  const alphabet = '0123456789abcdefghjkmnpqrstvwxyz';
  const value = valuesOf(alphabet);
  return {
    radix: 32,
    value,
    alphabet,
    wordsPerId: (suffixLength) => Math.ceil((suffixLength * 5) / 16),
    encode(id, suffixLength, words, at) {
      const n = Math.ceil((suffixLength * 5) / 16);
      words.fill(0, at, at + n);
      for (let c = 0; c < suffixLength; c++) {
        const v = valueAt(value, id, PREFIX.length + c);
        if (v < 0) return false;
        // The character's 5 bits start at bit 5c of the id; they may straddle two words.
        const bit = c * 5;
        const w = bit >> 4;
        const shift = 11 - (bit & 15); // where the 5 bits sit in word w (negative: they spill over)
        if (shift >= 0) words[at + w] = (words[at + w] as number) | (v << shift);
        else {
          words[at + w] = (words[at + w] as number) | (v >> -shift);
          words[at + w + 1] = (words[at + w + 1] as number) | ((v << (16 + shift)) & 0xffff);
        }
      }
      return true;
    },
    decode(words, at, suffixLength) {
      let out = '';
      for (let c = 0; c < suffixLength; c++) {
        const bit = c * 5;
        const w = bit >> 4;
        const shift = 11 - (bit & 15);
        const v = shift >= 0 ? ((words[at + w] as number) >> shift) & 31 : ((((words[at + w] as number) << -shift) | ((words[at + w + 1] as number) >> (16 + shift))) & 31);
        out += alphabet[v];
      }
      return out;
    },
  };
})();

const CODECS = { 32: BASE32, 36: BASE36 } as const;

/** A table's contents as plain data, for posting between threads. */
export type MemberIdParts =
  | { kind: 'packed'; radix: 32 | 36; length: number; suffixLength: number; words: Uint16Array }
  | { kind: 'plain'; ids: string[] };

export interface MemberIdTable {
  readonly length: number;
  get(index: number): string;
  /** Index of id, or -1. Only meaningful once the table is sorted (see sortIds). */
  find(id: string): number;
  /** Negative, zero or positive as the id at a sorts before, with or after the id at b. */
  compare(a: number, b: number): number;
  readonly byteLength: number;
  parts(): MemberIdParts;
}

class PackedIds implements MemberIdTable {
  private readonly wordsPerId: number;
  constructor(
    private readonly codec: Codec,
    readonly length: number,
    private readonly suffixLength: number,
    private readonly words: Uint16Array,
  ) {
    this.wordsPerId = codec.wordsPerId(suffixLength);
  }

  get byteLength() {
    return this.words.byteLength;
  }

  parts(): MemberIdParts {
    return { kind: 'packed', radix: this.codec.radix, length: this.length, suffixLength: this.suffixLength, words: this.words };
  }

  get(index: number): string {
    if (index < 0 || index >= this.length) throw new RangeError(`member index ${index} out of range`);
    return PREFIX + this.codec.decode(this.words, index * this.wordsPerId, this.suffixLength);
  }

  compare(a: number, b: number): number {
    const n = this.wordsPerId;
    for (let w = 0; w < n; w++) {
      const d = (this.words[a * n + w] as number) - (this.words[b * n + w] as number);
      if (d !== 0) return d;
    }
    return 0;
  }

  find(id: string): number {
    const target = encode(this.codec, id, this.suffixLength);
    if (!target) return -1;
    const n = this.wordsPerId;
    let lo = 0;
    let hi = this.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      let d = 0;
      for (let w = 0; w < n && d === 0; w++) d = (this.words[mid * n + w] as number) - (target[w] as number);
      if (d < 0) lo = mid + 1;
      else if (d > 0) hi = mid - 1;
      else return mid;
    }
    return -1;
  }

  /** A new table with the ids in the given order. */
  permuted(order: Uint32Array): PackedIds {
    const n = this.wordsPerId;
    const words = new Uint16Array(this.words.length);
    for (let i = 0; i < order.length; i++) words.set(this.words.subarray((order[i] as number) * n, (order[i] as number) * n + n), i * n);
    return new PackedIds(this.codec, this.length, this.suffixLength, words);
  }

  /** Permutation that sorts the ids: an LSD radix sort over the 16-bit words. */
  sortOrder(): Uint32Array {
    const count = this.length;
    const n = this.wordsPerId;
    let order = new Uint32Array(count);
    for (let i = 0; i < count; i++) order[i] = i;
    let next = new Uint32Array(count);
    const counts = new Uint32Array(65_536);
    for (let w = n - 1; w >= 0; w--) {
      counts.fill(0);
      for (let i = 0; i < count; i++) {
        const digit = this.words[i * n + w] as number;
        counts[digit] = (counts[digit] as number) + 1;
      }
      let sum = 0;
      for (let b = 0; b < 65_536; b++) {
        const c = counts[b] as number;
        counts[b] = sum;
        sum += c;
      }
      for (let i = 0; i < count; i++) {
        const id = order[i] as number;
        const digit = this.words[id * n + w] as number;
        const pos = counts[digit] as number;
        counts[digit] = pos + 1;
        next[pos] = id;
      }
      [order, next] = [next, order];
    }
    return order;
  }
}

class PlainIds implements MemberIdTable {
  constructor(private readonly ids: readonly string[]) {}
  get length() {
    return this.ids.length;
  }
  get byteLength() {
    return this.ids.reduce((n, id) => n + id.length * 2 + 16, 0);
  }
  parts(): MemberIdParts {
    return { kind: 'plain', ids: [...this.ids] };
  }
  get(index: number): string {
    const id = this.ids[index];
    if (id === undefined) throw new RangeError(`member index ${index} out of range`);
    return id;
  }
  compare(a: number, b: number): number {
    const x = this.ids[a] as string;
    const y = this.ids[b] as string;
    return x < y ? -1 : x > y ? 1 : 0;
  }
  find(id: string): number {
    let lo = 0;
    let hi = this.ids.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const v = this.ids[mid] as string;
      if (v < id) lo = mid + 1;
      else if (v > id) hi = mid - 1;
      else return mid;
    }
    return -1;
  }
  permuted(order: Uint32Array): PlainIds {
    return new PlainIds(Array.from(order, (i) => this.ids[i] as string));
  }
  sortOrder(): Uint32Array {
    const order = Uint32Array.from(this.ids.keys());
    return order.sort((a, b) => this.compare(a, b));
  }
}

function encode(codec: Codec, id: string, suffixLength: number): Uint16Array | undefined {
  if (id.length !== PREFIX.length + suffixLength || !id.startsWith(PREFIX)) return undefined;
  const words = new Uint16Array(codec.wordsPerId(suffixLength));
  return codec.encode(id, suffixLength, words, 0) ? words : undefined;
}

/** The codec every id fits (base 32 before base 36: it packs tighter), with the suffix length. */
const packable = (ids: readonly string[]): { codec: Codec; suffixLength: number } | undefined => {
  const first = ids[0];
  if (first === undefined || !first.startsWith(PREFIX) || first.length === PREFIX.length) return undefined;
  const length = first.length;
  const fits = (codec: Codec) =>
    ids.every((id) => {
      if (id.length !== length || !id.startsWith(PREFIX)) return false;
      for (let i = PREFIX.length; i < length; i++) if (valueAt(codec.value, id, i) < 0) return false;
      return true;
    });
  const codec = fits(BASE32) ? BASE32 : fits(BASE36) ? BASE36 : undefined;
  return codec && { codec, suffixLength: length - PREFIX.length };
};

/** A table of the ids in the order given (call sortIds before using find). */
export function memberIdTable(ids: readonly string[]): MemberIdTable {
  const shape = packable(ids);
  if (!shape) return new PlainIds([...ids]);
  const { codec, suffixLength } = shape;
  const wordsPerId = codec.wordsPerId(suffixLength);
  const words = new Uint16Array(ids.length * wordsPerId);
  ids.forEach((id, index) => codec.encode(id, suffixLength, words, index * wordsPerId));
  return new PackedIds(codec, ids.length, suffixLength, words);
}

export function memberIdTableFromParts(parts: MemberIdParts): MemberIdTable {
  return parts.kind === 'packed' ? new PackedIds(CODECS[parts.radix], parts.length, parts.suffixLength, parts.words) : new PlainIds(parts.ids);
}

/**
 * Sorts a table. Returns the sorted table and the permutation applied (sorted position → original
 * index), or no permutation when the table was already in order.
 */
export function sortIds(table: MemberIdTable): { table: MemberIdTable; order: Uint32Array | undefined } {
  let sorted = true;
  for (let i = 1; i < table.length; i++) {
    if (table.compare(i - 1, i) > 0) {
      sorted = false;
      break;
    }
  }
  if (sorted) return { table, order: undefined };
  const t = table as PackedIds | PlainIds;
  const order = t.sortOrder();
  return { table: t.permuted(order), order };
}
