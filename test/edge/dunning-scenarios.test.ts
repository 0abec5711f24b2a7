// Dunning with a clock the test moves: a failed renewal opens a case, the dunning run retries it
// with a new idempotency key per attempt, grace ends in a payment_overdue suspension the doors
// see, a card update retries at once and a payment restores the member; the end of the line
// follows the organisation's policy.
import { createExecutionContext, env, waitOnExecutionContext } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { createApp } from '../../edge/app.ts';
import { runDunning } from '../../edge/dunning/run.ts';
import type { Env } from '../../edge/env.ts';
import { billingDeps, billingGym, bkk, bkkMidnight, invoicesOf, memberOf, run, saveSimulatedCard, setClock, subscribe, useBillingClock, type BillingGym } from './billing-helpers.ts';
import { call, enrollDevice } from './helpers.ts';

useBillingClock();

const app = createApp();

/** The dunning run at `now` (the clock moves there first). */
function dun(g: BillingGym, now: number, deps = billingDeps(g.env)) {
  setClock(now);
  return runDunning(deps, now, { organisationId: g.organisationId });
}

async function setPolicy(g: BillingGym, policy: Record<string, unknown>) {
  const res = await g.api('PUT', '/v1/dunning/policy', { policy });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res.body;
}

const paymentsOf = async (g: BillingGym, invoiceId: string) =>
  ((await g.api('GET', `/v1/payments?invoiceId=${invoiceId}`)).body.data as any[]).sort((a, b) => a.attempt - b.attempt);

const dunningOf = async (g: BillingGym, memberId: string) => (await g.api('GET', `/v1/members/${memberId}/dunning`)).body;

const templatesSent = async (memberId: string) => {
  const rows = await env.DB.prepare(`SELECT template FROM notification_messages WHERE member_id = ? AND channel = 'email' ORDER BY created_at, id`).bind(memberId).all<{ template: string }>();
  return rows.results.map((r) => r.template);
};

/** GET /v1/dunning/collections.csv as text. */
async function csvOf(g: BillingGym) {
  const ctx = createExecutionContext();
  const res = await app.request('/v1/dunning/collections.csv', { headers: { authorization: `Bearer ${g.apiKey}` } }, { ...(env as unknown as Env), ...g.env }, ctx);
  await waitOnExecutionContext(ctx);
  return { status: res.status, contentType: res.headers.get('content-type'), body: await res.text() };
}

const snapshotMember = async (token: string, memberId: string) =>
  ((await call('GET', '/v1/device/snapshot', { token })).body.members as any[]).find((m) => m.id === memberId);

/** A member whose first month is paid with a good card, and whose card then starts failing. */
async function renewalFails(g: BillingGym, failingCard = 'pm_card_chargeDeclinedInsufficientFunds') {
  await saveSimulatedCard(g, g.member.id);
  const sub = await subscribe(g);
  expect(sub).toMatchObject({ status: 'active', paidThrough: '2030-02-15' });
  await saveSimulatedCard(g, g.member.id, failingCard);
  await run(g, bkk('2030-02-15'));
  const renewal = (await invoicesOf(g, g.member.id))[1];
  expect(renewal).toMatchObject({ number: 'INV-000002', status: 'open', amountRemaining: 199_000 });
  return { sub, renewal };
}

describe('retries, grace and recovery', () => {
  it('fail, fail, suspended after the grace days, card updated → immediate retry → paid → restored at the door', async () => {
    const g = await billingGym({ graceDays: 14 });
    await setPolicy(g, { retryDays: [3, 7, 14], maxAttempts: 4, windowDays: 14, graceDays: 5 });
    const device = await enrollDevice(g.apiKey, g.site.id);
    const { sub, renewal } = await renewalFails(g);
    // First failure: the case opens, access continues (past due, within grace).
    expect((await dunningOf(g, g.member.id)).state).toMatchObject({ phase: 'retrying', attempts: 1, invoiceNumber: 'INV-000002', nextRetryAt: bkk('2030-02-18') });
    expect(await snapshotMember(device.deviceToken, g.member.id)).toMatchObject({ status: 'past_due' });

    // Not due yet: nothing happens.
    await dun(g, bkk('2030-02-17'));
    expect(await paymentsOf(g, renewal.id)).toHaveLength(1);
    // Day 3: the retry, with its own idempotency key; it fails too.
    await dun(g, bkk('2030-02-18'));
    let pays = await paymentsOf(g, renewal.id);
    expect(pays.map((p) => [p.attempt, p.status])).toEqual([
      [1, 'failed'],
      [2, 'failed'],
    ]);
    expect((await dunningOf(g, g.member.id)).state).toMatchObject({ phase: 'retrying', attempts: 2, nextRetryAt: bkk('2030-02-22') });
    expect(await memberOf(g, g.member.id)).toMatchObject({ status: 'past_due', suspension: null });

    // Day 5: the grace days are over: suspended for payment, and the door knows.
    await dun(g, bkk('2030-02-20'));
    expect(await memberOf(g, g.member.id)).toMatchObject({ status: 'suspended', suspension: 'payment_overdue' });
    expect(await snapshotMember(device.deviceToken, g.member.id)).toMatchObject({ status: 'suspended' });
    expect((await g.api('GET', `/v1/subscriptions/${sub.id}`)).body).toMatchObject({ status: 'suspended' });

    // The member saves a new card: the retry happens at once, outside the schedule.
    setClock(bkk('2030-02-21'));
    await saveSimulatedCard(g, g.member.id, 'pm_card_visa');
    pays = await paymentsOf(g, renewal.id);
    expect(pays.map((p) => [p.attempt, p.status])).toEqual([
      [1, 'failed'],
      [2, 'failed'],
      [3, 'succeeded'],
    ]);
    expect(pays[2].idempotencyKey ?? `${renewal.id}:attempt:3`).toBe(`${renewal.id}:attempt:3`);
    expect((await g.api('GET', `/v1/invoices/${renewal.id}`)).body).toMatchObject({ status: 'paid', amountRemaining: 0 });
    // Restored in the same request: member row and door snapshot.
    expect(await memberOf(g, g.member.id)).toMatchObject({ status: 'active', suspension: null, validUntil: bkkMidnight('2030-03-29') });
    expect(await snapshotMember(device.deviceToken, g.member.id)).toMatchObject({ status: 'active', validUntil: Date.parse(bkkMidnight('2030-03-29')) });
    expect((await dunningOf(g, g.member.id)).state).toMatchObject({ phase: 'idle', suspended: false, attempts: 0 });

    // Nothing left to do: later runs change nothing.
    await dun(g, bkk('2030-02-22'));
    expect(await paymentsOf(g, renewal.id)).toHaveLength(3);

    // (Notices written in the same millisecond of the test clock have no order: compared sorted.)
    expect((await templatesSent(g.member.id)).sort()).toEqual(['payment_failed', 'payment_failed', 'payment_recovered', 'restored', 'suspended', 'suspension_upcoming']);
    const log = (await dunningOf(g, g.member.id)).log.map((l: any) => l.type).reverse();
    expect(log).toEqual(['case_opened', 'retry', 'suspended', 'retry', 'recovered', 'restored']);

    const metrics = (await g.api('GET', '/v1/dunning/metrics?month=2030-02')).body;
    expect(metrics).toMatchObject({ casesOpened: 1, amountFailed: 199_000, casesRecovered: 1, amountRecovered: 199_000, recoveryRate: 1, suspended: 1, involuntaryChurn: 0 });
  });

  it('a card setup completed twice retries once: the repeat is refused like Stripe refuses it, and nothing is charged again', async () => {
    const g = await billingGym({ graceDays: 14 });
    const { renewal } = await renewalFails(g);
    setClock(bkk('2030-02-16'));
    const setup = await g.api('POST', `/v1/members/${g.member.id}/payment-method/setup`, { returnUrl: 'https://gym.example/card-saved' });
    const complete = () => g.api('POST', `/v1/members/${g.member.id}/payment-method/simulated-completion`, { setupId: setup.body.setup.id, paymentMethodId: 'pm_card_chargeDeclined' });
    expect((await complete()).status).toBe(200);
    expect((await paymentsOf(g, renewal.id)).map((p) => [p.attempt, p.status])).toEqual([
      [1, 'failed'],
      [2, 'failed'],
    ]);
    const again = await complete();
    expect(again.status).toBe(409);
    expect(again.body.errors).toEqual([{ field: 'setupId', reason: expect.stringMatching(/^setup_already_completed: .*already succeeded/) }]);
    expect(await paymentsOf(g, renewal.id)).toHaveLength(2);
    expect((await dunningOf(g, g.member.id)).state).toMatchObject({ phase: 'retrying', attempts: 2 });
    // A new setup is a new card: it retries at once.
    await saveSimulatedCard(g, g.member.id, 'pm_card_visa');
    expect((await paymentsOf(g, renewal.id)).map((p) => [p.attempt, p.status])).toEqual([
      [1, 'failed'],
      [2, 'failed'],
      [3, 'succeeded'],
    ]);
  });

  it('suspends when the amount owed passes the grace amount, before the grace days', async () => {
    const g = await billingGym({ graceDays: 14 });
    await setPolicy(g, { graceDays: 10, graceMaxOwed: 250_000 });
    await renewalFails(g);
    // 1,990 THB owed: within the amount.
    expect(await memberOf(g, g.member.id)).toMatchObject({ status: 'past_due' });
    // A shop sale charged to the same failing card: 2,990 THB owed, above 2,500.
    setClock(bkk('2030-02-16'));
    const sale = await g.api('POST', `/v1/members/${g.member.id}/pending-items`, { kind: 'shop_sale', description: 'Protein', unitAmount: 100_000, currency: 'THB', chargeNow: true });
    expect(sale.status, JSON.stringify(sale.body)).toBe(201);
    expect(await memberOf(g, g.member.id)).toMatchObject({ status: 'suspended', suspension: 'payment_overdue' });
    const d = await dunningOf(g, g.member.id);
    expect(d.state).toMatchObject({ suspended: true, amountOwed: 299_000 });
    expect(d.log.find((l: any) => l.type === 'suspended')).toMatchObject({ detail: 'grace_amount' });
  });

  it('does not retry a hard decline: asks for a new card, then the end of the line when the window closes', async () => {
    const g = await billingGym({ graceDays: 14 });
    await setPolicy(g, { retryDays: [3, 7], maxAttempts: 3, windowDays: 10, graceDays: 20, endOfLine: 'collections' });
    const { renewal } = await renewalFails(g, 'pm_card_chargeDeclinedLostCard');
    expect((await dunningOf(g, g.member.id)).state).toMatchObject({ phase: 'awaiting_card', cardUpdateNeeded: true, lastDeclineCode: 'lost_card' });
    for (const day of ['2030-02-18', '2030-02-22', '2030-02-24']) await dun(g, bkk(day));
    expect(await paymentsOf(g, renewal.id)).toHaveLength(1);
    expect(await templatesSent(g.member.id)).toEqual(['update_card']);
    await dun(g, bkk('2030-02-25'));
    expect((await dunningOf(g, g.member.id)).state).toMatchObject({ phase: 'exhausted' });
    expect(await paymentsOf(g, renewal.id)).toHaveLength(1);
    const csv = await csvOf(g);
    expect(csv).toMatchObject({ status: 200, contentType: 'text/csv; charset=utf-8' });
    expect(csv.body.split('\r\n')).toEqual([
      '"member_id","name","email","phone","invoice_number","amount_minor","currency","handed_over_at"',
      `"${g.member.id}","Somchai P.","somchai@example.com","","INV-000002","199000","THB","${new Date(bkk('2030-02-25')).toISOString()}"`,
      '',
    ]);
  });

  it('two dunning runs at once charge a retry once', async () => {
    const g = await billingGym({ graceDays: 14 });
    await setPolicy(g, { graceDays: 10 });
    const { renewal } = await renewalFails(g);
    setClock(bkk('2030-02-18'));
    await Promise.all([dun(g, bkk('2030-02-18'), billingDeps(g.env)), dun(g, bkk('2030-02-18'), billingDeps(g.env)), dun(g, bkk('2030-02-18', '10:01'))]);
    const pays = await paymentsOf(g, renewal.id);
    expect(pays.map((p) => p.attempt)).toEqual([1, 2]);
    expect((await dunningOf(g, g.member.id)).log.filter((l: any) => l.type === 'retry')).toHaveLength(1);
  });

  it('a paused member gets no retries, notices or suspension until resumed', async () => {
    const g = await billingGym({ graceDays: 14 });
    await setPolicy(g, { graceDays: 5 });
    const { renewal } = await renewalFails(g);
    setClock(bkk('2030-02-16'));
    const paused = await g.api('POST', `/v1/members/${g.member.id}/dunning/pause`, { note: 'Payment plan agreed at the desk' });
    expect(paused.status, JSON.stringify(paused.body)).toBe(200);
    expect(paused.body.state).toMatchObject({ paused: true });
    expect(paused.body.log[0]).toMatchObject({ type: 'paused', note: 'Payment plan agreed at the desk' });
    for (const day of ['2030-02-18', '2030-02-20', '2030-02-22']) await dun(g, bkk(day));
    expect(await paymentsOf(g, renewal.id)).toHaveLength(1);
    expect(await memberOf(g, g.member.id)).toMatchObject({ status: 'past_due', suspension: null });
    const queue = (await g.api('GET', '/v1/dunning/queue')).body.data;
    expect(queue).toEqual([expect.objectContaining({ memberId: g.member.id, nextAction: 'paused', amountOwed: 199_000, currency: 'THB', step: 'retrying' })]);
    // Resumed on day 7: the retry of that day goes ahead.
    setClock(bkk('2030-02-22', '11:00'));
    await g.api('POST', `/v1/members/${g.member.id}/dunning/resume`);
    await dun(g, bkk('2030-02-22', '11:00'));
    expect((await paymentsOf(g, renewal.id)).map((p) => p.attempt)).toEqual([1, 2]);
  });
});

describe('one grace for the door and for dunning', () => {
  it("a plan without grace days still keeps the door open for the dunning policy's grace, then dunning suspends", async () => {
    const g = await billingGym();
    expect(g.plan.graceDays).toBe(0);
    expect((await g.api('GET', '/v1/dunning/policy')).body.policy.graceDays).toBe(7);
    const device = await enrollDevice(g.apiKey, g.site.id);
    const { sub } = await renewalFails(g);
    // Paid through 15 February; the renewal failed that day: access continues for the policy's 7 days.
    expect(await memberOf(g, g.member.id)).toMatchObject({ status: 'past_due', validUntil: bkkMidnight('2030-02-22') });
    expect(await snapshotMember(device.deviceToken, g.member.id)).toMatchObject({ status: 'past_due', validUntil: Date.parse(bkkMidnight('2030-02-22')) });
    expect((await g.api('GET', `/v1/subscriptions/${sub.id}`)).body).toMatchObject({ validUntil: '2030-02-22' });
    await dun(g, bkk('2030-02-21'));
    expect(await memberOf(g, g.member.id)).toMatchObject({ status: 'past_due' });
    await dun(g, bkk('2030-02-22', '10:01'));
    expect(await memberOf(g, g.member.id)).toMatchObject({ status: 'suspended', suspension: 'payment_overdue' });
  });
});

describe('members without a subscription', () => {
  it('a member who owes only a one-off charge is suspended after the grace days and restored by a cash payment', async () => {
    const g = await billingGym();
    await setPolicy(g, { graceDays: 3 });
    const device = await enrollDevice(g.apiKey, g.site.id);
    // The test gym's member has no subscription: an active member row with a card on file.
    expect(await memberOf(g, g.member.id)).toMatchObject({ status: 'active', suspension: null });
    await saveSimulatedCard(g, g.member.id, 'pm_card_chargeDeclinedInsufficientFunds');
    setClock(bkk('2030-02-15'));
    const sale = await g.api('POST', `/v1/members/${g.member.id}/pending-items`, { kind: 'pt_session', description: 'PT package (10)', unitAmount: 500_000, currency: 'THB', chargeNow: true });
    expect(sale.status, JSON.stringify(sale.body)).toBe(201);
    const invoice = sale.body.invoice;
    expect(invoice).toMatchObject({ status: 'open', amountRemaining: 500_000 });
    expect((await dunningOf(g, g.member.id)).state).toMatchObject({ phase: 'retrying', attempts: 1 });
    expect(await memberOf(g, g.member.id)).toMatchObject({ status: 'active' });

    await dun(g, bkk('2030-02-18', '10:01'));
    expect(await memberOf(g, g.member.id)).toMatchObject({ status: 'suspended', suspension: 'payment_overdue' });
    expect(await snapshotMember(device.deviceToken, g.member.id)).toMatchObject({ status: 'suspended' });

    const cash = await g.api('POST', `/v1/invoices/${invoice.id}/payments`, { amount: 500_000, method: 'cash', reference: 'R-7', idempotencyKey: 'desk-7' });
    expect(cash.status, JSON.stringify(cash.body)).toBe(201);
    expect(await memberOf(g, g.member.id)).toMatchObject({ status: 'active', suspension: null });
    expect(await snapshotMember(device.deviceToken, g.member.id)).toMatchObject({ status: 'active' });
  });

  it('leaves a staff suspension alone', async () => {
    const g = await billingGym();
    await setPolicy(g, { graceDays: 3 });
    await saveSimulatedCard(g, g.member.id, 'pm_card_chargeDeclinedInsufficientFunds');
    setClock(bkk('2030-02-15'));
    const sale = await g.api('POST', `/v1/members/${g.member.id}/pending-items`, { kind: 'shop_sale', description: 'Towel', unitAmount: 30_000, currency: 'THB', chargeNow: true });
    expect(sale.status).toBe(201);
    expect((await g.api('PATCH', `/v1/members/${g.member.id}`, { status: 'suspended', suspension: 'staff' })).status).toBe(200);
    await dun(g, bkk('2030-02-19'));
    await g.api('POST', `/v1/invoices/${sale.body.invoice.id}/payments`, { amount: 30_000, method: 'cash', idempotencyKey: 'desk-8' });
    expect(await memberOf(g, g.member.id)).toMatchObject({ status: 'suspended', suspension: 'staff' });
  });
});

describe('a membership write that failed', () => {
  it('is applied again by the next run, in both directions', async () => {
    const g = await billingGym();
    await setPolicy(g, { graceDays: 5 });
    const device = await enrollDevice(g.apiKey, g.site.id);
    const { sub } = await renewalFails(g);
    // Dunning decided to suspend, but the write to the subscription never happened.
    await env.DB.prepare(`UPDATE dunning_states SET state = json_set(state, '$.suspended', json('true')) WHERE payer_id = ?`).bind(g.member.id).run();
    expect(await memberOf(g, g.member.id)).toMatchObject({ status: 'past_due' });
    await dun(g, bkk('2030-02-16'));
    expect((await g.api('GET', `/v1/subscriptions/${sub.id}`)).body).toMatchObject({ status: 'suspended' });
    expect(await memberOf(g, g.member.id)).toMatchObject({ status: 'suspended', suspension: 'payment_overdue' });
    expect(await snapshotMember(device.deviceToken, g.member.id)).toMatchObject({ status: 'suspended' });
    // And a restore that was lost: dunning says not suspended, the membership still is.
    await env.DB.prepare(`UPDATE dunning_states SET state = json_set(state, '$.suspended', json('false')) WHERE payer_id = ?`).bind(g.member.id).run();
    await dun(g, bkk('2030-02-16', '10:05'));
    expect(await memberOf(g, g.member.id)).toMatchObject({ status: 'past_due', suspension: null });
    expect(await snapshotMember(device.deviceToken, g.member.id)).toMatchObject({ status: 'past_due' });
    // In step: a further run writes nothing.
    const version = () => env.DB.prepare('SELECT version FROM subscriptions WHERE id = ?').bind(sub.id).first<number>('version');
    const before = await version();
    await dun(g, bkk('2030-02-16', '10:10'));
    expect(await version()).toBe(before);
  });
});

describe('the end of the line', () => {
  it.each(['cancel_at_period_end', 'mark_uncollectible', 'collections'] as const)('after the last retry: %s', async (endOfLine) => {
    const g = await billingGym({ graceDays: 14 });
    await setPolicy(g, { retryDays: [2, 4], maxAttempts: 3, windowDays: 4, graceDays: 3, endOfLine });
    const { sub, renewal } = await renewalFails(g);
    await dun(g, bkk('2030-02-17'));
    await dun(g, bkk('2030-02-18'));
    expect(await memberOf(g, g.member.id)).toMatchObject({ status: 'suspended', suspension: 'payment_overdue' });
    await dun(g, bkk('2030-02-19'));
    expect((await paymentsOf(g, renewal.id)).map((p) => [p.attempt, p.status])).toEqual([
      [1, 'failed'],
      [2, 'failed'],
      [3, 'failed'],
    ]);
    expect((await dunningOf(g, g.member.id)).state).toMatchObject({ phase: 'exhausted' });
    const csv = await csvOf(g);
    if (endOfLine === 'cancel_at_period_end') {
      expect((await g.api('GET', `/v1/subscriptions/${sub.id}`)).body).toMatchObject({ cancellation: { endsOn: '2030-03-15' } });
    } else if (endOfLine === 'mark_uncollectible') {
      expect((await g.api('GET', `/v1/invoices/${renewal.id}`)).body).toMatchObject({ status: 'uncollectible' });
      // Written off is still owed: the member stays suspended (it can still be paid).
      expect(await memberOf(g, g.member.id)).toMatchObject({ status: 'suspended', suspension: 'payment_overdue' });
    } else {
      expect(csv.body).toContain('"INV-000002"');
      expect(csv.body).toContain('"199000","THB"');
    }
    if (endOfLine !== 'collections') expect(csv.body).not.toContain('INV-000002');
    const metrics = (await g.api('GET', '/v1/dunning/metrics?month=2030-02')).body;
    expect(metrics).toMatchObject({ casesOpened: 1, involuntaryChurn: 1, involuntaryChurnRate: 1, endOfLine: { [endOfLine]: 1 } });
    expect(await templatesSent(g.member.id)).toContain('final_notice');
    // Nothing more is tried.
    await dun(g, bkk('2030-02-25'));
    expect(await paymentsOf(g, renewal.id)).toHaveLength(3);
  });
});
