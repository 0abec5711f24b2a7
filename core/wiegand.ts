// Wiegand frame layouts and their parity rules. Bits are given most significant first, exactly as
// they arrive on the wire (bit 0 is the leading parity bit).

export type Bit = 0 | 1;

export type WiegandFormat = 'H10301' | 'N10002' | 'C1000' | 'H10304';

export type WiegandDecoded = {
  ok: true;
  format: WiegandFormat;
  length: number;
  facility: number;
  card: number;
};

export type WiegandRejected = {
  ok: false;
  reason: 'bad_length' | 'bad_parity' | 'bad_bits';
  length: number;
  detail: string;
};

export type WiegandResult = WiegandDecoded | WiegandRejected;

type Layout = {
  format: WiegandFormat;
  length: number;
  facility: [start: number, width: number];
  card: [start: number, width: number];
  /** Computes the parity bits expected for a frame and returns [index, expected] pairs. */
  parity: (bits: readonly Bit[]) => Array<[number, Bit]>;
};

const ones = (bits: readonly Bit[], indexes: Iterable<number>): number => {
  let n = 0;
  for (const i of indexes) n += bits[i] ?? 0;
  return n;
};

const range = (from: number, toInclusive: number): number[] => {
  const out: number[] = [];
  for (let i = from; i <= toInclusive; i++) out.push(i);
  return out;
};

// An even-parity bit makes the ones over its span (itself included) even; odd makes them odd.
const even = (bits: readonly Bit[], span: number[]): Bit => (ones(bits, span) % 2) as Bit;
const odd = (bits: readonly Bit[], span: number[]): Bit => (1 - (ones(bits, span) % 2)) as Bit;

/** Two-halves layouts (H10301, N10002, H10304): even parity leads, odd parity trails. */
const halves = (length: number, evenSpan: [number, number], oddSpan: [number, number]) =>
  (bits: readonly Bit[]): Array<[number, Bit]> => [
    [0, even(bits, range(evenSpan[0], evenSpan[1]))],
    [length - 1, odd(bits, range(oddSpan[0], oddSpan[1]))],
  ];

// HID Corporate 1000 (35 bit), in 1-based bit numbers as published: P2 even over 3..34 skipping
// every third bit (i % 3 == 2); P35 odd over 2..34 skipping i % 3 == 1; P1 odd over 2..35.
const corporate1000Parity = (bits: readonly Bit[]): Array<[number, Bit]> => {
  const oneBased = (n: number) => n - 1;
  const p2Span = range(3, 34).filter((i) => i % 3 !== 2).map(oneBased);
  const p2 = even(bits, p2Span);
  const withP2 = [...bits];
  withP2[1] = p2;
  const p35Span = range(2, 34).filter((i) => i % 3 !== 1).map(oneBased);
  const p35 = odd(withP2, p35Span);
  withP2[34] = p35;
  const p1 = odd(withP2, range(2, 35).map(oneBased));
  return [
    [1, p2],
    [34, p35],
    [0, p1],
  ];
};

export const WIEGAND_LAYOUTS: readonly Layout[] = [
  { format: 'H10301', length: 26, facility: [1, 8], card: [9, 16], parity: halves(26, [1, 12], [13, 24]) },
  { format: 'N10002', length: 34, facility: [1, 16], card: [17, 16], parity: halves(34, [1, 16], [17, 32]) },
  { format: 'C1000', length: 35, facility: [2, 12], card: [14, 20], parity: corporate1000Parity },
  { format: 'H10304', length: 37, facility: [1, 16], card: [17, 19], parity: halves(37, [1, 18], [18, 35]) },
];

const layoutByLength = new Map(WIEGAND_LAYOUTS.map((l) => [l.length, l]));
const layoutByFormat = new Map(WIEGAND_LAYOUTS.map((l) => [l.format, l]));

const field = (bits: readonly Bit[], [start, width]: [number, number]): number => {
  let v = 0;
  for (let i = start; i < start + width; i++) v = v * 2 + (bits[i] ?? 0);
  return v;
};

export function decodeWiegand(bits: readonly number[]): WiegandResult {
  const length = bits.length;
  if (bits.some((b) => b !== 0 && b !== 1)) {
    return { ok: false, reason: 'bad_bits', length, detail: 'frame contains values other than 0 and 1' };
  }
  const layout = layoutByLength.get(length);
  if (!layout) {
    return {
      ok: false,
      reason: 'bad_length',
      length,
      detail: `${length}-bit frame matches no configured format (26, 34, 35 or 37 bits)`,
    };
  }
  const frame = bits as readonly Bit[];
  // The parity bits are part of their own spans, so recompute each with the received bit cleared
  // and compare to what arrived.
  const cleared = [...frame];
  for (const [index] of layout.parity(frame)) cleared[index] = 0;
  for (const [index, expected] of layout.parity(cleared)) {
    if (frame[index] !== expected) {
      return {
        ok: false,
        reason: 'bad_parity',
        length,
        detail: `${layout.format} parity bit ${index} is ${frame[index]}, expected ${expected}`,
      };
    }
  }
  return {
    ok: true,
    format: layout.format,
    length,
    facility: field(frame, layout.facility),
    card: field(frame, layout.card),
  };
}

/** Builds a valid frame for a facility code and card number (used by the simulated reader and tests). */
export function encodeWiegand(format: WiegandFormat, facility: number, card: number): Bit[] {
  const layout = layoutByFormat.get(format);
  if (!layout) throw new RangeError(`unknown Wiegand format ${format}`);
  const put = (bits: Bit[], [start, width]: [number, number], value: number, name: string) => {
    if (!Number.isInteger(value) || value < 0 || value >= 2 ** width) {
      throw new RangeError(`${name} ${value} does not fit the ${width} bits of ${format}`);
    }
    for (let i = width - 1, v = value; i >= 0; i--, v = Math.floor(v / 2)) bits[start + i] = (v % 2) as Bit;
  };
  const bits: Bit[] = new Array<Bit>(layout.length).fill(0);
  put(bits, layout.facility, facility, 'facility code');
  put(bits, layout.card, card, 'card number');
  for (const [index, value] of layout.parity(bits)) bits[index] = value;
  return bits;
}

export const parseBitString = (text: string): number[] | null =>
  /^[01]+$/.test(text) ? [...text].map((c) => (c === '1' ? 1 : 0)) : null;

export const bitString = (bits: readonly number[]): string => bits.join('');
