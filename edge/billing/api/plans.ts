// Plans: list, create, read, change, roll a new price out to subscribers, archive.
import { OpenAPIHono } from '@hono/zod-openapi';
import { and, asc, eq, isNull, ne, sql } from 'drizzle-orm';
import { plans, subscriptions } from '../../db/schema.ts';
import type { AppEnv } from '../../env.ts';
import { newId } from '../../lib/ids.ts';
import { ownedBy, pageOwned } from '../../lib/owned.ts';
import { planPrice, stateOf, type PlanRow } from '../records.ts';
import * as r from '../routes.ts';
import { actOnSubscription, SubscriptionRefused } from '../subscriptions.ts';
import { checkProfile, depsOf, ownPlan, planColumns, planOut } from './shared.ts';

export const billingPlansRouter = new OpenAPIHono<AppEnv>()
  // Plans
  .openapi(r.listPlans, async (c) => {
    const { includeArchived, ...page } = c.req.valid('query');
    return c.json(await pageOwned(c.var.db, plans, c.var.organisationId, page, planOut, includeArchived === 'true' ? undefined : isNull(plans.archivedAt)), 200);
  })
  .openapi(r.createPlan, async (c) => {
    const body = c.req.valid('json');
    await checkProfile(c, body.accessProfileId);
    const now = Date.now();
    const [row] = await c.var.db
      .insert(plans)
      .values({ id: newId('plan', now), organisationId: c.var.organisationId, currency: body.currency, ...(planColumns(body) as Required<Pick<PlanRow, 'name' | 'price' | 'interval'>>), createdAt: now, updatedAt: now })
      .returning();
    return c.json(planOut(row!), 201);
  })
  .openapi(r.getPlan, async (c) => c.json(planOut(await ownPlan(c, c.req.valid('param').id)), 200))
  .openapi(r.updatePlan, async (c) => {
    const { id } = c.req.valid('param');
    const body = c.req.valid('json');
    await ownPlan(c, id);
    await checkProfile(c, body.accessProfileId);
    const [row] = await c.var.db
      .update(plans)
      .set({ ...planColumns(body), updatedAt: Date.now() })
      .where(ownedBy(plans, id, c.var.organisationId))
      .returning();
    return c.json(planOut(row!), 200);
  })
  .openapi(r.rolloutPlanPrice, async (c) => {
    const { id } = c.req.valid('param');
    const { after } = c.req.valid('json');
    const plan = await ownPlan(c, id);
    const price = planPrice(plan);
    const PAGE = 100;
    // Running subscriptions on the plan whose price (now or from the next period) is not the plan's.
    const rows = await c.var.db
      .select({ id: subscriptions.id })
      .from(subscriptions)
      .where(
        and(
          eq(subscriptions.organisationId, c.var.organisationId),
          eq(subscriptions.planId, id),
          ne(subscriptions.status, 'ended'),
          after ? sql`${subscriptions.id} > ${after}` : undefined,
          sql`coalesce(json_extract(${subscriptions.state}, '$.pendingPlan.plan.unitAmount'), json_extract(${subscriptions.state}, '$.plan.unitAmount')) != ${price.unitAmount}`,
        ),
      )
      .orderBy(asc(subscriptions.id))
      .limit(PAGE + 1);
    const moved: Array<{ subscriptionId: string; from: string }> = [];
    const skipped: Array<{ subscriptionId: string; reason: string }> = [];
    for (const { id: subscriptionId } of rows.slice(0, PAGE)) {
      try {
        const { row } = await actOnSubscription(depsOf(c), subscriptionId, Date.now(), ({ date }) => ({ events: [{ type: 'change_plan', date, plan: price, timing: 'period_end' }] }));
        moved.push({ subscriptionId, from: stateOf(row).pendingPlan?.from ?? stateOf(row).asOf });
      } catch (error) {
        if (!(error instanceof SubscriptionRefused)) throw error;
        skipped.push({ subscriptionId, reason: `${error.reason}: ${error.detail}` });
      }
    }
    return c.json({ moved, skipped, nextAfter: rows.length > PAGE ? rows[PAGE - 1]!.id : null }, 200);
  })
  .openapi(r.archivePlan, async (c) => {
    const { id } = c.req.valid('param');
    await ownPlan(c, id);
    const now = Date.now();
    const [row] = await c.var.db
      .update(plans)
      .set({ archivedAt: sql`coalesce(${plans.archivedAt}, ${now})`, updatedAt: now })
      .where(ownedBy(plans, id, c.var.organisationId))
      .returning();
    return c.json(planOut(row!), 200);
  });
