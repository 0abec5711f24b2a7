// Ids are `<prefix>_<time><random>` in lowercase base32: sortable by creation, so an id is also
// a stable pagination cursor.
const ALPHABET = '0123456789abcdefghjkmnpqrstvwxyz';

const randomChars = (n: number, alphabet = ALPHABET): string => {
  const bytes = crypto.getRandomValues(new Uint8Array(n));
  let out = '';
  for (const b of bytes) out += alphabet[b % alphabet.length];
  return out;
};

// The last id's time and random part: ids made in the same millisecond (or with the same `now`,
// as a billing run's) continue a little after it, so they still sort by creation and land at the
// end of their indexes rather than at random places in them (a large run's inserts stay cheap).
let last = { time: '', random: [] as number[] };

/**
 * The random part after `previous`, a random step of 1 to 1,024 further (base32, carrying): ids
 * stay in order without telling how many were made in between, or what the next one is.
 */
function following(previous: number[]): number[] | null {
  const next = [...previous];
  let carry = 1 + (crypto.getRandomValues(new Uint16Array(1))[0]! % 1024);
  for (let i = next.length - 1; i >= 0 && carry > 0; i--) {
    const sum = next[i]! + carry;
    next[i] = sum % 32;
    carry = Math.floor(sum / 32);
  }
  return carry > 0 ? null : next;
}

export function newId(prefix: string, now = Date.now()): string {
  let time = '';
  for (let t = now, i = 0; i < 10; i++, t = Math.floor(t / 32)) time = ALPHABET[t % 32] + time;
  const sameTime = time === last.time ? following(last.random) : null;
  // A new instant starts at a random point in the lower half, leaving room to count up.
  const random = sameTime ?? [...crypto.getRandomValues(new Uint8Array(12))].map((b, i) => (i === 0 ? b % 16 : b % 32));
  last = { time, random };
  return `${prefix}_${time}${random.map((d) => ALPHABET[d]).join('')}`;
}

/** A bearer secret with a recognisable prefix, ~190 bits of randomness. */
export const newSecret = (prefix: string): string => `${prefix}_${randomChars(38)}`;

// Enrollment codes are typed by a technician: no 0/O, 1/I/L, and grouped in fours.
const CODE_ALPHABET = 'ABCDEFGHJKMNPQRSTUVWXYZ23456789';
export const newEnrollmentCode = (): string => {
  const raw = randomChars(8, CODE_ALPHABET);
  return `${raw.slice(0, 4)}-${raw.slice(4)}`;
};
export const normaliseEnrollmentCode = (code: string): string => code.toUpperCase().replace(/[^A-Z0-9]/g, '');

export async function sha256Hex(text: string): Promise<string> {
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(text));
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, '0')).join('');
}
