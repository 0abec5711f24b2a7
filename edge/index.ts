import { drizzle } from 'drizzle-orm/d1';
import { createApp } from './app.ts';
import { runDunning } from './billing/dunning.ts';
import { consumeBillingMessages, enqueueBillingRun, runBilling, type BillingMessage } from './billing/queue.ts';
import * as schema from './db/schema.ts';
import type { Env } from './env.ts';
import { pruneChangeLog } from './maintenance/prune.ts';

const app = createApp();

export default {
  fetch: (request, env, ctx) => app.fetch(request, env, ctx),
  // Daily housekeeping (cron in wrangler.toml, UTC).
  scheduled: async (controller, env, ctx) => {
    const db = drizzle(env.DB, { schema });
    ctx.waitUntil(
      pruneChangeLog(db).then((removed) => console.log(JSON.stringify({ msg: 'change log pruned', removed }))),
    );
    // Billing run: one queue message per subscription due by now (without the queue binding, in line).
    const now = controller.scheduledTime;
    ctx.waitUntil(
      (env.BILLING_QUEUE ? enqueueBillingRun(db, env.BILLING_QUEUE, now) : runBilling({ db, env, ctx }, now).then((r) => r.length)).then((due) =>
        console.log(JSON.stringify({ msg: 'billing run', due })),
      ),
    );
    // Dunning: retries, grace limits and card waits whose time has come (after the billing run's charges).
    ctx.waitUntil(
      runDunning({ db, env, ctx }, now).then((r) => console.log(JSON.stringify({ msg: 'dunning run', ...r }))),
    );
  },
  queue: async (batch, env, ctx) => {
    await consumeBillingMessages({ db: drizzle(env.DB, { schema }), env, ctx }, batch as MessageBatch<BillingMessage>);
  },
} satisfies ExportedHandler<Env, BillingMessage>;
