import { drizzle } from 'drizzle-orm/d1';
import { createApp } from './app.ts';
import * as schema from './db/schema.ts';
import type { Env } from './env.ts';
import { pruneChangeLog } from './maintenance/prune.ts';

const app = createApp();

export default {
  fetch: (request, env, ctx) => app.fetch(request, env, ctx),
  // Daily housekeeping (cron in wrangler.toml, UTC).
  scheduled: async (_controller, env, ctx) => {
    const db = drizzle(env.DB, { schema });
    ctx.waitUntil(
      pruneChangeLog(db).then((removed) => console.log(JSON.stringify({ msg: 'change log pruned', removed }))),
    );
  },
} satisfies ExportedHandler<Env>;
