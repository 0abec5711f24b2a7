// Billing runs that overlap or repeat must create and charge nothing twice, and invoice numbers
// must stay gap-free: all of it guaranteed by unique constraints and conditional writes in D1.
import { env } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { computeDraftInvoice } from '../../core/billing/invoice.ts';
import { finaliseInvoice, insertDraftInvoice } from '../../edge/billing/invoices.ts';
import { newId } from '../../edge/lib/ids.ts';
import { billingDeps, billingGym, bkk, expectLedgerHolds, invoicesOf, run, saveSimulatedCard, subscribe, useBillingClock } from './billing-helpers.ts';

useBillingClock();

const count = async (sql: string, ...params: unknown[]) => (await env.DB.prepare(sql).bind(...params).first<{ n: number }>())!.n;

describe('overlapping and repeated runs', () => {
  it('two runs at once create one invoice and one charge; running again changes nothing', async () => {
    const g = await billingGym();
    await saveSimulatedCard(g, g.member.id);
    const sub = await subscribe(g);
    expect(await count('SELECT count(*) AS n FROM invoices WHERE subscription_id = ?', sub.id)).toBe(1);

    const now = bkk('2030-02-15', '03:17');
    const [a, b] = await Promise.all([run(g, now), run(g, now)]);
    expect(a.length + b.length).toBeGreaterThanOrEqual(1);
    expect(await count('SELECT count(*) AS n FROM invoices WHERE subscription_id = ?', sub.id)).toBe(2);
    expect(await count("SELECT count(*) AS n FROM payments WHERE payer_id = ? AND provider = 'simulated'", g.member.id)).toBe(2);

    // Again, and again at once with a direct call for the same subscription: nothing new.
    await Promise.all([run(g, now), run(g, now + 60_000), run(g, now + 3_600_000)]);
    expect(await count('SELECT count(*) AS n FROM invoices WHERE subscription_id = ?', sub.id)).toBe(2);
    expect(await count('SELECT count(*) AS n FROM payments WHERE payer_id = ?', g.member.id)).toBe(2);
    // The processor itself saw one payment intent per invoice.
    const customer = (await g.api('GET', `/v1/members/${g.member.id}/billing`)).body.paymentMethod.customerId;
    expect(await count("SELECT count(*) AS n FROM simulated_processor_records WHERE key LIKE 'payment_intent:%' AND value LIKE ?", `%"customerId":"${customer}"%`)).toBe(2);
    const invoices = await invoicesOf(g, g.member.id);
    expect(invoices.map((i) => [i.number, i.status, i.amountPaid])).toEqual([
      ['INV-000001', 'paid', 199_000],
      ['INV-000002', 'paid', 199_000],
    ]);
    const current = (await g.api('GET', `/v1/subscriptions/${sub.id}`)).body;
    expect(current).toMatchObject({ status: 'active', paidThrough: '2030-03-15', nextReviewOn: '2030-03-15' });
    await expectLedgerHolds(g, g.member.id);
  });

  it('several subscriptions billed by overlapping runs get consecutive numbers, once each', async () => {
    const g = await billingGym();
    const payers = [g.member.id];
    for (const name of ['Nok C.', 'Anan W.', 'Ploy S.']) payers.push((await g.api('POST', '/v1/members', { name })).body.id);
    for (const p of payers) {
      await saveSimulatedCard(g, p);
      await subscribe(g, { payerId: p });
    }
    const now = bkk('2030-02-15', '03:17');
    await Promise.all([run(g, now), run(g, now), run(g, now)]);
    const numbers = (await env.DB.prepare('SELECT number FROM invoices WHERE organisation_id = ? ORDER BY number').bind(g.organisationId).all<{ number: string }>()).results.map(
      (r) => r.number,
    );
    expect(numbers).toEqual(Array.from({ length: 8 }, (_, i) => `INV-${String(i + 1).padStart(6, '0')}`));
    expect(await count('SELECT next_invoice AS n FROM invoice_sequences WHERE organisation_id = ?', g.organisationId)).toBe(9);
    expect(await count('SELECT count(*) AS n FROM payments WHERE organisation_id = ?', g.organisationId)).toBe(8);
  });
});

describe('gap-free numbering', () => {
  it('takes a number only for a real draft → open transition, even when finalised twice at once', async () => {
    const g = await billingGym();
    const { db } = billingDeps(g.env);
    const draft = computeDraftInvoice({ currency: 'THB', period: null, plan: null, pendingItems: [{ id: 'x', kind: 'shop_sale', description: 'Protein bar', quantity: 2, unitAmount: 6_500, taxRate: null }] });
    if (!draft.ok) throw new Error(draft.detail);
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      const id = newId('inv');
      ids.push(id);
      const stored = {
        id,
        organisationId: g.organisationId,
        payerId: g.member.id,
        subscriptionId: null,
        reason: 'one_off' as const,
        sourceKey: `test:${i}`,
        invoice: draft.invoice,
        pendingItemIds: [],
        guard: null,
        after: [],
        now: Date.now(),
      };
      expect(await insertDraftInvoice(db, stored)).toBe(true);
      // The same source key again loses and writes nothing.
      expect(await insertDraftInvoice(db, { ...stored, id: newId('inv') })).toBe(false);
    }
    const finalised = await Promise.all(ids.flatMap((id) => [finaliseInvoice(db, g.organisationId, id, Date.now()), finaliseInvoice(db, g.organisationId, id, Date.now())]));
    const byId = new Map(finalised.map((f) => [f.id, f.number]));
    expect(ids.map((id) => byId.get(id)).sort()).toEqual(['INV-000001', 'INV-000002', 'INV-000003', 'INV-000004', 'INV-000005']);
    for (const f of finalised) expect(f.number).toBe(byId.get(f.id));
    // A finalised invoice is not finalised again.
    await finaliseInvoice(db, g.organisationId, ids[0]!, Date.now());
    expect(await count('SELECT next_invoice AS n FROM invoice_sequences WHERE organisation_id = ?', g.organisationId)).toBe(6);
    expect(await count('SELECT count(*) AS n FROM invoices WHERE organisation_id = ?', g.organisationId)).toBe(5);
  });

  it('a pending item lands on exactly one invoice when two take it at once', async () => {
    const g = await billingGym();
    const item = (await g.api('POST', `/v1/members/${g.member.id}/pending-items`, { kind: 'pt_session', description: 'PT session', unitAmount: 120_000, currency: 'THB', taxRate: null })).body.item;
    const { db } = billingDeps(g.env);
    const draft = computeDraftInvoice({ currency: 'THB', period: null, plan: null, pendingItems: [{ id: item.id, kind: 'pt_session', description: 'PT session', quantity: 1, unitAmount: 120_000, taxRate: null }] });
    if (!draft.ok) throw new Error(draft.detail);
    const attempt = (key: string) =>
      insertDraftInvoice(db, {
        id: newId('inv'),
        organisationId: g.organisationId,
        payerId: g.member.id,
        subscriptionId: null,
        reason: 'one_off',
        sourceKey: key,
        invoice: draft.invoice,
        pendingItemIds: [item.id],
        guard: null,
        after: [],
        now: Date.now(),
      });
    const results = await Promise.all([attempt('a'), attempt('b'), attempt('c')]);
    expect(results.filter(Boolean)).toHaveLength(1);
    expect(await count('SELECT count(*) AS n FROM invoices WHERE organisation_id = ?', g.organisationId)).toBe(1);
    expect(await count('SELECT count(*) AS n FROM pending_items WHERE id = ? AND invoice_id IS NOT NULL', item.id)).toBe(1);
  });

  it('two credit notes on the same line at once: one is issued, the other refused, numbers stay gap-free', async () => {
    const g = await billingGym();
    await saveSimulatedCard(g, g.member.id);
    await subscribe(g);
    const [invoice] = await invoicesOf(g, g.member.id);
    const note = { lines: [{ invoiceLineId: 'line_1', amount: 150_000 }], outcome: 'credit_balance', reason: 'goodwill' };
    const [a, b] = await Promise.all([g.api('POST', `/v1/invoices/${invoice.id}/credit-notes`, note), g.api('POST', `/v1/invoices/${invoice.id}/credit-notes`, note)]);
    expect([a.status, b.status].sort()).toEqual([201, 409]);
    const refusedOne = a.status === 409 ? a : b;
    expect(refusedOne.body.errors?.[0]?.field).toBe('lines');
    const c = await g.api('POST', `/v1/invoices/${invoice.id}/credit-notes`, { ...note, lines: [{ invoiceLineId: 'line_1', amount: 49_000 }] });
    expect(c.status).toBe(201);
    const numbers = (await g.api('GET', `/v1/credit-notes?invoiceId=${invoice.id}`)).body.data.map((n: any) => n.number).sort();
    expect(numbers).toEqual(['INV-CN-000001', 'INV-CN-000002']);
    await expectLedgerHolds(g, g.member.id);
  });
});
