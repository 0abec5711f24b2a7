import { drizzle } from 'drizzle-orm/d1';
import { createApp } from './app.ts';
import { enqueueReminders, runDunning } from './dunning/index.ts';
import { type BillingMessage, consumeBillingMessages, enqueueBillingRun, runBilling } from './billing/index.ts';
import * as schema from './db/schema.ts';
import type { Env } from './env.ts';
import { pruneChangeLog } from './maintenance/prune.ts';
import { pruneRateCounters } from './limits/index.ts';
import { FREQUENT_CRON } from './maintenance/crons.ts';
import { deliverDue } from './notifications/index.ts';

// The entry module exports only handlers: workerd refuses any other export.

const app = createApp();

export default {
  fetch: (request, env, ctx) => app.fetch(request, env, ctx),
  // Crons in wrangler.toml (UTC): every five minutes, and the daily run.
  scheduled: async (controller, env, ctx) => {
    const db = drizzle(env.DB, { schema });
    const now = controller.scheduledTime;
    if (controller.cron === FREQUENT_CRON) {
      ctx.waitUntil(
        runDunning({ db, env, ctx }, now)
          .then((r) => console.log(JSON.stringify({ msg: 'dunning run', ...r })))
          .then(() => deliverDue(db, env, now))
          .then((r) => console.log(JSON.stringify({ msg: 'notices delivered', sent: r.sent, retrying: r.retrying, failed: r.failed }))),
      );
      return;
    }
    const logged = <T>(msg: string, work: () => Promise<T>, fields: (r: T) => object) =>
      work().then(
        (r) => console.log(JSON.stringify({ msg, ...fields(r) })),
        (error: unknown) => console.error(JSON.stringify({ msg: `${msg} failed`, error: String(error) })),
      );
    // Billing run first: one queue message per subscription due by now (without the queue binding,
    // billed in line). The rest waits for it, so it neither slows the run's first pages nor runs
    // dunning ahead of the charges the run makes in line.
    const billing = logged(
      'billing run',
      () => (env.BILLING_QUEUE ? enqueueBillingRun(db, env.BILLING_QUEUE, now) : runBilling({ db, env, ctx }, now).then((r) => r.length)),
      (due) => ({ due }),
    );
    ctx.waitUntil(
      billing.then(() =>
        Promise.all([
          logged('change log pruned', () => pruneChangeLog(db), (removed) => ({ removed })),
          logged('rate counters pruned', () => pruneRateCounters(db, now), (removed) => ({ removed })),
          // Reminders: renewals in the next days, saved cards about to expire.
          logged('reminders', () => enqueueReminders(db, now, env.PUBLIC_BASE_URL), (r) => r),
          // Dunning: retries, grace limits and card waits whose time has come.
          logged('dunning run', () => runDunning({ db, env, ctx }, now), (r) => r),
        ]),
      ),
    );
  },
  queue: async (batch, env, ctx) => {
    await consumeBillingMessages({ db: drizzle(env.DB, { schema }), env, ctx }, batch as MessageBatch<BillingMessage>);
  },
} satisfies ExportedHandler<Env, BillingMessage>;
