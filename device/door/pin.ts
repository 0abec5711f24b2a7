// Card + PIN at one door: after a card is granted, the strike waits for a PIN typed on the
// reader's keypad (4- or 8-bit Wiegand key bursts), ended with '#'; '*' clears what was typed.
// Without a correct PIN within the timeout the card is refused. Keys with no card waiting are
// ignored. How a PIN is checked is the verifier's business: the agent checks the member's PIN
// verifier from the entitlement cache (nodePbkdf2 below), else the door's codes from config.json.
import { pbkdf2 } from 'node:crypto';
import type { Pbkdf2 } from '../../core/entitlement.ts';
import type { KeypadKey } from '../wiegand/reader.ts';

export type PinCheck = { doorId: string; credentialKey: string; memberId: string | null; pin: string };
/** Extension point: true when the PIN belongs to the card (or the door). */
export type PinVerifier = (check: PinCheck) => boolean | Promise<boolean>;

export type PinOutcome = { ok: true } | { ok: false; why: 'timeout' | 'wrong_pin' | 'superseded' | 'closed' };

export const MAX_PIN_LENGTH = 8;

/** A verifier that accepts a door's configured codes. */
export const codeListVerifier =
  (codes: readonly string[]): PinVerifier =>
  ({ pin }) =>
    codes.includes(pin);

/** core's PBKDF2 seam on Node's thread pool, so deriving a PIN never stalls the readers. */
export const nodePbkdf2: Pbkdf2 = (pin, salt, iterations) =>
  new Promise((resolve, reject) => pbkdf2(pin, salt, iterations, 32, 'sha256', (error, key) => (error ? reject(error) : resolve(key.toString('base64url')))));

export class PinGate {
  private waiting: { check: Omit<PinCheck, 'pin'>; typed: string; timer: NodeJS.Timeout; resolve: (o: PinOutcome) => void } | undefined;

  constructor(private readonly options: { doorId: string; timeoutMs: number; verify: PinVerifier }) {}

  get pending(): boolean {
    return this.waiting !== undefined;
  }

  /** Waits for the PIN of a card that was just granted. A newer card replaces a waiting one. */
  await(credentialKey: string, memberId: string | null): Promise<PinOutcome> {
    this.settle({ ok: false, why: 'superseded' });
    return new Promise((resolve) => {
      const timer = setTimeout(() => this.settle({ ok: false, why: 'timeout' }), this.options.timeoutMs);
      this.waiting = { check: { doorId: this.options.doorId, credentialKey, memberId }, typed: '', timer, resolve };
    });
  }

  /** A key from the keypad. Returns false when no card was waiting for it. */
  key(key: KeypadKey): boolean {
    const waiting = this.waiting;
    if (!waiting) return false;
    if (key === '*') waiting.typed = '';
    else if (key === '#') {
      const pin = waiting.typed;
      waiting.typed = '';
      void Promise.resolve()
        .then(() => this.options.verify({ ...waiting.check, pin }))
        .catch(() => false)
        .then((ok) => {
          if (this.waiting === waiting) this.settle(ok ? { ok: true } : { ok: false, why: 'wrong_pin' });
        });
    } else if (waiting.typed.length < MAX_PIN_LENGTH) waiting.typed += key;
    return true;
  }

  private settle(outcome: PinOutcome) {
    const waiting = this.waiting;
    if (!waiting) return;
    this.waiting = undefined;
    clearTimeout(waiting.timer);
    waiting.resolve(outcome);
  }

  close(): void {
    this.settle({ ok: false, why: 'closed' });
  }
}
