// Statements for D1 batches: raw SQL that can join a batch, and many rows written by one
// statement whose only bound parameter is a JSON array (D1 allows 100 parameters per statement,
// and every statement of a batch costs the database a round of its own).
import { getTableColumns, sql, type SQL } from 'drizzle-orm';
import type { BatchItem } from 'drizzle-orm/batch';
import type { SQLiteColumn, SQLiteTable } from 'drizzle-orm/sqlite-core';
import type { Db } from '../env.ts';

/**
 * A raw statement that can go into a D1 batch. (drizzle's `db.run(sql)` executes alone, but in a
 * D1 batch its parameters are bound to a statement it does not have; this gives it one.)
 */
export function raw(db: Db, query: SQL): BatchItem<'sqlite'> & Promise<D1Result> {
  const item = db.run(query) as unknown as {
    getQuery(): { sql: string; params: unknown[] };
    mapResult(result: unknown, fromBatch?: boolean): unknown;
    _prepare(): unknown;
  };
  const client = (db as unknown as { $client: D1Database }).$client;
  item._prepare = () => ({
    getQuery: () => item.getQuery(),
    stmt: client.prepare(item.getQuery().sql),
    mapResult: (result: unknown, fromBatch?: boolean) => item.mapResult(result, fromBatch),
  });
  return item as unknown as BatchItem<'sqlite'> & Promise<D1Result>;
}

/** A field of the JSON row being read (`j`, see jsonRows), by its SQL column name or extra key. */
export function field(key: string): SQL {
  if (!/^[a-z_][a-z0-9_]*$/i.test(key)) throw new Error(`not a field name: ${key}`);
  return sql.raw(`j.value ->> '${key}'`);
}

/** `json_each(?) AS j` over `values`: one bound parameter for any number of rows. */
export const jsonRows = (values: unknown[]): SQL => sql`json_each(${JSON.stringify(values)}) AS j`;

/**
 * INSERT INTO table SELECT … FROM jsonRows(rows): the rows' columns as drizzle would write them;
 * `set` replaces a column's value with an expression over the row (see field), `extra` adds
 * fields those expressions read (one object per row), `where` keeps only some rows, and
 * `onConflictDoNothing` skips rows whose key is taken (RETURNING then names only those written).
 */
export function insertRows<T extends SQLiteTable>(
  db: Db,
  table: T,
  rows: T['$inferInsert'][],
  options: { set?: Partial<Record<keyof T['$inferInsert'], SQL>>; extra?: Record<string, unknown>[]; where?: SQL; onConflictDoNothing?: boolean; returning?: string } = {},
): BatchItem<'sqlite'> & Promise<D1Result> {
  const columns = getTableColumns(table) as Record<string, { name: string; mapToDriverValue(v: unknown): unknown }>;
  const keys = [...new Set([...rows.flatMap((r) => Object.keys(r as object)), ...Object.keys(options.set ?? {})])].filter((k) => k in columns);
  const encoded = rows.map((r, i) => ({
    ...options.extra?.[i],
    ...Object.fromEntries(
      keys.map((k) => {
        const v = (r as Record<string, unknown>)[k];
        return [columns[k]!.name, v === undefined || v === null ? null : columns[k]!.mapToDriverValue(v)];
      }),
    ),
  }));
  const names = sql.raw(keys.map((k) => `"${columns[k]!.name}"`).join(', '));
  const values = sql.join(
    keys.map((k) => (options.set as Record<string, SQL> | undefined)?.[k] ?? field(columns[k]!.name)),
    sql`, `,
  );
  return raw(
    db,
    sql`INSERT INTO ${table} (${names}) SELECT ${values} FROM ${jsonRows(encoded)} WHERE ${options.where ?? sql`true`}${options.onConflictDoNothing ? sql` ON CONFLICT DO NOTHING` : sql``}${options.returning ? sql.raw(` RETURNING ${options.returning}`) : sql``}`,
  );
}

/** `column IN` the ids, as one bound parameter whatever their number. */
export const inJson = (column: SQL | SQLiteColumn, ids: readonly string[]): SQL => sql`${column} IN (SELECT value FROM json_each(${JSON.stringify(ids)}))`;
