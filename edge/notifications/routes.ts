import { z } from 'zod';
import { MemberId, listQuery } from '../../core/contracts/api.ts';
import { Timestamp } from '../../core/contracts/common.ts';
import { ownerResource } from '../lib/resource-routes.ts';
import { LOCALES, NOTICE_TEMPLATES } from './templates.ts';

const tags = ['Notifications'];

const CHANNELS = ['email', 'sms'] as const;
const STATUSES = ['queued', 'sending', 'sent', 'failed'] as const;

export const NotificationStatus = z
  .enum(STATUSES)
  .meta({ id: 'NotificationStatus', description: 'queued: waiting for its next attempt; sending: claimed by a deliverer; sent: the provider accepted it; failed: given up' });

export const Notification = z
  .object({
    id: z.string(),
    memberId: MemberId.nullable(),
    channel: z.enum(CHANNELS),
    to: z.string().meta({ description: 'Email address, or phone number in E.164' }),
    template: z.enum(NOTICE_TEMPLATES),
    locale: z.enum(LOCALES),
    status: NotificationStatus,
    attempts: z.number().int(),
    nextAttemptAt: Timestamp.nullable().meta({ description: 'When a queued message is tried next' }),
    lastError: z.string().nullable(),
    provider: z.string().nullable(),
    providerMessageId: z.string().nullable(),
    createdAt: Timestamp,
    sentAt: Timestamp.nullable(),
  })
  .meta({ id: 'Notification' });

export const NotificationListQuery = listQuery.extend({ memberId: MemberId.optional(), status: NotificationStatus.optional() });

export const listNotifications = ownerResource({ path: '/v1/notifications', tags, item: Notification, one: 'notice', many: 'Notifications' , permissions: { read: 'notifications:read' } }).list(
  'Member notices (email and SMS), newest first, with delivery status and the last error',
  NotificationListQuery,
);
