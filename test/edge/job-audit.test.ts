// The scheduled jobs in the audit log: each billing and dunning run leaves one `system` event per
// organisation it worked for, with what it did (subscriptions billed, charges paid and failed,
// retries, suspensions, notices), and nothing for an organisation it had nothing to do for.
import { describe, expect, it } from 'vitest';
import { runDunning } from '../../edge/dunning/run.ts';
import { billingDeps, billingGym, bkk, run, saveSimulatedCard, setClock, subscribe, useBillingClock, type BillingGym } from './billing-helpers.ts';

useBillingClock();

type JobEvent = { actor: { type: string; id: string; name: string }; action: string; resourceType: string; resourceId: string; outcome: string; after: Record<string, unknown> };
const jobEvents = async (g: BillingGym) => ((await g.api('GET', '/v1/audit-events?actorType=system&limit=50')).body.data as JobEvent[]).reverse();

describe('job runs in the audit log', () => {
  it('a renewal that fails, its retry and the suspension are each counted under the run that did them', async () => {
    const g = await billingGym();
    const quiet = await billingGym();
    expect((await g.api('PUT', '/v1/dunning/policy', { policy: { retryDays: [3], maxAttempts: 2, windowDays: 14, graceDays: 2 } })).status).toBe(200);
    await saveSimulatedCard(g, g.member.id);
    await subscribe(g);
    await saveSimulatedCard(g, g.member.id, 'pm_card_chargeDeclinedInsufficientFunds');

    const renewalAt = bkk('2030-02-15');
    await run(g, renewalAt);
    const [billing] = await jobEvents(g);
    expect(billing).toMatchObject({
      actor: { type: 'system', id: 'billing', name: 'Billing run' },
      action: 'billing.run',
      resourceType: 'job',
      resourceId: new Date(renewalAt).toISOString(),
      outcome: 'succeeded',
      after: { runAt: new Date(renewalAt).toISOString(), subscriptions: 1, invoices: 1, chargesFailed: 1 },
    });
    expect(billing!.after).not.toHaveProperty('chargesPaid');

    // Three days on: the retry (declined again) and, past the grace days, the suspension.
    const retryAt = bkk('2030-02-18');
    setClock(retryAt);
    await runDunning(billingDeps(g.env), retryAt, { organisationId: g.organisationId });
    const dunning = (await jobEvents(g)).find((e) => e.action === 'dunning.run');
    expect(dunning).toMatchObject({ actor: { type: 'system', id: 'dunning', name: 'Dunning run' }, resourceId: new Date(retryAt).toISOString() });
    expect(dunning!.after).toMatchObject({ payers: 1, retries: 1 });
    expect(Object.keys(dunning!.after)).toEqual(expect.arrayContaining(['suspensions', 'notices']));

    // A run with nothing to do for an organisation records nothing for it.
    await run(quiet, retryAt);
    await runDunning(billingDeps(quiet.env), retryAt, { organisationId: quiet.organisationId });
    expect(await jobEvents(quiet)).toEqual([]);
  });
});
