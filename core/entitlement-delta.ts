// Applies a delta to a snapshot, giving the snapshot at the delta's version. The reference for
// what a delta means; the door's compact cache applies deltas its own way and is tested against it.
import type { EntitlementDelta, EntitlementSnapshot } from './contracts/wire.ts';
import type { MemberAccess } from './entitlement.ts';

export class DeltaMismatch extends Error {}

export function applyDelta(snapshot: EntitlementSnapshot, delta: EntitlementDelta): EntitlementSnapshot {
  if (delta.siteId !== snapshot.siteId) throw new DeltaMismatch(`delta is for site ${delta.siteId}, cache holds ${snapshot.siteId}`);
  if (delta.fromVersion !== snapshot.version) {
    throw new DeltaMismatch(`delta starts at version ${delta.fromVersion}, cache is at ${snapshot.version}`);
  }
  const oldProfiles = snapshot.profiles;
  const profiles = delta.profiles ?? oldProfiles;
  const profileIndex = new Map(profiles.map((p, i) => [p.id, i]));
  // Unchanged members keep their profile by id, which may sit at another index in a new list.
  const reindex = (m: MemberAccess): MemberAccess =>
    delta.profiles ? { ...m, profile: profileIndex.get(oldProfiles[m.profile]?.id ?? '') ?? 0 } : m;

  const members = new Map<string, MemberAccess>();
  for (const m of snapshot.members) members.set(m.id, reindex(m));
  for (const id of delta.members.remove) members.delete(id);
  for (const m of delta.members.upsert) members.set(m.id, m);

  const credentials = new Map<string, string>();
  for (const [key, index] of snapshot.credentials) credentials.set(key, snapshot.members[index]!.id);
  for (const key of delta.credentials.remove) credentials.delete(key);
  for (const [key, memberId] of delta.credentials.upsert) credentials.set(key, memberId);

  const memberList = [...members.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const indexOf = new Map(memberList.map((m, i) => [m.id, i]));
  const pairs: Array<[string, number]> = [];
  for (const [key, memberId] of [...credentials].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))) {
    const index = indexOf.get(memberId);
    if (index !== undefined) pairs.push([key, index]);
  }
  return {
    siteId: snapshot.siteId,
    version: delta.version,
    serverTime: delta.serverTime,
    hash: delta.hash,
    site: delta.site ?? snapshot.site,
    schedules: delta.schedules ?? snapshot.schedules,
    doors: delta.doors ?? snapshot.doors,
    profiles,
    members: memberList,
    credentials: pairs,
  };
}
