// Subscriptions: list, start, read, change plan, freeze, cancel, family members; billing settings.
import { OpenAPIHono } from '@hono/zod-openapi';
import { and, eq, inArray, ne } from 'drizzle-orm';
import { startSubscription, entitlementOf } from '../../../core/billing/subscription.ts';
import { invoiceSequences, members, plans, subscriptionMembers, subscriptions } from '../../db/schema.ts';
import type { AppEnv } from '../../env.ts';
import { newId } from '../../lib/ids.ts';
import { conflict, invalidField } from '../../lib/problem.ts';
import { freezeFeeOf, loadPlan, planPrice, planTerms } from '../records.ts';
import * as r from '../routes.ts';
import { accessGraceDays } from '../subscription-writes.ts';
import { addMemberPlan, removeMemberPlan, settleAfterChange } from '../subscriptions.ts';
import { checkPayerCurrency, depsOf, homeSite, ownSubscription, subscriptionAction, subscriptionOut } from './shared.ts';
import { matching, ownedBy, pageOwned } from '../../lib/owned.ts';

export const billingSubscriptionsRouter = new OpenAPIHono<AppEnv>()
  // Subscriptions
  .openapi(r.listSubscriptions, async (c) => {
    const { limit, cursor, ...filters } = c.req.valid('query');
    const grace = await accessGraceDays(depsOf(c), c.var.organisationId);
    return c.json(await pageOwned(c.var.db, subscriptions, c.var.organisationId, { limit, cursor }, (row) => subscriptionOut(row, grace), matching(subscriptions, filters)), 200);
  })
  .openapi(r.createSubscription, async (c) => {
    const body = c.req.valid('json');
    const db = c.var.db;
    const org = c.var.organisationId;
    const now = Date.now();
    const memberIds = body.memberIds ?? [body.payerId];
    if (new Set(memberIds).size !== memberIds.length) throw invalidField('memberIds', 'must be distinct');
    const [plan] = await db.select().from(plans).where(and(eq(plans.id, body.planId), eq(plans.organisationId, org)));
    if (!plan) throw invalidField('planId', `no plan with id ${body.planId}`);
    if (plan.archivedAt !== null) throw invalidField('planId', 'the plan is archived');
    if (memberIds.length > plan.maxMembers) throw invalidField('memberIds', `the plan covers at most ${plan.maxMembers} member${plan.maxMembers === 1 ? '' : 's'}`);
    const people = await db.select().from(members).where(and(eq(members.organisationId, org), inArray(members.id, [...new Set([body.payerId, ...memberIds])])));
    const payer = people.find((m) => m.id === body.payerId);
    if (!payer) throw invalidField('payerId', `no member with id ${body.payerId}`);
    memberIds.forEach((id, i) => {
      if (!people.some((m) => m.id === id)) throw invalidField(`memberIds.${i}`, `no member with id ${id}`);
    });
    const taken = await db
      .select({ memberId: subscriptionMembers.memberId, subscriptionId: subscriptions.id })
      .from(subscriptionMembers)
      .innerJoin(subscriptions, eq(subscriptionMembers.subscriptionId, subscriptions.id))
      .where(and(inArray(subscriptionMembers.memberId, memberIds), ne(subscriptions.status, 'ended')));
    if (taken[0]) throw conflict('memberIds', `member ${taken[0].memberId} is already covered by subscription ${taken[0].subscriptionId}`);
    await checkPayerCurrency(c, body.payerId, plan.currency, 'planId');
    const home = await homeSite(c, body.homeSiteId, payer, plan);
    const state = startSubscription({
      payerId: body.payerId,
      memberIds,
      maxMembers: plan.maxMembers,
      plan: planPrice(plan),
      interval: plan.interval,
      startDate: body.startDate,
      trialDays: body.trialDays ?? plan.trialDays,
      terms: planTerms(plan),
    });
    const id = newId('sub', now);
    await db.batch([
      db.insert(subscriptions).values({
        id,
        organisationId: org,
        payerId: body.payerId,
        planId: plan.id,
        state,
        status: entitlementOf(state).status,
        homeSiteId: home.siteId,
        timezone: home.timezone,
        // Due at once: if billing below cannot finish, the next run picks the subscription up.
        nextReviewOn: state.startDate,
        nextReviewAt: now,
        joiningFeeDue: plan.joiningFee > 0,
        pendingProrations: [],
        createdAt: now,
        updatedAt: now,
      }),
      ...memberIds.map((memberId) => db.insert(subscriptionMembers).values({ subscriptionId: id, memberId, organisationId: org, createdAt: now })),
    ]);
    await settleAfterChange(depsOf(c), id, org, null, now);
    const [row] = await db.select().from(subscriptions).where(eq(subscriptions.id, id));
    return c.json(subscriptionOut(row!, await accessGraceDays(depsOf(c), org)), 201);
  })
  .openapi(r.getSubscription, async (c) =>
    c.json(subscriptionOut(await ownSubscription(c, c.req.valid('param').id), await accessGraceDays(depsOf(c), c.var.organisationId)), 200),
  )
  .openapi(r.changeSubscriptionPlan, async (c) => {
    const { id } = c.req.valid('param');
    const body = c.req.valid('json');
    const target = await loadPlan(c.var.db, c.var.organisationId, body.planId);
    if (!target) throw invalidField('planId', `no plan with id ${body.planId}`);
    if (target.archivedAt !== null) throw invalidField('planId', 'the plan is archived');
    const current = await ownSubscription(c, id);
    const [currentPlan] = await c.var.db.select().from(plans).where(eq(plans.id, current.planId));
    if (currentPlan && (currentPlan.currency !== target.currency || currentPlan.interval !== target.interval)) {
      throw invalidField('planId', `a plan change keeps the currency and the interval (${currentPlan.currency}, ${currentPlan.interval})`);
    }
    return c.json(await subscriptionAction(c, id, ({ date }) => ({ events: [{ type: 'change_plan', date, plan: planPrice(target), timing: body.timing }] })), 200);
  })
  .openapi(r.freezeSubscription, async (c) => {
    const { id } = c.req.valid('param');
    const body = c.req.valid('json');
    return c.json(
      await subscriptionAction(c, id, async ({ date, row }) => {
        const [plan] = await c.var.db.select().from(plans).where(eq(plans.id, row.planId));
        return { events: [{ type: 'freeze', date, from: body.from, to: body.to, fee: plan ? freezeFeeOf(plan) : null }] };
      }),
      200,
    );
  })
  .openapi(r.unfreezeSubscription, async (c) => c.json(await subscriptionAction(c, c.req.valid('param').id, ({ date }) => ({ events: [{ type: 'unfreeze', date }] })), 200))
  .openapi(r.cancelSubscription, async (c) => {
    const { id } = c.req.valid('param');
    const body = c.req.valid('json');
    return c.json(await subscriptionAction(c, id, ({ date }) => ({ events: [{ type: 'cancel', date, ...(body.endsOn ? { endsOn: body.endsOn } : {}) }] })), 200);
  })
  .openapi(r.withdrawCancellation, async (c) => c.json(await subscriptionAction(c, c.req.valid('param').id, ({ date }) => ({ events: [{ type: 'withdraw_cancellation', date }] })), 200))

  // Family and group plans
  .openapi(r.addSubscriptionMember, async (c) => {
    const { id } = c.req.valid('param');
    const { memberId } = c.req.valid('json');
    const db = c.var.db;
    await ownSubscription(c, id);
    const [member] = await db.select({ id: members.id }).from(members).where(ownedBy(members, memberId, c.var.organisationId));
    if (!member) throw invalidField('memberId', `no member with id ${memberId}`);
    const [taken] = await db
      .select({ subscriptionId: subscriptions.id })
      .from(subscriptionMembers)
      .innerJoin(subscriptions, eq(subscriptionMembers.subscriptionId, subscriptions.id))
      .where(and(eq(subscriptionMembers.memberId, memberId), ne(subscriptions.status, 'ended')));
    if (taken) throw conflict('memberId', `member ${memberId} is already covered by subscription ${taken.subscriptionId}`);
    return c.json(await subscriptionAction(c, id, addMemberPlan(db, c.var.organisationId, id, memberId, Date.now())), 200);
  })
  .openapi(r.removeSubscriptionMember, async (c) => {
    const { id, memberId } = c.req.valid('param');
    return c.json(await subscriptionAction(c, id, removeMemberPlan(c.var.db, c.var.organisationId, id, memberId, Date.now())), 200);
  })

  // Invoice numbering
  .openapi(r.getBillingSettings, async (c) => {
    const [row] = await c.var.db.select({ prefix: invoiceSequences.prefix }).from(invoiceSequences).where(eq(invoiceSequences.organisationId, c.var.organisationId));
    return c.json({ invoicePrefix: row?.prefix ?? 'INV' }, 200);
  })
  .openapi(r.putBillingSettings, async (c) => {
    const { invoicePrefix } = c.req.valid('json');
    await c.var.db
      .insert(invoiceSequences)
      .values({ organisationId: c.var.organisationId, prefix: invoicePrefix })
      .onConflictDoUpdate({ target: invoiceSequences.organisationId, set: { prefix: invoicePrefix } });
    return c.json({ invoicePrefix }, 200);
  });
