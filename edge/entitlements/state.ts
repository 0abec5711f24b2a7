// Reads a site's entitlement state from D1: the full snapshot, or a delta since a version from
// the change log. Reads that must agree with each other share one batch (one transaction).
import { and, asc, eq, gt, inArray, min, sql } from 'drizzle-orm';
import type { EntitlementDelta, EntitlementSnapshot, EntitlementUpdate } from '../../core/contracts/wire.ts';
import { EntitlementHash } from '../../core/entitlement-hash.ts';
import type { MemberAccess } from '../../core/entitlement.ts';
import { accessProfiles, bookings, credentials, doors, entitlementChanges, members, sites } from '../db/schema.ts';
import type { Db } from '../env.ts';
import { doorPolicy, memberAccess, profileList, schedulesOf, sitePolicy, type BookingRow } from './records.ts';

const CHUNK = 90; // D1 binds at most 100 parameters per statement
const chunks = <T>(items: T[]): T[][] => {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += CHUNK) out.push(items.slice(i, i + CHUNK));
  return out;
};
const byMember = (rows: BookingRow[]) => {
  const m = new Map<string, BookingRow[]>();
  for (const b of rows) m.set(b.memberId, [...(m.get(b.memberId) ?? []), b]);
  return m;
};

/** Larger deltas than this are answered with a snapshot. */
export const MAX_DELTA_CHANGES = 2000;

/**
 * Where the site's remembered hash is written. By default the read waits for the write; a caller
 * with somewhere to run work after its answer (a notice after publishing it, a pull after its
 * response: waitUntil) passes it here, and the answer does not wait for a D1 commit.
 */
export type HashWrites = { later?: (write: Promise<unknown>) => void };

export async function buildSnapshot(db: Db, siteId: string, now: number, writes: HashWrites = {}, attempt = 0): Promise<EntitlementSnapshot | null> {
  const [siteRows] = await db.batch([db.select().from(sites).where(eq(sites.id, siteId))]);
  const site = siteRows[0];
  if (!site) return null;
  const org = site.organisationId;
  const [doorRows, profileRows, memberRows, credentialRows, bookingRows, again] = await db.batch([
    db.select().from(doors).where(eq(doors.siteId, siteId)).orderBy(asc(doors.id)),
    db.select().from(accessProfiles).where(eq(accessProfiles.organisationId, org)),
    // Members who hold at least one card; the others cannot open a door.
    db
      .select()
      .from(members)
      .where(and(eq(members.organisationId, org), sql`exists (select 1 from ${credentials} where ${credentials.memberId} = ${members.id})`))
      .orderBy(asc(members.id)),
    db.select({ key: credentials.key, memberId: credentials.memberId }).from(credentials).where(eq(credentials.organisationId, org)).orderBy(asc(credentials.key)),
    db.select().from(bookings).where(eq(bookings.organisationId, org)),
    db.select({ version: sites.entitlementVersion }).from(sites).where(eq(sites.id, siteId)),
  ]);
  // The two batches saw the same version, so nothing changed in between.
  if (again[0]?.version !== site.entitlementVersion && attempt < 3) return buildSnapshot(db, siteId, now, writes, attempt + 1);
  const profiles = profileList(profileRows);
  const profileIndex = new Map(profiles.map((p, i) => [p.id, i]));
  const bookingsOf = byMember(bookingRows);
  const memberIndex = new Map<string, number>();
  const snapshotMembers: MemberAccess[] = memberRows.map((m, i) => {
    memberIndex.set(m.id, i);
    return memberAccess(m, profileIndex, bookingsOf.get(m.id) ?? []);
  });
  const snapshot: Omit<EntitlementSnapshot, 'hash'> = {
    siteId,
    version: site.entitlementVersion,
    serverTime: now,
    site: sitePolicy(site),
    schedules: schedulesOf(site, profileRows),
    doors: doorRows.map(doorPolicy),
    profiles,
    members: snapshotMembers,
    credentials: credentialRows.map((c) => [c.key, memberIndex.get(c.memberId) as number] as [string, number]),
  };
  const hash = EntitlementHash.of(snapshot).value;
  if (site.hashVersion !== site.entitlementVersion) {
    const write = db.update(sites).set({ entitlementHash: hash, hashVersion: site.entitlementVersion }).where(and(eq(sites.id, siteId), eq(sites.entitlementVersion, site.entitlementVersion)));
    if (writes.later) writes.later(write.then(() => undefined));
    else await write;
  }
  return { ...snapshot, hash };
}

/** The site's content hash at its current version, computed at most once per version. */
export async function currentHash(db: Db, siteId: string, now: number, writes: HashWrites = {}): Promise<{ version: number; hash: string } | null> {
  const [site] = await db.select().from(sites).where(eq(sites.id, siteId));
  if (!site) return null;
  if (site.hashVersion === site.entitlementVersion && site.entitlementHash) return { version: site.entitlementVersion, hash: site.entitlementHash };
  const snapshot = await buildSnapshot(db, siteId, now, writes);
  return snapshot ? { version: snapshot.version, hash: snapshot.hash } : null;
}

export async function entitlementUpdate(db: Db, siteId: string, since: number | null, now: number, writes: HashWrites = {}): Promise<EntitlementUpdate | null> {
  const full = async (): Promise<EntitlementUpdate | null> => {
    const snapshot = await buildSnapshot(db, siteId, now, writes);
    return snapshot ? { kind: 'snapshot', snapshot } : null;
  };
  if (since === null) return full();
  const [siteRows, oldest, changed] = await db.batch([
    db.select().from(sites).where(eq(sites.id, siteId)),
    db.select({ version: min(entitlementChanges.version) }).from(entitlementChanges).where(eq(entitlementChanges.siteId, siteId)),
    db
      .selectDistinct({ kind: entitlementChanges.kind, entityId: entitlementChanges.entityId })
      .from(entitlementChanges)
      .where(and(eq(entitlementChanges.siteId, siteId), gt(entitlementChanges.version, since)))
      .limit(MAX_DELTA_CHANGES + 1),
  ]);
  const site = siteRows[0];
  if (!site) return null;
  const version = site.entitlementVersion;
  if (since === version) {
    const current = await currentHash(db, siteId, now, writes);
    return { kind: 'current', version, hash: current?.hash ?? '', serverTime: now };
  }
  // A door ahead of the server (a restored database) or behind what the log remembers gets it all.
  const logStart = oldest[0]?.version ?? null;
  if (since > version || logStart === null || logStart > since + 1 || changed.length > MAX_DELTA_CHANGES) return full();

  const org = site.organisationId;
  const kinds = new Set(changed.map((c) => c.kind));
  const memberIds = new Set(changed.filter((c) => c.kind === 'member').map((c) => c.entityId));
  const keys = changed.filter((c) => c.kind === 'credential').map((c) => c.entityId);

  const [doorRows, profileRows, credentialRows, again] = await db.batch([
    db.select().from(doors).where(eq(doors.siteId, siteId)).orderBy(asc(doors.id)),
    db.select().from(accessProfiles).where(eq(accessProfiles.organisationId, org)),
    keys.length
      ? db.select({ key: credentials.key, memberId: credentials.memberId }).from(credentials).where(and(eq(credentials.organisationId, org), inArray(credentials.key, keys.slice(0, CHUNK))))
      : db.select({ key: credentials.key, memberId: credentials.memberId }).from(credentials).where(sql`0`),
    db.select({ version: sites.entitlementVersion }).from(sites).where(eq(sites.id, siteId)),
  ]);
  const credentialFound = [...credentialRows];
  for (const part of chunks(keys.slice(CHUNK))) {
    credentialFound.push(...(await db.select({ key: credentials.key, memberId: credentials.memberId }).from(credentials).where(and(eq(credentials.organisationId, org), inArray(credentials.key, part)))));
  }
  for (const c of credentialFound) memberIds.add(c.memberId);

  const ids = [...memberIds];
  const memberRows: Array<typeof members.$inferSelect> = [];
  const holders = new Set<string>();
  const bookingRows: BookingRow[] = [];
  for (const part of chunks(ids)) {
    const [m, h, b] = await db.batch([
      db.select().from(members).where(and(eq(members.organisationId, org), inArray(members.id, part))),
      db.selectDistinct({ memberId: credentials.memberId }).from(credentials).where(inArray(credentials.memberId, part)),
      db.select().from(bookings).where(inArray(bookings.memberId, part)),
    ]);
    memberRows.push(...m);
    for (const row of h) holders.add(row.memberId);
    bookingRows.push(...b);
  }
  // Changed while we read: the door will hear of the newer version and ask again.
  if (again[0]?.version !== version) return full();

  const profiles = profileList(profileRows);
  const profileIndex = new Map(profiles.map((p, i) => [p.id, i]));
  const bookingsOf = byMember(bookingRows);
  const upsert = memberRows.filter((m) => holders.has(m.id)).map((m) => memberAccess(m, profileIndex, bookingsOf.get(m.id) ?? []));
  const kept = new Set(upsert.map((m) => m.id));
  const foundKeys = new Set(credentialFound.map((c) => c.key));
  const current = await currentHash(db, siteId, now, writes);

  const delta: EntitlementDelta = {
    siteId,
    fromVersion: since,
    version,
    serverTime: now,
    hash: current?.hash ?? '',
    ...(kinds.has('site') ? { site: sitePolicy(site) } : {}),
    ...(kinds.has('site') || kinds.has('profile') ? { schedules: schedulesOf(site, profileRows) } : {}),
    ...(kinds.has('door') ? { doors: doorRows.map(doorPolicy) } : {}),
    ...(kinds.has('profile') ? { profiles } : {}),
    members: { upsert, remove: ids.filter((id) => !kept.has(id)) },
    credentials: {
      upsert: credentialFound.map((c) => [c.key, c.memberId] as [string, string]),
      remove: keys.filter((k) => !foundKeys.has(k)),
    },
  };
  return { kind: 'delta', delta };
}
