import { env } from 'cloudflare:test';
import { drizzle } from 'drizzle-orm/d1';
import { describe, expect, it } from 'vitest';
import * as schema from '../../edge/db/schema.ts';
import { enqueueReminders } from '../../edge/dunning/reminders.ts';
import { billingGym, bkk, saveSimulatedCard, setClock, subscribe, useBillingClock } from './billing-helpers.ts';

useBillingClock();

describe('reminders', () => {
  it('tells the member of a renewal three days ahead and of a card about to expire, once each, in their language', async () => {
    const g = await billingGym();
    await g.api('PATCH', `/v1/members/${g.member.id}`, { locale: 'th' });
    await saveSimulatedCard(g, g.member.id);
    await subscribe(g); // starts 2030-01-15; renews 2030-02-15
    const db = drizzle(env.DB, { schema });
    await env.DB.prepare('UPDATE billing_customers SET card_last4 = ?, card_exp_month = 2, card_exp_year = 2030 WHERE member_id = ?').bind('4242', g.member.id).run();

    setClock(bkk('2030-02-10'));
    expect(await enqueueReminders(db, bkk('2030-02-10'))).toEqual({ renewals: 0, cards: 1 });
    setClock(bkk('2030-02-13'));
    expect(await enqueueReminders(db, bkk('2030-02-13'))).toEqual({ renewals: 1, cards: 0 });
    // The daily run comes again: nothing new.
    expect(await enqueueReminders(db, bkk('2030-02-13', '11:00'))).toEqual({ renewals: 0, cards: 0 });

    const listed = (await g.api('GET', `/v1/notifications?memberId=${g.member.id}`)).body.data as Array<{ template: string; locale: string }>;
    expect(listed.map((n) => n.template).sort()).toEqual(['card_expiring', 'renewal_upcoming']);
    expect(new Set(listed.map((n) => n.locale))).toEqual(new Set(['th']));
  });
});
