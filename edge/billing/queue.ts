// The daily billing run. The scheduled handler selects the subscriptions whose next review is due
// (nextReviewAt ≤ the run's time; nextReviewAt is the start of that date in the subscription's
// time zone) and sends one queue message per subscription; the queue consumer runs
// processSubscription for each. Everything here takes `now`, so tests can move the clock and call
// the same functions the handlers call.
import { and, asc, eq, isNotNull, lte, ne, sql } from 'drizzle-orm';
import { subscriptions } from '../db/schema.ts';
import type { BillingMessage, Db } from '../env.ts';
import type { BillingDeps } from './deps.ts';
import { billPage } from './page.ts';
import { isRateLimited, withRateLimitRetries } from './rate-limit.ts';
import { JobTally } from '../audit/index.ts';
import { processSubscription, type ProcessResult } from './subscriptions.ts';

export type { BillingMessage };

const PAGE = 100;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Where a page of due subscriptions ended: the next starts after it. */
export type DueCursor = { id: string; nextReviewAt: number | null };

/**
 * Subscriptions due at `now`, a page at a time, in (next review, id) order: a range of the
 * subscriptions_review index, so a page costs its own rows however large the table (in id order,
 * the last page scanned every later subscription to find that none was due).
 */
export async function dueSubscriptions(db: Db, now: number, options: { organisationId?: string; after?: DueCursor; limit?: number } = {}) {
  const { after } = options;
  return db
    .select({ id: subscriptions.id, organisationId: subscriptions.organisationId, nextReviewAt: subscriptions.nextReviewAt })
    .from(subscriptions)
    .where(
      and(
        isNotNull(subscriptions.nextReviewAt),
        lte(subscriptions.nextReviewAt, now),
        ne(subscriptions.status, 'ended'),
        options.organisationId ? eq(subscriptions.organisationId, options.organisationId) : undefined,
        after ? sql`(${subscriptions.nextReviewAt}, ${subscriptions.id}) > (${after.nextReviewAt}, ${after.id})` : undefined,
      ),
    )
    .orderBy(asc(subscriptions.nextReviewAt), asc(subscriptions.id))
    .limit(options.limit ?? PAGE);
}

/**
 * Waits (ms) before sending a page again that the queue refused: a queue takes writes at a bounded
 * rate (and the local one holds a bounded number of messages not yet delivered), and a run of
 * 100k subscriptions sends its pages as fast as D1 reads them. Giving up would leave the rest of
 * the run to the next day.
 */
const SEND_WAITS = [250, 500, 1000, 2000, 4000, 8000];

async function sendPage(queue: Pick<Queue<BillingMessage>, 'sendBatch'>, messages: MessageSendRequest<BillingMessage>[]): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    try {
      await queue.sendBatch(messages);
      return;
    } catch (error) {
      const wait = SEND_WAITS[attempt];
      if (wait === undefined) throw error;
      console.warn(JSON.stringify({ msg: 'billing run: the queue refused a page; sending it again', waitMs: wait, error: String(error) }));
      await sleep(wait);
    }
  }
}

/** Due subscriptions read per query by the scheduled half: one D1 round trip per 10 queue batches. */
export const ENQUEUE_READ = 1000;
/** Messages per sendBatch: the queue's limit. */
export const SEND_BATCH = 100;

/**
 * The scheduled half: one message per due subscription. Returns how many were sent. Reads one
 * batch's ids first (the consumer starts on them while the rest is read), then `read` ids at a
 * time, sending each read as batches of `batch` at once while the next is read: a 100k run costs
 * ~100 reads instead of 1,000 read-then-send round trips in a row.
 */
export async function enqueueBillingRun(
  db: Db,
  queue: Pick<Queue<BillingMessage>, 'sendBatch'>,
  now: number,
  options: { organisationId?: string; read?: number; batch?: number } = {},
): Promise<number> {
  const { organisationId, read = ENQUEUE_READ, batch = SEND_BATCH } = options;
  let sent = 0;
  let sending: Promise<unknown> = Promise.resolve();
  let after: DueCursor | undefined;
  for (;;) {
    const limit = after ? read : batch;
    const page = await dueSubscriptions(db, now, { ...(organisationId ? { organisationId } : {}), ...(after ? { after } : {}), limit });
    // One read's batches in flight at a time, so at most `read` messages are being sent.
    await sending;
    const messages = page.map((s) => ({ body: { type: 'bill_subscription' as const, subscriptionId: s.id, organisationId: s.organisationId, now } }));
    sending = Promise.all(Array.from({ length: Math.ceil(messages.length / batch) }, (_, k) => sendPage(queue, messages.slice(k * batch, (k + 1) * batch))));
    // Awaited after the next read; until then a failure must not count as unhandled.
    sending.catch(() => undefined);
    sent += page.length;
    if (page.length < limit) break;
    after = page[page.length - 1]!;
  }
  await sending;
  return sent;
}

/**
 * Subscriptions of one batch billed at once. Billing one is a chain of D1 round trips and a
 * processor call, so the invocation mostly waits; overlapping them multiplies the run's rate.
 * Safe because processSubscription is atomic per subscription (compare-and-swap, unique keys).
 */
export const BILLING_CONCURRENCY = 20;
export const LANE_STAGGER_MS = 25;
/** Seconds before a message is tried again after a failure. */
export const RETRY_DELAY = 60;
/** Seconds before the queue delivers a message again whose charge the processor kept refusing with 429. */
export const RATE_LIMITED_DELAY = 2;

async function consumeOne(deps: BillingDeps, message: Message<BillingMessage>, tally: JobTally): Promise<void> {
  const { subscriptionId, organisationId, now } = message.body;
  try {
    const result = await withRateLimitRetries(() => processSubscription(deps, subscriptionId, now));
    if (result) tallyResult(tally, organisationId, now, result);
    message.ack();
  } catch (error) {
    if (isRateLimited(error)) {
      message.retry({ delaySeconds: RATE_LIMITED_DELAY });
      return;
    }
    console.error(JSON.stringify({ msg: 'billing failed', subscriptionId, error: String(error) }));
    tally.add(organisationId, now, 'errors');
    message.retry({ delaySeconds: RETRY_DELAY });
  }
}

/** What one subscription's billing did, as the run's audit event counts it. */
function tallyResult(tally: JobTally, organisationId: string, runAt: number, r: ProcessResult): void {
  // A redelivered message finds its subscription billed already: nothing to count.
  if (r.invoice === null && r.charge === null) return;
  tally.add(organisationId, runAt, 'subscriptions');
  if (r.invoice) tally.add(organisationId, runAt, 'invoices');
  if (r.charge === 'charged') tally.add(organisationId, runAt, r.invoice === null || r.invoice.status === 'paid' ? 'chargesPaid' : 'chargesFailed');
  if (r.charge === 'no_payment_method') tally.add(organisationId, runAt, 'noPaymentMethod');
}

/**
 * The page path (edge/billing/page.ts) bills plain renewals many at a time; BILLING_PAGE_PATH =
 * "off" bills every subscription on its own (processSubscription), as a switch if it ever misbehaves.
 */
const pagePathOn = (deps: BillingDeps) => deps.env.BILLING_PAGE_PATH?.trim().toLowerCase() !== 'off';

/**
 * Bills `ids` at `now` through the page path and returns the ids it left to processSubscription.
 * A page that fails as a whole (D1 unreachable, a bug) is left entirely to the slow path, which
 * picks up whatever part of it was written.
 */
async function billThroughPage(deps: BillingDeps, ids: string[], now: number, organisationIds: string[], results?: ProcessResult[]): Promise<string[]> {
  if (!pagePathOn(deps) || ids.length === 0) return ids;
  try {
    const page = await billPage(deps, ids, now, { withInvoices: results !== undefined, organisationIds });
    results?.push(...page.results);
    return page.rest;
  } catch (error) {
    console.error(JSON.stringify({ msg: 'billing page failed; billing its subscriptions one by one', size: ids.length, error: String(error) }));
    return ids;
  }
}

/**
 * The queue half: bills the batch's plain renewals as one page, then the rest
 * BILLING_CONCURRENCY at a time (messages for the same subscription, a redelivery next to its
 * original, one after the other). A failure is retried by the queue alone.
 */
export async function consumeBillingMessages(deps: BillingDeps, batch: Pick<MessageBatch<BillingMessage>, 'messages'>): Promise<void> {
  const lanes = new Map<string, Message<BillingMessage>[]>();
  for (const message of batch.messages) {
    const body = message.body;
    if (body?.type !== 'bill_subscription') {
      message.ack();
      continue;
    }
    const lane = lanes.get(body.subscriptionId);
    if (lane) lane.push(message);
    else lanes.set(body.subscriptionId, [message]);
  }
  // One page per run instant (a batch normally holds one run's messages).
  const byRun = new Map<number, string[]>();
  for (const [id, [first]] of lanes) byRun.set(first!.body.now, [...(byRun.get(first!.body.now) ?? []), id]);
  const tally = new JobTally();
  for (const [now, ids] of byRun) {
    const rest = new Set(await billThroughPage(deps, ids, now, ids.map((id) => lanes.get(id)![0]!.body.organisationId)));
    for (const id of ids) {
      if (rest.has(id)) continue;
      // The page path commits only renewals it invoiced and charged successfully.
      const { organisationId } = lanes.get(id)![0]!.body;
      for (const what of ['subscriptions', 'invoices', 'chargesPaid']) tally.add(organisationId, now, what);
      // Billed: its first message is done; a duplicate finds nothing left to do.
      lanes.get(id)!.shift()!.ack();
      if (lanes.get(id)!.length === 0) lanes.delete(id);
    }
  }
  const pending = [...lanes.values()];
  // Lanes start LANE_STAGGER_MS apart: started together, their D1 reads interleave and the batch's
  // first charge waits until nearly all of them have read; staggered, charges start at once,
  // which keeps a rate-limited processor's allowance in use from one batch to the next.
  const worker = async (lane: number) => {
    await sleep(lane * LANE_STAGGER_MS);
    for (let next = pending.shift(); next; next = pending.shift()) for (const message of next) await consumeOne(deps, message, tally);
  };
  await Promise.all(Array.from({ length: Math.min(BILLING_CONCURRENCY, pending.length) }, (_, lane) => worker(lane)));
  // Per batch: a run the queue spreads over batches has an event per batch, sharing its instant.
  await tally.record(deps.db, 'billing');
}

/** The run without a queue (tests, and Workers deployed without the binding): the same work, in line. */
export async function runBilling(deps: BillingDeps, now: number, options: { organisationId?: string } = {}): Promise<ProcessResult[]> {
  const results: ProcessResult[] = [];
  const organisationOf = new Map<string, string>();
  const tally = new JobTally();
  let after: DueCursor | undefined;
  for (;;) {
    const page = await dueSubscriptions(deps.db, now, { ...options, ...(after ? { after } : {}) });
    for (const s of page) organisationOf.set(s.id, s.organisationId);
    for (const id of await billThroughPage(deps, page.map((s) => s.id), now, page.map((s) => s.organisationId), results)) {
      try {
        const r = await processSubscription(deps, id, now);
        if (r) results.push(r);
      } catch (error) {
        // Still due: the next run tries again. Other subscriptions go on.
        console.error(JSON.stringify({ msg: 'billing failed', subscriptionId: id, error: String(error) }));
        tally.add(organisationOf.get(id)!, now, 'errors');
      }
    }
    if (page.length < PAGE) break;
    after = page[page.length - 1]!;
  }
  for (const r of results) tallyResult(tally, organisationOf.get(r.subscriptionId)!, now, r);
  await tally.record(deps.db, 'billing');
  return results;
}
