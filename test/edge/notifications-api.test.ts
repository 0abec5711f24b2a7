import { describe, expect, it } from 'vitest';
import { deliverDue, enqueueNotice } from '../../edge/notifications/outbox.ts';
import { call } from './helpers.ts';
import { failNext, fakeUrl, newResendKey } from './notify-fakes/harness.ts';
import { db, gymWithMembers, paymentFailed, testEnv } from './notify-fakes/members.ts';
import { createExecutionContext, env, waitOnExecutionContext } from 'cloudflare:test';
import { createApp } from '../../edge/app.ts';
import type { Env } from '../../edge/env.ts';

const app = createApp();
async function page(path: string, extra: Partial<Env>) {
  const ctx = createExecutionContext();
  const res = await app.request(path, {}, { ...(env as unknown as Env), ...extra }, ctx);
  await waitOnExecutionContext(ctx);
  return { status: res.status, contentType: res.headers.get('content-type'), text: await res.text() };
}

describe('GET /v1/notifications', () => {
  it('lists the organisation’s messages newest first with status and last error, filtered by member and status', async () => {
    const g = await gymWithMembers();
    const key = newResendKey();
    const now = Date.now();
    const first = await enqueueNotice(db(), { organisationId: g.organisationId, memberId: g.both.id, template: 'payment_failed', data: paymentFailed() }, now);
    const second = await enqueueNotice(db(), { organisationId: g.organisationId, memberId: g.emailOnly.id, template: 'payment_failed', data: paymentFailed(), locale: 'th' }, now + 1);
    await failNext('resend', key, { status: 502, count: 1 });
    const e = testEnv({ EMAIL_PROVIDER: 'resend', EMAIL_FROM: 'Gym <gym@example.com>', RESEND_API_KEY: key, RESEND_API_BASE: fakeUrl('resend') });
    await deliverDue(db(), e, now + 1, { organisationId: g.organisationId, concurrency: 1 });

    const all = await call('GET', '/v1/notifications', { token: g.apiKey });
    expect(all.status).toBe(200);
    expect(all.body.data.map((n: { id: string }) => n.id)).toEqual([...first, ...second].map((r) => r.id).sort().reverse());
    const failedEmail = all.body.data.find((n: { status: string; lastError: string | null }) => n.status === 'queued' && n.lastError);
    expect(failedEmail).toMatchObject({ channel: 'email', template: 'payment_failed', attempts: 1, provider: 'resend', sentAt: null });
    expect(failedEmail.lastError).toMatch(/HTTP 502/);
    expect(failedEmail.nextAttemptAt).toBe(new Date(now + 1 + 60_000).toISOString());

    const mine = await call('GET', `/v1/notifications?memberId=${g.both.id}`, { token: g.apiKey });
    expect(mine.body.data.map((n: { channel: string }) => n.channel).sort()).toEqual(['email', 'sms']);
    const queued = await call('GET', '/v1/notifications?status=queued', { token: g.apiKey });
    expect(queued.body.data).toHaveLength(1);
    const sent = await call('GET', '/v1/notifications?status=sent&limit=1', { token: g.apiKey });
    expect(sent.body.data).toHaveLength(1);
    expect(sent.body.nextCursor).toBe(sent.body.data[0].id);
    const next = await call('GET', `/v1/notifications?status=sent&limit=1&cursor=${sent.body.nextCursor}`, { token: g.apiKey });
    expect(next.body.data[0].id < sent.body.data[0].id).toBe(true);

    // Another organisation sees none of them.
    const other = await gymWithMembers();
    expect((await call('GET', '/v1/notifications', { token: other.apiKey })).body.data).toEqual([]);
  });

  it('requires the owner key and validates the query', async () => {
    expect((await call('GET', '/v1/notifications')).status).toBe(401);
    const g = await gymWithMembers();
    const bad = await call('GET', '/v1/notifications?status=lost', { token: g.apiKey });
    expect(bad.status).toBe(400);
    expect(bad.body.errors[0].field).toBe('query.status');
  });

  it('is in the OpenAPI document', async () => {
    const doc = (await call('GET', '/openapi.json')).body;
    expect(doc.paths['/v1/notifications'].get.parameters.map((p: { name: string }) => p.name)).toEqual(expect.arrayContaining(['memberId', 'status', 'limit', 'cursor']));
    expect(doc.components.schemas.Notification.properties.lastError).toBeDefined();
    expect(doc.paths['/dev/mailbox']).toBeUndefined();
  });
});

describe('dev mailbox', () => {
  it('lists what the dev transports stored, newest first, with channel, recipient, subject and body', async () => {
    const g = await gymWithMembers();
    const now = Date.now();
    await enqueueNotice(db(), { organisationId: g.organisationId, memberId: g.both.id, template: 'payment_failed', data: paymentFailed() }, now);
    await deliverDue(db(), testEnv({}), now, { organisationId: g.organisationId });
    await enqueueNotice(db(), { organisationId: g.organisationId, memberId: g.emailOnly.id, template: 'restored', locale: 'th', data: { gymName: 'Sukhumvit <Gym>', memberName: 'Anna K.' } }, now + 1000);
    await deliverDue(db(), testEnv({ EMAIL_PROVIDER: 'dev', SMS_PROVIDER: 'dev' }), now + 1000, { organisationId: g.organisationId });

    const res = await page('/dev/mailbox', { DEV_MAILBOX: 'on' });
    expect(res.status).toBe(200);
    expect(res.contentType).toMatch(/^text\/html/);
    expect(res.text).toContain('Local dev mailbox');
    expect(res.text).toContain('Nothing here was sent to a member.');
    const newer = res.text.indexOf(`<strong class="to">${g.emailOnly.email}</strong>`);
    const older = res.text.indexOf(`<strong class="to">${g.both.email}</strong>`);
    expect(newer).toBeGreaterThan(-1);
    expect(older).toBeGreaterThan(newer);
    expect(res.text).toContain('<h2 class="subject">สมาชิก Sukhumvit &lt;Gym&gt; ของคุณกลับมาใช้งานได้แล้ว</h2>');
    expect(res.text).toContain('<h2 class="subject">Payment failed: THB 1,990.00 for Sukhumvit Gym</h2>');
    expect(res.text).toContain('<strong class="to">+66812345678</strong>');
    expect(res.text).toContain('Sukhumvit Gym: payment of THB 1,990.00 failed. Pay securely: https://pay.gymgate.dev/p/7Kq2mX9d');
    expect(res.text).not.toContain('<Gym>');

    const rows = (await call('GET', `/v1/notifications?memberId=${g.both.id}`, { token: g.apiKey })).body.data;
    expect(rows.every((n: { status: string; provider: string }) => n.status === 'sent' && n.provider === 'dev')).toBe(true);
  });

  it('is 404 unless DEV_MAILBOX=on', async () => {
    expect((await page('/dev/mailbox', {})).status).toBe(404);
    expect((await page('/dev/mailbox', { DEV_MAILBOX: 'off' })).status).toBe(404);
    expect((await page('/dev/mailbox', { DEV_MAILBOX: 'on' })).status).toBe(200);
  });
});
