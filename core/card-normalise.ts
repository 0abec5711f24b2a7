// One card, one key, whichever reader reads it. A Wiegand reader gives facility and card (or raw
// bits); a USB keyboard-wedge reader or a QR/barcode scanner types text: the 26-bit payload as one
// decimal (facility·65536 + card, often zero-padded to 10 digits), the card's number as 10-digit
// decimal or as hex, or "facility,card". The door's config says how its wedge reader prints and
// which key family the site enrolls cards under; this maps the typed text to that canonical key.
import { credentialKey, WIEGAND_MAX_CARD, WIEGAND_MAX_FACILITY } from './credential-key.ts';
import { decodeWiegand } from './wiegand.ts';

/** How the reader prints the card. 'auto' tells them apart by shape. */
export type WedgeEncoding = 'auto' | 'decimal' | 'hex' | 'facility-card' | 'text';

/**
 * Which key the number becomes: 'H10301' (24-bit payload: facility = bits 16-23, card = low 16),
 * 'H10301-frame' (the whole 26-bit frame, parity bits included, checked; a frame whose leading
 * parity bit is 0 cannot be told from a payload by its size, so this is configured, not guessed),
 * 'N10002' (32-bit: facility = high 16, card = low 16), or 'raw' (raw:<hex>, padded to rawBits).
 */
export type WedgeTarget = 'H10301' | 'H10301-frame' | 'N10002' | 'raw';

export type WedgeOptions = { encoding?: WedgeEncoding; as?: WedgeTarget; rawBits?: number };

export type Normalised = { ok: true; credentialKey: string; detail: string } | { ok: false; reason: 'bad_input' | 'out_of_range'; detail: string };

const FACILITY_CARD = /^(\d{1,5})\s*[,:/ -]\s*(\d{1,7})$/;

export function normaliseWedgeInput(input: string, options: WedgeOptions = {}): Normalised {
  const { encoding = 'auto', as = 'H10301', rawBits } = options;
  const text = input.trim();
  if (text === '') return { ok: false, reason: 'bad_input', detail: 'empty input' };
  if (encoding === 'text') {
    // QR codes and barcodes that carry an opaque token: keyed as raw hex of their bytes.
    if (text.length > 32) return { ok: false, reason: 'out_of_range', detail: `${text.length} characters is longer than 32` };
    const hex = utf8Bytes(text)
      .map((b) => b.toString(16).padStart(2, '0'))
      .join('');
    return { ok: true, credentialKey: credentialKey({ kind: 'raw', rawId: hex }), detail: 'text token' };
  }
  const fc = FACILITY_CARD.exec(text);
  if (fc && (encoding === 'auto' || encoding === 'facility-card')) {
    const facility = Number(fc[1]);
    const card = Number(fc[2]);
    if (facility > WIEGAND_MAX_FACILITY || card > WIEGAND_MAX_CARD) {
      return { ok: false, reason: 'out_of_range', detail: `facility ${facility} or card ${card} is out of range` };
    }
    return { ok: true, credentialKey: credentialKey({ kind: 'wiegand', facilityCode: facility, cardNumber: card }), detail: 'facility,card' };
  }
  if (encoding === 'facility-card') return { ok: false, reason: 'bad_input', detail: `${JSON.stringify(text)} is not facility,card` };
  let value: bigint;
  const hex = /^(?:0x)?([0-9a-f]{1,16})$/i.exec(text);
  if ((encoding === 'decimal' || encoding === 'auto') && /^\d{1,20}$/.test(text)) value = BigInt(text);
  else if ((encoding === 'hex' || encoding === 'auto') && hex) value = BigInt(`0x${hex[1]}`);
  else return { ok: false, reason: 'bad_input', detail: `${JSON.stringify(text.slice(0, 40))} is not ${encoding === 'auto' ? 'a card number' : encoding}` };
  return numberToKey(value, as, rawBits);
}

/** A card number (from any reader) as the canonical key of the target family. */
export function numberToKey(value: bigint, as: WedgeTarget, rawBits?: number): Normalised {
  if (as === 'raw') {
    const digits = rawBits ? Math.ceil(rawBits / 4) : undefined;
    const hex = value.toString(16).toUpperCase();
    if (digits !== undefined && hex.length > digits) return { ok: false, reason: 'out_of_range', detail: `${hex} is wider than ${rawBits} bits` };
    return { ok: true, credentialKey: credentialKey({ kind: 'raw', rawId: digits ? hex.padStart(digits, '0') : hex }), detail: 'raw' };
  }
  if (as === 'H10301-frame') {
    if (value >= 1n << 26n) return { ok: false, reason: 'out_of_range', detail: `${value} is wider than a 26-bit frame` };
    const decoded = decodeWiegand([...value.toString(2).padStart(26, '0')].map(Number));
    if (!decoded.ok) return { ok: false, reason: 'bad_input', detail: decoded.detail };
    return { ok: true, credentialKey: credentialKey({ kind: 'wiegand', facilityCode: decoded.facility, cardNumber: decoded.card }), detail: '26-bit frame with parity' };
  }
  if (as === 'H10301') {
    if (value >= 1n << 24n) return { ok: false, reason: 'out_of_range', detail: `${value} does not fit the 24-bit H10301 payload` };
    return {
      ok: true,
      credentialKey: credentialKey({ kind: 'wiegand', facilityCode: Number(value >> 16n), cardNumber: Number(value & 0xffffn) }),
      detail: 'H10301 payload',
    };
  }
  if (value >= 1n << 32n) return { ok: false, reason: 'out_of_range', detail: `${value} does not fit the 32-bit N10002 payload` };
  return {
    ok: true,
    credentialKey: credentialKey({ kind: 'wiegand', facilityCode: Number(value >> 16n), cardNumber: Number(value & 0xffffn) }),
    detail: 'N10002 payload',
  };
}

/** UTF-8 bytes of a string (core runs without Node or DOM globals). */
function utf8Bytes(text: string): number[] {
  const out: number[] = [];
  for (const ch of text) {
    const c = ch.codePointAt(0) ?? 0;
    if (c < 0x80) out.push(c);
    else if (c < 0x800) out.push(0xc0 | (c >> 6), 0x80 | (c & 63));
    else if (c < 0x10000) out.push(0xe0 | (c >> 12), 0x80 | ((c >> 6) & 63), 0x80 | (c & 63));
    else out.push(0xf0 | (c >> 18), 0x80 | ((c >> 12) & 63), 0x80 | ((c >> 6) & 63), 0x80 | (c & 63));
  }
  return out;
}
