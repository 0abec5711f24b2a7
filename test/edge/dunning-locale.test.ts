import { env } from 'cloudflare:test';
import { drizzle } from 'drizzle-orm/d1';
import { describe, expect, it } from 'vitest';
import * as schema from '../../edge/db/schema.ts';
import { outboxNoticeSink } from '../../edge/dunning/notices.ts';
import { call, gym } from './helpers.ts';

describe('notices in the member’s language', () => {
  it('stores a language per member and writes dunning notices in it', async () => {
    const g = await gym();
    expect(g.member.locale).toBe('en');
    const bad = await call('PATCH', `/v1/members/${g.member.id}`, { token: g.apiKey, body: { locale: 'fr' } });
    expect(bad.status).toBe(400);
    expect(bad.body.errors[0].field).toBe('locale');
    const th = await call('PATCH', `/v1/members/${g.member.id}`, { token: g.apiKey, body: { locale: 'th' } });
    expect(th.body.locale).toBe('th');

    const sink = outboxNoticeSink(drizzle(env.DB, { schema }), { now: Date.now(), payLinkBase: null });
    await sink.notify({
      organisationId: g.organisationId,
      memberId: g.member.id,
      kind: 'restored',
      payload: { invoiceNumber: null, amount: 0, currency: 'THB', dedupeKey: 'case-1' },
    });
    const listed = await call('GET', `/v1/notifications?memberId=${g.member.id}`, { token: g.apiKey });
    expect(listed.body.data).toEqual([expect.objectContaining({ template: 'restored', locale: 'th', channel: 'email' })]);
  });
});
