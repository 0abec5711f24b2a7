import { describe, expect, it } from 'vitest';
import { createExecutionContext, waitOnExecutionContext } from 'cloudflare:test';
import { CLAIM_MS, MAX_ATTEMPTS, RETRY_DELAYS_MS, deliverDue, deliverInBackground, enqueueNotice } from '../../edge/notifications/outbox.ts';
import { notificationMessages } from '../../edge/db/schema.ts';
import { eq } from 'drizzle-orm';
import { failNext, fakeUrl, holdSends, newResendKey, newSendGridKey, newTwilioSid, requestsOf } from './notify-fakes/harness.ts';
import { db, gymWithMembers, paymentFailed, rowOf, testEnv } from './notify-fakes/members.ts';

const FROM = 'Sukhumvit Gym <billing@sukhumvit-gym.example>';
const resendEnv = (key: string) => testEnv({ EMAIL_PROVIDER: 'resend', EMAIL_FROM: FROM, RESEND_API_KEY: key, RESEND_API_BASE: fakeUrl('resend'), SMS_PROVIDER: 'dev' });
const sendGridEnv = (key: string) => testEnv({ EMAIL_PROVIDER: 'sendgrid', EMAIL_FROM: FROM, SENDGRID_API_KEY: key, SENDGRID_API_BASE: fakeUrl('sendgrid'), SMS_PROVIDER: 'dev' });
const twilioEnv = (sid: string, token = 'tok_secret', from = '+6620000000') =>
  testEnv({ EMAIL_PROVIDER: 'dev', SMS_PROVIDER: 'twilio', TWILIO_ACCOUNT_SID: sid, TWILIO_AUTH_TOKEN: token, TWILIO_FROM: from, TWILIO_API_BASE: fakeUrl('twilio') });

describe('enqueueNotice', () => {
  it('writes one queued row per channel the member has', async () => {
    const g = await gymWithMembers();
    const now = Date.now();
    const notice = (memberId: string) => ({ organisationId: g.organisationId, memberId, template: 'payment_failed' as const, data: paymentFailed(), locale: 'th' as const });
    const both = await enqueueNotice(db(), notice(g.both.id), now);
    expect(both.map((r) => [r.channel, r.to]).sort()).toEqual([
      ['email', g.both.email],
      ['sms', '+66812345678'],
    ]);
    expect(both.every((r) => r.status === 'queued' && r.attempts === 0 && r.nextAttemptAt === now && r.locale === 'th' && r.template === 'payment_failed')).toBe(true);
    expect((await enqueueNotice(db(), notice(g.emailOnly.id), now)).map((r) => r.channel)).toEqual(['email']);
    expect((await enqueueNotice(db(), notice(g.smsOnly.id), now)).map((r) => [r.channel, r.to])).toEqual([['sms', '+66899990000']]);
    expect(await enqueueNotice(db(), notice(g.neither.id), now)).toEqual([]);
    expect((await enqueueNotice(db(), { ...notice(g.both.id), channels: ['sms'] }, now)).map((r) => r.channel)).toEqual(['sms']);
  });

  it('is idempotent with a dedupe key, refuses bad data and unknown members', async () => {
    const g = await gymWithMembers();
    const notice = { organisationId: g.organisationId, memberId: g.both.id, template: 'payment_failed' as const, data: paymentFailed(), dedupeKey: 'INV-1:payment_failed:1' };
    expect(await enqueueNotice(db(), notice)).toHaveLength(2);
    expect(await enqueueNotice(db(), notice)).toHaveLength(0);
    expect(await enqueueNotice(db(), { ...notice, dedupeKey: 'INV-1:payment_failed:2' })).toHaveLength(2);
    await expect(enqueueNotice(db(), { ...notice, dedupeKey: undefined, data: { ...paymentFailed(), payUrl: 'ftp://x' } })).rejects.toThrow(/https/);
    const other = await gymWithMembers();
    await expect(enqueueNotice(db(), { ...notice, organisationId: other.organisationId })).rejects.toThrow(/no member/);
  });
});

describe('transports against fake providers', () => {
  it('Resend: POST /emails with the bearer key, JSON message and the outbox id as Idempotency-Key', async () => {
    const g = await gymWithMembers();
    const key = newResendKey();
    const now = Date.now();
    const [row] = await enqueueNotice(db(), { organisationId: g.organisationId, memberId: g.emailOnly.id, template: 'payment_failed', data: paymentFailed() }, now);
    const report = await deliverDue(db(), resendEnv(key), now, { organisationId: g.organisationId });
    expect(report).toMatchObject({ claimed: 1, sent: 1, retrying: 0, failed: 0 });
    const [req, ...more] = await requestsOf('resend', key);
    expect(more).toEqual([]);
    expect(req).toMatchObject({ method: 'POST', path: '/emails', authorization: `Bearer ${key}`, contentType: 'application/json', idempotencyKey: row!.id, status: 200 });
    expect(req!.body).toMatchObject({ from: FROM, to: [g.emailOnly.email], subject: 'Payment failed: THB 1,990.00 for Sukhumvit Gym' });
    expect(req!.body.text).toContain('Pay now: https://pay.gymgate.dev/p/7Kq2mX9d');
    expect(req!.body.html).toContain('<a href="https://pay.gymgate.dev/p/7Kq2mX9d"');
    const sent = await rowOf(row!.id);
    expect(sent).toMatchObject({ status: 'sent', attempts: 1, provider: 'resend', sentAt: now, lastError: null, claimToken: null });
    expect(sent.providerMessageId).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('SendGrid: POST /v3/mail/send with personalizations, from parsed from EMAIL_FROM, and the X-Message-Id kept', async () => {
    const g = await gymWithMembers();
    const key = newSendGridKey();
    const now = Date.now();
    const [row] = await enqueueNotice(db(), { organisationId: g.organisationId, memberId: g.emailOnly.id, template: 'payment_recovered', locale: 'th', data: { gymName: 'Sukhumvit Gym', memberName: 'Anna K.', amount: { amount: 199000, currency: 'THB' } } }, now);
    expect((await deliverDue(db(), sendGridEnv(key), now, { organisationId: g.organisationId })).sent).toBe(1);
    const [req] = await requestsOf('sendgrid', key);
    expect(req).toMatchObject({ path: '/v3/mail/send', authorization: `Bearer ${key}`, status: 202 });
    expect(req!.body).toMatchObject({
      personalizations: [{ to: [{ email: g.emailOnly.email }] }],
      from: { email: 'billing@sukhumvit-gym.example', name: 'Sukhumvit Gym' },
      subject: 'ได้รับชำระเงิน ฿1,990.00 แล้ว',
      custom_args: { gymgate_message_id: row!.id },
    });
    expect(req!.body.content.map((c: { type: string }) => c.type)).toEqual(['text/plain', 'text/html']);
    const sent = await rowOf(row!.id);
    expect(sent).toMatchObject({ status: 'sent', provider: 'sendgrid' });
    expect(sent.providerMessageId).toMatch(/^[A-Za-z0-9_-]{22}$/);
  });

  it('Twilio: form-encoded POST to the account Messages.json with basic auth, E.164 To and the SMS text', async () => {
    const g = await gymWithMembers();
    const sid = newTwilioSid();
    const now = Date.now();
    const [row] = await enqueueNotice(db(), { organisationId: g.organisationId, memberId: g.smsOnly.id, template: 'payment_failed', locale: 'th', data: paymentFailed() }, now);
    expect((await deliverDue(db(), twilioEnv(sid), now, { organisationId: g.organisationId })).sent).toBe(1);
    const [req] = await requestsOf('twilio', sid);
    expect(req).toMatchObject({
      path: `/2010-04-01/Accounts/${sid}/Messages.json`,
      authorization: `Basic ${btoa(`${sid}:tok_secret`)}`,
      contentType: 'application/x-www-form-urlencoded',
      status: 201,
    });
    expect(req!.body).toEqual({ To: '+66899990000', From: '+6620000000', Body: 'Sukhumvit Gym: ชำระ ฿1,990.00 ไม่สำเร็จ ชำระที่ https://pay.gymgate.dev/p/7Kq2mX9d' });
    expect((await rowOf(row!.id)).providerMessageId).toMatch(/^SM[0-9a-f]{32}$/);
  });

  it('Twilio: a Messaging Service SID is sent as MessagingServiceSid', async () => {
    const g = await gymWithMembers();
    const sid = newTwilioSid();
    const service = `MG${'a'.repeat(32)}`;
    const now = Date.now();
    await enqueueNotice(db(), { organisationId: g.organisationId, memberId: g.smsOnly.id, template: 'restored', data: { gymName: 'Sukhumvit Gym', memberName: 'Niran T.' } }, now);
    await deliverDue(db(), twilioEnv(sid, 'tok', service), now, { organisationId: g.organisationId });
    const [req] = await requestsOf('twilio', sid);
    expect(req!.body).toEqual({ To: '+66899990000', MessagingServiceSid: service, Body: 'Sukhumvit Gym: your access is restored. See you soon!' });
  });
});

describe('retries', () => {
  it('a 5xx keeps the message queued with the error; a later run sends it', async () => {
    const g = await gymWithMembers();
    const key = newResendKey();
    const now = Date.now();
    const [row] = await enqueueNotice(db(), { organisationId: g.organisationId, memberId: g.emailOnly.id, template: 'payment_failed', data: paymentFailed() }, now);
    await failNext('resend', key, { status: 503, body: { statusCode: 503, name: 'service_unavailable', message: 'try later' } });
    const first = await deliverDue(db(), resendEnv(key), now, { organisationId: g.organisationId });
    expect(first).toMatchObject({ claimed: 1, sent: 0, retrying: 1 });
    const queued = await rowOf(row!.id);
    expect(queued).toMatchObject({ status: 'queued', attempts: 1, nextAttemptAt: now + RETRY_DELAYS_MS[0], provider: 'resend', claimToken: null });
    expect(queued.lastError).toMatch(/^resend: HTTP 503: .*try later/);
    // Not due yet.
    expect((await deliverDue(db(), resendEnv(key), now + 30_000, { organisationId: g.organisationId })).claimed).toBe(0);
    const later = await deliverDue(db(), resendEnv(key), now + RETRY_DELAYS_MS[0], { organisationId: g.organisationId });
    expect(later).toMatchObject({ claimed: 1, sent: 1 });
    expect(await rowOf(row!.id)).toMatchObject({ status: 'sent', attempts: 2, lastError: null });
    expect((await requestsOf('resend', key)).map((r) => r.status)).toEqual([503, 200]);
  });

  it('a network failure keeps the message queued; a later run sends it', async () => {
    const g = await gymWithMembers();
    const sid = newTwilioSid();
    const now = Date.now();
    const [row] = await enqueueNotice(db(), { organisationId: g.organisationId, memberId: g.smsOnly.id, template: 'restored', data: { gymName: 'Sukhumvit Gym', memberName: 'Niran T.' } }, now);
    await failNext('twilio', sid, { mode: 'reset' });
    expect((await deliverDue(db(), twilioEnv(sid), now, { organisationId: g.organisationId })).retrying).toBe(1);
    const queued = await rowOf(row!.id);
    expect(queued).toMatchObject({ status: 'queued', attempts: 1 });
    expect(queued.lastError).toMatch(/^twilio: network error/);
    expect((await deliverDue(db(), twilioEnv(sid), now + RETRY_DELAYS_MS[0], { organisationId: g.organisationId })).sent).toBe(1);
    expect(await rowOf(row!.id)).toMatchObject({ status: 'sent', attempts: 2 });
  });

  it('backs off 1 min, 5 min, 30 min, 2 h, 12 h and then fails, keeping the last error', async () => {
    const g = await gymWithMembers();
    const key = newResendKey();
    let now = Date.now();
    const [row] = await enqueueNotice(db(), { organisationId: g.organisationId, memberId: g.emailOnly.id, template: 'payment_failed', data: paymentFailed() }, now);
    await failNext('resend', key, { status: 500, count: MAX_ATTEMPTS });
    const waits: number[] = [];
    for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
      await deliverDue(db(), resendEnv(key), now, { organisationId: g.organisationId });
      const r = await rowOf(row!.id);
      expect(r.attempts).toBe(attempt);
      if (attempt < MAX_ATTEMPTS) {
        expect(r.status).toBe('queued');
        waits.push(r.nextAttemptAt - now);
        now = r.nextAttemptAt;
      } else {
        expect(r.status).toBe('failed');
        expect(r.lastError).toMatch(/HTTP 500/);
      }
    }
    expect(waits).toEqual([60_000, 300_000, 1_800_000, 7_200_000, 43_200_000]);
    expect((await deliverDue(db(), resendEnv(key), now + 86_400_000, { organisationId: g.organisationId })).claimed).toBe(0);
  });

  it('a message the provider refuses (invalid number) fails at once', async () => {
    const g = await gymWithMembers();
    const sid = newTwilioSid();
    const now = Date.now();
    const [row] = await enqueueNotice(db(), { organisationId: g.organisationId, memberId: g.smsOnly.id, template: 'restored', data: { gymName: 'Sukhumvit Gym', memberName: 'Niran T.' } }, now);
    await db().update(notificationMessages).set({ to: '+12' }).where(eq(notificationMessages.id, row!.id));
    expect((await deliverDue(db(), twilioEnv(sid), now, { organisationId: g.organisationId })).failed).toBe(1);
    const failed = await rowOf(row!.id);
    expect(failed).toMatchObject({ status: 'failed', attempts: 1 });
    expect(failed.lastError).toMatch(/HTTP 400.*21211/);
  });

  it('a provider without its key keeps messages queued with a configuration error', async () => {
    const g = await gymWithMembers();
    const now = Date.now();
    const [row] = await enqueueNotice(db(), { organisationId: g.organisationId, memberId: g.emailOnly.id, template: 'payment_failed', data: paymentFailed() }, now);
    await deliverDue(db(), testEnv({ EMAIL_PROVIDER: 'resend', EMAIL_FROM: FROM }), now, { organisationId: g.organisationId });
    const r = await rowOf(row!.id);
    expect(r).toMatchObject({ status: 'queued', attempts: 1 });
    expect(r.lastError).toBe('resend: not configured: set RESEND_API_KEY, EMAIL_FROM');
  });

  it('takes over a message whose deliverer died after claiming it, once the claim lapses', async () => {
    const g = await gymWithMembers();
    const key = newResendKey();
    const now = Date.now();
    const [row] = await enqueueNotice(db(), { organisationId: g.organisationId, memberId: g.emailOnly.id, template: 'payment_failed', data: paymentFailed() }, now);
    await db().update(notificationMessages).set({ status: 'sending', attempts: 1, claimToken: 'dead', claimedUntil: now + CLAIM_MS }).where(eq(notificationMessages.id, row!.id));
    expect((await deliverDue(db(), resendEnv(key), now + 1000, { organisationId: g.organisationId })).claimed).toBe(0);
    expect((await deliverDue(db(), resendEnv(key), now + CLAIM_MS, { organisationId: g.organisationId })).sent).toBe(1);
    expect(await rowOf(row!.id)).toMatchObject({ status: 'sent', attempts: 2 });
  });
});

describe('concurrency', () => {
  it('two deliverers running at once send each message exactly once', async () => {
    const g = await gymWithMembers();
    const key = newResendKey();
    const sid = newTwilioSid();
    const now = Date.now();
    const rows = [];
    for (let i = 0; i < 4; i++) {
      for (const member of [g.both, g.emailOnly, g.smsOnly]) {
        rows.push(...(await enqueueNotice(db(), { organisationId: g.organisationId, memberId: member.id, template: 'payment_failed', data: paymentFailed(100 * (i + 1)) }, now)));
      }
    }
    expect(rows).toHaveLength(16);
    await holdSends('resend', key, 30);
    await holdSends('twilio', sid, 30);
    const env = testEnv({
      ...resendEnv(key),
      SMS_PROVIDER: 'twilio',
      TWILIO_ACCOUNT_SID: sid,
      TWILIO_AUTH_TOKEN: 'tok',
      TWILIO_FROM: '+6620000000',
      TWILIO_API_BASE: fakeUrl('twilio'),
    });
    const [a, b] = await Promise.all([
      deliverDue(db(), env, now, { organisationId: g.organisationId, concurrency: 3 }),
      deliverDue(db(), env, now, { organisationId: g.organisationId, concurrency: 3 }),
    ]);
    expect(a.sent + b.sent).toBe(16);
    expect(a.failed + b.failed + a.retrying + b.retrying).toBe(0);
    const emails = await requestsOf('resend', key);
    const sms = await requestsOf('twilio', sid);
    expect(emails).toHaveLength(8);
    expect(sms).toHaveLength(8);
    const ids = emails.map((r) => r.idempotencyKey);
    expect(new Set(ids).size).toBe(8);
    for (const r of rows) expect((await rowOf(r.id)).status).toBe('sent');
    const sentIds = [...a.outcomes, ...b.outcomes].map((o) => o.id);
    expect(new Set(sentIds).size).toBe(16);
  });
});

describe('deliverInBackground', () => {
  it('sends in waitUntil right after enqueueing', async () => {
    const g = await gymWithMembers();
    const key = newResendKey();
    const [row] = await enqueueNotice(db(), { organisationId: g.organisationId, memberId: g.emailOnly.id, template: 'update_card', data: { ...paymentFailed(), updateCardUrl: 'https://pay.gymgate.dev/c/1' } });
    const ctx = createExecutionContext();
    deliverInBackground({ executionCtx: ctx }, db(), resendEnv(key), { organisationId: g.organisationId });
    await waitOnExecutionContext(ctx);
    expect(await rowOf(row!.id)).toMatchObject({ status: 'sent', provider: 'resend' });
    expect((await requestsOf('resend', key))[0]!.body.subject).toBe('Action needed: update your card for Sukhumvit Gym');
  });
});
