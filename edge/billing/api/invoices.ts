// Invoices, credit notes, payments, refunds and pending items.
import { OpenAPIHono } from '@hono/zod-openapi';
import { and, asc, eq, inArray, isNull, sql } from 'drizzle-orm';
import { creditNotes, invoices, payments, pendingItems, refunds } from '../../db/schema.ts';
import type { AppEnv } from '../../env.ts';
import { pageOf } from '../../lib/pagination.ts';
import { conflict, notFound } from '../../lib/problem.ts';
import { addPendingItem as addPendingItemOp, chargeAgain, createCreditNote, deletePendingItem, markUncollectible, recordManualPayment, refundFromCredit, voidInvoice } from '../documents.ts';
import * as r from '../routes.ts';
import { asProblem, checkPayerCurrency, creditNoteOut, depsOf, invoiceOut, ownInvoice, ownMember, ownPayment, paymentOut, pendingOut, refundOut } from './shared.ts';
import { matching, ownedBy, pageOwned } from '../../lib/owned.ts';

export const billingInvoicesRouter = new OpenAPIHono<AppEnv>()
  // Invoices
  .openapi(r.listInvoices, async (c) => {
    const { limit, cursor, ...filters } = c.req.valid('query');
    return c.json(await pageOwned(c.var.db, invoices, c.var.organisationId, { limit, cursor, newestFirst: true }, invoiceOut, matching(invoices, filters)), 200);
  })
  .openapi(r.getInvoice, async (c) => c.json(invoiceOut(await ownInvoice(c, c.req.valid('param').id)), 200))
  .openapi(r.voidInvoiceRoute, async (c) => {
    const invoice = await ownInvoice(c, c.req.valid('param').id);
    return c.json(invoiceOut(await voidInvoice(depsOf(c), invoice, Date.now())), 200);
  })
  .openapi(r.markUncollectibleRoute, async (c) => {
    const invoice = await ownInvoice(c, c.req.valid('param').id);
    return c.json(invoiceOut(await markUncollectible(depsOf(c), invoice, Date.now())), 200);
  })
  .openapi(r.recordPayment, async (c) => {
    const invoice = await ownInvoice(c, c.req.valid('param').id);
    const body = c.req.valid('json');
    return c.json(paymentOut(await recordManualPayment(depsOf(c), invoice, body, Date.now())), 201);
  })
  .openapi(r.chargeInvoiceRoute, async (c) => {
    const invoice = await ownInvoice(c, c.req.valid('param').id);
    try {
      return c.json(paymentOut(await chargeAgain(depsOf(c), invoice, Date.now())), 201);
    } catch (error) {
      return asProblem(error);
    }
  })
  .openapi(r.createCreditNoteRoute, async (c) => {
    const invoice = await ownInvoice(c, c.req.valid('param').id);
    const body = c.req.valid('json');
    const { note, refunds } = await createCreditNote(depsOf(c), invoice, body, Date.now());
    return c.json(creditNoteOut(note, invoice.number ?? '', refunds), 201);
  })
  .openapi(r.listCreditNotes, async (c) => {
    const { limit, cursor, invoiceId, payerId } = c.req.valid('query');
    const db = c.var.db;
    const rows = await db
      .select({ note: creditNotes, invoiceNumber: invoices.number })
      .from(creditNotes)
      .innerJoin(invoices, eq(creditNotes.invoiceId, invoices.id))
      .where(
        and(
          eq(creditNotes.organisationId, c.var.organisationId),
          invoiceId ? eq(creditNotes.invoiceId, invoiceId) : undefined,
          payerId ? eq(creditNotes.payerId, payerId) : undefined,
          cursor ? sql`${creditNotes.id} > ${cursor}` : undefined,
        ),
      )
      .orderBy(asc(creditNotes.id))
      .limit(limit + 1);
    const ids = rows.map((x) => x.note.id);
    const refundRows = ids.length ? await db.select().from(refunds).where(inArray(refunds.creditNoteId, ids)) : [];
    return c.json(
      pageOf(rows, limit, (x) => creditNoteOut(x.note, x.invoiceNumber ?? '', refundRows.filter((f) => f.creditNoteId === x.note.id)), (x) => x.note.id),
      200,
    );
  })
  .openapi(r.listPayments, async (c) => {
    const { limit, cursor, ...filters } = c.req.valid('query');
    return c.json(await pageOwned(c.var.db, payments, c.var.organisationId, { limit, cursor, newestFirst: true }, paymentOut, matching(payments, filters)), 200);
  })
  .openapi(r.refundPayment, async (c) => {
    const payment = await ownPayment(c, c.req.valid('param').id);
    const body = c.req.valid('json');
    return c.json(refundOut(await refundFromCredit(depsOf(c), payment, body, Date.now())), 201);
  })

  // Per member
  .openapi(r.addPendingItem, async (c) => {
    const { id } = c.req.valid('param');
    const body = c.req.valid('json');
    await ownMember(c, id);
    await checkPayerCurrency(c, id, body.currency, 'currency');
    try {
      const { item, invoice } = await addPendingItemOp(depsOf(c), c.var.organisationId, id, body, Date.now());
      return c.json({ item: pendingOut(item), invoice: invoice ? invoiceOut(invoice) : null }, 201);
    } catch (error) {
      return asProblem(error);
    }
  })
  .openapi(r.listPendingItems, async (c) => {
    const { id } = c.req.valid('param');
    await ownMember(c, id);
    const rows = await c.var.db
      .select()
      .from(pendingItems)
      .where(and(eq(pendingItems.memberId, id), eq(pendingItems.organisationId, c.var.organisationId), isNull(pendingItems.invoiceId)))
      .orderBy(asc(pendingItems.createdAt));
    return c.json({ data: rows.map(pendingOut), nextCursor: null }, 200);
  })
  .openapi(r.deletePendingItemRoute, async (c) => {
    const { id } = c.req.valid('param');
    const [row] = await c.var.db.select().from(pendingItems).where(ownedBy(pendingItems, id, c.var.organisationId));
    if (!row) throw notFound('Pending item', id);
    if (!(await deletePendingItem(depsOf(c), c.var.organisationId, id))) throw conflict('id', 'the item is on an invoice already; correct it with a credit note');
    return c.json({ id, deleted: true as const }, 200);
  });
