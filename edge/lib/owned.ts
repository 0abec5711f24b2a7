// Rows an organisation owns, read the one way every owner route reads them: scoped to the caller's
// organisation (another organisation's id answers 404, never 403, so ids leak nothing), listed in
// id order with a keyset cursor, and patched with only the fields the body names.
import { and, asc, desc, eq, gt, lt, type SQL } from 'drizzle-orm';
import type { SQLiteColumn, SQLiteTable } from 'drizzle-orm/sqlite-core';
import type { Db } from '../env.ts';
import { pageOf } from './pagination.ts';
import { notFound } from './problem.ts';

/** A table whose rows belong to one organisation and have a text id. */
export type OwnedTable = SQLiteTable & { id: SQLiteColumn; organisationId: SQLiteColumn };

/** The row `id` of the organisation, as a where clause. */
export const ownedBy = (table: OwnedTable, id: string, organisationId: string, ...also: Array<SQL | undefined>) =>
  and(eq(table.id, id), eq(table.organisationId, organisationId), ...also);

/** The organisation's row `id`, or a 404 naming `what` (also for another organisation's id). */
export async function findOwned<T extends OwnedTable>(db: Db, table: T, id: string, organisationId: string, what: string): Promise<T['$inferSelect']> {
  const [row] = await db.select().from(table as SQLiteTable).where(ownedBy(table, id, organisationId));
  if (!row) throw notFound(what, id);
  return row as T['$inferSelect'];
}

/** Where a page starts and how long it is; `newestFirst` lists in descending id order (ids grow with time). */
export type PageRequest = { limit: number; cursor?: string | undefined; newestFirst?: boolean };

/** Equality filters from optional query values: a value left out filters nothing. */
export function matching<T extends SQLiteTable>(table: T, values: { [K in keyof T['$inferSelect']]?: T['$inferSelect'][K] | undefined }): SQL | undefined {
  const columns = table as unknown as Record<string, SQLiteColumn>;
  return and(...Object.entries(values).map(([name, value]) => (value === undefined ? undefined : eq(columns[name]!, value))));
}

/** One page of the organisation's rows in id order, with one row more than asked when there is a next page (see pageOf). */
export async function listOwned<T extends OwnedTable>(
  db: Db,
  table: T,
  organisationId: string,
  page: PageRequest,
  ...filters: Array<SQL | undefined>
): Promise<Array<T['$inferSelect']>> {
  const rows = await db
    .select()
    .from(table as SQLiteTable)
    .where(and(eq(table.organisationId, organisationId), page.cursor ? (page.newestFirst ? lt : gt)(table.id, page.cursor) : undefined, ...filters))
    .orderBy(page.newestFirst ? desc(table.id) : asc(table.id))
    .limit(page.limit + 1);
  return rows as Array<T['$inferSelect']>;
}

/** The fields a PATCH body names (zod leaves absent optional fields undefined; null is a value). */
export const namedFields = <B extends object>(body: B) =>
  Object.fromEntries(Object.entries(body).filter(([, v]) => v !== undefined)) as { [K in keyof B]?: Exclude<B[K], undefined> };

/** One page of the organisation's rows as the API answers it: items and the cursor of the next page. */
export async function pageOwned<T extends OwnedTable, Item>(
  db: Db,
  table: T,
  organisationId: string,
  page: PageRequest,
  toItem: (row: T['$inferSelect']) => Item,
  ...filters: Array<SQL | undefined>
) {
  const rows = await listOwned(db, table, organisationId, page, ...filters);
  return pageOf(rows, page.limit, toItem, (row) => (row as { id: string }).id);
}
