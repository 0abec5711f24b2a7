// The Worker's Ed25519 public key, received at enrollment (device.json `commandPublicKey`). It
// verifies everything the door acts on from the broker: signed commands and inline entitlement
// deltas. Anyone who can publish to the broker can send the door bytes; only this key makes them count.
import type { webcrypto } from 'node:crypto';

export class WorkerKey {
  private key: Promise<webcrypto.CryptoKey> | undefined;

  /** `publicKey`: raw Ed25519 key, base64url; null = this door was enrolled without one. */
  constructor(readonly publicKey: string | null) {}

  get configured(): boolean {
    return this.publicKey !== null;
  }

  /** True when `signature` (base64url) is the Worker's over the UTF-8 bytes of `text`; never throws. */
  async verify(text: string, signature: string): Promise<boolean> {
    if (this.publicKey === null) return false;
    this.key ??= crypto.subtle.importKey('raw', Buffer.from(this.publicKey, 'base64url'), { name: 'Ed25519' }, false, ['verify']);
    try {
      return await crypto.subtle.verify({ name: 'Ed25519' }, await this.key, Buffer.from(signature, 'base64url'), Buffer.from(text, 'utf8'));
    } catch {
      return false;
    }
  }
}
