import { describe, expect, it } from 'vitest';
import { normaliseWedgeInput } from '../../core/card-normalise.ts';
import { decodeWiegand, encodeWiegand } from '../../core/wiegand.ts';

const wiegandKey = (bits: number[]) => {
  const d = decodeWiegand(bits);
  if (!d.ok) throw new Error(d.detail);
  return `wiegand:${d.facility}:${d.card}`;
};

describe('keyboard-wedge card ids', () => {
  const card26 = wiegandKey(encodeWiegand('H10301', 12, 3456)); // what the Wiegand reader keys

  it.each([
    ['0000789888', 'decimal facility·65536+card, zero-padded'],
    ['789888', 'decimal without padding'],
    ['0C0D80', 'hex payload'],
    ['0x0c0d80', 'hex with prefix, lower case'],
    ['012,03456', 'facility,card'],
    ['12:3456', 'facility:card'],
  ])('%s (%s) reads as the same H10301 card', (typed) => {
    expect(normaliseWedgeInput(typed, { as: 'H10301' })).toMatchObject({ ok: true, credentialKey: card26 });
  });

  it('a reader that prints the whole 26-bit frame (parity included) is configured as H10301-frame', () => {
    const frame = encodeWiegand('H10301', 12, 3456);
    expect(normaliseWedgeInput(String(parseInt(frame.join(''), 2)), { as: 'H10301-frame' })).toMatchObject({ ok: true, credentialKey: card26 });
    frame[25] = frame[25] === 1 ? 0 : 1;
    expect(normaliseWedgeInput(String(parseInt(frame.join(''), 2)), { as: 'H10301-frame' })).toMatchObject({ ok: false, detail: expect.stringMatching(/parity/) });
  });

  it('a 10-digit 32-bit number matches the N10002 reading of the same card', () => {
    const key = wiegandKey(encodeWiegand('N10002', 0xdead, 0xbeef));
    expect(normaliseWedgeInput('3735928559', { as: 'N10002' })).toMatchObject({ ok: true, credentialKey: key });
    expect(normaliseWedgeInput('DEADBEEF', { as: 'N10002', encoding: 'hex' })).toMatchObject({ ok: true, credentialKey: key });
  });

  it('raw targets pad to the raw reader width so both kinds of reader agree', () => {
    expect(normaliseWedgeInput('4660', { as: 'raw', rawBits: 40 })).toMatchObject({ ok: true, credentialKey: 'raw:0000001234' });
  });

  it('refuses what it cannot map, with a reason', () => {
    expect(normaliseWedgeInput('', {})).toMatchObject({ ok: false, reason: 'bad_input' });
    expect(normaliseWedgeInput('hello world', {})).toMatchObject({ ok: false, reason: 'bad_input' });
    expect(normaliseWedgeInput('3735928559', { as: 'H10301' })).toMatchObject({ ok: false, reason: 'out_of_range' });
    expect(normaliseWedgeInput('99999,1', {})).toMatchObject({ ok: false, reason: 'out_of_range' });
    expect(normaliseWedgeInput('789888', { encoding: 'facility-card' })).toMatchObject({ ok: false });
  });

  it('QR tokens typed as text become raw keys of their bytes', () => {
    expect(normaliseWedgeInput('GYM-42', { encoding: 'text' })).toMatchObject({ ok: true, credentialKey: 'raw:47594D2D3432' });
    expect(normaliseWedgeInput('Zé€', { encoding: 'text' })).toMatchObject({ credentialKey: `raw:${Buffer.from('Zé€').toString('hex').toUpperCase()}` });
  });
});
