// One canonical text key per physical credential, used as the unique key in D1, in the door's
// cache and in check-in events, so the cloud and the door always agree on "which card".

export type CredentialIdentity =
  | { kind: 'wiegand'; facilityCode: number; cardNumber: number }
  | { kind: 'raw'; rawId: string };

export const WIEGAND_MAX_FACILITY = 0xffff; // N10002 and H10304 carry 16-bit facility codes
export const WIEGAND_MAX_CARD = 0xfffff; // Corporate 1000 carries 20-bit card numbers

/** Raw ids are the reader's hex or decimal string; hex is upper-cased and stripped of separators. */
export function normaliseRawId(rawId: string): string {
  return rawId.trim().replace(/[\s:-]/g, '').toUpperCase();
}

export function credentialKey(identity: CredentialIdentity): string {
  return identity.kind === 'wiegand'
    ? `wiegand:${identity.facilityCode}:${identity.cardNumber}`
    : `raw:${normaliseRawId(identity.rawId)}`;
}

/** Wiegand keys map exactly to an integer (facility · 2^20 + card), which lets the door keep them compactly. */
export function wiegandKeyNumber(facilityCode: number, cardNumber: number): number {
  return facilityCode * 2 ** 20 + cardNumber;
}

export function parseCredentialKey(key: string): CredentialIdentity | null {
  const w = /^wiegand:(\d{1,5}):(\d{1,7})$/.exec(key);
  if (w) {
    const facilityCode = Number(w[1]);
    const cardNumber = Number(w[2]);
    if (facilityCode > WIEGAND_MAX_FACILITY || cardNumber > WIEGAND_MAX_CARD) return null;
    return { kind: 'wiegand', facilityCode, cardNumber };
  }
  const r = /^raw:([0-9A-Z]{1,64})$/.exec(key);
  return r ? { kind: 'raw', rawId: r[1] as string } : null;
}
