import { OpenAPIHono } from '@hono/zod-openapi';
import { drizzle } from 'drizzle-orm/d1';
import * as schema from '../db/schema.ts';
import type { AppEnv } from '../env.ts';
import { pageOf } from '../lib/pagination.ts';
import { ApiProblem, renderProblem } from '../lib/problem.ts';
import { iso, isoOrNull } from '../lib/time.ts';
import { renderDevMailbox } from './dev-mailbox.ts';
import { devMailboxMessages, listNotificationRows, type NotificationRow } from './outbox.ts';
import { listNotifications } from './routes.ts';
import type { Locale, NoticeTemplate } from './templates.ts';

const notificationOut = (n: NotificationRow) => ({
  id: n.id,
  memberId: n.memberId,
  channel: n.channel,
  to: n.to,
  template: n.template as NoticeTemplate,
  locale: n.locale as Locale,
  status: n.status,
  attempts: n.attempts,
  nextAttemptAt: n.status === 'queued' ? iso(n.nextAttemptAt) : null,
  lastError: n.lastError,
  provider: n.provider,
  providerMessageId: n.providerMessageId,
  createdAt: iso(n.createdAt),
  sentAt: isoOrNull(n.sentAt),
});

export const notificationsRouter = new OpenAPIHono<AppEnv>()
  .openapi(listNotifications, async (c) => {
    const { limit, cursor, memberId, status } = c.req.valid('query');
    const rows = await listNotificationRows(c.var.db, c.var.organisationId, { limit, cursor, memberId, status });
    return c.json(pageOf(rows, limit, notificationOut, (r) => r.id), 200);
  })
  // The local dev mailbox: what EMAIL_PROVIDER/SMS_PROVIDER=dev stored. Not part of the API
  // (no key, not in /openapi.json); served only with DEV_MAILBOX=on.
  .get('/dev/mailbox', async (c) => {
    if (c.env.DEV_MAILBOX !== 'on') return renderProblem(new ApiProblem(404, 'not-found', 'No such endpoint'));
    const rows = await devMailboxMessages(drizzle(c.env.DB, { schema }));
    return c.html(renderDevMailbox(rows));
  });
