// Rate-limit counters: one row per limit, subject and window, counted with one upsert per hit and
// removed by the daily housekeeping once their window has ended.
import { index, integer, sqliteTable, text } from 'drizzle-orm/sqlite-core';

export const rateCounters = sqliteTable(
  'rate_counters',
  {
    // "<limit name>:<subject>:<window start ms>"
    key: text('key').primaryKey(),
    hits: integer('hits').notNull(),
    windowEndsAt: integer('window_ends_at').notNull(),
  },
  (t) => [index('rate_counters_window_end').on(t.windowEndsAt)],
);
