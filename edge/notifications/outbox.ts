// The notification outbox in D1. Billing and dunning call enqueueNotice(), which writes one row
// per channel the member can be reached on; deliverDue() (run by the scheduler, or in waitUntil
// right after enqueueing) sends what is due.
//
// Delivery guarantees:
// - A message is claimed with one conditional UPDATE (queued and due → sending, with a claim
//   token and lease) before it is sent, so two deliverers running at once never both send it.
// - A failed send keeps the message queued with the error and the next attempt time (backoff
//   1 min, 5 min, 30 min, 2 h, 12 h); after the last attempt, or when the provider refuses the
//   message itself (invalid address), it is failed. Nothing is deleted.
// - A deliverer that dies between claim and outcome leaves the row `sending`; once its lease
//   (CLAIM_MS, well above the transport timeout) lapses another deliverer takes it over. That is
//   the one case where a provider may see a message twice; Resend is also given the message id as
//   its Idempotency-Key.
import { and, desc, eq, lt, lte, or, sql } from 'drizzle-orm';
import { devMailbox, members, notificationMessages } from '../db/schema.ts';
import type { Db, Env } from '../env.ts';
import { newId } from '../lib/ids.ts';
import { renderNotice, type Locale, type NoticeData, type NoticeTemplate, type RenderedNotice } from './templates.ts';
import { TransportError, transportsFromEnv, type OutgoingMessage, type Transport, type Transports } from './transports.ts';

export type NotificationRow = typeof notificationMessages.$inferSelect;
export type Channel = NotificationRow['channel'];
export type NotificationStatus = NotificationRow['status'];

/** Wait before attempt n+1 after attempt n failed; after the last one the message is failed. */
export const RETRY_DELAYS_MS = [60_000, 5 * 60_000, 30 * 60_000, 2 * 3_600_000, 12 * 3_600_000] as const;
export const MAX_ATTEMPTS = RETRY_DELAYS_MS.length + 1;
/** How long a claim holds before another deliverer may take the message over. */
export const CLAIM_MS = 2 * 60_000;

/** "+66 81 234 5678", "081-234-5678", "0066812345678" → "+66812345678" (local numbers get the default country code). */
export function toE164(phone: string, defaultCountryCode = '66'): string {
  const trimmed = phone.trim();
  const digits = trimmed.replace(/\D/g, '');
  if (trimmed.startsWith('+')) return `+${digits}`;
  if (digits.startsWith('00')) return `+${digits.slice(2)}`;
  if (digits.startsWith('0')) return `+${defaultCountryCode}${digits.slice(1)}`;
  return `+${digits}`;
}

export type NoticeRequest<T extends NoticeTemplate = NoticeTemplate> = {
  organisationId: string;
  memberId: string;
  template: T;
  data: NoticeData[T];
  /** Member's language; default 'en'. */
  locale?: Locale;
  /**
   * Makes enqueueing idempotent: a second call with the same key (per organisation and channel)
   * writes nothing. E.g. `${invoiceNumber}:payment_failed:${attempt}`.
   */
  dedupeKey?: string;
  /** Limit to these channels (default: every channel the member has: email if an address, sms if a phone). */
  channels?: Channel[];
  /** Not before this time (epoch ms; default now). */
  sendAt?: number;
  /** Country code for phone numbers stored without one (default '66', Thailand). */
  defaultCountryCode?: string;
};

export class UnknownMemberError extends Error {
  constructor(readonly memberId: string) {
    super(`no member ${memberId} in this organisation`);
    this.name = 'UnknownMemberError';
  }
}

/**
 * Writes the notice to the outbox, one row per channel the member can be reached on, and returns
 * the rows written (none when the member has neither email nor phone, or the dedupe key was
 * used). The data is rendered once here, so a notice that cannot be rendered throws (ZodError)
 * instead of failing later.
 */
export async function enqueueNotice<T extends NoticeTemplate>(db: Db, notice: NoticeRequest<T>, now = Date.now()): Promise<NotificationRow[]> {
  const locale = notice.locale ?? 'en';
  renderNotice(notice.template, notice.data, locale);
  const [member] = await db
    .select({ email: members.email, phone: members.phone })
    .from(members)
    .where(and(eq(members.id, notice.memberId), eq(members.organisationId, notice.organisationId)));
  if (!member) throw new UnknownMemberError(notice.memberId);
  const wanted = new Set<Channel>(notice.channels ?? ['email', 'sms']);
  const targets: Array<{ channel: Channel; to: string }> = [];
  if (wanted.has('email') && member.email?.trim()) targets.push({ channel: 'email', to: member.email.trim() });
  if (wanted.has('sms') && member.phone?.trim()) targets.push({ channel: 'sms', to: toE164(member.phone, notice.defaultCountryCode) });
  if (targets.length === 0) return [];
  return db
    .insert(notificationMessages)
    .values(
      targets.map((t) => ({
        id: newId('ntf', now),
        organisationId: notice.organisationId,
        memberId: notice.memberId,
        channel: t.channel,
        to: t.to,
        template: notice.template,
        locale,
        payload: notice.data as Record<string, unknown>,
        status: 'queued' as const,
        attempts: 0,
        nextAttemptAt: notice.sendAt ?? now,
        dedupeKey: notice.dedupeKey ?? null,
        createdAt: now,
        updatedAt: now,
      })),
    )
    .onConflictDoNothing()
    .returning();
}

/**
 * Writes a notice to one address that is not a member's (a person invited to the staff): one
 * email row in the same outbox, delivered and retried like every other.
 */
export async function enqueueEmail<T extends NoticeTemplate>(
  db: Db,
  notice: { organisationId: string; to: string; template: T; data: NoticeData[T]; locale?: Locale; dedupeKey?: string },
  now = Date.now(),
): Promise<NotificationRow[]> {
  const locale = notice.locale ?? 'en';
  renderNotice(notice.template, notice.data, locale);
  return db
    .insert(notificationMessages)
    .values({
      id: newId('ntf', now),
      organisationId: notice.organisationId,
      memberId: null,
      channel: 'email',
      to: notice.to,
      template: notice.template,
      locale,
      payload: notice.data as Record<string, unknown>,
      status: 'queued',
      attempts: 0,
      nextAttemptAt: now,
      dedupeKey: notice.dedupeKey ?? null,
      createdAt: now,
      updatedAt: now,
    })
    .onConflictDoNothing()
    .returning();
}

/** Whether a notice with this dedupe key was already written (so a caller need not make its links again). */
export async function isQueued(db: Db, organisationId: string, dedupeKey: string): Promise<boolean> {
  const [row] = await db
    .select({ id: notificationMessages.id })
    .from(notificationMessages)
    .where(and(eq(notificationMessages.organisationId, organisationId), eq(notificationMessages.dedupeKey, dedupeKey)))
    .limit(1);
  return Boolean(row);
}

/** The local dev mailbox: "sends" by storing the message in D1 for GET /dev/mailbox. */
export function devTransports(db: Db, now: () => number = Date.now): Transports {
  const make = (channel: Channel): Transport => ({
    name: 'dev',
    async send(m) {
      const id = newId('dev', now());
      await db.insert(devMailbox).values({ id, messageId: m.id, channel, to: m.to, subject: m.subject ?? null, text: m.text, html: m.html ?? null, createdAt: now() });
      return { providerMessageId: id };
    },
  });
  return { email: make('email'), sms: make('sms') };
}

export function outgoingOf(row: Pick<NotificationRow, 'id' | 'channel' | 'to'>, rendered: RenderedNotice): OutgoingMessage {
  return row.channel === 'email'
    ? { id: row.id, to: row.to, subject: rendered.email.subject, text: rendered.email.text, html: rendered.email.html }
    : { id: row.id, to: row.to, text: rendered.sms.body };
}

export type DeliveryOutcome = { id: string; channel: Channel; status: 'sent' | 'queued' | 'failed'; attempts: number; error?: string };
export type DeliveryReport = { claimed: number; sent: number; retrying: number; failed: number; outcomes: DeliveryOutcome[] };

export type DeliverOptions = {
  /** At most this many messages per run (default 100). */
  limit?: number;
  /** Sends running at once (default 4). */
  concurrency?: number;
  /** Transports to use instead of the ones EMAIL_PROVIDER / SMS_PROVIDER name. */
  transports?: Transports;
  /** Only this organisation's messages (default: every organisation's). */
  organisationId?: string;
};

const dueCondition = (now: number) =>
  or(
    and(eq(notificationMessages.status, 'queued'), lte(notificationMessages.nextAttemptAt, now)),
    and(eq(notificationMessages.status, 'sending'), lte(notificationMessages.claimedUntil, now)),
  );

/** Sends every message due at `now` (queued and due, or a lapsed claim), oldest due first. */
export async function deliverDue(db: Db, env: Env, now = Date.now(), options: DeliverOptions = {}): Promise<DeliveryReport> {
  const transports = options.transports ?? transportsFromEnv(env, devTransports(db, () => now));
  const due = await db
    .select({ id: notificationMessages.id })
    .from(notificationMessages)
    .where(and(dueCondition(now), options.organisationId ? eq(notificationMessages.organisationId, options.organisationId) : undefined))
    .orderBy(notificationMessages.nextAttemptAt, notificationMessages.id)
    .limit(options.limit ?? 100);
  const outcomes: DeliveryOutcome[] = [];
  const concurrency = Math.max(1, options.concurrency ?? 4);
  for (let i = 0; i < due.length; i += concurrency) {
    const batch = due.slice(i, i + concurrency);
    const results = await Promise.all(batch.map(({ id }) => deliverOne(db, transports, id, now)));
    for (const r of results) if (r) outcomes.push(r);
  }
  return {
    claimed: outcomes.length,
    sent: outcomes.filter((o) => o.status === 'sent').length,
    retrying: outcomes.filter((o) => o.status === 'queued').length,
    failed: outcomes.filter((o) => o.status === 'failed').length,
    outcomes,
  };
}

/** Claims one message and sends it; null when another deliverer got it first or it is no longer due. */
async function deliverOne(db: Db, transports: Transports, id: string, now: number): Promise<DeliveryOutcome | null> {
  const claimToken = crypto.randomUUID();
  const [row] = await db
    .update(notificationMessages)
    .set({
      status: 'sending',
      attempts: sql`${notificationMessages.attempts} + 1`,
      claimToken,
      claimedUntil: now + CLAIM_MS,
      updatedAt: now,
    })
    .where(and(eq(notificationMessages.id, id), dueCondition(now)))
    .returning();
  if (!row) return null;
  const transport = row.channel === 'email' ? transports.email : transports.sms;
  const mine = and(eq(notificationMessages.id, id), eq(notificationMessages.claimToken, claimToken));
  try {
    const rendered = renderNotice(row.template as NoticeTemplate, row.payload as never, row.locale);
    const result = await transport.send(outgoingOf(row, rendered));
    await db
      .update(notificationMessages)
      .set({ status: 'sent', sentAt: now, provider: transport.name, providerMessageId: result.providerMessageId, lastError: null, claimToken: null, claimedUntil: null, updatedAt: now })
      .where(mine);
    return { id, channel: row.channel, status: 'sent', attempts: row.attempts };
  } catch (err) {
    // A payload that no longer renders will not render next time either; anything unexpected is retried.
    const permanent = err instanceof TransportError ? err.permanent : isRenderError(err);
    const error = errorText(err);
    const exhausted = row.attempts >= MAX_ATTEMPTS;
    const status = permanent || exhausted ? 'failed' : 'queued';
    const delay = RETRY_DELAYS_MS[Math.min(row.attempts, RETRY_DELAYS_MS.length) - 1] ?? RETRY_DELAYS_MS[0];
    await db
      .update(notificationMessages)
      .set({
        status,
        lastError: error,
        provider: transport.name,
        nextAttemptAt: status === 'queued' ? now + delay : row.nextAttemptAt,
        claimToken: null,
        claimedUntil: null,
        updatedAt: now,
      })
      .where(mine);
    console.warn(JSON.stringify({ msg: 'notification not sent', id, channel: row.channel, attempts: row.attempts, status, error }));
    return { id, channel: row.channel, status, attempts: row.attempts, error };
  }
}

const isRenderError = (err: unknown) => err instanceof Error && err.name === 'ZodError';
const errorText = (err: unknown) => (err instanceof Error ? err.message : String(err)).slice(0, 1000);

export type NotificationQuery = { memberId?: string; status?: NotificationStatus; limit: number; cursor?: string };

/** The organisation's messages, newest first (keyset on id). Fetches limit + 1 rows for pageOf. */
export function listNotificationRows(db: Db, organisationId: string, q: NotificationQuery) {
  return db
    .select()
    .from(notificationMessages)
    .where(
      and(
        eq(notificationMessages.organisationId, organisationId),
        q.memberId ? eq(notificationMessages.memberId, q.memberId) : undefined,
        q.status ? eq(notificationMessages.status, q.status) : undefined,
        q.cursor ? lt(notificationMessages.id, q.cursor) : undefined,
      ),
    )
    .orderBy(desc(notificationMessages.id))
    .limit(q.limit + 1);
}

/** Everything the dev transports stored, newest first. */
export function devMailboxMessages(db: Db, limit = 500) {
  return db.select().from(devMailbox).orderBy(desc(devMailbox.createdAt), desc(devMailbox.id)).limit(limit);
}

/**
 * Starts a delivery run without holding up the caller, e.g. right after dunning enqueued a
 * notice, so members hear at once instead of at the next scheduled run. Errors are logged; the
 * messages stay in the outbox for the next run either way.
 */
export function deliverInBackground(source: { readonly executionCtx: Pick<ExecutionContext, 'waitUntil'> }, db: Db, env: Env, options: DeliverOptions = {}): void {
  let ctx: Pick<ExecutionContext, 'waitUntil'>;
  try {
    ctx = source.executionCtx;
  } catch {
    // No execution context (a direct call in a script or test): the scheduled run delivers it.
    return;
  }
  ctx.waitUntil(
    deliverDue(db, env, Date.now(), options).then(
      (r) => console.log(JSON.stringify({ msg: 'notifications delivered', sent: r.sent, retrying: r.retrying, failed: r.failed })),
      (err) => console.error(JSON.stringify({ msg: 'notification delivery failed', error: String(err) })),
    ),
  );
}
