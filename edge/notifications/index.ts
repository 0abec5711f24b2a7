// The notifications subsystem: the outbox of member notices (email and SMS), their templates and
// transports, and the dev mailbox. It depends only on members' and organisations' tables.
export { deliverDue, deliverInBackground, enqueueEmail, enqueueNotice, isQueued, toE164 } from './outbox.ts';
export { notificationsRouter } from './router.ts';
export type { NoticeTemplate } from './templates.ts';
