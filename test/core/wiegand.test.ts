import { describe, expect, it } from 'vitest';
import { bitString, decodeWiegand, encodeWiegand, parseBitString, WIEGAND_LAYOUTS } from '../../core/wiegand.ts';

const bits = (s: string) => parseBitString(s.replace(/\s/g, '')) as number[];

describe('Wiegand H10301 (26 bit)', () => {
  // Facility 1, card 1: data bits 00000001 0000000000000001. Even parity over bits 1..12 (one 1) → 1;
  // odd parity over bits 13..24 (one 1) → 0.
  const facility1card1 = bits('1 00000001 0000000000000001 0');

  it('decodes a frame built by hand from the published layout', () => {
    expect(decodeWiegand(facility1card1)).toEqual({ ok: true, format: 'H10301', length: 26, facility: 1, card: 1 });
  });

  it('matches what the encoder builds', () => {
    expect(bitString(encodeWiegand('H10301', 1, 1))).toBe(bitString(facility1card1));
    // Facility 255, card 65535: all data ones; 12 ones in each half → even bit 0, odd bit 1.
    expect(bitString(encodeWiegand('H10301', 255, 65535))).toBe('0' + '1'.repeat(24) + '1');
  });

  it('rejects a flipped parity bit or a flipped data bit', () => {
    const leading = [...facility1card1];
    leading[0] = 0;
    expect(decodeWiegand(leading)).toMatchObject({ ok: false, reason: 'bad_parity' });
    const data = [...facility1card1];
    data[20] = data[20] === 1 ? 0 : 1;
    expect(decodeWiegand(data)).toMatchObject({ ok: false, reason: 'bad_parity' });
  });

  it('rejects frames of a length no format uses, and non-binary values', () => {
    expect(decodeWiegand(facility1card1.slice(0, 25))).toMatchObject({ ok: false, reason: 'bad_length', length: 25 });
    expect(decodeWiegand([])).toMatchObject({ ok: false, reason: 'bad_length' });
    expect(decodeWiegand([...facility1card1.slice(0, 25), 2])).toMatchObject({ ok: false, reason: 'bad_bits' });
  });
});

describe('other Wiegand layouts', () => {
  it('round-trips facility and card at the edges of every format', () => {
    for (const layout of WIEGAND_LAYOUTS) {
      const maxFacility = 2 ** layout.facility[1] - 1;
      const maxCard = 2 ** layout.card[1] - 1;
      for (const [f, c] of [
        [0, 0],
        [1, 1],
        [maxFacility, maxCard],
        [Math.floor(maxFacility / 3), Math.floor(maxCard / 7)],
      ] as const) {
        const frame = encodeWiegand(layout.format, f, c);
        expect(frame).toHaveLength(layout.length);
        expect(decodeWiegand(frame)).toEqual({ ok: true, format: layout.format, length: layout.length, facility: f, card: c });
      }
    }
  });

  it('detects every single-bit error in every format', () => {
    for (const layout of WIEGAND_LAYOUTS) {
      const frame = encodeWiegand(layout.format, 1234 % 2 ** layout.facility[1], 54321 % 2 ** layout.card[1]);
      for (let i = 0; i < frame.length; i++) {
        const corrupted = [...frame];
        corrupted[i] = corrupted[i] === 1 ? 0 : 1;
        expect(decodeWiegand(corrupted), `${layout.format} bit ${i}`).toMatchObject({ ok: false, reason: 'bad_parity' });
      }
    }
  });

  it('N10002 places a 16-bit facility and 16-bit card between the parity bits', () => {
    const frame = encodeWiegand('N10002', 0xabcd, 0x1234);
    expect(bitString(frame).slice(1, 33)).toBe((0xabcd).toString(2).padStart(16, '0') + (0x1234).toString(2).padStart(16, '0'));
  });

  it('refuses to encode values that do not fit', () => {
    expect(() => encodeWiegand('H10301', 256, 1)).toThrow(/facility code 256/);
    expect(() => encodeWiegand('H10301', 1, 65536)).toThrow(/card number 65536/);
  });
});

// Frames written out bit by bit from the published layouts (not built by encodeWiegand), each with
// its parity counted by hand in the comment. Bit numbers in comments are 1-based, as published.
const flip = (frame: readonly number[], index: number) => frame.map((b, i) => (i === index ? 1 - b : b));

// N10002: P(even over bits 1-17) | facility 16 bits | card 16 bits | P(odd over bits 18-34).
// Facility 12345 = 0011 0000 0011 1001: six ones, already even → leading P = 0.
// Card 54320 = 1101 0100 0011 0000: six ones, even → trailing P = 1 to make 18-34 odd.
const n10002 = bits('0 0011000000111001 1101010000110000 1');

// HID Corporate 1000: bit 1 odd parity over bits 2-35; bit 2 even parity over bits 3-34 except
// 5, 8, 11, …, 32 (every third); bits 3-14 company, 12 bits; bits 15-34 card, 20 bits; bit 35 odd
// parity over bits 2-33 except 4, 7, 10, …, 31 (every third, offset by one).
// Company 1000 = 0011 1110 1000 (ones at bits 5 6 7 8 9 11); card 123456 = 0001 1110 0010 0100
// 0000 (ones at bits 18 19 20 21 25 28). Bit 2 counts 6 7 9 18 19 21 25 28: eight ones → 0.
// Bit 35 counts 5 6 8 9 11 18 20 21 (bit 2 is 0): eight → 1. Bit 1 counts the 12 data ones and
// bit 35: thirteen → 0.
const c1000 = bits('0 0 001111101000 00011110001001000000 1');
// Company 4095 (ones at bits 3-14), card 1 (bit 34). Bit 2: the company ones but bits 5 8 11 14,
// and bit 34 → nine → 1. Bit 35: bit 2 and the company ones but bits 4 7 10 13 → nine → 0.
// Bit 1: 1 + 12 + 1 + 0 = fourteen → 1.
const c1000AllCompany = bits('1 1 111111111111 00000000000000000001 0');

// H10304: P(even over bits 2-19) | facility 16 bits | card 19 bits | P(odd over bits 19-36): the
// 35 data bits' first 18 and last 18, sharing bit 19 (the card's second bit), which is 1 here so
// that it counts in both. Facility 4660 = 0001 0010 0011 0100 (five ones); card 400000 =
// 110 0001 1010 1000 0000 (six ones). Bits 2-19: five + the card's first two bits "11" → seven →
// leading P = 1. Bits 19-36: the card's last 18 bits (five ones) → already odd → trailing P = 0.
const h10304 = bits('1 0001001000110100 1100001101010000000 0');

describe.each([
  {
    format: 'N10002' as const,
    frames: [{ frame: n10002, facility: 12345, card: 54320 }],
    parityBits: [0, 33],
    // One bit more is a Corporate 1000 length: its parity does not hold.
    wrongLengths: [
      [n10002.slice(0, 33), 'bad_length'],
      [[...n10002, 0, 0], 'bad_length'],
      [[...n10002, 0], 'bad_parity'],
    ],
  },
  {
    format: 'C1000' as const,
    frames: [
      { frame: c1000, facility: 1000, card: 123456 },
      { frame: c1000AllCompany, facility: 4095, card: 1 },
    ],
    parityBits: [0, 1, 34],
    // One bit fewer is an N10002 length: its parity does not hold.
    wrongLengths: [
      [[...c1000, 1], 'bad_length'],
      [c1000.slice(0, 34), 'bad_parity'],
    ],
  },
  {
    format: 'H10304' as const,
    frames: [{ frame: h10304, facility: 4660, card: 400000 }],
    // Bit 19 (index 18) is in both parity spans.
    parityBits: [0, 36, 18],
    wrongLengths: [
      [h10304.slice(0, 36), 'bad_length'],
      [[...h10304, 0], 'bad_length'],
    ],
  },
])('Wiegand $format from the published layout', ({ format, frames, parityBits, wrongLengths }) => {
  it('decodes facility and card, as the encoder builds it', () => {
    for (const { frame, facility, card } of frames) {
      expect(decodeWiegand(frame)).toEqual({ ok: true, format, length: frame.length, facility, card });
      expect(bitString(encodeWiegand(format, facility, card))).toBe(bitString(frame));
    }
  });

  it('refuses the frame with any one parity bit flipped', () => {
    for (const { frame } of frames) {
      for (const index of parityBits) expect(decodeWiegand(flip(frame, index)), `bit ${index + 1}`).toMatchObject({ ok: false, reason: 'bad_parity' });
    }
  });

  it('refuses wrong lengths', () => {
    for (const [frame, reason] of wrongLengths as Array<[number[], string]>) {
      expect(decodeWiegand(frame)).toMatchObject({ ok: false, reason, length: frame.length });
    }
  });
});
