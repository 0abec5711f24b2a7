// Reads a site's entitlement state from D1: the full snapshot, or a delta since a version from
// the change log. Reads that must agree with each other share one batch (one transaction).
import { and, asc, eq, gt, min, sql, type SQLWrapper } from 'drizzle-orm';
import type { EntitlementDelta, EntitlementSnapshot, EntitlementUpdate } from '../../core/contracts/wire.ts';
import { EntitlementHash } from '../../core/entitlement-hash.ts';
import type { MemberAccess } from '../../core/entitlement.ts';
import { accessProfiles, bookings, credentials, doors, entitlementChanges, members, sites } from '../db/schema.ts';
import type { Db } from '../env.ts';
import { doorPolicy, memberAccess, profileList, schedulesOf, sitePolicy, type BookingRow } from './records.ts';

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

type SiteRow = typeof sites.$inferSelect;

export async function buildSnapshot(db: Db, siteId: string, now: number, writes: HashWrites = {}, attempt = 0): Promise<EntitlementSnapshot | null> {
  const [siteRows] = await db.batch([db.select().from(sites).where(eq(sites.id, siteId))]);
  const site = siteRows[0];
  if (!site) return null;
  const { snapshot, consistent } = await snapshotAt(db, site, now, writes);
  // The version moved between the site's row and the rest: read both again.
  if (!consistent && attempt < 3) return buildSnapshot(db, siteId, now, writes, attempt + 1);
  return snapshot;
}

type Org = string | SQLWrapper;
const inOrg = (column: SQLWrapper, org: Org) => sql`${column} = ${org}`;

/** The organisation-wide reads a snapshot adds to the site's doors and profiles. */
const stateReads = (db: Db, org: Org) =>
  [
    // Members who hold at least one card; the others cannot open a door.
    db
      .select()
      .from(members)
      .where(and(inOrg(members.organisationId, org), sql`exists (select 1 from ${credentials} where ${credentials.memberId} = ${members.id})`))
      .orderBy(asc(members.id)),
    db.select({ key: credentials.key, memberId: credentials.memberId }).from(credentials).where(inOrg(credentials.organisationId, org)).orderBy(asc(credentials.key)),
    db.select().from(bookings).where(inOrg(bookings.organisationId, org)),
  ] as const;

type StateRows = {
  doorRows: Array<typeof doors.$inferSelect>;
  profileRows: Array<typeof accessProfiles.$inferSelect>;
  memberRows: Array<typeof members.$inferSelect>;
  credentialRows: Array<{ key: string; memberId: string }>;
  bookingRows: BookingRow[];
};

/**
 * The snapshot of `site` at its version from rows read in the same transaction as it, and the
 * write remembering its hash: already handed to `writes.later`, or for the caller to await.
 */
function assembleSnapshot(db: Db, site: SiteRow, rows: StateRows, now: number, writes: HashWrites): { snapshot: EntitlementSnapshot; remembered: Promise<unknown> } {
  const profiles = profileList(rows.profileRows);
  const profileIndex = new Map(profiles.map((p, i) => [p.id, i]));
  const bookingsOf = byMember(rows.bookingRows);
  const memberIndex = new Map<string, number>();
  const snapshotMembers: MemberAccess[] = rows.memberRows.map((m, i) => {
    memberIndex.set(m.id, i);
    return memberAccess(m, profileIndex, bookingsOf.get(m.id) ?? []);
  });
  const snapshot: Omit<EntitlementSnapshot, 'hash'> = {
    siteId: site.id,
    version: site.entitlementVersion,
    serverTime: now,
    site: sitePolicy(site),
    schedules: schedulesOf(site, rows.profileRows),
    doors: rows.doorRows.map(doorPolicy),
    profiles,
    members: snapshotMembers,
    credentials: rows.credentialRows.map((c) => [c.key, memberIndex.get(c.memberId) as number] as [string, number]),
  };
  const hash = EntitlementHash.of(snapshot).value;
  if (site.hashVersion !== site.entitlementVersion) {
    const write = db
      .update(sites)
      .set({ entitlementHash: hash, hashVersion: site.entitlementVersion })
      .where(and(eq(sites.id, site.id), eq(sites.entitlementVersion, site.entitlementVersion)))
      .then(() => undefined);
    if (!writes.later) return { snapshot: { ...snapshot, hash }, remembered: write };
    writes.later(write);
  }
  return { snapshot: { ...snapshot, hash }, remembered: Promise.resolve() };
}

/** The site's state at the version of `site` (a row already read), in one batch; `consistent` is false when a write came between. */
async function snapshotAt(db: Db, site: SiteRow, now: number, writes: HashWrites): Promise<{ snapshot: EntitlementSnapshot; consistent: boolean }> {
  const [doorRows, profileRows, memberRows, credentialRows, bookingRows, again] = await db.batch([
    db.select().from(doors).where(eq(doors.siteId, site.id)).orderBy(asc(doors.id)),
    db.select().from(accessProfiles).where(eq(accessProfiles.organisationId, site.organisationId)),
    ...stateReads(db, site.organisationId),
    db.select({ version: sites.entitlementVersion }).from(sites).where(eq(sites.id, site.id)),
  ]);
  const { snapshot, remembered } = assembleSnapshot(db, site, { doorRows, profileRows, memberRows, credentialRows, bookingRows }, now, writes);
  await remembered;
  return { snapshot, consistent: again[0]?.version === site.entitlementVersion };
}

/** The site's content hash at its current version, computed at most once per version. */
export async function currentHash(db: Db, siteId: string, now: number, writes: HashWrites = {}): Promise<{ version: number; hash: string } | null> {
  const [site] = await db.select().from(sites).where(eq(sites.id, siteId));
  if (!site) return null;
  if (site.hashVersion === site.entitlementVersion && site.entitlementHash) return { version: site.entitlementVersion, hash: site.entitlementHash };
  const snapshot = await buildSnapshot(db, siteId, now, writes);
  return snapshot ? { version: snapshot.version, hash: snapshot.hash } : null;
}

/** The hash at the version of `site` (a row already read), or null when a write came between and it is unknown. */
async function hashAt(db: Db, site: SiteRow, now: number, writes: HashWrites): Promise<string | null> {
  if (site.hashVersion === site.entitlementVersion && site.entitlementHash) return site.entitlementHash;
  const { snapshot, consistent } = await snapshotAt(db, site, now, writes);
  return consistent ? snapshot.hash : null;
}

/** What a door at version `since` needs: a delta, word that it is current, or (null) the whole snapshot. */
export async function entitlementUpdate(db: Db, siteId: string, since: number | null, now: number, writes: HashWrites = {}): Promise<EntitlementUpdate | null> {
  const update = since === null ? FULL : await entitlementDelta(db, siteId, since, now, writes);
  if (update !== FULL) return update;
  const snapshot = await buildSnapshot(db, siteId, now, writes);
  return snapshot ? { kind: 'snapshot', snapshot } : null;
}

/** Answered when only the whole snapshot will do. */
export const FULL = 'full';

/**
 * The delta from `since`, or `current`, or FULL when the log cannot say (the door is ahead, or
 * behind what the log keeps, too much changed, or a write came between the reads); null for no site.
 */
export async function entitlementDelta(
  db: Db,
  siteId: string,
  since: number,
  now: number,
  writes: HashWrites = {},
  options: { hashStale?: boolean } = {},
): Promise<EntitlementUpdate | typeof FULL | null> {
  const full = FULL;
  // Everything the delta needs in one batch (one transaction, so it all agrees on the version):
  // the changed records are picked by subqueries on the change log, not by ids sent back and forth.
  const logged = (kind: 'member' | 'credential') =>
    sql`(select ${entitlementChanges.entityId} from ${entitlementChanges} where ${entitlementChanges.siteId} = ${siteId} and ${entitlementChanges.version} > ${since} and ${entitlementChanges.kind} = ${kind} limit ${MAX_DELTA_CHANGES + 1})`;
  const siteOrg = sql`(select ${sites.organisationId} from ${sites} where ${sites.id} = ${siteId})`;
  const changedCredential = and(sql`${credentials.organisationId} = ${siteOrg}`, sql`${credentials.key} in ${logged('credential')}`);
  // A changed member, or the holder of a changed card (whose delta entry names the member).
  const concerned = (memberId: SQLWrapper) => sql`(${memberId} in ${logged('member')} or ${memberId} in (select ${credentials.memberId} from ${credentials} where ${changedCredential}))`;
  // `hashStale` (a notice right after its write): the site's whole state joins the batch, since
  // the hash of the new version is still to be computed from it.
  const [siteRows, oldest, changed, doorRows, profileRows, credentialFound, memberRows, holderRows, bookingRows, ...state] = await db.batch([
    db.select().from(sites).where(eq(sites.id, siteId)),
    db.select({ version: min(entitlementChanges.version) }).from(entitlementChanges).where(eq(entitlementChanges.siteId, siteId)),
    db
      .selectDistinct({ kind: entitlementChanges.kind, entityId: entitlementChanges.entityId })
      .from(entitlementChanges)
      .where(and(eq(entitlementChanges.siteId, siteId), gt(entitlementChanges.version, since)))
      .limit(MAX_DELTA_CHANGES + 1),
    db.select().from(doors).where(eq(doors.siteId, siteId)).orderBy(asc(doors.id)),
    db.select().from(accessProfiles).where(sql`${accessProfiles.organisationId} = ${siteOrg}`),
    db.select({ key: credentials.key, memberId: credentials.memberId }).from(credentials).where(changedCredential),
    db.select().from(members).where(and(sql`${members.organisationId} = ${siteOrg}`, concerned(members.id))),
    db.selectDistinct({ memberId: credentials.memberId }).from(credentials).where(concerned(credentials.memberId)),
    db.select().from(bookings).where(concerned(bookings.memberId)),
    ...(options.hashStale ? stateReads(db, siteOrg) : []),
  ]);
  const site = siteRows[0];
  if (!site) return null;
  const version = site.entitlementVersion;
  if (since === version) {
    const hash = await hashAt(db, site, now, writes);
    // A write came between: the door is behind after all.
    if (hash === null) return full;
    return { kind: 'current', version, hash, serverTime: now };
  }
  // A door ahead of the server (a restored database) or behind what the log remembers gets it all.
  const logStart = oldest[0]?.version ?? null;
  if (since > version || logStart === null || logStart > since + 1 || changed.length > MAX_DELTA_CHANGES) return full;

  const kinds = new Set(changed.map((c) => c.kind));
  const memberIds = new Set(changed.filter((c) => c.kind === 'member').map((c) => c.entityId));
  const keys = changed.filter((c) => c.kind === 'credential').map((c) => c.entityId);
  for (const c of credentialFound) memberIds.add(c.memberId);
  const ids = [...memberIds];
  const holders = new Set(holderRows.map((row) => row.memberId));

  const profiles = profileList(profileRows);
  const profileIndex = new Map(profiles.map((p, i) => [p.id, i]));
  const bookingsOf = byMember(bookingRows);
  const upsert = memberRows.filter((m) => holders.has(m.id)).map((m) => memberAccess(m, profileIndex, bookingsOf.get(m.id) ?? []));
  const kept = new Set(upsert.map((m) => m.id));
  const foundKeys = new Set(credentialFound.map((c) => c.key));
  // The hash of this very version: remembered, built from the state read with it, or read now
  // (a write since then sends the door to pull).
  let hash: string | null;
  if (state.length === 3 && !(site.hashVersion === version && site.entitlementHash)) {
    const [stateMembers, credentialRows, stateBookings] = state as unknown as [StateRows['memberRows'], StateRows['credentialRows'], StateRows['bookingRows']];
    const built = assembleSnapshot(db, site, { doorRows, profileRows, memberRows: stateMembers, credentialRows, bookingRows: stateBookings }, now, writes);
    await built.remembered;
    hash = built.snapshot.hash;
  } else hash = await hashAt(db, site, now, writes);
  if (hash === null) return full;

  const delta: EntitlementDelta = {
    siteId,
    fromVersion: since,
    version,
    serverTime: now,
    hash,
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
