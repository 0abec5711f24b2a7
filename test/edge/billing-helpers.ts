// Shared set-up for the billing tests: a gym with a plan, a payer with a saved card, and billing
// functions called with a clock the test moves.
import { env } from 'cloudflare:test';
import { drizzle } from 'drizzle-orm/d1';
import { afterEach, beforeEach, expect, vi } from 'vitest';
import { checkLedger } from '../../core/billing/ledger.ts';
import type { BillingDeps } from '../../edge/billing/deps.ts';
import { memberLedger } from '../../edge/billing/records.ts';
import { runBilling } from '../../edge/billing/queue.ts';
import { processSubscription } from '../../edge/billing/subscriptions.ts';
import * as schema from '../../edge/db/schema.ts';
import type { Env } from '../../edge/env.ts';
import { call, gym } from './helpers.ts';

/**
 * The test's clock: Date.now() inside the Worker code (API handlers included) reads it, and the run
 * helpers move it to the instant they run at, so API calls that follow happen at that moment.
 * Only Date is faked; timers and I/O run normally.
 */
export function useBillingClock() {
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(Date.parse('2030-01-01T00:00:00Z'));
  });
  afterEach(() => {
    vi.useRealTimers();
  });
}
export const setClock = (at: number) => vi.setSystemTime(at);

/** The simulated processor: what local runs use. */
export const SIMULATED: Partial<Env> = { PAYMENT_PROVIDER: 'simulated' };

export function billingDeps(extra: Partial<Env> = SIMULATED): BillingDeps & { settle(): Promise<void> } {
  const pending: Promise<unknown>[] = [];
  return {
    db: drizzle(env.DB, { schema }),
    env: { ...(env as unknown as Env), ...extra },
    ctx: { waitUntil: (p) => void pending.push(p) },
    settle: async () => void (await Promise.allSettled(pending.splice(0))),
  };
}

/** An instant on a date in Bangkok (the test gym's site), 10:00 by default. */
export const bkk = (date: string, time = '10:00') => Date.parse(`${date}T${time}:00+07:00`);
/** Start of a date in Bangkok, as the doors get validUntil. */
export const bkkMidnight = (date: string) => new Date(Date.parse(`${date}T00:00:00+07:00`)).toISOString();

export const VAT7 = { name: 'VAT 7%', basisPoints: 700, mode: 'inclusive' as const };

export type BillingGym = Awaited<ReturnType<typeof billingGym>>;

/** The test gym (Asia/Bangkok site, member with card 12:345) plus a monthly plan. */
export async function billingGym(plan: Record<string, unknown> = {}, extraEnv: Partial<Env> = SIMULATED, options: { dunningGraceDays?: number } = {}) {
  const g = await gym();
  const api = <T = any>(method: string, path: string, body?: unknown) => call<T>(method, path, { token: g.apiKey, body, env: extraEnv });
  // Access lasts the longer of the plan's and the dunning policy's grace days; billing scenarios
  // that count the plan's alone set the policy's to 0.
  if (options.dunningGraceDays !== undefined) {
    const res = await api('PUT', '/v1/dunning/policy', { policy: { graceDays: options.dunningGraceDays } });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
  }
  const created = await api('POST', '/v1/plans', {
    name: 'Monthly',
    currency: 'THB',
    price: 199_000,
    interval: 'monthly',
    taxRate: VAT7,
    ...plan,
  });
  expect(created.status, JSON.stringify(created.body)).toBe(201);
  return { ...g, api, plan: created.body, env: extraEnv };
}

/** Saves a simulated test card for a member. */
export async function saveSimulatedCard(g: BillingGym, memberId: string, paymentMethodId = 'pm_card_visa') {
  const setup = await g.api('POST', `/v1/members/${memberId}/payment-method/setup`, { returnUrl: 'https://gym.example/card-saved' });
  expect(setup.status, JSON.stringify(setup.body)).toBe(201);
  const done = await g.api('POST', `/v1/members/${memberId}/payment-method/simulated-completion`, { setupId: setup.body.setup.id, paymentMethodId });
  expect(done.status, JSON.stringify(done.body)).toBe(200);
  return done.body;
}

/**
 * Starts a subscription through the API, then runs it on its start date (10:00 in Bangkok), when
 * its first period is invoiced and charged. Returns the subscription as the API then shows it.
 */
export async function subscribe(g: BillingGym, body: Record<string, unknown> = {}) {
  const created = await g.api('POST', '/v1/subscriptions', { payerId: g.member.id, planId: g.plan.id, startDate: '2030-01-15', ...body });
  expect(created.status, JSON.stringify(created.body)).toBe(201);
  await process(g, created.body.id, bkk(created.body.startDate));
  return (await g.api('GET', `/v1/subscriptions/${created.body.id}`)).body;
}

export async function invoicesOf(g: BillingGym, payerId: string) {
  const res = await g.api('GET', `/v1/invoices?payerId=${payerId}&limit=200`);
  expect(res.status).toBe(200);
  // In number order (ids made in the same millisecond, as under the frozen test clock, have no order).
  return (res.body.data as any[]).sort((a, b) => String(a.number ?? `~${a.id}`).localeCompare(String(b.number ?? `~${b.id}`)));
}

export async function memberOf(g: BillingGym, id: string) {
  return (await g.api('GET', `/v1/members/${id}`)).body;
}

/** Σ invoiced − Σ credited = Σ paid − Σ refunded + outstanding, through the statement endpoint and directly. */
export async function expectLedgerHolds(g: BillingGym, payerId: string) {
  const statement = await g.api('GET', `/v1/members/${payerId}/statement`);
  expect(statement.status).toBe(200);
  expect(statement.body.consistent).toBe(true);
  const ledger = await memberLedger(billingDeps(g.env).db, g.organisationId, payerId);
  expect(checkLedger(ledger)).toMatchObject({ holds: true });
  return ledger;
}

/** The daily run at `now` (the clock moves there first). */
export function run(g: BillingGym, now: number, deps = billingDeps(g.env)) {
  setClock(now);
  return runBilling(deps, now, { organisationId: g.organisationId });
}
/** One subscription brought up to `now` (the clock moves there first). */
export function process(g: BillingGym, subscriptionId: string, now: number, deps = billingDeps(g.env)) {
  setClock(now);
  return processSubscription(deps, subscriptionId, now);
}

/** The invoice as a test reads it: number, status, lines (kind, description, amount, tax), totals. */
export const summary = (inv: any) => ({
  number: inv.number,
  status: inv.status,
  period: inv.period,
  lines: inv.lines.map((l: any) => [l.kind, l.description, l.amount, l.tax]),
  total: inv.total,
  amountDue: inv.amountDue,
  amountRemaining: inv.amountRemaining,
});
