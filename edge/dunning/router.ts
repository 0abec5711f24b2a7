// The dunning API: the organisation's policy, the queue of members in dunning, monthly recovery
// metrics, the collections export, and staff pause / exclusion of a member.
import { OpenAPIHono } from '@hono/zod-openapi';
import { and, asc, desc, eq, gte, lt, sql } from 'drizzle-orm';
import type { DunningState } from '../../core/billing/dunning.ts';
import { dunningStateOf, dunningSettings, noteDunning } from './engine.ts';
import type { BillingDeps } from '../billing/index.ts';
import { dunningCollections, dunningLog, dunningPolicies, dunningStates, invoices, members } from '../db/schema.ts';
import type { AppEnv, Db } from '../env.ts';
import { notFound } from '../lib/problem.ts';
import { iso, isoOrNull } from '../lib/time.ts';
import { cardPageRouter } from './card-page.ts';
import { payPageRouter } from './pay-page.ts';
import * as r from './routes.ts';
import { ownedBy } from '../lib/owned.ts';

const DAY_MS = 86_400_000;

type Ctx = { var: { db: Db; organisationId: string }; env: AppEnv['Bindings']; executionCtx: { waitUntil(p: Promise<unknown>): void } };
const depsOf = (c: Ctx): BillingDeps => ({ db: c.var.db, env: c.env, ctx: c.executionCtx });

async function memberOrThrow(db: Db, organisationId: string, id: string) {
  const [m] = await db.select({ id: members.id, name: members.name }).from(members).where(ownedBy(members, id, organisationId));
  if (!m) throw notFound('Member', id);
  return m;
}

async function memberDunning(db: Db, organisationId: string, memberId: string) {
  const state = await dunningStateOf(db, memberId);
  const log = await db
    .select()
    .from(dunningLog)
    .where(and(eq(dunningLog.organisationId, organisationId), eq(dunningLog.payerId, memberId)))
    .orderBy(desc(dunningLog.at))
    .limit(100);
  return {
    memberId,
    state,
    log: log.map((l) => ({ type: l.type, invoiceNumber: l.invoiceNumber, amount: l.amount, detail: l.detail, note: l.note, at: iso(l.at) })),
  };
}

const csvCell = (v: unknown) => {
  const s = v === null || v === undefined ? '' : String(v);
  // Quote always; neutralise spreadsheet formulas.
  const safe = /^[=+\-@\t\r]/.test(s) ? `'${s}` : s;
  return `"${safe.replace(/"/g, '""')}"`;
};

function nextActionOf(s: DunningState): { nextAction: (typeof r.NEXT_ACTIONS)[number]; at: number | null } {
  if (s.excluded) return { nextAction: 'excluded', at: null };
  if (s.paused) return { nextAction: 'paused', at: null };
  switch (s.phase) {
    case 'retrying':
      return { nextAction: 'retry', at: s.nextRetryAt };
    case 'charging':
      return { nextAction: 'awaiting_charge_result', at: null };
    case 'awaiting_card':
      return { nextAction: 'awaiting_card_update', at: null };
    default:
      return { nextAction: 'end_of_line_applied', at: s.endOfLineAt };
  }
}

const memberActions = [
  [r.pauseMember, 'pause'],
  [r.resumeMember, 'resume'],
  [r.excludeMember, 'exclude'],
  [r.includeMember, 'include'],
] as const;

const router = new OpenAPIHono<AppEnv>();
router
  .openapi(r.getPolicy, async (c) => c.json(await dunningSettings(c.var.db, c.var.organisationId), 200))
  .openapi(r.putPolicy, async (c) => {
    const body = c.req.valid('json');
    const now = Date.now();
    const current = await dunningSettings(c.var.db, c.var.organisationId);
    const payLinkBase = body.payLinkBase === undefined ? current.payLinkBase : body.payLinkBase;
    await c.var.db
      .insert(dunningPolicies)
      .values({ organisationId: c.var.organisationId, policy: body.policy, payLinkBase, updatedAt: now })
      .onConflictDoUpdate({ target: dunningPolicies.organisationId, set: { policy: body.policy, payLinkBase, updatedAt: now } });
    return c.json(await dunningSettings(c.var.db, c.var.organisationId), 200);
  })
  .openapi(r.getQueue, async (c) => {
    const org = c.var.organisationId;
    const { policy } = await dunningSettings(c.var.db, org);
    const rows = await c.var.db
      .select({ state: dunningStates.state, memberId: members.id, memberName: members.name })
      .from(dunningStates)
      .innerJoin(members, eq(members.id, dunningStates.payerId))
      .where(and(eq(dunningStates.organisationId, org), sql`(json_extract(${dunningStates.state}, '$.phase') != 'idle' OR json_extract(${dunningStates.state}, '$.suspended') = 1)`))
      .orderBy(asc(dunningStates.nextWakeAt), asc(dunningStates.payerId))
      .limit(1000);
    const numbers = [...new Set(rows.map((x) => (x.state as DunningState).invoiceNumber).filter((n): n is string => n !== null))];
    const currencies = new Map<string, string>();
    for (const n of numbers) {
      const [inv] = await c.var.db.select({ currency: invoices.currency }).from(invoices).where(and(eq(invoices.organisationId, org), eq(invoices.number, n)));
      if (inv) currencies.set(n, inv.currency);
    }
    const data = rows.map((row) => {
      const s = row.state as DunningState;
      const next = nextActionOf(s);
      return {
        memberId: row.memberId,
        memberName: row.memberName,
        invoiceNumber: s.invoiceNumber,
        amountOwed: s.amountOwed,
        currency: (s.invoiceNumber && currencies.get(s.invoiceNumber)) || 'THB',
        step: s.phase,
        attempts: s.attempts,
        suspended: s.suspended,
        lastDeclineCode: s.lastDeclineCode,
        firstFailedAt: isoOrNull(s.firstFailedAt),
        nextAction: next.nextAction,
        nextActionAt: isoOrNull(next.at),
        suspendsAt: !s.suspended && s.firstFailedAt !== null ? iso(s.firstFailedAt + policy.graceDays * DAY_MS) : null,
      };
    });
    return c.json({ data }, 200);
  })
  .openapi(r.getMetrics, async (c) => {
    const { month } = c.req.valid('query');
    const from = Date.parse(`${month}-01T00:00:00Z`);
    const [y, m] = month.split('-').map(Number) as [number, number];
    const to = Date.UTC(m === 12 ? y + 1 : y, m === 12 ? 0 : m, 1);
    const rows = await c.var.db
      .select({ type: dunningLog.type, detail: dunningLog.detail, n: sql<number>`count(*)`, amount: sql<number>`coalesce(sum(${dunningLog.amount}), 0)`, payers: sql<number>`count(distinct ${dunningLog.payerId})` })
      .from(dunningLog)
      .where(and(eq(dunningLog.organisationId, c.var.organisationId), gte(dunningLog.at, from), lt(dunningLog.at, to)))
      .groupBy(dunningLog.type, dunningLog.detail);
    const sum = (type: string, f: 'n' | 'amount' | 'payers', detail?: string) =>
      rows.filter((x) => x.type === type && (detail === undefined || x.detail === detail)).reduce((s, x) => s + Number(x[f]), 0);
    const amountFailed = sum('case_opened', 'amount');
    const amountRecovered = sum('recovered', 'amount');
    const casesOpened = sum('case_opened', 'n');
    const churn = sum('end_of_line', 'n');
    return c.json(
      {
        month,
        casesOpened,
        amountFailed,
        casesRecovered: sum('recovered', 'n'),
        amountRecovered,
        recoveryRate: amountFailed > 0 ? amountRecovered / amountFailed : null,
        suspended: sum('suspended', 'n'),
        endOfLine: {
          cancel_at_period_end: sum('end_of_line', 'n', 'cancel_at_period_end'),
          mark_uncollectible: sum('end_of_line', 'n', 'mark_uncollectible'),
          collections: sum('end_of_line', 'n', 'collections'),
        },
        involuntaryChurn: churn,
        involuntaryChurnRate: casesOpened > 0 ? churn / casesOpened : null,
      },
      200,
    );
  })
  .openapi(r.getMemberDunning, async (c) => {
    const { id } = c.req.valid('param');
    await memberOrThrow(c.var.db, c.var.organisationId, id);
    return c.json(await memberDunning(c.var.db, c.var.organisationId, id), 200);
  })
  // Not in /openapi.json as an operation with a schema: a CSV file for the collections agency.
  .get('/v1/dunning/collections.csv', async (c) => {
    const rows = await c.var.db
      .select({ col: dunningCollections, name: members.name, email: members.email, phone: members.phone })
      .from(dunningCollections)
      .innerJoin(members, eq(members.id, dunningCollections.payerId))
      .where(eq(dunningCollections.organisationId, c.var.organisationId))
      .orderBy(asc(dunningCollections.createdAt), asc(dunningCollections.id));
    const header = ['member_id', 'name', 'email', 'phone', 'invoice_number', 'amount_minor', 'currency', 'handed_over_at'];
    const lines = [header.map(csvCell).join(',')];
    for (const x of rows) {
      lines.push([x.col.payerId, x.name, x.email, x.phone, x.col.invoiceNumber, x.col.amount, x.col.currency, iso(x.col.createdAt)].map(csvCell).join(','));
    }
    return c.body(lines.join('\r\n') + '\r\n', 200, {
      'content-type': 'text/csv; charset=utf-8',
      'content-disposition': 'attachment; filename="collections.csv"',
    });
  });

for (const [route, type] of memberActions) {
  router.openapi(route as typeof r.pauseMember, async (c) => {
    const { id } = c.req.valid('param');
    await memberOrThrow(c.var.db, c.var.organisationId, id);
    let note: string | null = null;
    try {
      note = ((await c.req.json()) as { note?: unknown })?.note?.toString().slice(0, 1000) ?? null;
    } catch {
      note = null;
    }
    await noteDunning(depsOf(c), c.var.organisationId, id, { type, note }, Date.now());
    return c.json(await memberDunning(c.var.db, c.var.organisationId, id), 200);
  });
}

export const dunningRouter = router;
export { cardPageRouter, payPageRouter };
