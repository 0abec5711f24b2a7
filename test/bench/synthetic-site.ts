// A synthetic site snapshot for benchmarks: n members with one Wiegand card each, 1 in 20
// suspended, ids shaped like the Worker's (`mem_` + 22 base-32 characters).
import type { EntitlementSnapshot } from '../../core/contracts/wire.ts';

const ALPHABET = '0123456789abcdefghjkmnpqrstvwxyz';

/** Deterministic pseudo-random numbers (mulberry32), so every run measures the same site. */
export function prng(seed: number) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function memberId(i: number): string {
  let s = '';
  for (let v = i, k = 0; k < 22; k++, v = Math.floor(v / 32)) s = ALPHABET[v % 32] + s;
  return `mem_${s}`;
}

/** Card i is facility (i >> 16) + 1, card number i & 0xffff: unique and spread over facilities. */
export const cardOf = (i: number) => ({ facility: Math.floor(i / 65536) + 1, card: i % 65536 });

export function syntheticSnapshot(n: number): EntitlementSnapshot {
  const members: EntitlementSnapshot['members'] = new Array(n);
  const credentials: EntitlementSnapshot['credentials'] = new Array(n);
  for (let i = 0; i < n; i++) {
    members[i] = { id: memberId(i), status: i % 20 === 7 ? 'suspended' : 'active' };
    const { facility, card } = cardOf(i);
    credentials[i] = [`wiegand:${facility}:${card}`, i];
  }
  return {
    siteId: 'site_0000000000bench',
    version: 1,
    serverTime: 0,
    doors: [{ id: 'door_00000000000front', name: 'Front door' }],
    members,
    credentials,
  };
}
