// The daily billing run, end to end on one machine: the real Worker run by wrangler's
// startWorker (what `wrangler dev` runs, without the DevTools inspector, whose events for each
// D1 call slowed the run 1.5–2× under `wrangler dev`) with local D1 and its local queue, triggered
// through its scheduled handler, timed until every due subscription has a paid invoice for the
// day's period, or for a fixed window when the run would take longer than the bench can wait.
//
// - Instant processor (PAYMENT_PROVIDER=simulated) at each size: invoices per second. Baseline in
//   the same run: the same Worker without the queue binding, where the scheduled handler bills
//   every subscription in line, one after the other (runBilling).
// - Stripe adapter against the loopback fake Stripe API behind a limiter that admits N requests
//   a second and answers the rest 429 (billing-limiter.ts): payments per second from the first
//   admitted charge, baseline N. N is 100, Stripe's documented live-mode limit of requests per
//   second; a warning says so when local D1 at the smallest size did not reach twice that, since
//   the processor would then not be what limits the run.
//
// Subscriptions are seeded by copying one that the API created (member, saved card, processor
// customer, subscription) straight into the D1 SQLite file while no Worker runs; each set starts
// on its own date, days apart, so one set's run finds only its own subscriptions due and no
// renewal reminders for the others. Each run has a Worker of its own, stopped at the end of the
// run, and what a run left unbilled is no longer due after it, so no run's leftovers reach the next.
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { unstable_startWorker } from 'wrangler';
import { applyLocalMigrations, bootstrapLocal } from '../../edge/dev/local-gym.ts';
import { ROOT } from '../../edge/dev/processes.ts';
import { DAILY_CRON, FREQUENT_CRON } from '../../edge/maintenance/crons.ts';
import { startFakeStripe } from '../edge/stripe-fake/server.ts';
import { startRateLimiter } from './billing-limiter.ts';

type Row = Record<string, unknown>;
type Sqlite = {
  prepare(sql: string): { run(...p: unknown[]): unknown; get(...p: unknown[]): Row | undefined; all(...p: unknown[]): Row[] };
  transaction<T extends (...args: never[]) => unknown>(fn: T): T;
  close(): void;
};
const openSqlite = (file: string, readonly = false): Sqlite => {
  const Database = createRequire(import.meta.url)('better-sqlite3');
  return new Database(file, { readonly });
};

export type BillingRun = { subscriptions: number; paid: number; seconds: number; perSecond: number; firstPaidSeconds: number | null };
export type BillingBench = {
  queued: BillingRun[];
  inline: BillingRun;
  limited: BillingRun & { limit: number; admitted: number; rejected: number };
};

const DAY = 86_400_000;
/** Requests a second Stripe admits per account in live mode before answering 429. */
const STRIPE_LIVE_REQUESTS_PER_SECOND = 100;
const TZ_OFFSET = '+07:00'; // the bench site's zone, Asia/Bangkok
const isoDate = (ms: number) => new Date(ms).toISOString().slice(0, 10);
const startOfDay = (date: string) => Date.parse(`${date}T00:00:00${TZ_OFFSET}`);
/** The daily cron's instant on `date` (03:17 UTC, 10:17 in Bangkok). */
const cronTime = (date: string) => Date.parse(`${date}T03:17:00Z`);

type Template = { member: Row; customer: Row; records: Row[]; subscription: Row; link: Row; date: string };
type Worker = Awaited<ReturnType<typeof unstable_startWorker>>;
type Vars = Record<string, string>;

/** The Worker of `config` (the repository's by default) with local D1 and queues in `persistDir`. */
async function startBillingWorker(persistDir: string, vars: Vars, config = path.join(ROOT, 'wrangler.toml')): Promise<Worker & { base: string }> {
  // Offline: no fetch of the Request.cf placeholder from the network.
  process.env.CLOUDFLARE_CF_FETCH_ENABLED = 'false';
  const worker = await unstable_startWorker({
    config,
    sendMetrics: false,
    bindings: Object.fromEntries(Object.entries(vars).map(([k, value]) => [k, { type: 'plain_text' as const, value }])),
    dev: { server: { hostname: '127.0.0.1', port: 0 }, inspector: false, persist: persistDir, logLevel: 'error', watch: false, liveReload: false },
  });
  await worker.ready;
  return Object.assign(worker, { base: String(await worker.url).replace(/\/$/, '') });
}

/** The repository's wrangler.toml without the queue: the scheduled handler then bills in line. */
function inlineConfig(dir: string): string {
  const toml = readFileSync(path.join(ROOT, 'wrangler.toml'), 'utf8')
    .replace(/^main = .*$/m, `main = ${JSON.stringify(path.join(ROOT, 'edge/index.ts'))}`)
    .replace(/^\[\[queues\.(producers|consumers)\]\]\n(?:(?!\[).*\n)*/gm, '');
  if (/queues/.test(toml.replace(/^#.*$/gm, ''))) throw new Error('could not take the queue out of wrangler.toml');
  const file = path.join(dir, 'wrangler-inline.toml');
  writeFileSync(file, toml);
  return file;
}

/** Member, saved simulated card and subscription, created through the API; then read back row by row. */
async function createTemplate(persistDir: string, d1File: () => string): Promise<Template> {
  const { apiKey } = await bootstrapLocal(persistDir, 'Bench Gym');
  const worker = await startBillingWorker(persistDir, { PAYMENT_PROVIDER: 'simulated' });
  const date = isoDate(Date.now() + 60 * DAY); // far from the sets' dates; never billed
  let subscriptionId: string;
  try {
    const api = async (method: string, p: string, body?: unknown): Promise<any> => {
      const res = await fetch(`${worker.base}${p}`, {
        method,
        headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' },
        ...(body ? { body: JSON.stringify(body) } : {}),
      });
      const json = await res.json();
      if (!res.ok) throw new Error(`${method} ${p} → ${res.status} ${JSON.stringify(json)}`);
      return json;
    };
    const site = await api('POST', '/v1/sites', { name: 'Bench', timezone: 'Asia/Bangkok' });
    const plan = await api('POST', '/v1/plans', { name: 'Monthly', currency: 'THB', price: 199_000, interval: 'monthly', taxRate: { name: 'VAT 7%', basisPoints: 700, mode: 'inclusive' } });
    const member = await api('POST', '/v1/members', { name: 'Bench member' });
    const setup = await api('POST', `/v1/members/${member.id}/payment-method/setup`, { returnUrl: 'https://gym.example/card-saved' });
    await api('POST', `/v1/members/${member.id}/payment-method/simulated-completion`, { setupId: setup.setup.id, paymentMethodId: 'pm_card_visa' });
    subscriptionId = (await api('POST', '/v1/subscriptions', { payerId: member.id, planId: plan.id, startDate: date, homeSiteId: site.id })).id;
  } finally {
    await worker.dispose();
  }
  const db = openSqlite(d1File(), true);
  try {
    const subscription = db.prepare('SELECT * FROM subscriptions WHERE id = ?').get(subscriptionId)!;
    const memberId = subscription.payer_id;
    const customer = db.prepare('SELECT * FROM billing_customers WHERE member_id = ?').get(memberId)!;
    return {
      subscription,
      member: db.prepare('SELECT * FROM members WHERE id = ?').get(memberId)!,
      customer,
      records: db.prepare('SELECT * FROM simulated_processor_records WHERE key = ?').all(`customer:${customer.customer_id}`),
      link: db.prepare('SELECT * FROM subscription_members WHERE subscription_id = ?').get(subscriptionId)!,
      date,
    };
  } finally {
    db.close();
  }
}

const insert = (db: Sqlite, table: string, row: Row) => {
  const cols = Object.keys(row);
  const stmt = db.prepare(`INSERT INTO ${table} (${cols.join(', ')}) VALUES (${cols.map(() => '?').join(', ')})`);
  return (values: Row) => stmt.run(...cols.map((c) => values[c]));
};

/**
 * `count` copies of the template starting on `date`, ids tagged with `tag`; with `stripeCustomers`,
 * payers hold those Stripe customers (and Stripe's test card) instead of simulated ones.
 */
function seed(file: string, t: Template, count: number, date: string, tag: string, stripeCustomers?: string[]) {
  const shift = startOfDay(date) - startOfDay(t.date);
  const moved = (v: unknown) => (typeof v === 'number' ? v + shift : v);
  const ids = { member: t.member.id as string, customer: t.customer.customer_id as string };
  const rewrite = (text: string, member: string, customer: string) => text.split(ids.member).join(member).split(ids.customer).join(customer).split(t.date).join(date);
  const db = openSqlite(file);
  try {
    const add = {
      member: insert(db, 'members', t.member),
      customer: insert(db, 'billing_customers', t.customer),
      record: insert(db, 'simulated_processor_records', { key: '', value: '' }),
      subscription: insert(db, 'subscriptions', t.subscription),
      link: insert(db, 'subscription_members', t.link),
    };
    db.transaction(() => {
      for (let i = 0; i < count; i++) {
        const n = `${tag}${String(i).padStart(7, '0')}`;
        const member = `mem_${n}`;
        const subscription = `sub_${n}`;
        const customer = stripeCustomers ? stripeCustomers[i]! : `cus_sim_${n}`;
        add.member({ ...t.member, id: member, valid_from: moved(t.member.valid_from), valid_until: moved(t.member.valid_until) });
        add.customer({ ...t.customer, member_id: member, customer_id: customer, ...(stripeCustomers ? { provider: 'stripe', default_payment_method_id: 'pm_card_visa' } : {}) });
        if (!stripeCustomers) for (const r of t.records) add.record({ key: rewrite(String(r.key), member, customer), value: rewrite(String(r.value), member, customer) });
        add.subscription({
          ...t.subscription,
          id: subscription,
          payer_id: member,
          state: rewrite(String(t.subscription.state), member, customer),
          next_review_on: date,
          next_review_at: moved(t.subscription.next_review_at),
        });
        add.link({ ...t.link, subscription_id: subscription, member_id: member });
      }
    })();
  } finally {
    db.close();
  }
}

/**
 * Triggers the daily cron at `date` on a started Worker and waits until `count` invoices of that
 * day's period are paid, or `windowMs` has passed (then the rate is what was paid so far); the
 * Worker is stopped either way, so no run overlaps the next. `since` may move the start of the
 * timing to a later instant (the first charge the rate limiter admitted).
 *
 * The five-minute cron runs once first, an hour before: a freshly started local workerd spends
 * about a second on its first invocation (loading the Worker, opening the D1 file), which a
 * deployed Worker, running that cron all day, does not pay at the daily run.
 */
async function timeRun(
  worker: Worker & { base: string },
  d1File: string,
  date: string,
  count: number,
  windowMs: number,
  since?: () => number | null,
): Promise<BillingRun> {
  const db = openSqlite(d1File, true);
  // Only the invoices written since the trigger are counted, and less often as they grow: polling
  // all of them every 50 ms took a growing share of this machine's two cores from the run.
  const firstRow = Number(db.prepare('SELECT coalesce(max(rowid), 0) AS n FROM invoices').get()!.n);
  const paidCount = db.prepare("SELECT count(*) AS n FROM invoices WHERE rowid > ? AND period_start = ? AND status = 'paid'");
  const paid = () => Number(paidCount.get(firstRow, date)!.n);
  // The route wrangler's local runtime gives to a Worker's scheduled handler.
  const scheduled = (cron: string, time: number) => fetch(`${worker.base}/cdn-cgi/handler/scheduled?cron=${encodeURIComponent(cron)}&time=${time}`);
  try {
    const warm = await scheduled(FREQUENT_CRON, cronTime(date) - 3_600_000);
    if (!warm.ok) throw new Error(`five-minute cron: ${warm.status} ${await warm.text()}`);
    await warm.text();
    const t0 = performance.now();
    const trigger = scheduled(DAILY_CRON, cronTime(date)).then(
      (r) => r.text(),
      (error: unknown) => String(error),
    );
    let n = 0;
    let firstPaid: number | null = null;
    while ((n = paid()) < count && performance.now() < t0 + windowMs) {
      if (n > 0) firstPaid ??= performance.now();
      await new Promise((r) => setTimeout(r, Math.min(250, 50 + n / 200)));
    }
    const end = performance.now();
    firstPaid ??= n > 0 ? end : null;
    const seconds = (end - (since?.() ?? t0)) / 1000;
    await worker.dispose();
    await trigger;
    return { subscriptions: count, paid: n, seconds, perSecond: n / seconds, firstPaidSeconds: firstPaid === null ? null : (firstPaid - t0) / 1000 };
  } finally {
    db.close();
  }
}

/** What a run cut short by its window left unbilled is taken out of the runs on later dates. */
function retire(file: string, date: string) {
  const db = openSqlite(file);
  try {
    db.prepare('UPDATE subscriptions SET next_review_on = NULL, next_review_at = NULL WHERE next_review_on = ?').run(date);
  } finally {
    db.close();
  }
}

export async function measureBilling(options: { sizes: number[]; windowSeconds: number; inlineSize: number }): Promise<BillingBench> {
  const dir = mkdtempSync(path.join(tmpdir(), 'gymgate-bench-billing-'));
  const persistDir = path.join(dir, 'wrangler');
  const d1Dir = path.join(persistDir, 'v3/d1/miniflare-D1DatabaseObject');
  const d1File = () => path.join(d1Dir, readdirSync(d1Dir).find((f) => f.endsWith('.sqlite') && f !== 'metadata.sqlite')!);
  const stripe = await startFakeStripe();
  const workers: Worker[] = [];
  const start = async (...args: Parameters<typeof startBillingWorker>) => {
    const w = await startBillingWorker(...args);
    workers.push(w);
    return w;
  };
  const windowMs = options.windowSeconds * 1000;
  let limiter: Awaited<ReturnType<typeof startRateLimiter>> | undefined;
  try {
    await applyLocalMigrations(persistDir);
    const template = await createTemplate(persistDir, d1File);

    // Sets five days apart (more than the renewal-reminder window), from two days ahead.
    const day = (k: number) => isoDate(Date.now() + (2 + 5 * k) * DAY);
    const inlineDate = day(0);
    const sizeDates = options.sizes.map((_, i) => day(1 + i));
    const limitedDate = day(1 + options.sizes.length);
    seed(d1File(), template, options.inlineSize, inlineDate, 'i');
    options.sizes.forEach((n, i) => seed(d1File(), template, n, sizeDates[i]!, String.fromCharCode(97 + i)));

    const simulated = { PAYMENT_PROVIDER: 'simulated' };
    // Baseline: every subscription on its own (processSubscription), in line.
    const inline = await timeRun(await start(persistDir, { ...simulated, BILLING_PAGE_PATH: 'off' }, inlineConfig(dir)), d1File(), inlineDate, options.inlineSize, windowMs);
    retire(d1File(), inlineDate);
    const queued: BillingRun[] = [];
    for (const [i, n] of options.sizes.entries()) {
      queued.push(await timeRun(await start(persistDir, simulated), d1File(), sizeDates[i]!, n, windowMs));
      retire(d1File(), sizeDates[i]!);
    }

    // Stripe's live-mode limit; 30 s of charges at it.
    const limit = STRIPE_LIVE_REQUESTS_PER_SECOND;
    if (queued[0]!.perSecond < 2 * limit) console.warn(`local D1 billed ${Math.round(queued[0]!.perSecond)}/s at ${queued[0]!.subscriptions}: the processor limit of ${limit}/s may not be what limits the next run`);
    const limitedSize = limit * 30;
    limiter = await startRateLimiter(stripe.url, limit);
    const stripeKey = `sk_test_gymgatebench${Date.now()}`;
    const customers: string[] = [];
    while (customers.length < limitedSize) {
      const res = await fetch(`${stripe.url}/v1/customers`, {
        method: 'POST',
        headers: { authorization: `Bearer ${stripeKey}`, 'content-type': 'application/x-www-form-urlencoded' },
        body: `name=Bench+${customers.length}`,
      });
      customers.push(((await res.json()) as { id: string }).id);
    }
    seed(d1File(), template, limitedSize, limitedDate, 's', customers);
    const worker = await start(persistDir, { PAYMENT_PROVIDER: 'stripe', STRIPE_SECRET_KEY: stripeKey, STRIPE_API_BASE: limiter.url });
    const limitedRun = await timeRun(worker, d1File(), limitedDate, limitedSize, 70_000, () => limiter!.firstAdmittedAt);
    return { queued, inline, limited: { ...limitedRun, limit, admitted: limiter.admitted, rejected: limiter.rejected } };
  } finally {
    for (const w of workers) await w.dispose().catch(() => undefined);
    await limiter?.close();
    await stripe.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
