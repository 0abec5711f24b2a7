// Member ids, stored compactly and sorted, so the cache can find a member by id (for deltas)
// without a million-entry Map. Ids look like `mem_` plus base-36 characters; when every id in a
// snapshot has that shape and the same length (the usual case), three characters are packed into
// one 16-bit word (36^3 < 2^16), so a 22-character suffix costs 16 bytes instead of a ~60-byte
// string. Word order equals string order for same-length ids, so a packed table is sorted by a
// radix sort over the words and searched by binary search. Any other shape falls back to a plain
// sorted array of strings.

const PREFIX = 'mem_';
const ALPHABET = '0123456789abcdefghijklmnopqrstuvwxyz';
const VALUE = new Int8Array(128).fill(-1);
for (let i = 0; i < ALPHABET.length; i++) VALUE[ALPHABET.charCodeAt(i)] = i;

/** A table's contents as plain data, for posting between threads. */
export type MemberIdParts =
  | { kind: 'packed'; length: number; suffixLength: number; words: Uint16Array }
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
    readonly length: number,
    private readonly suffixLength: number,
    private readonly words: Uint16Array,
  ) {
    this.wordsPerId = Math.ceil(suffixLength / 3);
  }

  get byteLength() {
    return this.words.byteLength;
  }

  parts(): MemberIdParts {
    return { kind: 'packed', length: this.length, suffixLength: this.suffixLength, words: this.words };
  }

  get(index: number): string {
    if (index < 0 || index >= this.length) throw new RangeError(`member index ${index} out of range`);
    let out = PREFIX;
    const base = index * this.wordsPerId;
    for (let w = 0; w < this.wordsPerId; w++) {
      let word = this.words[base + w] as number;
      const chars = Math.min(3, this.suffixLength - w * 3);
      let chunk = '';
      for (let c = 0; c < chars; c++) {
        chunk = ALPHABET[word % 36] + chunk;
        word = Math.floor(word / 36);
      }
      out += chunk;
    }
    return out;
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
    const target = encode(id, this.suffixLength);
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
    return new PackedIds(this.length, this.suffixLength, words);
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

function encode(id: string, suffixLength: number): Uint16Array | undefined {
  if (id.length !== PREFIX.length + suffixLength || !id.startsWith(PREFIX)) return undefined;
  const wordsPerId = Math.ceil(suffixLength / 3);
  const words = new Uint16Array(wordsPerId);
  for (let w = 0; w < wordsPerId; w++) {
    let word = 0;
    const start = PREFIX.length + w * 3;
    const end = Math.min(start + 3, id.length);
    for (let i = start; i < end; i++) {
      const code = id.charCodeAt(i);
      const value = code < 128 ? (VALUE[code] as number) : -1;
      if (value < 0) return undefined;
      word = word * 36 + value;
    }
    words[w] = word;
  }
  return words;
}

const packable = (ids: readonly string[]): number | undefined => {
  const first = ids[0];
  if (first === undefined || !first.startsWith(PREFIX)) return undefined;
  const length = first.length;
  for (const id of ids) {
    if (id.length !== length || !id.startsWith(PREFIX)) return undefined;
    for (let i = PREFIX.length; i < length; i++) {
      const code = id.charCodeAt(i);
      if (code >= 128 || (VALUE[code] as number) < 0) return undefined;
    }
  }
  return length - PREFIX.length;
};

/** A table of the ids in the order given (call sortIds before using find). */
export function memberIdTable(ids: readonly string[]): MemberIdTable {
  const suffixLength = packable(ids);
  if (suffixLength === undefined || suffixLength === 0) return new PlainIds([...ids]);
  const wordsPerId = Math.ceil(suffixLength / 3);
  const words = new Uint16Array(ids.length * wordsPerId);
  ids.forEach((id, index) => words.set(encode(id, suffixLength) as Uint16Array, index * wordsPerId));
  return new PackedIds(ids.length, suffixLength, words);
}

export function memberIdTableFromParts(parts: MemberIdParts): MemberIdTable {
  return parts.kind === 'packed' ? new PackedIds(parts.length, parts.suffixLength, parts.words) : new PlainIds(parts.ids);
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
