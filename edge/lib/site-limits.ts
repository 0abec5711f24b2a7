// Site limits: a staff membership or an API key may be limited to some of the organisation's sites
// (a technician of one branch). Routes about one site's things (sites, doors, devices, commands,
// check-ins, alarms, enrollment codes) ask here: a thing elsewhere answers 403 naming its site, and
// lists hold only the caller's sites. Everything else (members, billing) is organisation-wide.
import { and, eq, type SQL } from 'drizzle-orm';
import type { SQLiteColumn } from 'drizzle-orm/sqlite-core';
import type { Context } from 'hono';
import { sites } from '../db/schema.ts';
import type { AppEnv, Db } from '../env.ts';
import { inJson } from './json-rows.ts';
import { findOwned, type OwnedTable } from './owned.ts';
import { forbidden, invalid } from './problem.ts';

type Caller = Pick<Context<AppEnv>, 'var'>;

/** The sites the caller works at; null: every site of the organisation. */
export const callerSites = (c: Caller): string[] | null => c.var.siteIds ?? null;

/** Refuses (403, nothing done) a caller limited to other sites. */
export function requireSite(c: Caller, siteId: string, field = 'siteId'): void {
  const sites = callerSites(c);
  if (sites && !sites.includes(siteId)) throw forbidden(`Site ${siteId} is not one of the sites you work at (${sites.join(', ') || 'none'}).`, field, 'not one of your sites');
}

/**
 * A list's filter to the caller's sites (undefined: every site). One bound value whatever the
 * number of sites, as D1 takes at most 100.
 */
export function atCallerSites(c: Caller, column: SQLiteColumn): SQL | undefined {
  const sites = callerSites(c);
  return sites ? inJson(column, sites) : undefined;
}

/**
 * Access a limited caller hands on (a key, an invitation, a person's sites) stays within their own
 * sites: they name sites, all among theirs.
 */
export function requireSitesWithin(c: Caller, siteIds: string[] | null | undefined, field = 'siteIds'): void {
  const sites = callerSites(c);
  if (!sites || siteIds === undefined) return;
  if (siteIds === null || siteIds.length === 0) throw forbidden('You work at some sites only: name the sites, among yours, this may reach.', field, 'must name sites, among yours');
  const beyond = siteIds.filter((id) => !sites.includes(id));
  if (beyond.length > 0) throw forbidden(`Sites ${beyond.join(', ')} are not among the sites you work at.`, field, `${beyond.join(', ')} not among your sites`);
}

/**
 * Refuses (403) a caller limited to some sites a change that reaches every site (a new site, a
 * role held across the organisation).
 */
export function requireEverySite(c: Caller, field: string, what: string): void {
  const sites = callerSites(c);
  if (sites) throw forbidden(`${what} reaches every site; you work at ${sites.join(', ') || 'none'} only.`, field, 'reaches sites beyond yours');
}

/**
 * The organisation's row `id` (404 for another organisation's, as findOwned), then refused when it
 * is at a site the caller does not work at. `siteOf` reads its site (default: its siteId).
 */
export async function findAtSite<T extends OwnedTable>(
  c: Caller & { var: { db: Db; organisationId: string } },
  table: T,
  id: string,
  what: string,
  siteOf: (row: T['$inferSelect']) => string = (row) => (row as { siteId: string }).siteId,
): Promise<T['$inferSelect']> {
  const row = await findOwned(c.var.db, table, id, c.var.organisationId, what);
  requireSite(c, siteOf(row));
  return row;
}

/**
 * Every site id must be one of the organisation's own (400 naming each that is not). The ids go as
 * one bound JSON value, so any number of them fits D1's 100-parameter limit.
 */
export async function checkSitesExist(db: Db, organisationId: string, siteIds: string[] | null | undefined, field = 'siteIds'): Promise<void> {
  if (!siteIds || siteIds.length === 0) return;
  const found = new Set(
    (
      await db
        .select({ id: sites.id })
        .from(sites)
        .where(and(eq(sites.organisationId, organisationId), inJson(sites.id, siteIds)))
    ).map((s) => s.id),
  );
  const unknown = siteIds.flatMap((id, i) => (found.has(id) ? [] : [{ field: `${field}.${i}`, reason: `no site ${id} in this organisation` }]));
  if (unknown.length > 0) throw invalid(unknown);
}
