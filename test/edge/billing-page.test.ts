// The billing run's page path (edge/billing/page.ts): plain renewals billed many at a time must
// end exactly where billing them one by one ends — same invoices, numbers without gaps, same
// states, same door data — and everything else must be left to the one-by-one path, which
// finishes what the page started without charging twice.
import { env } from 'cloudflare:test';
import { drizzle } from 'drizzle-orm/d1';
import { describe, expect, it } from 'vitest';
import { billPage } from '../../edge/billing/page.ts';
import * as schema from '../../edge/db/schema.ts';
import { billingDeps, billingGym, bkk, expectLedgerHolds, invoicesOf, memberOf, process, run, saveSimulatedCard, setClock, subscribe, summary, useBillingClock, VAT7, type BillingGym } from './billing-helpers.ts';

useBillingClock();

const RENEWAL = bkk('2030-02-15', '03:17');
const db = () => drizzle(env.DB, { schema });

/** Members each with a saved card and a monthly subscription from 2030-01-15 (first period paid). */
async function payers(g: BillingGym, names: string[], card = 'pm_card_visa') {
  const subs = [];
  for (const name of names) {
    const m = (await g.api('POST', '/v1/members', { name })).body;
    await saveSimulatedCard(g, m.id, card);
    subs.push({ member: m, sub: await subscribe(g, { payerId: m.id }) });
  }
  return subs;
}

/** What a payer's billing looks like afterwards, without ids or numbers. */
async function outcome(g: BillingGym, memberId: string, subscriptionId: string) {
  const sub = (await g.api('GET', `/v1/subscriptions/${subscriptionId}`)).body;
  const m = await memberOf(g, memberId);
  return {
    invoices: (await invoicesOf(g, memberId)).map((i) => ({ ...summary(i), number: undefined })),
    subscription: { status: sub.status, paidThrough: sub.paidThrough, nextReviewOn: sub.nextReviewOn, pastDueSince: sub.pastDueSince ?? null },
    member: { status: m.status, validUntil: m.validUntil },
  };
}

describe('billing a page of subscriptions', () => {
  it('bills plain renewals at once, leaves the rest to the one-by-one path, and ends where billing one by one ends', async () => {
    const page = await billingGym();
    const single = await billingGym({}, { PAYMENT_PROVIDER: 'simulated', BILLING_PAGE_PATH: 'off' });
    const setUp = async (g: BillingGym) => {
      const plain = await payers(g, ['A', 'B', 'C']);
      const [withItem] = await payers(g, ['D']);
      const item = await g.api('POST', `/v1/members/${withItem!.member.id}/pending-items`, { kind: 'pt_session', description: 'PT session', unitAmount: 80_000, currency: 'THB', taxRate: VAT7 });
      expect(item.status, JSON.stringify(item.body)).toBe(201);
      const [declined] = await payers(g, ['E'], 'pm_card_chargeDeclined');
      return { plain, withItem: withItem!, declined: declined! };
    };
    const p = await setUp(page);
    const s = await setUp(single);
    const seqBefore = (await invoicesOf(page, p.plain[0]!.member.id))[0].number;

    setClock(RENEWAL);
    const versionBefore = (await db().select().from(schema.sites).all()).find((x) => x.organisationId === page.organisationId)!.entitlementVersion;
    const all = [...p.plain, p.withItem, p.declined].map((x) => x.sub.id);
    const direct = await billPage(billingDeps(page.env), all, RENEWAL);
    expect(direct.results.map((r) => r.subscriptionId).sort()).toEqual(p.plain.map((x) => x.sub.id).sort());
    expect(direct.rest.sort()).toEqual([p.withItem.sub.id, p.declined.sub.id].sort());
    for (const r of direct.results) expect(r).toMatchObject({ status: 'active', charge: 'charged', nextReviewOn: '2030-03-15', invoice: { status: 'paid', periodStart: '2030-02-15' } });
    // The doors hear of it: one version step for the page, a change-log row per renewed member.
    const site = (await db().select().from(schema.sites).all()).find((x) => x.organisationId === page.organisationId)!;
    expect(site.entitlementVersion).toBe(versionBefore + 1);
    const logged = (await db().select().from(schema.entitlementChanges).all()).filter((c) => c.siteId === site.id && c.version === site.entitlementVersion);
    expect(logged.map((c) => c.entityId).sort()).toEqual(p.plain.map((x) => x.member.id).sort());

    // The daily run finishes the rest; the other gym bills everything one by one.
    await run(page, RENEWAL);
    await run(single, RENEWAL);
    for (const [a, b] of [...p.plain.map((x, i) => [x, s.plain[i]!] as const), [p.withItem, s.withItem] as const, [p.declined, s.declined] as const]) {
      expect(await outcome(page, a.member.id, a.sub.id)).toEqual(await outcome(single, b.member.id, b.sub.id));
      await expectLedgerHolds(page, a.member.id);
    }
    // Numbers stay gap-free across both paths.
    const numbers = (await db().select().from(schema.invoices).all())
      .filter((i) => i.organisationId === page.organisationId && i.number)
      .map((i) => Number(i.number!.split('-')[1]))
      .sort((a, b) => a - b);
    expect(numbers).toEqual(numbers.map((_, i) => i + 1));
    expect(Number(seqBefore.split('-')[1])).toBe(1);
    // The declined renewal was charged once: the slow path replayed the processor's answer.
    const declinedPayments = (await db().select().from(schema.payments).all()).filter((x) => x.payerId === p.declined.member.id && x.createdAt >= RENEWAL);
    expect(declinedPayments.map((x) => [x.attempt, x.status])).toEqual([[1, 'failed']]);
  });

  it('a renewal whose charge is declined is recorded by the one-by-one path as a failure, with dunning', async () => {
    const g = await billingGym();
    const [x] = await payers(g, ['F']);
    // The card on file is swapped for one that will be declined before the renewal.
    await saveSimulatedCard(g, x!.member.id, 'pm_card_chargeDeclinedInsufficientFunds');
    setClock(RENEWAL);
    const first = await billPage(billingDeps(g.env), [x!.sub.id], RENEWAL);
    expect(first).toEqual({ results: [], rest: [x!.sub.id] });
    // The page left an open invoice with its payment still pending (its answer is not recorded yet).
    const renewal = (await invoicesOf(g, x!.member.id))[1];
    expect(renewal).toMatchObject({ status: 'open', number: 'INV-000002' });
    await process(g, x!.sub.id, RENEWAL);
    const pays = (await db().select().from(schema.payments).all()).filter((p) => p.invoiceId === renewal.id);
    expect(pays.map((p) => [p.attempt, p.status, p.declineCode])).toEqual([[1, 'failed', 'insufficient_funds']]);
    expect((await g.api('GET', `/v1/members/${x!.member.id}/billing`)).body.dunning).toMatchObject({ phase: 'retrying', attempts: 1, lastDeclineCode: 'insufficient_funds' });
    expect((await g.api('GET', `/v1/subscriptions/${x!.sub.id}`)).body.status).toBe('past_due');
  });

  it('a page and a one-by-one run of the same subscription at once invoice and charge it once', async () => {
    const g = await billingGym();
    const [x] = await payers(g, ['G']);
    setClock(RENEWAL);
    const deps = billingDeps(g.env);
    await Promise.all([billPage(deps, [x!.sub.id], RENEWAL), process(g, x!.sub.id, RENEWAL), billPage(deps, [x!.sub.id], RENEWAL)]);
    await run(g, RENEWAL);
    const invoices = await invoicesOf(g, x!.member.id);
    expect(invoices.map((i) => [i.number, i.status, i.period?.start])).toEqual([
      ['INV-000001', 'paid', '2030-01-15'],
      ['INV-000002', 'paid', '2030-02-15'],
    ]);
    const pays = (await db().select().from(schema.payments).all()).filter((p) => p.invoiceId === invoices[1].id);
    expect(pays.map((p) => [p.attempt, p.status])).toEqual([[1, 'succeeded']]);
    await expectLedgerHolds(g, x!.member.id);
    // Billing it again finds nothing to do.
    expect(await billPage(deps, [x!.sub.id], RENEWAL)).toEqual({ results: [], rest: [x!.sub.id] });
    expect(await invoicesOf(g, x!.member.id)).toHaveLength(2);
  });
});
