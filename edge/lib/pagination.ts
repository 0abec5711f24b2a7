// Keyset pagination: fetch one row more than asked; its presence means there is a next page.
export function pageOf<Row, Item>(rows: Row[], limit: number, toItem: (row: Row) => Item, cursorOf: (row: Row) => string) {
  const more = rows.length > limit;
  const pageRows = more ? rows.slice(0, limit) : rows;
  const last = pageRows[pageRows.length - 1];
  return { data: pageRows.map(toItem), nextCursor: more && last ? cursorOf(last) : null };
}
