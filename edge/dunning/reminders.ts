// Reminders before money moves: a renewal coming up, and a saved card about to expire (with a link
// to the update-card page, /card/{token}). Run by the daily cron; each reminder has a dedupe key, so
// running twice writes it once.
import { and, eq, gt, inArray, isNotNull, lte } from 'drizzle-orm';
import type { Currency } from '../../core/billing/money.ts';
import { billingCustomers, dunningPolicies, members, organisations, plans, subscriptions } from '../db/schema.ts';
import type { Db } from '../env.ts';
import { enqueueNotice, isQueued } from '../notifications/index.ts';
import { createCardLink } from './card-links.ts';
import { memberLinkBase } from './link-base.ts';

const DAY = 86_400_000;
/** Days before a renewal that the member hears of it. */
export const RENEWAL_NOTICE_DAYS = 3;
/** Days before the end of a card's expiry month that the member is asked to update it. */
export const CARD_NOTICE_DAYS = 30;

/** `publicBaseUrl`: the Worker's PUBLIC_BASE_URL, where card links point when the organisation set no payLinkBase. */
export async function enqueueReminders(db: Db, now: number, publicBaseUrl?: string): Promise<{ renewals: number; cards: number }> {
  let renewals = 0;
  let cards = 0;
  // The next review of an active subscription is the start of its next period: the renewal.
  const renewing = await db
    .select({
      subscriptionId: subscriptions.id,
      organisationId: subscriptions.organisationId,
      payerId: subscriptions.payerId,
      renewsAt: subscriptions.nextReviewAt,
      price: plans.price,
      currency: plans.currency,
      gymName: organisations.name,
      memberName: members.name,
      locale: members.locale,
      cardLast4: billingCustomers.cardLast4,
    })
    .from(subscriptions)
    .innerJoin(plans, eq(plans.id, subscriptions.planId))
    .innerJoin(members, eq(members.id, subscriptions.payerId))
    .innerJoin(organisations, eq(organisations.id, subscriptions.organisationId))
    .leftJoin(billingCustomers, eq(billingCustomers.memberId, subscriptions.payerId))
    .where(and(inArray(subscriptions.status, ['active', 'trialing']), gt(subscriptions.nextReviewAt, now), lte(subscriptions.nextReviewAt, now + RENEWAL_NOTICE_DAYS * DAY)));
  for (const r of renewing) {
    try {
      const written = await enqueueNotice(
        db,
        {
          organisationId: r.organisationId,
          memberId: r.payerId,
          template: 'renewal_upcoming',
          data: {
            gymName: r.gymName,
            memberName: r.memberName,
            amount: { amount: r.price, currency: r.currency as Currency },
            renewsAt: r.renewsAt as number,
            cardLast4: r.cardLast4 && /^\d{4}$/.test(r.cardLast4) ? r.cardLast4 : null,
          },
          locale: r.locale,
          dedupeKey: `renewal:${r.subscriptionId}:${r.renewsAt}`,
        },
        now,
      );
      renewals += written.length;
    } catch (error) {
      console.error(JSON.stringify({ msg: 'renewal reminder not written', subscriptionId: r.subscriptionId, error: String(error) }));
    }
  }

  const saved = await db
    .select({
      memberId: billingCustomers.memberId,
      organisationId: billingCustomers.organisationId,
      cardLast4: billingCustomers.cardLast4,
      expMonth: billingCustomers.cardExpMonth,
      expYear: billingCustomers.cardExpYear,
      gymName: organisations.name,
      memberName: members.name,
      locale: members.locale,
      payLinkBase: dunningPolicies.payLinkBase,
    })
    .from(billingCustomers)
    .innerJoin(members, eq(members.id, billingCustomers.memberId))
    .innerJoin(organisations, eq(organisations.id, billingCustomers.organisationId))
    .leftJoin(dunningPolicies, eq(dunningPolicies.organisationId, billingCustomers.organisationId))
    .where(and(isNotNull(billingCustomers.cardExpMonth), isNotNull(billingCustomers.cardExpYear), isNotNull(billingCustomers.cardLast4)));
  for (const c of saved) {
    // A card works until the end of its expiry month.
    const endsAt = Date.UTC(c.expYear as number, c.expMonth as number, 1);
    if (endsAt <= now || endsAt > now + CARD_NOTICE_DAYS * DAY || !/^\d{4}$/.test(c.cardLast4 ?? '')) continue;
    try {
      const dedupeKey = `card:${c.memberId}:${c.expYear}-${c.expMonth}`;
      // The daily run meets the same card every day of the month before: one notice, one link.
      if (await isQueued(db, c.organisationId, dedupeKey)) continue;
      const base = memberLinkBase(c.payLinkBase, publicBaseUrl, { organisationId: c.organisationId, memberId: c.memberId, kind: 'card_expiring' });
      const updateCardUrl = base ? `${base}/card/${await createCardLink(db, { organisationId: c.organisationId, memberId: c.memberId }, now)}` : null;
      const written = await enqueueNotice(
        db,
        {
          organisationId: c.organisationId,
          memberId: c.memberId,
          template: 'card_expiring',
          data: {
            gymName: c.gymName,
            memberName: c.memberName,
            cardLast4: c.cardLast4 as string,
            expMonth: c.expMonth as number,
            expYear: c.expYear as number,
            updateCardUrl,
          },
          locale: c.locale,
          dedupeKey,
        },
        now,
      );
      cards += written.length;
    } catch (error) {
      console.error(JSON.stringify({ msg: 'card reminder not written', memberId: c.memberId, error: String(error) }));
    }
  }
  return { renewals, cards };
}
