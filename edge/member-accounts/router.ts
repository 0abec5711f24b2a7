// Member sign-in and the member's own data through the API. Every /v1/me route reads the member
// from the member session; nothing here takes an id from the caller.
import { OpenAPIHono } from '@hono/zod-openapi';
import { and, desc, eq, ne } from 'drizzle-orm';
import { invoices } from '../db/schema.ts';
import type { AppEnv, Db } from '../env.ts';
import { isoOrNull } from '../lib/time.ts';
import { getMe, memberSignOut, myInvoices, startSignIn, useLink, verifyCode } from './routes.ts';
import { endMemberSession, memberSessionOut, resolveMemberSession, startMemberSignIn, useMemberLink, verifyMemberCode } from './sign-in.ts';

/** The invoices a member pays (their own and their family's on a subscription they pay for), newest first. */
export async function invoicesPaidBy(db: Db, organisationId: string, memberId: string) {
  const rows = await db
    .select()
    .from(invoices)
    .where(and(eq(invoices.organisationId, organisationId), eq(invoices.payerId, memberId), ne(invoices.status, 'draft')))
    .orderBy(desc(invoices.id))
    .limit(100);
  return rows.map((r) => ({
    id: r.id,
    number: r.number,
    status: r.status as 'open' | 'paid' | 'void' | 'uncollectible',
    currency: r.currency,
    total: r.total,
    amountRemaining: r.amountRemaining,
    periodStart: r.periodStart,
    periodEnd: r.periodEnd,
    issuedAt: isoOrNull(r.finalisedAt),
  }));
}

export const memberAccountsRouter = new OpenAPIHono<AppEnv>()
  .openapi(startSignIn, async (c) => c.json(await startMemberSignIn(c, c.req.valid('json')), 202))
  .openapi(useLink, async (c) => c.json(memberSessionOut(await useMemberLink(c, c.req.valid('json').token)), 201))
  .openapi(verifyCode, async (c) => c.json(memberSessionOut(await verifyMemberCode(c, c.req.valid('json'))), 201))
  .openapi(getMe, async (c) => c.json(memberSessionOut(await resolveMemberSession(c)), 200))
  .openapi(myInvoices, async (c) => {
    const me = await resolveMemberSession(c);
    return c.json({ data: await invoicesPaidBy(c.var.db, me.organisation.id, me.member.id) }, 200);
  })
  .openapi(memberSignOut, async (c) => {
    const me = await resolveMemberSession(c);
    await endMemberSession(c, me);
    return c.json({ id: me.session.id, signedOut: true as const }, 200);
  });
