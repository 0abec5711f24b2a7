// The dunning API (policy, queue, member pause/exclusion) and the pay-now page of notices.
import { createExecutionContext, env } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { createApp } from '../../edge/app.ts';
import { runDunning } from '../../edge/dunning/run.ts';
import { createPayLink } from '../../edge/dunning/pay-links.ts';
import type { Env } from '../../edge/env.ts';
import { billingDeps, billingGym, bkk, invoicesOf, memberOf, run, saveSimulatedCard, setClock, subscribe, useBillingClock, type BillingGym } from './billing-helpers.ts';
import { gym, requestPage } from './helpers.ts';

useBillingClock();

const app = createApp();

const page = (g: BillingGym, method: 'GET' | 'POST', path: string, form?: Record<string, string>) => requestPage(method, path, { ...(form ? { form } : {}), env: g.env });

async function renewalFails(g: BillingGym) {
  await saveSimulatedCard(g, g.member.id);
  await subscribe(g);
  await saveSimulatedCard(g, g.member.id, 'pm_card_chargeDeclinedInsufficientFunds');
  await run(g, bkk('2030-02-15'));
  return (await invoicesOf(g, g.member.id))[1];
}

const payUrls = async (memberId: string) => {
  const rows = await env.DB.prepare(`SELECT payload FROM notification_messages WHERE member_id = ? AND template = 'payment_failed' AND channel = 'email' ORDER BY created_at`)
    .bind(memberId)
    .all<{ payload: string }>();
  return rows.results.map((r) => JSON.parse(r.payload).payUrl as string);
};

describe('dunning policy', () => {
  it('has defaults, takes a whole policy, and refuses retry days out of order', async () => {
    const g = await billingGym();
    const initial = await g.api('GET', '/v1/dunning/policy');
    expect(initial.status).toBe(200);
    expect(initial.body).toMatchObject({ policy: { retryDays: [3, 7, 14], maxAttempts: 4, windowDays: 14, graceDays: 7, graceMaxOwed: null, endOfLine: 'cancel_at_period_end' }, payLinkBase: null });
    const put = await g.api('PUT', '/v1/dunning/policy', { policy: { retryDays: [2, 5], maxAttempts: 3, windowDays: 6, graceDays: 4, graceMaxOwed: 300_000, endOfLine: 'collections' }, payLinkBase: 'https://pay.gym.example' });
    expect(put.status, JSON.stringify(put.body)).toBe(200);
    expect((await g.api('GET', '/v1/dunning/policy')).body).toMatchObject({ policy: { retryDays: [2, 5], graceMaxOwed: 300_000, endOfLine: 'collections' }, payLinkBase: 'https://pay.gym.example' });
    const bad = await g.api('PUT', '/v1/dunning/policy', { policy: { retryDays: [7, 3] } });
    expect(bad.status).toBe(400);
    expect((await g.api('PUT', '/v1/dunning/policy', { policy: { endOfLine: 'sue' } })).status).toBe(400);
    // Another organisation keeps its defaults.
    const other = await gym();
    const res = await app.request('/v1/dunning/policy', { headers: { authorization: `Bearer ${other.apiKey}` } }, env as unknown as Env, createExecutionContext());
    expect(((await res.json()) as any).policy.retryDays).toEqual([3, 7, 14]);
  });

  it('is in the OpenAPI document', async () => {
    const g = await billingGym();
    const doc = await page(g, 'GET', '/openapi.json');
    const paths = Object.keys(JSON.parse(doc.body).paths);
    for (const p of ['/v1/dunning/policy', '/v1/dunning/queue', '/v1/dunning/metrics', '/v1/members/{id}/dunning', '/v1/members/{id}/dunning/pause', '/v1/members/{id}/dunning/exclude']) expect(paths).toContain(p);
  });
});

describe('members in dunning', () => {
  it('lists the queue with the next action and date; an excluded member is left alone; a payment at the desk restores at once', async () => {
    const g = await billingGym({ graceDays: 14 });
    await g.api('PUT', '/v1/dunning/policy', { policy: { graceDays: 3 } });
    const invoice = await renewalFails(g);
    const queue = (await g.api('GET', '/v1/dunning/queue')).body.data;
    expect(queue).toEqual([
      {
        memberId: g.member.id,
        memberName: 'Somchai P.',
        invoiceNumber: 'INV-000002',
        amountOwed: 199_000,
        currency: 'THB',
        step: 'retrying',
        attempts: 1,
        suspended: false,
        lastDeclineCode: 'insufficient_funds',
        firstFailedAt: new Date(bkk('2030-02-15')).toISOString(),
        nextAction: 'retry',
        nextActionAt: new Date(bkk('2030-02-18')).toISOString(),
        suspendsAt: new Date(bkk('2030-02-18')).toISOString(),
      },
    ]);
    setClock(bkk('2030-02-18'));
    await runDunning(billingDeps(g.env), bkk('2030-02-18'), { organisationId: g.organisationId });
    expect(await memberOf(g, g.member.id)).toMatchObject({ status: 'suspended', suspension: 'payment_overdue' });
    // Cash at the desk: the member is active again in the same request.
    const cash = await g.api('POST', `/v1/invoices/${invoice.id}/payments`, { amount: 199_000, method: 'cash' });
    expect(cash.status).toBe(201);
    expect(await memberOf(g, g.member.id)).toMatchObject({ status: 'active', suspension: null });
    expect((await g.api('GET', '/v1/dunning/queue')).body.data).toEqual([]);

    // Excluded (pays at the desk): the next failure opens no case.
    const ex = await g.api('POST', `/v1/members/${g.member.id}/dunning/exclude`, { note: 'Pays cash monthly' });
    expect(ex.body.state).toMatchObject({ excluded: true, phase: 'idle' });
    await run(g, bkk('2030-03-15'));
    expect((await invoicesOf(g, g.member.id))[2]).toMatchObject({ status: 'open' });
    expect((await g.api('GET', `/v1/members/${g.member.id}/dunning`)).body.state).toMatchObject({ excluded: true, phase: 'idle', attempts: 0 });
    expect((await g.api('GET', '/v1/dunning/queue')).body.data).toEqual([]);

    const other = await gym();
    expect((await g.api('POST', `/v1/members/${other.member.id}/dunning/pause`, { note: 'x' })).status).toBe(404);
    expect((await g.api('GET', '/v1/dunning/metrics?month=2030-13')).status).toBe(400);
  });
});

describe('the pay-now page', () => {
  it('shows the amount for a valid link, creates one payment per link, and refuses unknown, used, expired and mismatched links', async () => {
    const g = await billingGym({ graceDays: 14 });
    await g.api('PUT', '/v1/dunning/policy', { policy: {}, payLinkBase: 'https://pay.gym.example' });
    const invoice = await renewalFails(g);
    const [url] = await payUrls(g.member.id);
    expect(url).toMatch(/^https:\/\/pay\.gym\.example\/pay\/[0-9a-f]{64}$/);
    const path = new URL(url!).pathname;

    const shown = await page(g, 'GET', path);
    expect(shown.status).toBe(200);
    expect(shown.contentType).toContain('text/html');
    expect(shown.body).toContain('INV-000002');
    expect(shown.body).toContain('1,990.00');
    expect(shown.body).toContain('PromptPay');
    expect((await page(g, 'GET', '/pay/nonsense')).status).toBe(404);

    const paid = await page(g, 'POST', path, { method: 'promptpay' });
    expect(paid.status, paid.body).toBe(200);
    expect(paid.body).toMatch(/data-payment-intent="pi_sim_/);
    const payments = (await g.api('GET', `/v1/payments?invoiceId=${invoice.id}`)).body.data as any[];
    expect(payments.filter((p) => p.method === 'promptpay')).toEqual([expect.objectContaining({ status: 'pending', amount: 199_000, attempt: 2 })]);
    // Used: a second submit or visit charges nothing.
    const again = await page(g, 'POST', path, { method: 'card' });
    expect(again.status).toBe(410);
    expect(again.body).toContain('already been used');
    expect((await g.api('GET', `/v1/payments?invoiceId=${invoice.id}`)).body.data).toHaveLength(2);

    // Expired.
    const deps = billingDeps(g.env);
    const token = await createPayLink(deps.db, { organisationId: g.organisationId, memberId: g.member.id, invoiceId: invoice.id }, bkk('2030-02-15'));
    setClock(bkk('2030-03-15'));
    const expired = await page(g, 'POST', `/pay/${token}`, { method: 'card' });
    expect(expired.status).toBe(410);
    expect(expired.body).toContain('expired');
    // Another member's link to this invoice.
    const other = (await g.api('POST', '/v1/members', { name: 'Nok C.' })).body;
    const wrong = await createPayLink(deps.db, { organisationId: g.organisationId, memberId: other.id, invoiceId: invoice.id }, bkk('2030-03-15'));
    expect((await page(g, 'POST', `/pay/${wrong}`, { method: 'card' })).status).toBe(404);
    expect((await g.api('GET', `/v1/payments?invoiceId=${invoice.id}`)).body.data).toHaveLength(2);
  });
});

describe('a payment the member started on the pay-now page', () => {
  it('holds off the card retry of its invoice while it may still be confirmed, then gives way', async () => {
    const g = await billingGym({ graceDays: 14 });
    await g.api('PUT', '/v1/dunning/policy', { policy: { retryDays: [3, 7] }, payLinkBase: 'https://pay.gym.example' });
    const invoice = await renewalFails(g);
    const [url] = await payUrls(g.member.id);
    const path = new URL(url!).pathname;
    // Three days after the failure the member opens the link and starts a card payment…
    setClock(bkk('2030-02-18', '09:50'));
    expect((await page(g, 'POST', path, { method: 'card' })).status).toBe(200);
    const attempts = async () => ((await g.api('GET', `/v1/payments?invoiceId=${invoice.id}`)).body.data as any[]).map((p) => [p.attempt, p.method, p.status]).sort();
    expect(await attempts()).toEqual([
      [1, 'card', 'failed'],
      [2, 'card', 'pending'],
    ]);
    // …and the scheduled retry that falls due meanwhile does not charge the saved card as well.
    setClock(bkk('2030-02-18', '10:00'));
    await runDunning(billingDeps(g.env), bkk('2030-02-18', '10:00'), { organisationId: g.organisationId });
    expect(await attempts()).toHaveLength(2);
    // Left unfinished: once the hold and the stuck-charge wait have passed, the card retry goes ahead.
    setClock(bkk('2030-02-18', '11:00'));
    await runDunning(billingDeps(g.env), bkk('2030-02-18', '11:00'), { organisationId: g.organisationId });
    expect(await attempts()).toEqual([
      [1, 'card', 'failed'],
      [2, 'card', 'pending'],
      [3, 'card', 'failed'],
    ]);
    // That run's audit event counts the charge it found stuck and settled.
    const runs = (await g.api('GET', `/v1/audit-events?action=dunning.run&resourceId=${new Date(bkk('2030-02-18', '11:00')).toISOString()}`)).body.data as any[];
    expect(runs).toHaveLength(1);
    expect(runs[0].after).toMatchObject({ stuckCharges: 1 });
    expect(runs[0].after.failed).toBeUndefined();
  });
});
