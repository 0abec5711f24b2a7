// Authenticator codes (RFC 6238 TOTP: SHA-1, 6 digits, 30 seconds, what every authenticator app
// reads from a QR code) through otpauth. A code is accepted for the step before and after the
// current one (clock drift), and only for a step later than the last one accepted, so a code seen
// over someone's shoulder cannot be replayed within its 30 seconds.
import { Secret, TOTP } from 'otpauth';

export const TOTP_PERIOD_S = 30;

const totpOf = (secret: string, label = 'staff') =>
  new TOTP({ issuer: 'gymgate', label, algorithm: 'SHA1', digits: 6, period: TOTP_PERIOD_S, secret: Secret.fromBase32(secret) });

export const newTotpSecret = (): string => new Secret({ size: 20 }).base32;

/** The otpauth:// URI an authenticator app takes from a QR code. */
export const totpUri = (secret: string, label: string): string => totpOf(secret, label).toString();

/** The 30-second step `now` falls in. */
export const stepOf = (now: number) => Math.floor(now / 1000 / TOTP_PERIOD_S);

export type TotpCheck = { ok: true; step: number } | { ok: false; reason: 'wrong' | 'reused' };

/** Checks a code against the secret at `now`, refusing a step at or before `lastStep`. */
export function checkTotp(secret: string, code: string, now: number, lastStep: number | null): TotpCheck {
  const delta = totpOf(secret).validate({ token: code.replace(/\s/g, ''), timestamp: now, window: 1 });
  if (delta === null) return { ok: false, reason: 'wrong' };
  const step = stepOf(now) + delta;
  if (lastStep !== null && step <= lastStep) return { ok: false, reason: 'reused' };
  return { ok: true, step };
}

/** The code for `now` (tests, and the dev seed's demo user). */
export const totpCode = (secret: string, now: number): string => totpOf(secret).generate({ timestamp: now });
