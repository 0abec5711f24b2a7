// A member's billing: balance, statement, and the card billing charges.
import { OpenAPIHono } from '@hono/zod-openapi';
import { eq } from 'drizzle-orm';
import { checkLedger } from '../../../core/billing/ledger.ts';
import { billingCustomers } from '../../db/schema.ts';
import type { AppEnv } from '../../env.ts';
import { iso } from '../../lib/time.ts';
import { completeSimulatedSetup, startCardSetup } from '../cards.ts';
import { dunningStateOf } from '../dunning-port.ts';
import { refused } from '../problems.ts';
import { ledgerOf, ledgerSources } from '../records.ts';
import * as r from '../routes.ts';
import { asProblem, cardOut, depsOf, ownMember } from './shared.ts';

export const billingMembersRouter = new OpenAPIHono<AppEnv>()
  .openapi(r.memberBalance, async (c) => {
    const { id } = c.req.valid('param');
    await ownMember(c, id);
    const ledger = ledgerOf(await ledgerSources(c.var.db, c.var.organisationId, id));
    const [card] = await c.var.db.select().from(billingCustomers).where(eq(billingCustomers.memberId, id));
    return c.json(
      {
        memberId: id,
        creditBalance: ledger.creditBalance,
        amountOwed: ledger.amountOwed,
        outstanding: ledger.outstanding,
        openInvoices: ledger.openInvoices,
        paymentMethod: card ? cardOut(card) : null,
        dunning: await dunningStateOf(c.var.db, id),
      },
      200,
    );
  })
  .openapi(r.memberStatement, async (c) => {
    const { id } = c.req.valid('param');
    await ownMember(c, id);
    const ledger = ledgerOf(await ledgerSources(c.var.db, c.var.organisationId, id));
    return c.json(
      {
        memberId: id,
        entries: ledger.entries.map((e) => ({ ...e, at: iso(e.at) })),
        invoiced: ledger.invoiced,
        credited: ledger.credited,
        paid: ledger.paid,
        refunded: ledger.refunded,
        balance: ledger.balance,
        consistent: checkLedger(ledger).holds,
      },
      200,
    );
  })
  .openapi(r.setupPaymentMethod, async (c) => {
    const { id } = c.req.valid('param');
    const body = c.req.valid('json');
    const member = await ownMember(c, id);
    try {
      return c.json(await startCardSetup(depsOf(c), member, body, Date.now()), 201);
    } catch (error) {
      return asProblem(error);
    }
  })
  .openapi(r.completeSimulatedSetupRoute, async (c) => {
    const { id } = c.req.valid('param');
    const body = c.req.valid('json');
    const member = await ownMember(c, id);
    const saved = await completeSimulatedSetup(depsOf(c), member, body, Date.now());
    if (!saved) throw refused('setupId', 'no_customer', 'start a payment method setup for this member first');
    return c.json(cardOut(saved), 200);
  });
