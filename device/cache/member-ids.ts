// Member ids, stored compactly. Ids look like `mem_` plus base-36 characters; when every id in a
// snapshot has that shape and the same length (the usual case), three characters are packed into
// one 16-bit word (36^3 < 2^16), so a 24-character id costs 14 bytes instead of a ~50-byte string.
// Any other shape falls back to a plain array of strings.

const PREFIX = 'mem_';
const ALPHABET = '0123456789abcdefghijklmnopqrstuvwxyz';
const VALUE = new Int8Array(128).fill(-1);
for (let i = 0; i < ALPHABET.length; i++) VALUE[ALPHABET.charCodeAt(i)] = i;

export interface MemberIdTable {
  readonly length: number;
  get(index: number): string;
  readonly byteLength: number;
}

class PackedIds implements MemberIdTable {
  constructor(
    readonly length: number,
    private readonly suffixLength: number,
    private readonly wordsPerId: number,
    private readonly words: Uint16Array,
  ) {}

  get byteLength() {
    return this.words.byteLength;
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
}

class PlainIds implements MemberIdTable {
  constructor(private readonly ids: readonly string[]) {}
  get length() {
    return this.ids.length;
  }
  get byteLength() {
    return this.ids.reduce((n, id) => n + id.length + 16, 0);
  }
  get(index: number): string {
    const id = this.ids[index];
    if (id === undefined) throw new RangeError(`member index ${index} out of range`);
    return id;
  }
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

export function memberIdTable(ids: readonly string[]): MemberIdTable {
  const suffixLength = packable(ids);
  if (suffixLength === undefined || suffixLength === 0) return new PlainIds([...ids]);
  const wordsPerId = Math.ceil(suffixLength / 3);
  const words = new Uint16Array(ids.length * wordsPerId);
  ids.forEach((id, index) => {
    for (let w = 0; w < wordsPerId; w++) {
      let word = 0;
      const start = PREFIX.length + w * 3;
      const end = Math.min(start + 3, id.length);
      for (let i = start; i < end; i++) word = word * 36 + (VALUE[id.charCodeAt(i)] as number);
      words[index * wordsPerId + w] = word;
    }
  });
  return new PackedIds(ids.length, suffixLength, wordsPerId, words);
}
