// Dunning notices to members, through the notification outbox (edge/notifications/outbox.ts).
// Dunning speaks to a NoticeSink only, so it does not depend on how notices are rendered or sent;
// outboxNoticeSink fills in the template data (gym and member names, amount, pay-now or card link) and
// enqueues it with a dedupe key, so a step replayed after a lost race sends nothing twice.
import { and, eq } from 'drizzle-orm';
import type { Currency } from '../../core/billing/money.ts';
import { invoices, members, organisations } from '../db/schema.ts';
import type { Db } from '../env.ts';
import { enqueueNotice, isQueued, type NoticeTemplate } from '../notifications/index.ts';
import { createCardLink } from './card-links.ts';
import { memberLinkBase } from './link-base.ts';
import { createPayLink } from './pay-links.ts';

export type DunningNoticeKind = 'payment_failed' | 'update_card' | 'suspension_upcoming' | 'suspended' | 'restored' | 'payment_recovered' | 'final_notice';

export type DunningNotice = {
  organisationId: string;
  memberId: string;
  kind: DunningNoticeKind;
  payload: {
    invoiceNumber: string | null;
    amount: number;
    currency: string;
    nextRetryAt?: number | null;
    suspendsAt?: number | null;
    /** Makes the notice idempotent (e.g. the case's first failure and the attempt). */
    dedupeKey: string;
  };
};

export interface NoticeSink {
  notify(notice: DunningNotice): Promise<void>;
}

/** Notices that carry a pay-now link to the case's invoice. */
const PAY_LINK_KINDS: ReadonlySet<DunningNoticeKind> = new Set(['payment_failed', 'suspension_upcoming', 'suspended', 'final_notice']);

/**
 * The notification outbox. A notice that cannot be written (member without contact, bad data) is
 * logged, never thrown: dunning goes on. Links start at the organisation's payLinkBase, else the
 * Worker's PUBLIC_BASE_URL; with neither the notice goes without one (./link-base.ts).
 */
export function outboxNoticeSink(db: Db, opts: { now: number; payLinkBase: string | null; publicBaseUrl?: string | undefined }): NoticeSink {
  return {
    async notify(n) {
      try {
        const [[member], [org]] = await db.batch([
          db.select({ name: members.name, locale: members.locale }).from(members).where(and(eq(members.id, n.memberId), eq(members.organisationId, n.organisationId))),
          db.select({ name: organisations.name }).from(organisations).where(eq(organisations.id, n.organisationId)),
        ]);
        if (!member || !org) return;
        const dedupeKey = `dunning:${n.payload.dedupeKey}:${n.kind}`;
        // A step replayed after a lost race: the notice is written already, so no new link either.
        if (await isQueued(db, n.organisationId, dedupeKey)) return;
        const common = { gymName: org.name, memberName: member.name };
        const amount = { amount: n.payload.amount, currency: n.payload.currency as Currency };
        const wantsLink = n.kind === 'update_card' || (PAY_LINK_KINDS.has(n.kind) && n.payload.invoiceNumber !== null);
        const base = wantsLink ? memberLinkBase(opts.payLinkBase, opts.publicBaseUrl, { organisationId: n.organisationId, memberId: n.memberId, kind: n.kind }) : null;
        let payUrl: string | null = null;
        let updateCardUrl: string | null = null;
        if (base && n.kind === 'update_card') {
          updateCardUrl = `${base}/card/${await createCardLink(db, { organisationId: n.organisationId, memberId: n.memberId }, opts.now)}`;
        } else if (base && n.payload.invoiceNumber) {
          const [inv] = await db
            .select({ id: invoices.id })
            .from(invoices)
            .where(and(eq(invoices.organisationId, n.organisationId), eq(invoices.number, n.payload.invoiceNumber)));
          if (inv) payUrl = `${base}/pay/${await createPayLink(db, { organisationId: n.organisationId, memberId: n.memberId, invoiceId: inv.id }, opts.now)}`;
        }
        const data: Record<NoticeTemplate, unknown> = {
          payment_failed: { ...common, amount, payUrl, nextRetryAt: n.payload.nextRetryAt ?? null },
          update_card: { ...common, amount, updateCardUrl },
          suspension_upcoming: { ...common, amount, payUrl, suspendsAt: n.payload.suspendsAt ?? opts.now },
          suspended: { ...common, amount, payUrl },
          restored: { ...common },
          payment_recovered: { ...common, amount },
          final_notice: { ...common, amount, payUrl, deadline: null },
          renewal_upcoming: null,
          card_expiring: null,
          staff_invitation: null,
          member_sign_in: null,
        };
        await enqueueNotice(
          db,
          { organisationId: n.organisationId, memberId: n.memberId, template: n.kind, data: data[n.kind] as never, locale: member.locale, dedupeKey },
          opts.now,
        );
      } catch (error) {
        console.error(JSON.stringify({ msg: 'dunning notice not written', memberId: n.memberId, kind: n.kind, error: String(error) }));
      }
    },
  };
}
