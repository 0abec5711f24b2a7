// Staff passwords, hashed with PBKDF2-HMAC-SHA256 through WebCrypto. Workers have refused more
// than 100,000 iterations in one deriveBits call (workerd's cap, now tied to the Worker's CPU
// limit), so the hash chains six calls of 100,000, which runs under either: each round keys HMAC with the password and salts with the salt and the previous
// round's output, so a guess costs 600,000 sequential HMAC-SHA256 iterations, OWASP's figure for
// PBKDF2-SHA256. Stored as "pbkdf2-sha256$6x100000$<salt b64>$<hash b64>", so the cost can rise
// later and older hashes still verify.

export const PASSWORD_ROUNDS = 6;
export const PASSWORD_ITERATIONS = 100_000;
const SCHEME = 'pbkdf2-sha256';
const encoder = new TextEncoder();

const b64 = (bytes: Uint8Array) => btoa(String.fromCharCode(...bytes));
const unb64 = (text: string) => Uint8Array.from(atob(text), (ch) => ch.charCodeAt(0));

async function derive(password: string, salt: Uint8Array, rounds: number, iterations: number): Promise<Uint8Array> {
  const key = await crypto.subtle.importKey('raw', encoder.encode(password.normalize('NFKC')), 'PBKDF2', false, ['deriveBits']);
  let previous = new Uint8Array(0);
  for (let round = 0; round < rounds; round++) {
    const roundSalt = new Uint8Array(salt.length + previous.length);
    roundSalt.set(salt);
    roundSalt.set(previous, salt.length);
    previous = new Uint8Array(await crypto.subtle.deriveBits({ name: 'PBKDF2', hash: 'SHA-256', salt: roundSalt, iterations }, key, 256));
  }
  return previous;
}

export async function hashPassword(password: string, rounds = PASSWORD_ROUNDS, iterations = PASSWORD_ITERATIONS): Promise<string> {
  const salt = crypto.getRandomValues(new Uint8Array(16));
  return `${SCHEME}$${rounds}x${iterations}$${b64(salt)}$${b64(await derive(password, salt, rounds, iterations))}`;
}

/** Whether `password` matches `stored`, compared in constant time. A malformed hash matches nothing. */
export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const [scheme, cost, salt, hash] = stored.split('$');
  const match = /^(\d{1,2})x(\d{1,6})$/.exec(cost ?? '');
  if (scheme !== SCHEME || !match || !salt || !hash) return false;
  const rounds = Number(match[1]);
  const iterations = Number(match[2]);
  if (rounds < 1 || iterations < 1 || iterations > PASSWORD_ITERATIONS) return false;
  const expected = unb64(hash);
  const actual = await derive(password, unb64(salt), rounds, iterations);
  if (actual.length !== expected.length) return false;
  let diff = 0;
  for (let i = 0; i < actual.length; i++) diff |= actual[i]! ^ expected[i]!;
  return diff === 0;
}

/**
 * Work for a sign-in with an unknown email, the same as for a known one, so the answer's timing
 * does not say which emails have accounts.
 */
let decoy: Promise<string> | undefined;
export async function verifyNothing(password: string): Promise<false> {
  decoy ??= hashPassword('not a password of anyone');
  await verifyPassword(password, await decoy);
  return false;
}
