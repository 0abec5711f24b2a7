import { index, integer, sqliteTable, text, uniqueIndex } from 'drizzle-orm/sqlite-core';
import { createdAt } from '../db/columns.ts';
import { members } from '../members/tables.ts';
import { organisationRef } from '../organisation/tables.ts';

// Member notifications (edge/notifications): one row per message and channel. The outbox is
// the only way a notice leaves: `deliverDue` claims a due row (queued, or `sending` past its
// claim), sends it and records the outcome, retrying with backoff until it is sent or failed.
export const NOTIFICATION_CHANNELS = ['email', 'sms'] as const;
export const NOTIFICATION_STATUSES = ['queued', 'sending', 'sent', 'failed'] as const;

export const notificationMessages = sqliteTable(
  'notification_messages',
  {
    id: text('id').primaryKey(),
    organisationId: organisationRef(),
    memberId: text('member_id').references(() => members.id),
    channel: text('channel', { enum: NOTIFICATION_CHANNELS }).notNull(),
    /** Email address, or phone number in E.164. */
    to: text('to_address').notNull(),
    /** A NoticeTemplate (edge/notifications/templates.ts). */
    template: text('template').notNull(),
    locale: text('locale', { enum: ['en', 'th'] }).notNull(),
    payload: text('payload', { mode: 'json' }).$type<Record<string, unknown>>().notNull(),
    status: text('status', { enum: NOTIFICATION_STATUSES }).notNull(),
    /** Send attempts started (a claim counts as one). */
    attempts: integer('attempts').notNull().default(0),
    /** When a queued message is due. */
    nextAttemptAt: integer('next_attempt_at').notNull(),
    /** While `sending`: the claim's owner and when it lapses (a crashed deliverer's row is taken over). */
    claimToken: text('claim_token'),
    claimedUntil: integer('claimed_until'),
    lastError: text('last_error'),
    provider: text('provider'),
    providerMessageId: text('provider_message_id'),
    /** Set by the caller so that enqueueing the same notice twice writes it once per channel. */
    dedupeKey: text('dedupe_key'),
    createdAt: createdAt(),
    sentAt: integer('sent_at'),
    updatedAt: integer('updated_at').notNull(),
  },
  (t) => [
    index('notification_messages_due').on(t.status, t.nextAttemptAt),
    index('notification_messages_member').on(t.organisationId, t.memberId, t.id),
    uniqueIndex('notification_messages_dedupe').on(t.organisationId, t.dedupeKey, t.channel),
  ],
);

/** What the dev transports (EMAIL_PROVIDER / SMS_PROVIDER = dev) "sent": shown at GET /dev/mailbox. */
export const devMailbox = sqliteTable(
  'dev_mailbox',
  {
    id: text('id').primaryKey(),
    messageId: text('message_id').notNull(),
    channel: text('channel', { enum: NOTIFICATION_CHANNELS }).notNull(),
    to: text('to_address').notNull(),
    subject: text('subject'),
    text: text('text').notNull(),
    html: text('html'),
    createdAt: createdAt(),
  },
  (t) => [index('dev_mailbox_created').on(t.createdAt)],
);
