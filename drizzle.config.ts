import { defineConfig } from 'drizzle-kit';

// Generates D1 SQL migrations from the edge schema; they are applied with
// `wrangler d1 migrations apply` (locally by `npm start`, remotely before a deploy).
export default defineConfig({
  dialect: 'sqlite',
  schema: './edge/db/schema.ts',
  out: './migrations',
});
