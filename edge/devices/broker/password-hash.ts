// Broker password hashes in mosquitto's password_file format, computed with WebCrypto only so
// the Worker (and Node 20's globalThis.crypto) can write and check them without the binary.
//
// mosquitto 2.0 (mosquitto_passwd and the broker's password check): `$7$<iterations>$<salt>$<hash>`
// is PBKDF2-HMAC-SHA512 over the password's bytes (up to the first NUL, it uses strlen) with a
// 12-byte random salt and a 64-byte key, 101 iterations by default; `$6$<salt>$<hash>` is one
// SHA-512 of password || salt. Both fields are standard base64 with `=` padding, no line breaks.
// 2.0.11 refuses a login whose stored salt is not 12 bytes (tried: a 64-byte one never matches),
// so we only write 12. mosquitto 2.1 defaults to 210000 iterations and a 64-byte salt, which we
// still read; the Workers runtime refuses PBKDF2 above 100000 iterations (workerd #1346),
// so such hashes can only be checked in Node. 101 iterations is weak for human passwords; broker
// passwords here are long random secrets, where the work factor buys next to nothing.

const PBKDF2_TAG = '$7$';
const SHA512_TAG = '$6$';
const SALT_BYTES = 12;
const HASH_BYTES = 64;
const READABLE_SALT_BYTES = new Set([SALT_BYTES, 64]);
export const MOSQUITTO_DEFAULT_ITERATIONS = 101;

const encoder = new TextEncoder();

function passwordBytes(password: string): Uint8Array {
  // mosquitto stops at the first NUL, so a hash over the full string would never verify there.
  if (password.includes('\u0000')) throw new Error('a broker password must not contain a NUL character');
  return encoder.encode(password);
}

function toBase64(bytes: Uint8Array): string {
  let binary = '';
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary);
}

function fromBase64(text: string): Uint8Array | null {
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(text) || text.length % 4 !== 0) return null;
  try {
    return Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
  } catch {
    return null;
  }
}

async function pbkdf2Sha512(password: Uint8Array, salt: Uint8Array, iterations: number): Promise<Uint8Array> {
  const key = await crypto.subtle.importKey('raw', password, 'PBKDF2', false, ['deriveBits']);
  const bits = await crypto.subtle.deriveBits({ name: 'PBKDF2', hash: 'SHA-512', salt, iterations }, key, HASH_BYTES * 8);
  return new Uint8Array(bits);
}

async function saltedSha512(password: Uint8Array, salt: Uint8Array): Promise<Uint8Array> {
  const input = new Uint8Array(password.length + salt.length);
  input.set(password);
  input.set(salt, password.length);
  return new Uint8Array(await crypto.subtle.digest('SHA-512', input));
}

/** Compares without an early exit, so timing says nothing about where two hashes differ. */
function constantTimeEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let difference = 0;
  for (let i = 0; i < a.length; i++) difference |= (a[i] as number) ^ (b[i] as number);
  return difference === 0;
}

/**
 * Hashes a broker password as `mosquitto_passwd` 2.0 does: `$7$101$<salt>$<hash>`. `salt` is for
 * tests and fixed vectors; normally 12 random bytes are drawn.
 */
export async function hashBrokerPassword(
  password: string,
  options: { iterations?: number; salt?: Uint8Array } = {},
): Promise<string> {
  const iterations = options.iterations ?? MOSQUITTO_DEFAULT_ITERATIONS;
  if (!Number.isInteger(iterations) || iterations < 1) throw new Error('iterations must be a positive integer');
  const salt = options.salt ?? crypto.getRandomValues(new Uint8Array(SALT_BYTES));
  if (salt.length !== SALT_BYTES) throw new Error(`mosquitto 2.0 accepts only a ${SALT_BYTES}-byte salt`);
  const hash = await pbkdf2Sha512(passwordBytes(password), salt, iterations);
  return `${PBKDF2_TAG}${iterations}$${toBase64(salt)}$${toBase64(hash)}`;
}

type StoredHash =
  | { kind: 'pbkdf2'; iterations: number; salt: Uint8Array; hash: Uint8Array }
  | { kind: 'sha512'; salt: Uint8Array; hash: Uint8Array };

function parseStored(stored: string): StoredHash | null {
  const text = stored.trim();
  if (text.startsWith(PBKDF2_TAG)) {
    const [iterationsText, saltText, hashText, ...rest] = text.slice(PBKDF2_TAG.length).split('$');
    if (rest.length > 0 || !iterationsText || !/^[1-9][0-9]{0,9}$/.test(iterationsText)) return null;
    const salt = fromBase64(saltText ?? '');
    const hash = fromBase64(hashText ?? '');
    if (!salt || !hash || !READABLE_SALT_BYTES.has(salt.length) || hash.length !== HASH_BYTES) return null;
    return { kind: 'pbkdf2', iterations: Number(iterationsText), salt, hash };
  }
  if (text.startsWith(SHA512_TAG)) {
    const [saltText, hashText, ...rest] = text.slice(SHA512_TAG.length).split('$');
    if (rest.length > 0) return null;
    const salt = fromBase64(saltText ?? '');
    const hash = fromBase64(hashText ?? '');
    if (!salt || !hash || !READABLE_SALT_BYTES.has(salt.length) || hash.length !== HASH_BYTES) return null;
    return { kind: 'sha512', salt, hash };
  }
  return null;
}

/**
 * Checks a password against a stored `$7$` (PBKDF2-SHA512) or `$6$` (salted SHA-512) hash.
 * A malformed or unknown stored value (argon2id from mosquitto 2.1 included) never verifies.
 */
export async function verifyBrokerPassword(password: string, stored: string): Promise<boolean> {
  const parsed = parseStored(stored);
  if (!parsed || password.includes('\u0000')) return false;
  const bytes = encoder.encode(password);
  const computed =
    parsed.kind === 'pbkdf2' ? await pbkdf2Sha512(bytes, parsed.salt, parsed.iterations) : await saltedSha512(bytes, parsed.salt);
  return constantTimeEqual(computed, parsed.hash);
}
