// The daily billing run. The scheduled handler selects the subscriptions whose next review is due
// (nextReviewAt ≤ the run's time; nextReviewAt is the start of that date in the subscription's
// time zone) and sends one queue message per subscription; the queue consumer runs
// processSubscription for each. Everything here takes `now`, so tests can move the clock and call
// the same functions the handlers call.
import { and, asc, eq, gt, isNotNull, lte, ne } from 'drizzle-orm';
import { subscriptions } from '../db/schema.ts';
import type { Db } from '../env.ts';
import type { BillingDeps } from './deps.ts';
import { processSubscription, type ProcessResult } from './subscriptions.ts';

export type BillingMessage = { type: 'bill_subscription'; subscriptionId: string; organisationId: string; now: number };

const PAGE = 100;

/** Subscriptions due at `now`, in id order, a page at a time. */
export async function dueSubscriptions(db: Db, now: number, options: { organisationId?: string; after?: string; limit?: number } = {}) {
  return db
    .select({ id: subscriptions.id, organisationId: subscriptions.organisationId })
    .from(subscriptions)
    .where(
      and(
        isNotNull(subscriptions.nextReviewAt),
        lte(subscriptions.nextReviewAt, now),
        ne(subscriptions.status, 'ended'),
        options.organisationId ? eq(subscriptions.organisationId, options.organisationId) : undefined,
        options.after ? gt(subscriptions.id, options.after) : undefined,
      ),
    )
    .orderBy(asc(subscriptions.id))
    .limit(options.limit ?? PAGE);
}

/** The scheduled half: one message per due subscription. Returns how many were sent. */
export async function enqueueBillingRun(db: Db, queue: Pick<Queue<BillingMessage>, 'sendBatch'>, now: number, options: { organisationId?: string } = {}): Promise<number> {
  let sent = 0;
  let after: string | undefined;
  for (;;) {
    const page = await dueSubscriptions(db, now, { ...options, ...(after ? { after } : {}) });
    if (page.length === 0) break;
    await queue.sendBatch(page.map((s) => ({ body: { type: 'bill_subscription' as const, subscriptionId: s.id, organisationId: s.organisationId, now } })));
    sent += page.length;
    after = page[page.length - 1]!.id;
    if (page.length < PAGE) break;
  }
  return sent;
}

/** The queue half: bills each subscription of the batch; a failure is retried by the queue alone. */
export async function consumeBillingMessages(deps: BillingDeps, batch: Pick<MessageBatch<BillingMessage>, 'messages'>): Promise<void> {
  for (const message of batch.messages) {
    const body = message.body;
    if (body?.type !== 'bill_subscription') {
      message.ack();
      continue;
    }
    try {
      await processSubscription(deps, body.subscriptionId, body.now);
      message.ack();
    } catch (error) {
      console.error(JSON.stringify({ msg: 'billing failed', subscriptionId: body.subscriptionId, error: String(error) }));
      message.retry({ delaySeconds: 60 });
    }
  }
}

/** The run without a queue (tests, and Workers deployed without the binding): the same work, in line. */
export async function runBilling(deps: BillingDeps, now: number, options: { organisationId?: string } = {}): Promise<ProcessResult[]> {
  const results: ProcessResult[] = [];
  let after: string | undefined;
  for (;;) {
    const page = await dueSubscriptions(deps.db, now, { ...options, ...(after ? { after } : {}) });
    for (const s of page) {
      try {
        const r = await processSubscription(deps, s.id, now);
        if (r) results.push(r);
      } catch (error) {
        // Still due: the next run tries again. Other subscriptions go on.
        console.error(JSON.stringify({ msg: 'billing failed', subscriptionId: s.id, error: String(error) }));
      }
    }
    if (page.length < PAGE) break;
    after = page[page.length - 1]!.id;
  }
  return results;
}
