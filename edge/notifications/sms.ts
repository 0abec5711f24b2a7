// SMS length rules. A message in the GSM 03.38 7-bit alphabet fits 160 characters in one
// segment (153 per segment once split, the rest carries the concatenation header); characters
// from the extension table (€ [ ] { } etc.) take two septets. Anything else (Thai, emoji, curly
// quotes) sends the whole message as UCS-2: 70 UTF-16 units in one segment, 67 per segment when
// split.

const GSM7_BASIC =
  '@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !"#¤%&\'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà';
const GSM7_EXTENDED = '\f^{}\\[~]|€';

const BASIC = new Set(GSM7_BASIC);
const EXTENDED = new Set(GSM7_EXTENDED);

export type SmsEncoding = 'gsm7' | 'ucs2';
export type SmsLength = {
  encoding: SmsEncoding;
  /** Septets (GSM-7) or UTF-16 code units (UCS-2). */
  units: number;
  segments: number;
  /** Units one segment holds in this encoding when the message is not split. */
  perSegment: number;
};

export const isGsm7 = (text: string): boolean => [...text].every((ch) => BASIC.has(ch) || EXTENDED.has(ch));

export function smsLength(text: string): SmsLength {
  if (isGsm7(text)) {
    let units = 0;
    for (const ch of text) units += EXTENDED.has(ch) ? 2 : 1;
    return { encoding: 'gsm7', units, segments: units === 0 ? 1 : units <= 160 ? 1 : Math.ceil(units / 153), perSegment: 160 };
  }
  const units = text.length; // UTF-16 code units
  return { encoding: 'ucs2', units, segments: units <= 70 ? 1 : Math.ceil(units / 67), perSegment: 70 };
}

/**
 * Replaces typographic characters that would force UCS-2 (no-break spaces from Intl, curly
 * quotes, dashes, ellipsis) with GSM-7 equivalents. Used on English SMS only.
 */
export function gsmFriendly(text: string): string {
  return text
    .replace(/[\u00a0\u2007\u202f\u2009]/g, ' ')
    .replace(/[\u2018\u2019\u201b]/g, "'")
    .replace(/[\u201c\u201d]/g, '"')
    .replace(/[\u2013\u2014]/g, '-')
    .replace(/\u2026/g, '...');
}
