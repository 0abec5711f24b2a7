// Ed25519 signing of door commands and inline entitlement deltas with WebCrypto. The private key is the Worker secret
// COMMAND_SIGNING_KEY, a JWK ({"kty":"OKP","crv":"Ed25519","d":…,"x":…}); its public half goes
// to each door at enrollment.
const b64url = (bytes: ArrayBuffer | Uint8Array) => {
  let s = '';
  for (const b of new Uint8Array(bytes)) s += String.fromCharCode(b);
  return btoa(s).replaceAll('+', '-').replaceAll('/', '_').replace(/=+$/, '');
};

type Jwk = { kty: string; crv: string; d?: string; x: string; alg?: string };

export class SigningKeyError extends Error {}

function parseKey(secret: string | undefined): Jwk | null {
  if (!secret) return null;
  let jwk: Jwk;
  try {
    jwk = JSON.parse(secret) as Jwk;
  } catch {
    throw new SigningKeyError('COMMAND_SIGNING_KEY is not JSON; it must be an Ed25519 private JWK');
  }
  if (jwk.kty !== 'OKP' || jwk.crv !== 'Ed25519' || !jwk.d || !jwk.x) {
    throw new SigningKeyError('COMMAND_SIGNING_KEY must be an Ed25519 private JWK with d and x');
  }
  return jwk;
}

/** The raw public key (base64url) doors verify with, or null when commands are not configured. */
export const commandPublicKey = (secret: string | undefined): string | null => parseKey(secret)?.x ?? null;

// Imported once per isolate and secret: notices are signed after every entitlement change.
type SigningKey = Awaited<ReturnType<typeof crypto.subtle.importKey>>;
let imported: { secret: string; key: Promise<SigningKey> } | undefined;

/** Signs the exact UTF-8 text with the Worker's Ed25519 key (door commands and inline entitlement deltas). */
export async function signText(secret: string | undefined, text: string, what = 'door commands'): Promise<string> {
  const jwk = parseKey(secret);
  if (!jwk) throw new SigningKeyError(`${what} need the COMMAND_SIGNING_KEY secret`);
  let current = imported;
  if (!current || current.secret !== secret) {
    // Node exports `alg: "Ed25519"`, which workerd refuses for this curve; the key itself is what counts.
    const { kty, crv, d, x } = jwk;
    current = { secret: secret as string, key: crypto.subtle.importKey('jwk', { kty, crv, d, x } as never, { name: 'Ed25519' }, false, ['sign']) };
    imported = current;
  }
  return b64url(await crypto.subtle.sign('Ed25519', await current.key, new TextEncoder().encode(text)));
}

export const signCommand = (secret: string | undefined, commandText: string): Promise<string> => signText(secret, commandText);

export const randomNonce = () => b64url(crypto.getRandomValues(new Uint8Array(18)));

/** Creates a fresh key pair as the JWK secret (for `npm start` and tests). */
export async function generateSigningKey(): Promise<string> {
  const pair = (await crypto.subtle.generateKey({ name: 'Ed25519' }, true, ['sign', 'verify'])) as unknown as { privateKey: never };
  return JSON.stringify(await crypto.subtle.exportKey('jwk', pair.privateKey));
}
