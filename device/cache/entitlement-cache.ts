// The door's copy of who may enter, built from the Worker's entitlement snapshot (v2) and kept
// current with deltas. A site may hold a million cards, so it is compact:
//   - members sorted by id: packed ids (member-ids.ts), one byte of status + suspension, the
//     profile index and validUntil (an index into the site's distinct paid-through instants) in
//     columns of the narrowest width that holds them (columns.ts); validFrom, entriesLeft,
//     bookings and PIN verifiers live in sparse Maps;
//   - Wiegand keys sorted and split into high parts and per-card low bits (columns.ts), with a
//     parallel column of member references (binary search); raw keys in a Map.
// With one member per card, 22-character base-32 member ids, a few profiles, a few hundred
// paid-through dates and cards issued in runs that is 14 + 1 + 1 + 1 + 1 + 3 = 21 bytes per
// credential at a million (a 3-byte reference), 20 below 65,535 members.
//
// Deltas change the arrays in place where they can (an existing member or key) and keep what
// does not fit (new members, new Wiegand keys) in small overlay structures, consulted first. When
// the overlay grows, the sync rebuilds the arrays from scratch (see builder.ts). The content hash
// follows every change record by record, so it can be compared with the Worker's after a delta.
import type { EntitlementDelta, EntitlementSnapshot } from '../../core/contracts/wire.ts';
import { credentialKey, parseCredentialKey, wiegandKeyNumber } from '../../core/credential-key.ts';
import { canonicalCredential, canonicalDoor, canonicalMember, canonicalProfile, canonicalSchedule, canonicalSite } from '../../core/entitlement-hash.ts';
import { MEMBERSHIP_STATUSES, SUSPENSIONS, type AccessProfile, type Booking, type DoorPolicy, type MemberAccess, type MembershipStatus, type SitePolicy } from '../../core/entitlement.ts';
import type { Schedule } from '../../core/schedule.ts';
import { buildParts, DeltaError, NO_MEMBER, REMOVED, STATUS_CODE, SUSPENSION_CODE, validUntilSlot, type CacheParts, type ExtraMember } from './cache-parts.ts';
import { KeyIndex, UintColumn } from './columns.ts';
import { ContentHash } from './content-hash.ts';
import { memberIdTableFromParts, type MemberIdTable } from './member-ids.ts';
import { validateSnapshot } from './snapshot-check.ts';

/** A member as the access rule needs it: the record and its profile. */
export type CachedMember = { member: MemberAccess; profile: AccessProfile };

export type DeltaResult = {
  /** The content hash after the delta equals the one the Worker declared. */
  hashMatches: boolean;
};

const wiegandKeyText = (value: number) => credentialKey({ kind: 'wiegand', facilityCode: Math.floor(value / 2 ** 20), cardNumber: value % 2 ** 20 });

export class EntitlementCache {
  readonly siteId: string;
  version: number;
  serverTime: number;
  serverHash: string;
  site: SitePolicy;
  schedules: Record<string, Schedule>;
  doors: DoorPolicy[];
  private profileList: AccessProfile[];
  private profileById: Map<string, number>;
  private readonly ids: MemberIdTable;
  private readonly flags: Uint8Array;
  private readonly profileIndex: UintColumn;
  private readonly validUntilIndex: UintColumn;
  private readonly validUntilValues: number[];
  private readonly validUntilIndexOf: Map<number, number>;
  private readonly validFromMap: Map<number, number>;
  private readonly entriesLeftMap: Map<number, number>;
  private readonly bookingsMap: Map<number, Booking[]>;
  private readonly pinVerifierMap: Map<number, string>;
  private readonly wiegandKeys: KeyIndex;
  private readonly wiegandRefs: UintColumn;
  private readonly rawKeys: Map<string, number>;
  private readonly unusableKeys: Map<string, number>;
  private readonly extras: ExtraMember[];
  private readonly extraIndex = new Map<string, number>();
  private readonly newKeys: Map<string, string>;
  private readonly hash: ContentHash;
  private readonly baseCount: number;
  private members = 0;
  private wiegandAlive = 0;
  private removedBase = 0;
  private removedSlots = 0;

  private constructor(parts: CacheParts) {
    this.siteId = parts.siteId;
    this.version = parts.version;
    this.serverTime = parts.serverTime;
    this.serverHash = parts.serverHash;
    this.site = parts.site;
    this.schedules = parts.schedules;
    this.doors = parts.doors;
    this.profileList = parts.profiles;
    this.profileById = new Map(parts.profiles.map((p, i) => [p.id, i]));
    this.ids = memberIdTableFromParts(parts.ids);
    this.flags = parts.flags;
    this.profileIndex = UintColumn.fromParts(parts.profileIndex);
    this.validUntilIndex = UintColumn.fromParts(parts.validUntilIndex);
    this.validUntilValues = parts.validUntilValues;
    this.validUntilIndexOf = new Map();
    parts.validUntilValues.forEach((v, i) => i > 0 && this.validUntilIndexOf.set(v, i));
    this.validFromMap = parts.validFrom;
    this.entriesLeftMap = parts.entriesLeft;
    this.bookingsMap = parts.bookings;
    this.pinVerifierMap = parts.pinVerifiers;
    this.wiegandKeys = new KeyIndex(parts.wiegandKeys);
    this.wiegandRefs = UintColumn.fromParts(parts.wiegandRefs);
    this.rawKeys = parts.rawKeys;
    this.unusableKeys = parts.unusableKeys;
    this.extras = parts.extras;
    this.newKeys = parts.newKeys;
    this.hash = new ContentHash(parts.hashSum);
    this.baseCount = this.ids.length;
    for (let i = 0; i < this.baseCount; i++) {
      if (((this.flags[i] as number) & REMOVED) === 0) this.members++;
      else this.removedBase++;
    }
    this.extras.forEach((e, i) => {
      this.extraIndex.set(e.member.id, this.baseCount + i);
      if (!e.removed) this.members++;
    });
    for (let i = 0; i < this.wiegandRefs.length; i++) {
      if (this.wiegandRefs.get(i) === 0) this.removedSlots++;
      else this.wiegandAlive++;
    }
  }

  /** Builds the cache; pass validated: true when the snapshot came from parseSnapshot. */
  static fromSnapshot(input: EntitlementSnapshot, options: { validated?: boolean } = {}): EntitlementCache {
    return new EntitlementCache(buildParts(options.validated ? input : validateSnapshot(input)));
  }

  static fromParts(parts: CacheParts): EntitlementCache {
    return new EntitlementCache(parts);
  }

  /** The cache's state as plain data (shares the typed arrays: post it, do not mutate it). */
  parts(): CacheParts {
    return {
      siteId: this.siteId,
      version: this.version,
      serverTime: this.serverTime,
      serverHash: this.serverHash,
      hashSum: this.hash.sum,
      site: this.site,
      schedules: this.schedules,
      doors: this.doors,
      profiles: this.profileList,
      ids: this.ids.parts(),
      flags: this.flags,
      profileIndex: this.profileIndex.parts(),
      validUntilIndex: this.validUntilIndex.parts(),
      validUntilValues: this.validUntilValues,
      validFrom: this.validFromMap,
      entriesLeft: this.entriesLeftMap,
      bookings: this.bookingsMap,
      pinVerifiers: this.pinVerifierMap,
      wiegandKeys: this.wiegandKeys.parts(),
      wiegandRefs: this.wiegandRefs.parts(),
      rawKeys: this.rawKeys,
      unusableKeys: this.unusableKeys,
      extras: this.extras,
      newKeys: this.newKeys,
    };
  }

  /** The content hash of what the cache holds (compare with the Worker's). */
  get hashValue(): string {
    return this.hash.value;
  }

  get profiles(): readonly AccessProfile[] {
    return this.profileList;
  }

  /** Number of credentials the door holds. */
  get size(): number {
    return this.wiegandAlive + this.rawKeys.size + this.newKeys.size;
  }

  get memberCount(): number {
    return this.members;
  }

  /** Changes kept outside the compact arrays; the sync rebuilds when this grows. */
  get overlaySize(): number {
    return this.extras.length + this.newKeys.size + this.removedBase + this.removedSlots;
  }

  /** Bytes held in the typed arrays (Maps, doors and profiles excluded); for diagnostics. */
  get compactBytes(): number {
    return (
      this.wiegandKeys.byteLength +
      this.wiegandRefs.byteLength +
      this.flags.byteLength +
      this.profileIndex.byteLength +
      this.validUntilIndex.byteLength +
      this.ids.byteLength
    );
  }

  door(doorId: string): DoorPolicy | undefined {
    return this.doors.find((d) => d.id === doorId);
  }

  // Members by reference: 0..baseCount-1 are the arrays, the rest index extras.

  private idOf(ref: number): string {
    return ref < this.baseCount ? this.ids.get(ref) : (this.extras[ref - this.baseCount] as ExtraMember).member.id;
  }

  /** The reference of a member id, removed or not; -1 when the cache never held it. */
  private refOf(id: string): number {
    return this.extraIndex.get(id) ?? this.ids.find(id);
  }

  private alive(ref: number): boolean {
    if (ref === NO_MEMBER || ref < 0) return false;
    if (ref < this.baseCount) return ((this.flags[ref] as number) & REMOVED) === 0;
    const extra = this.extras[ref - this.baseCount];
    return extra !== undefined && !extra.removed;
  }

  private baseMember(i: number): MemberAccess {
    const f = this.flags[i] as number;
    const validUntil = this.validUntilIndex.get(i);
    return {
      id: this.ids.get(i),
      status: MEMBERSHIP_STATUSES[f & 0x07] as MembershipStatus,
      suspension: (f >> 3) & 0x03 ? (SUSPENSIONS[((f >> 3) & 0x03) - 1] as MemberAccess['suspension']) : null,
      profile: this.profileIndex.get(i),
      validFrom: this.validFromMap.get(i) ?? null,
      validUntil: validUntil !== 0 ? (this.validUntilValues[validUntil] as number) : null,
      entriesLeft: this.entriesLeftMap.get(i) ?? null,
      bookings: this.bookingsMap.get(i) ?? [],
      ...(this.pinVerifierMap.has(i) ? { pinVerifier: this.pinVerifierMap.get(i) } : {}),
    };
  }

  private memberAt(ref: number): { member: MemberAccess; profileId: string } | undefined {
    if (!this.alive(ref)) return undefined;
    if (ref < this.baseCount) {
      const member = this.baseMember(ref);
      return { member, profileId: (this.profileList[member.profile] as AccessProfile).id };
    }
    const extra = this.extras[ref - this.baseCount] as ExtraMember;
    return { member: { ...extra.member, profile: this.profileById.get(extra.profileId) as number }, profileId: extra.profileId };
  }

  private cached(ref: number): CachedMember | undefined {
    const found = this.memberAt(ref);
    if (!found) return undefined;
    return { member: found.member, profile: this.profileList[found.member.profile] as AccessProfile };
  }

  private wiegandSlot(value: number): number {
    return this.wiegandKeys.slotOf(value);
  }

  /** The member reference in a Wiegand slot, or NO_MEMBER when a delta removed the key. */
  private slotRef(slot: number): number {
    const stored = this.wiegandRefs.get(slot);
    return stored === 0 ? NO_MEMBER : stored - 1;
  }

  lookupWiegand(facility: number, card: number): CachedMember | undefined {
    return this.lookup(credentialKey({ kind: 'wiegand', facilityCode: facility, cardNumber: card }));
  }

  /** The member holding a credential key, with its profile; undefined when nobody holds it. */
  lookup(key: string): CachedMember | undefined {
    const added = this.newKeys.get(key);
    if (added !== undefined) return this.cached(this.refOf(added));
    const identity = parseCredentialKey(key);
    if (!identity) return undefined;
    const canonical = credentialKey(identity);
    if (identity.kind === 'raw') {
      const ref = this.rawKeys.get(canonical);
      return ref === undefined ? undefined : this.cached(ref);
    }
    const slot = this.wiegandSlot(wiegandKeyNumber(identity.facilityCode, identity.cardNumber));
    return slot < 0 ? undefined : this.cached(this.slotRef(slot));
  }

  /** A member by id. */
  member(id: string): CachedMember | undefined {
    return this.cached(this.refOf(id));
  }

  // Deltas

  /** The member id a credential key currently maps to (the member may have been removed). */
  private keyOwner(key: string): string | undefined {
    const added = this.newKeys.get(key);
    if (added !== undefined) return added;
    const identity = parseCredentialKey(key);
    let ref: number | undefined;
    if (!identity || credentialKey(identity) !== key) ref = this.unusableKeys.get(key);
    else if (identity.kind === 'raw') ref = this.rawKeys.get(key);
    else {
      const slot = this.wiegandSlot(wiegandKeyNumber(identity.facilityCode, identity.cardNumber));
      ref = slot < 0 ? undefined : this.slotRef(slot);
    }
    return ref === undefined || ref === NO_MEMBER ? undefined : this.idOf(ref);
  }

  /** Points a key at a member the cache holds (by reference), or removes it (-1). */
  private setKey(key: string, ref: number): void {
    const identity = parseCredentialKey(key);
    if (!identity || credentialKey(identity) !== key) {
      if (ref >= 0) this.unusableKeys.set(key, ref);
      else this.unusableKeys.delete(key);
      return;
    }
    if (identity.kind === 'raw') {
      if (ref >= 0) this.rawKeys.set(key, ref);
      else this.rawKeys.delete(key);
      return;
    }
    const slot = this.wiegandSlot(wiegandKeyNumber(identity.facilityCode, identity.cardNumber));
    if (slot < 0) {
      if (ref >= 0) this.newKeys.set(key, this.idOf(ref));
      else this.newKeys.delete(key);
      return;
    }
    this.setSlot(slot, ref >= 0 ? ref : NO_MEMBER);
  }

  private setSlot(slot: number, ref: number) {
    const before = this.slotRef(slot);
    if (before === NO_MEMBER && ref !== NO_MEMBER) {
      this.removedSlots--;
      this.wiegandAlive++;
    } else if (before !== NO_MEMBER && ref === NO_MEMBER) {
      this.removedSlots++;
      this.wiegandAlive--;
    }
    this.wiegandRefs.set(slot, ref === NO_MEMBER ? 0 : ref + 1);
  }

  /**
   * Drops the credentials of members a delta removed: a credential exists only while its member
   * does (core/entitlement-delta.ts). One pass over the keys per delta.
   */
  private dropCredentialsOf(refs: Set<number>) {
    const drop = (key: string, ref: number) => this.hash.remove('credential', canonicalCredential(key, this.idOf(ref)));
    this.wiegandKeys.forEach((slot, key) => {
      const ref = this.slotRef(slot);
      if (ref === NO_MEMBER || !refs.has(ref)) return;
      drop(wiegandKeyText(key), ref);
      this.setSlot(slot, NO_MEMBER);
    });
    for (const map of [this.rawKeys, this.unusableKeys]) {
      for (const [key, ref] of map) {
        if (!refs.has(ref)) continue;
        drop(key, ref);
        map.delete(key);
      }
    }
    for (const [key, id] of this.newKeys) {
      const ref = this.refOf(id);
      if (!refs.has(ref)) continue;
      drop(key, ref);
      this.newKeys.delete(key);
    }
  }

  private hashMember(op: 'add' | 'remove', ref: number) {
    const found = this.memberAt(ref);
    if (found) this.hash[op]('member', canonicalMember(found.member, found.profileId));
  }

  /**
   * Replaces the profile list. Members keep their profile by id; a member whose profile is gone
   * falls back to the first profile (the Worker's default), as core/entitlement-delta.ts defines.
   */
  private replaceProfiles(next: AccessProfile[]) {
    if (next.length === 0) throw new DeltaError('delta replaces the access profiles with an empty list');
    const previous = this.profileList;
    for (const p of previous) this.hash.remove('profile', canonicalProfile(p));
    for (const p of next) this.hash.add('profile', canonicalProfile(p));
    const byId = new Map(next.map((p, i) => [p.id, i]));
    const remap = previous.map((p) => byId.get(p.id) ?? -1);
    const fallback = (next[0] as AccessProfile).id;
    // Members whose profile is gone change record: rehash them with the fallback profile.
    const orphans: number[] = [];
    for (let i = 0; i < this.baseCount; i++) {
      const j = remap[this.profileIndex.get(i)] ?? -1;
      if (j >= 0) this.profileIndex.set(i, j);
      else if (((this.flags[i] as number) & REMOVED) === 0) orphans.push(i);
      else this.profileIndex.set(i, 0);
    }
    for (const i of orphans) this.hashMember('remove', i);
    const orphanExtras = this.extras.filter((e) => !e.removed && !byId.has(e.profileId));
    for (const e of orphanExtras) this.hash.remove('member', canonicalMember(e.member, e.profileId));
    this.profileList = [...next];
    this.profileById = byId;
    for (const i of orphans) {
      this.profileIndex.set(i, 0);
      this.hashMember('add', i);
    }
    for (const e of orphanExtras) {
      e.profileId = fallback;
      this.hash.add('member', canonicalMember(e.member, e.profileId));
    }
  }

  private writeBase(i: number, m: MemberAccess, profile: number) {
    const f = (STATUS_CODE.get(m.status) as number) | ((SUSPENSION_CODE.get(m.suspension) as number) << 3);
    this.flags[i] = f;
    this.profileIndex.set(i, profile);
    this.validUntilIndex.set(i, validUntilSlot(this.validUntilValues, this.validUntilIndexOf, m.validUntil));
    const sparse = <T>(map: Map<number, T>, value: T | null, keep: boolean) => (keep ? map.set(i, value as T) : map.delete(i));
    sparse(this.validFromMap, m.validFrom, m.validFrom !== null);
    sparse(this.entriesLeftMap, m.entriesLeft, m.entriesLeft !== null);
    sparse(this.bookingsMap, m.bookings, m.bookings.length > 0);
    sparse(this.pinVerifierMap, m.pinVerifier ?? null, m.pinVerifier !== undefined);
  }

  private upsertMember(m: MemberAccess, profileId: string) {
    const profile = this.profileById.get(profileId) as number;
    let ref = this.refOf(m.id);
    if (ref >= 0 && this.alive(ref)) this.hashMember('remove', ref);
    else this.members++;
    if (ref >= 0 && ref < this.baseCount) {
      if (((this.flags[ref] as number) & REMOVED) !== 0) this.removedBase--;
      this.writeBase(ref, m, profile);
    } else {
      const extra: ExtraMember = { member: { ...m, profile: -1 }, profileId, removed: false };
      if (ref >= 0) this.extras[ref - this.baseCount] = extra;
      else {
        ref = this.baseCount + this.extras.length;
        this.extras.push(extra);
        this.extraIndex.set(m.id, ref);
      }
    }
    this.hashMember('add', ref);
  }

  private removeMember(id: string): number {
    const ref = this.refOf(id);
    if (ref < 0 || !this.alive(ref)) return -1;
    this.hashMember('remove', ref);
    this.members--;
    if (ref < this.baseCount) {
      this.flags[ref] = (this.flags[ref] as number) | REMOVED;
      this.removedBase++;
      this.validFromMap.delete(ref);
      this.entriesLeftMap.delete(ref);
      this.bookingsMap.delete(ref);
      this.pinVerifierMap.delete(ref);
    } else (this.extras[ref - this.baseCount] as ExtraMember).removed = true;
    return ref;
  }

  private static checkDelta(delta: EntitlementDelta, profiles: number) {
    for (const m of delta.members.upsert) {
      if (m.profile >= profiles) throw new DeltaError(`delta member ${m.id} refers to profile ${m.profile}, beyond the ${profiles} profiles`);
    }
  }

  /**
   * Applies a delta (fromVersion must equal this version; the caller checks) and reports whether
   * the resulting content hash equals the Worker's. Invalid deltas throw before changing anything.
   */
  applyDelta(delta: EntitlementDelta): DeltaResult {
    if (delta.siteId !== this.siteId) throw new DeltaError(`delta is for site ${delta.siteId}, not ${this.siteId}`);
    if (delta.fromVersion !== this.version) throw new DeltaError(`delta starts at version ${delta.fromVersion}, the cache holds ${this.version}`);
    EntitlementCache.checkDelta(delta, delta.profiles?.length ?? this.profileList.length);

    if (delta.site) {
      this.hash.remove('site', canonicalSite(this.site));
      this.site = delta.site;
      this.hash.add('site', canonicalSite(this.site));
    }
    if (delta.schedules) {
      for (const [key, s] of Object.entries(this.schedules)) this.hash.remove('schedule', canonicalSchedule(key, s));
      this.schedules = delta.schedules;
      for (const [key, s] of Object.entries(this.schedules)) this.hash.add('schedule', canonicalSchedule(key, s));
    }
    if (delta.doors) {
      for (const d of this.doors) this.hash.remove('door', canonicalDoor(d));
      this.doors = delta.doors;
      for (const d of this.doors) this.hash.add('door', canonicalDoor(d));
    }
    if (delta.profiles) this.replaceProfiles(delta.profiles);
    const profiles = this.profileList;

    const removed = new Set<number>();
    for (const id of delta.members.remove) {
      const ref = this.removeMember(id);
      if (ref >= 0) removed.add(ref);
    }
    for (const m of delta.members.upsert) this.upsertMember(m, (profiles[m.profile] as AccessProfile).id);
    for (const ref of removed) if (this.alive(ref)) removed.delete(ref);
    if (removed.size > 0) this.dropCredentialsOf(removed);
    for (const key of delta.credentials.remove) {
      const owner = this.keyOwner(key);
      if (owner === undefined) continue;
      this.hash.remove('credential', canonicalCredential(key, owner));
      this.setKey(key, -1);
    }
    for (const [key, memberId] of delta.credentials.upsert) {
      const owner = this.keyOwner(key);
      if (owner !== undefined) this.hash.remove('credential', canonicalCredential(key, owner));
      // A credential of a member the cache does not hold does not exist (core/entitlement-delta.ts).
      const ref = this.refOf(memberId);
      const holds = ref >= 0 && this.alive(ref);
      if (holds) this.hash.add('credential', canonicalCredential(key, memberId));
      this.setKey(key, holds ? ref : -1);
    }

    this.version = delta.version;
    this.serverTime = delta.serverTime;
    this.serverHash = delta.hash;
    return { hashMatches: this.hash.value === delta.hash };
  }

  /**
   * The cache as a snapshot (the persisted form and the input of a rebuild). Every credential
   * points at a member the cache holds; `dropped` counts any that did not (a bug if ever non-zero).
   */
  toSnapshot(): { snapshot: EntitlementSnapshot; dropped: number } {
    const members: MemberAccess[] = [];
    const index = new Int32Array(this.baseCount + this.extras.length).fill(-1);
    for (let ref = 0; ref < index.length; ref++) {
      const found = this.memberAt(ref);
      if (!found) continue;
      index[ref] = members.length;
      members.push(found.member);
    }
    const credentials: Array<[string, number]> = [];
    let dropped = 0;
    const push = (key: string, ref: number) => {
      const i = ref >= 0 && ref < index.length ? (index[ref] as number) : -1;
      if (i >= 0) credentials.push([key, i]);
      else dropped++;
    };
    this.wiegandKeys.forEach((slot, key) => {
      const ref = this.slotRef(slot);
      if (ref !== NO_MEMBER) push(wiegandKeyText(key), ref);
    });
    for (const [key, ref] of this.rawKeys) push(key, ref);
    for (const [key, ref] of this.unusableKeys) push(key, ref);
    for (const [key, id] of this.newKeys) push(key, this.refOf(id));
    return {
      snapshot: {
        siteId: this.siteId,
        version: this.version,
        serverTime: this.serverTime,
        hash: this.serverHash,
        site: this.site,
        schedules: this.schedules,
        doors: this.doors,
        profiles: this.profileList,
        members,
        credentials,
      },
      dropped,
    };
  }
}
