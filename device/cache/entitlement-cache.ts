// The door's copy of who may enter, built from the Worker's entitlement snapshot. A site may hold
// a million cards, so it is kept compact: Wiegand keys as a sorted Float64Array of
// wiegandKeyNumber values with a parallel Uint32Array of member indexes (binary search), raw keys
// in a Map, member ids packed (member-ids.ts) and statuses in a Uint8Array. Per Wiegand
// credential that is 12 bytes plus the member's share.
import { z } from 'zod';
import type { DoorEntitlement, MemberEntitlement } from '../../core/access.ts';
import type { MemberStatus } from '../../core/contracts/common.ts';
import { EntitlementSnapshot } from '../../core/contracts/wire.ts';
import { credentialKey, parseCredentialKey, wiegandKeyNumber } from '../../core/credential-key.ts';
import { memberIdTable, type MemberIdTable } from './member-ids.ts';

const STATUS_CODES: readonly MemberStatus[] = ['active', 'suspended'];
const STATUS_CODE = new Map(STATUS_CODES.map((s, i) => [s, i]));

// The header and doors are checked with the wire schema; the (possibly million) members and
// credential pairs by plain loops with the same rules, several times faster than a schema walk.
const SnapshotHeader = EntitlementSnapshot.omit({ credentials: true, members: true }).extend({
  members: z.array(z.unknown()),
  credentials: z.array(z.unknown()),
});
const MEMBER_ID = /^mem_[0-9a-z]{10,40}$/;

export class SnapshotError extends Error {
  override name = 'SnapshotError';
}

/** Parses and validates a snapshot from JSON text (a Worker response body or cache.json). */
export function parseSnapshot(text: string): EntitlementSnapshot {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new SnapshotError(`snapshot is not JSON: ${(error as Error).message}`);
  }
  return validateSnapshot(value);
}

export function validateSnapshot(value: unknown): EntitlementSnapshot {
  const header = SnapshotHeader.safeParse(value);
  if (!header.success) {
    const issue = header.error.issues[0];
    throw new SnapshotError(`snapshot is malformed at ${issue?.path.join('.') || '(root)'}: ${issue?.message}`);
  }
  header.data.members.forEach((member, i) => {
    const m = member as { id?: unknown; status?: unknown } | null;
    if (
      typeof m !== 'object' ||
      m === null ||
      typeof m.id !== 'string' ||
      !MEMBER_ID.test(m.id) ||
      !STATUS_CODE.has(m.status as MemberStatus)
    ) {
      throw new SnapshotError(`snapshot member ${i} is not {id: mem_…, status: active|suspended}`);
    }
  });
  const members = header.data.members.length;
  header.data.credentials.forEach((pair, i) => {
    if (
      !Array.isArray(pair) ||
      pair.length !== 2 ||
      typeof pair[0] !== 'string' ||
      !Number.isInteger(pair[1]) ||
      pair[1] < 0 ||
      pair[1] >= members
    ) {
      throw new SnapshotError(`snapshot credential ${i} is not a [key, member index] pair within the member list`);
    }
  });
  return value as EntitlementSnapshot;
}

/**
 * Sorts keys ascending and applies the same permutation to members: an LSD radix sort over three
 * 12-bit digits, since Wiegand key numbers are below 2^36 (16-bit facility, 20-bit card). Linear
 * time, a few times faster than a comparison sort on a million keys.
 */
export function sortParallel(keys: Float64Array, members: Uint32Array): void {
  const n = keys.length;
  let sorted = true;
  for (let i = 1; i < n; i++) {
    if ((keys[i - 1] as number) > (keys[i] as number)) {
      sorted = false;
      break;
    }
  }
  if (sorted) return;
  let srcK: Float64Array = keys;
  let srcM: Uint32Array = members;
  let dstK: Float64Array = new Float64Array(n);
  let dstM: Uint32Array = new Uint32Array(n);
  const counts = new Uint32Array(4096);
  for (let pass = 0; pass < 3; pass++) {
    const div = 2 ** (12 * pass);
    counts.fill(0);
    for (let i = 0; i < n; i++) {
      const digit = Math.floor((srcK[i] as number) / div) % 4096;
      counts[digit] = (counts[digit] as number) + 1;
    }
    let sum = 0;
    for (let b = 0; b < 4096; b++) {
      const c = counts[b] as number;
      counts[b] = sum;
      sum += c;
    }
    for (let i = 0; i < n; i++) {
      const key = srcK[i] as number;
      const digit = Math.floor(key / div) % 4096;
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

export class EntitlementCache {
  private constructor(
    readonly siteId: string,
    readonly version: number,
    readonly serverTime: number,
    readonly doors: ReadonlyArray<{ id: string; name: string }>,
    private readonly memberIds: MemberIdTable,
    private readonly statuses: Uint8Array,
    private readonly wiegandKeys: Float64Array,
    private readonly wiegandMembers: Uint32Array,
    private readonly rawKeys: Map<string, number>,
    /** Credential pairs that were dropped because their key is not a valid credential key. */
    readonly skipped: number,
  ) {}

  /** Builds the cache; pass validated: true when the snapshot came from parseSnapshot. */
  static fromSnapshot(input: EntitlementSnapshot, options: { validated?: boolean } = {}): EntitlementCache {
    const snapshot = options.validated ? input : validateSnapshot(input);
    const statuses = new Uint8Array(snapshot.members.length);
    snapshot.members.forEach((m, i) => {
      statuses[i] = STATUS_CODE.get(m.status) ?? 1;
    });
    const ids = memberIdTable(snapshot.members.map((m) => m.id));

    let wiegandCount = 0;
    const parsed = snapshot.credentials.map(([key]) => {
      const identity = parseCredentialKey(key);
      if (identity?.kind === 'wiegand') wiegandCount++;
      return identity;
    });
    const keys = new Float64Array(wiegandCount);
    const members = new Uint32Array(wiegandCount);
    const raw = new Map<string, number>();
    let w = 0;
    let skipped = 0;
    snapshot.credentials.forEach(([, memberIndex], i) => {
      const identity = parsed[i];
      if (!identity) skipped++;
      else if (identity.kind === 'wiegand') {
        keys[w] = wiegandKeyNumber(identity.facilityCode, identity.cardNumber);
        members[w++] = memberIndex;
      } else raw.set(credentialKey(identity), memberIndex);
    });
    sortParallel(keys, members);
    return new EntitlementCache(
      snapshot.siteId,
      snapshot.version,
      snapshot.serverTime,
      snapshot.doors.map((d) => ({ id: d.id, name: d.name })),
      ids,
      statuses,
      keys,
      members,
      raw,
      skipped,
    );
  }

  /** Number of credentials the door recognises. */
  get size(): number {
    return this.wiegandKeys.length + this.rawKeys.size;
  }

  get memberCount(): number {
    return this.statuses.length;
  }

  /** Bytes held in the typed arrays (raw keys and door names excluded); for diagnostics. */
  get compactBytes(): number {
    return this.wiegandKeys.byteLength + this.wiegandMembers.byteLength + this.statuses.byteLength + this.memberIds.byteLength;
  }

  private member(index: number): MemberEntitlement {
    return { memberId: this.memberIds.get(index), status: STATUS_CODES[this.statuses[index] as number] ?? 'suspended' };
  }

  lookupWiegand(facility: number, card: number): MemberEntitlement | undefined {
    const target = wiegandKeyNumber(facility, card);
    const keys = this.wiegandKeys;
    let lo = 0;
    let hi = keys.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const key = keys[mid] as number;
      if (key < target) lo = mid + 1;
      else if (key > target) hi = mid - 1;
      else return this.member(this.wiegandMembers[mid] as number);
    }
    return undefined;
  }

  lookup(key: string): MemberEntitlement | undefined {
    const identity = parseCredentialKey(key);
    if (!identity) return undefined;
    if (identity.kind === 'wiegand') return this.lookupWiegand(identity.facilityCode, identity.cardNumber);
    const index = this.rawKeys.get(credentialKey(identity));
    return index === undefined ? undefined : this.member(index);
  }

  door(doorId: string): DoorEntitlement | undefined {
    return this.doors.some((d) => d.id === doorId) ? { doorId, siteId: this.siteId } : undefined;
  }
}
