// The compact form of a site's entitlements (see entitlement-cache.ts for the layout): plain typed
// arrays and Maps built from a validated snapshot, which the snapshot process can build and send back.
import type { EntitlementSnapshot } from '../../core/contracts/wire.ts';
import { credentialKey, parseCredentialKey, wiegandKeyNumber } from '../../core/credential-key.ts';
import { EntitlementHash } from '../../core/entitlement-hash.ts';
import { MEMBERSHIP_STATUSES, SUSPENSIONS, type AccessProfile, type Booking, type DoorPolicy, type MemberAccess, type SitePolicy } from '../../core/entitlement.ts';
import type { Schedule } from '../../core/schedule.ts';
import { splitKeys, UintColumn, type KeyIndexParts, type UintParts } from './columns.ts';
import { hashNumber } from './content-hash.ts';
import { memberIdTable, sortIds, type MemberIdParts } from './member-ids.ts';

// status in bits 0-2, suspension in bits 3-4 (0 = none), bit 7 = removed by a delta
export const STATUS_CODE = new Map<string, number>(MEMBERSHIP_STATUSES.map((s, i) => [s, i]));
export const SUSPENSION_CODE = new Map<string | null, number>([[null, 0], ...SUSPENSIONS.map((s, i): [string, number] => [s, i + 1])]);
export const REMOVED = 0x80;
/** A key slot whose credential was removed by a delta. */
export const NO_MEMBER = 0xffff_ffff;

export class SnapshotError extends Error {
  override name = 'SnapshotError';
}

export class DeltaError extends Error {
  override name = 'DeltaError';
}

/**
 * Sorts keys ascending and applies the same permutation to members: an LSD radix sort, over two
 * 16-bit digits for keys below 2^32 and three 12-bit digits for keys below 2^36 (16-bit facility,
 * 20-bit card). Linear time, a few times faster than a comparison sort on a million keys.
 */
export function sortParallel<K extends Float64Array | Uint32Array>(keys: K, members: Uint32Array): void {
  const n = keys.length;
  let sorted = true;
  for (let i = 1; i < n; i++) {
    if ((keys[i - 1] as number) > (keys[i] as number)) {
      sorted = false;
      break;
    }
  }
  if (sorted) return;
  const narrow = keys instanceof Uint32Array;
  const bits = narrow ? 16 : 12;
  const passes = narrow ? 2 : 3;
  const buckets = 2 ** bits;
  let srcK = keys as Float64Array | Uint32Array;
  let srcM: Uint32Array = members;
  let dstK: Float64Array | Uint32Array = narrow ? new Uint32Array(n) : new Float64Array(n);
  let dstM: Uint32Array = new Uint32Array(n);
  const counts = new Uint32Array(buckets);
  for (let pass = 0; pass < passes; pass++) {
    const div = 2 ** (bits * pass);
    counts.fill(0);
    for (let i = 0; i < n; i++) {
      const digit = Math.floor((srcK[i] as number) / div) % buckets;
      counts[digit] = (counts[digit] as number) + 1;
    }
    let sum = 0;
    for (let b = 0; b < buckets; b++) {
      const c = counts[b] as number;
      counts[b] = sum;
      sum += c;
    }
    for (let i = 0; i < n; i++) {
      const key = srcK[i] as number;
      const digit = Math.floor(key / div) % buckets;
      const pos = counts[digit] as number;
      counts[digit] = pos + 1;
      dstK[pos] = key;
      dstM[pos] = srcM[i] as number;
    }
    [srcK, dstK] = [dstK, srcK];
    [srcM, dstM] = [dstM, srcM];
  }
  if (srcK !== keys) {
    keys.set(srcK);
    members.set(srcM);
  }
}

/** A member added by a delta, kept outside the compact arrays until the next rebuild. */
export type ExtraMember = { member: MemberAccess; profileId: string; removed: boolean };

/** Everything a cache holds, as plain data (typed arrays, Maps) that can be posted between threads. */
export type CacheParts = {
  siteId: string;
  version: number;
  serverTime: number;
  /** The hash the Worker declared for this version. */
  serverHash: string;
  /** The content hash of what the cache holds, as a number (content-hash.ts). */
  hashSum: number;
  site: SitePolicy;
  schedules: Record<string, Schedule>;
  doors: DoorPolicy[];
  profiles: AccessProfile[];
  ids: MemberIdParts;
  flags: Uint8Array;
  profileIndex: UintParts;
  /** Per member, an index into validUntilValues; 0 = no validUntil. */
  validUntilIndex: UintParts;
  /** The distinct validUntil values (index 0 unused): paid-through days, so few at any site. */
  validUntilValues: number[];
  validFrom: Map<number, number>;
  entriesLeft: Map<number, number>;
  bookings: Map<number, Booking[]>;
  pinVerifiers: Map<number, string>;
  wiegandKeys: KeyIndexParts;
  /** Per Wiegand slot, its member's reference + 1; 0 = the key was removed by a delta. */
  wiegandRefs: UintParts;
  rawKeys: Map<string, number>;
  /** Keys this agent cannot read (unknown format, or not in canonical form): kept for the hash only. */
  unusableKeys: Map<string, number>;
  extras: ExtraMember[];
  /** Wiegand keys added by deltas that have no slot in the arrays: key → member id. */
  newKeys: Map<string, string>;
};

/**
 * The shape of CacheParts, bumped whenever it changes: a snapshot process started from other code
 * than the agent's (an upgrade being copied in under a running agent) answers with another number,
 * and its answer is not used.
 */
export const PARTS_LAYOUT = 2;

/**
 * Parts whose typed arrays are their own: arrays received over IPC are views into the whole
 * message, which would otherwise stay in memory as long as the cache.
 */
export const ownedParts = (parts: CacheParts): CacheParts => ({
  ...parts,
  ids: parts.ids.kind === 'packed' ? { ...parts.ids, words: parts.ids.words.slice() } : parts.ids,
  flags: parts.flags.slice(),
  profileIndex: { ...parts.profileIndex, data: parts.profileIndex.data.slice() },
  validUntilIndex: { ...parts.validUntilIndex, data: parts.validUntilIndex.data.slice() },
  wiegandKeys: { ...parts.wiegandKeys, low: parts.wiegandKeys.low.slice(), highs: parts.wiegandKeys.highs.slice(), starts: parts.wiegandKeys.starts.slice() },
  wiegandRefs: { ...parts.wiegandRefs, data: parts.wiegandRefs.data.slice() },
});

/** The index of a validUntil value in values (index 0 unused), adding it when new; 0 for none. */
export function validUntilSlot(values: number[], indexOf: Map<number, number>, value: number | null): number {
  if (value === null) return 0;
  let index = indexOf.get(value);
  if (index === undefined) {
    index = values.length;
    values.push(value);
    indexOf.set(value, index);
  }
  return index;
}

/** Builds the compact form of a validated snapshot, with its content hash. */
export function buildParts(snapshot: EntitlementSnapshot): CacheParts {
  const n = snapshot.members.length;
  const unsorted = memberIdTable(snapshot.members.map((m) => m.id));
  const { table, order } = sortIds(unsorted);
  for (let i = 1; i < n; i++) {
    if (table.compare(i - 1, i) === 0) throw new SnapshotError(`snapshot lists member ${table.get(i)} twice`);
  }
  // sorted position → original index, and back
  const original = (i: number) => (order ? (order[i] as number) : i);
  let position: Uint32Array | undefined;
  if (order) {
    position = new Uint32Array(n);
    for (let i = 0; i < n; i++) position[order[i] as number] = i;
  }

  const flags = new Uint8Array(n);
  const profileIndex = UintColumn.sized(n, snapshot.profiles.length - 1);
  const validUntilValues = [0];
  const validUntilIndexOf = new Map<number, number>();
  const validUntilSlots = new Uint32Array(n);
  const validFrom = new Map<number, number>();
  const entriesLeft = new Map<number, number>();
  const bookings = new Map<number, Booking[]>();
  const pinVerifiers = new Map<number, string>();
  for (let i = 0; i < n; i++) {
    const m = snapshot.members[original(i)] as MemberAccess;
    flags[i] = (STATUS_CODE.get(m.status) as number) | ((SUSPENSION_CODE.get(m.suspension) as number) << 3);
    profileIndex.set(i, m.profile);
    validUntilSlots[i] = validUntilSlot(validUntilValues, validUntilIndexOf, m.validUntil);
    if (m.validFrom !== null) validFrom.set(i, m.validFrom);
    if (m.entriesLeft !== null) entriesLeft.set(i, m.entriesLeft);
    if (m.bookings.length > 0) bookings.set(i, m.bookings);
    if (m.pinVerifier !== undefined) pinVerifiers.set(i, m.pinVerifier);
  }

  let wiegandCount = 0;
  let widest = 0;
  const parsed = snapshot.credentials.map(([key]) => {
    const identity = parseCredentialKey(key);
    if (!identity || credentialKey(identity) !== key) return undefined;
    if (identity.kind === 'wiegand') {
      wiegandCount++;
      widest = Math.max(widest, wiegandKeyNumber(identity.facilityCode, identity.cardNumber));
    }
    return identity;
  });
  const keys = widest < 2 ** 32 ? new Uint32Array(wiegandCount) : new Float64Array(wiegandCount);
  const refs = new Uint32Array(wiegandCount);
  const rawKeys = new Map<string, number>();
  const unusableKeys = new Map<string, number>();
  let w = 0;
  snapshot.credentials.forEach(([key, memberIndex], i) => {
    const ref = position ? (position[memberIndex] as number) : memberIndex;
    const identity = parsed[i];
    if (!identity) unusableKeys.set(key, ref);
    else if (identity.kind === 'wiegand') {
      keys[w] = wiegandKeyNumber(identity.facilityCode, identity.cardNumber);
      refs[w++] = ref;
    } else rawKeys.set(key, ref);
  });
  sortParallel(keys, refs);
  // Stored as reference + 1, so 0 can mean a removed key whatever the column's width.
  const refColumn = UintColumn.sized(wiegandCount, n);
  for (let i = 0; i < wiegandCount; i++) refColumn.set(i, (refs[i] as number) + 1);
  const validUntilIndex = UintColumn.sized(n, validUntilValues.length - 1);
  for (let i = 0; i < n; i++) validUntilIndex.set(i, validUntilSlots[i] as number);

  return {
    siteId: snapshot.siteId,
    version: snapshot.version,
    serverTime: snapshot.serverTime,
    serverHash: snapshot.hash,
    hashSum: hashNumber(EntitlementHash.of(snapshot).value),
    site: snapshot.site,
    schedules: snapshot.schedules,
    doors: snapshot.doors,
    profiles: snapshot.profiles,
    ids: table.parts(),
    flags,
    profileIndex: profileIndex.parts(),
    validUntilIndex: validUntilIndex.parts(),
    validUntilValues,
    validFrom,
    entriesLeft,
    bookings,
    pinVerifiers,
    wiegandKeys: splitKeys(keys),
    wiegandRefs: refColumn.parts(),
    rawKeys,
    unusableKeys,
    extras: [],
    newKeys: new Map(),
  };
}

