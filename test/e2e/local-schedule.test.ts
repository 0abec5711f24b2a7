// The local gym runs the Worker's schedules itself (wrangler dev fires no cron): with nothing but
// the schedule running, a member's declined first charge becomes a notice in the dev mailbox.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitUntil } from '../../edge/dev/processes.ts';
import { lastDailySlot, LocalSchedule } from '../../edge/dev/schedule.ts';
import { TestGym } from './gym.ts';

const mailboxHas = async (gym: TestGym, email: string) => (await (await fetch(`${gym.api}/dev/mailbox`)).text()).includes(`<strong class="to">${email}</strong>`);

describe('the local schedule', () => {
  const gym = new TestGym('embedded', { PAYMENT_PROVIDER: 'simulated', DEV_MAILBOX: 'on' });
  const lines: string[] = [];
  let schedule: LocalSchedule | undefined;

  beforeAll(async () => {
    await gym.start();
  });
  afterAll(async () => {
    await schedule?.stop();
    await gym.stop();
  });

  it('places the daily run at the last 03:17 UTC', () => {
    const at = Date.UTC(2026, 11, 7, 3, 17);
    expect(lastDailySlot(at)).toBe(at);
    expect(lastDailySlot(at - 1)).toBe(at - 86_400_000);
    expect(lastDailySlot(at + 5 * 3_600_000)).toBe(at);
  });

  it('bills, runs dunning and delivers the notice to the dev mailbox without a manual trigger', async () => {
    await gym.call('PUT', '/v1/dunning/policy', { policy: { graceDays: 0 } });
    const plan = await gym.call('POST', '/v1/plans', { name: 'Monthly', currency: 'THB', price: 199_000, interval: 'monthly' });
    const email = 'declined@example.com';
    const member = await gym.call('POST', '/v1/members', { name: 'Declined D.', email });
    const setup = await gym.call('POST', `/v1/members/${member.id}/payment-method/setup`, { returnUrl: `${gym.api}/card-saved` });
    await gym.call('POST', `/v1/members/${member.id}/payment-method/simulated-completion`, { setupId: setup.setup.id, paymentMethodId: 'pm_card_chargeDeclined' });
    await gym.call('POST', '/v1/subscriptions', { payerId: member.id, planId: plan.id, startDate: new Date().toISOString().slice(0, 10) });
    expect(await mailboxHas(gym, email)).toBe(false);

    // No state file: the daily run is due at start, then the five-minute run every second.
    schedule = new LocalSchedule({ workerUrl: gym.api, frequentSeconds: 1, log: (line) => lines.push(line) });
    schedule.start();
    await waitUntil(() => mailboxHas(gym, email), `a notice for ${email} in the dev mailbox`, 30_000, 250);
    expect(lines.some((l) => l.startsWith('daily run'))).toBe(true);
    expect(lines.some((l) => l.startsWith('five-minute run'))).toBe(true);
    const invoices = await gym.call<{ data: Array<{ status: string }> }>('GET', `/v1/invoices?payerId=${member.id}`);
    expect(invoices.data[0]?.status).toBe('open');
  });
});
