import { createRoute } from '@hono/zod-openapi';
import { z } from 'zod';
import { DunningPolicy, DunningState } from '../../core/billing/dunning.ts';
import { IdParam } from '../../core/contracts/api.ts';
import { json, jsonBody, ownerAuth, problems } from '../lib/openapi.ts';

const tags = ['Dunning'];

const PayLinkBase = z
  .url({ protocol: /^https?$/ })
  .max(200)
  .nullable()
  .meta({ description: 'Origin of the pay-now and update-card links in notices (the Worker serves /pay/{token} and /card/{token}); null: the Worker\'s PUBLIC_BASE_URL' });

export const DunningSettingsOut = z.object({ policy: DunningPolicy, payLinkBase: PayLinkBase }).meta({ id: 'DunningSettings' });
export const DunningSettingsIn = z
  .object({ policy: DunningPolicy, payLinkBase: PayLinkBase.optional() })
  .meta({ id: 'DunningSettingsUpdate', description: 'The whole policy; fields left out take their defaults' });

export const NEXT_ACTIONS = ['retry', 'awaiting_charge_result', 'awaiting_card_update', 'end_of_line_applied', 'paused', 'excluded'] as const;

export const DunningQueueEntry = z
  .object({
    memberId: z.string(),
    memberName: z.string(),
    invoiceNumber: z.string().nullable(),
    amountOwed: z.number().int().meta({ description: 'Minor units' }),
    currency: z.string(),
    step: z.enum(['idle', 'retrying', 'charging', 'awaiting_card', 'exhausted']),
    attempts: z.number().int(),
    suspended: z.boolean(),
    lastDeclineCode: z.string().nullable(),
    firstFailedAt: z.string().nullable(),
    nextAction: z.enum(NEXT_ACTIONS),
    nextActionAt: z.string().nullable(),
    suspendsAt: z.string().nullable().meta({ description: 'When grace by days ends, while not suspended' }),
  })
  .meta({ id: 'DunningQueueEntry' });

export const DunningMetrics = z
  .object({
    month: z.string(),
    casesOpened: z.number().int(),
    amountFailed: z.number().int(),
    casesRecovered: z.number().int(),
    amountRecovered: z.number().int(),
    recoveryRate: z.number().nullable().meta({ description: 'amountRecovered / amountFailed; null when nothing failed' }),
    suspended: z.number().int(),
    endOfLine: z.object({ cancel_at_period_end: z.number().int(), mark_uncollectible: z.number().int(), collections: z.number().int() }),
    involuntaryChurn: z.number().int().meta({ description: 'Members whose case reached the end of the line this month' }),
    involuntaryChurnRate: z.number().nullable().meta({ description: 'involuntaryChurn / casesOpened' }),
  })
  .meta({ id: 'DunningMetrics' });

export const DunningLogEntry = z.object({ type: z.string(), invoiceNumber: z.string().nullable(), amount: z.number().int().nullable(), detail: z.string().nullable(), note: z.string().nullable(), at: z.string() });
export const MemberDunning = z.object({ memberId: z.string(), state: DunningState.nullable(), log: z.array(DunningLogEntry) }).meta({ id: 'MemberDunning' });

const Note = z.object({ note: z.string().trim().max(1000).optional() });

export const getPolicy = createRoute({
  method: 'get', path: '/v1/dunning/policy', 'x-permission': 'dunning:read', tags, security: ownerAuth, summary: 'The organisation’s dunning policy',
  responses: { 200: json(DunningSettingsOut, 'Policy'), ...problems(401) },
});
export const putPolicy = createRoute({
  method: 'put', path: '/v1/dunning/policy', 'x-permission': 'dunning:write', tags, security: ownerAuth, summary: 'Set the dunning policy (retry days, attempts, window, grace days and amount, end of line)',
  request: { body: jsonBody(DunningSettingsIn) },
  responses: { 200: json(DunningSettingsOut, 'Policy'), ...problems(400, 401) },
});
export const getQueue = createRoute({
  method: 'get', path: '/v1/dunning/queue', 'x-permission': 'dunning:read', tags, security: ownerAuth, summary: 'Members in dunning: amount, step, next action and its date',
  responses: { 200: json(z.object({ data: z.array(DunningQueueEntry) }), 'Queue'), ...problems(401) },
});
export const getMetrics = createRoute({
  method: 'get', path: '/v1/dunning/metrics', 'x-permission': 'dunning:read', tags, security: ownerAuth, summary: 'Recovery and involuntary churn in a month (UTC)',
  request: { query: z.object({ month: z.string().regex(/^\d{4}-(0[1-9]|1[0-2])$/) }) },
  responses: { 200: json(DunningMetrics, 'Metrics'), ...problems(400, 401) },
});
export const getMemberDunning = createRoute({
  method: 'get', path: '/v1/members/{id}/dunning', 'x-permission': 'dunning:read', tags, security: ownerAuth, summary: 'A member’s dunning state and log',
  request: { params: IdParam },
  responses: { 200: json(MemberDunning, 'Dunning'), ...problems(401, 404) },
});
const memberAction = (action: 'pause' | 'resume' | 'exclude' | 'include', summary: string) =>
  createRoute({
    method: 'post', path: `/v1/members/{id}/dunning/${action}`, 'x-permission': 'dunning:write', tags, security: ownerAuth, summary,
    request: { params: IdParam, body: { required: false, content: { 'application/json': { schema: Note } } } },
    responses: { 200: json(MemberDunning, 'Dunning'), ...problems(400, 401, 404) },
  });
export const pauseMember = memberAction('pause', 'Pause dunning for a member (no retries, notices or suspension), with a note');
export const resumeMember = memberAction('resume', 'Resume dunning for a member');
export const excludeMember = memberAction('exclude', 'Exclude a member from dunning (e.g. pays at the desk)');
export const includeMember = memberAction('include', 'Include an excluded member in dunning again');
