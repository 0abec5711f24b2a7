// The pay-now page of dunning notices: GET /pay/{token} shows what the invoice still asks and a
// pay button (card; PromptPay too for THB); POST /pay/{token} creates the payment through the
// processor (createPayNowPayment) and uses the link up. The processor's confirmation (Stripe.js
// on the page, or the simulated processor) is reported back by the payment webhook like any other
// payment, which restores the membership. An unknown, expired or used link, or one whose invoice
// is settled, shows a page saying so and charges nothing. No API key: the token is the access.
import { Hono } from 'hono';
import { and, eq } from 'drizzle-orm';
import { drizzle } from 'drizzle-orm/d1';
import { formatMoney, isCurrency } from '../../core/billing/money.ts';
import { paymentProvider } from '../billing/deps.ts';
import { nextAttempt } from '../billing/invoices.ts';
import { loadInvoice, type InvoiceRow } from '../billing/records.ts';
import * as schema from '../db/schema.ts';
import { billingCustomers, members, organisations, payments } from '../db/schema.ts';
import type { AppEnv, Db } from '../env.ts';
import { newId } from '../lib/ids.ts';
import { checkPayLink, usePayLink } from './pay-links.ts';

const esc = (s: string) => s.replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`);

function page(title: string, body: string, status = 200) {
  const html = `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<meta name="robots" content="noindex"><title>${esc(title)}</title>
<style>body{font-family:system-ui,sans-serif;max-width:28rem;margin:3rem auto;padding:0 1rem;color:#222}h1{font-size:1.4rem}.amount{font-size:2rem;font-weight:600}button{font-size:1.1rem;padding:.6rem 1.2rem;margin:.3rem 0;width:100%}</style>
</head><body><h1>${esc(title)}</h1>${body}</body></html>`;
  return new Response(html, {
    status,
    headers: { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store', 'referrer-policy': 'no-referrer', 'x-frame-options': 'DENY' },
  });
}

const GONE: Record<'unknown' | 'expired' | 'used' | 'settled', [string, string]> = {
  unknown: ['Link not valid', 'This payment link is not valid. Please use the latest message from your gym, or ask at the front desk.'],
  expired: ['Link expired', 'This payment link has expired. Nothing was charged. Your gym will send you a new link, or you can pay at the front desk.'],
  used: ['Link already used', 'This payment link has already been used. Nothing more was charged.'],
  settled: ['Nothing to pay', 'This invoice has nothing left to pay. Thank you!'],
};
const gone = (reason: keyof typeof GONE) => page(GONE[reason][0], `<p>${esc(GONE[reason][1])}</p>`, reason === 'unknown' ? 404 : 410);

type Loaded = { ok: true; invoice: InvoiceRow; memberName: string; gymName: string; tokenHash: string } | { ok: false; response: Response };

async function load(db: Db, token: string, now: number): Promise<Loaded> {
  const check = await checkPayLink(db, token, now);
  if (!check.ok) return { ok: false, response: gone(check.reason) };
  const invoice = await loadInvoice(db, check.link.invoiceId);
  // The link is for one invoice of one member: anything else is treated as unknown.
  if (!invoice || invoice.organisationId !== check.link.organisationId || invoice.payerId !== check.link.memberId) return { ok: false, response: gone('unknown') };
  if ((invoice.status !== 'open' && invoice.status !== 'uncollectible') || invoice.amountRemaining <= 0) return { ok: false, response: gone('settled') };
  const [[member], [org]] = await db.batch([
    db.select({ name: members.name }).from(members).where(eq(members.id, check.link.memberId)),
    db.select({ name: organisations.name }).from(organisations).where(eq(organisations.id, check.link.organisationId)),
  ]);
  return { ok: true, invoice, memberName: member?.name ?? '', gymName: org?.name ?? '', tokenHash: check.link.tokenHash };
}

const money = (amount: number, currency: string) => (isCurrency(currency) ? formatMoney(amount, currency, 'en') : `${currency} ${amount}`);

export const payPageRouter = new Hono<AppEnv>()
  .get('/pay/:token', async (c) => {
    const db = drizzle(c.env.DB, { schema });
    const l = await load(db, c.req.param('token'), Date.now());
    if (!l.ok) return l.response;
    const inv = l.invoice;
    const promptpay = inv.currency === 'THB' ? `<button name="method" value="promptpay">Pay with PromptPay</button>` : '';
    return page(
      `Pay ${l.gymName}`,
      `<p>${esc(l.memberName)}, invoice ${esc(inv.number ?? '')}</p>
<p class="amount">${esc(money(inv.amountRemaining, inv.currency))}</p>
<form method="post"><button name="method" value="card">Pay by card</button>${promptpay}</form>`,
    );
  })
  .post('/pay/:token', async (c) => {
    const db = drizzle(c.env.DB, { schema });
    const now = Date.now();
    const token = c.req.param('token');
    const l = await load(db, token, now);
    if (!l.ok) return l.response;
    const form = await c.req.parseBody().catch(() => ({}) as Record<string, unknown>);
    const method = form['method'] === 'promptpay' ? 'promptpay' : 'card';
    const inv = l.invoice;
    if (method === 'promptpay' && inv.currency !== 'THB') return page('PromptPay not available', '<p>PromptPay is only available for payments in Thai baht.</p>', 400);
    // The link is used up before anything is created: a double submit creates one payment.
    if (!(await usePayLink(db, l.tokenHash, now))) return gone('used');
    const deps = { db, env: c.env, ctx: c.executionCtx };
    const provider = paymentProvider(deps);
    const [customer] = await db.select().from(billingCustomers).where(and(eq(billingCustomers.memberId, inv.payerId), eq(billingCustomers.provider, provider.name)));
    const attempt = await nextAttempt(db, inv.id);
    const key = `${inv.id}:paynow:${l.tokenHash.slice(0, 16)}`;
    const id = newId('pay', now);
    await db
      .insert(payments)
      .values({
        id,
        organisationId: inv.organisationId,
        payerId: inv.payerId,
        invoiceId: inv.id,
        provider: provider.name,
        method,
        attempt,
        idempotencyKey: key,
        status: 'pending',
        amount: inv.amountRemaining,
        currency: inv.currency,
        createdAt: now,
        updatedAt: now,
      })
      .onConflictDoNothing();
    const created = await provider.createPayNowPayment({
      amount: inv.amountRemaining,
      currency: inv.currency,
      idempotencyKey: key,
      metadata: { invoiceId: inv.id, organisationId: inv.organisationId, attempt },
      paymentMethodTypes: [method],
      ...(customer ? { customerId: customer.customerId } : {}),
      description: `Invoice ${inv.number ?? inv.id}`,
    });
    await db.update(payments).set({ providerPaymentId: created.paymentIntentId, updatedAt: now }).where(eq(payments.idempotencyKey, key));
    return page(
      `Pay ${l.gymName}`,
      `<p class="amount">${esc(money(inv.amountRemaining, inv.currency))}</p>
<p>Complete the payment below${method === 'promptpay' ? ' by scanning the PromptPay QR code with your banking app' : ''}.</p>
<div id="payment" data-payment-intent="${esc(created.paymentIntentId)}" data-client-secret="${esc(created.clientSecret)}" data-method="${method}"></div>`,
    );
  });
