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
