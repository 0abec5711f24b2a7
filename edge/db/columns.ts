// Column helpers every table file uses.
import { integer } from 'drizzle-orm/sqlite-core';

// Times are epoch milliseconds (UTC); the API renders them as RFC 3339.
export const createdAt = () => integer('created_at').notNull();

/** What a JSON column holds before the code that reads it parses it with its own schema. */
export type JsonValue = unknown;
