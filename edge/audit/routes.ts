import { AuditEvent, AuditEventListQuery } from '../../core/contracts/audit.ts';
import { ownerResource } from '../lib/resource-routes.ts';

export const listAuditEvents = ownerResource({ path: '/v1/audit-events', tags: ['Audit log'], item: AuditEvent, one: 'audit event', many: 'Audit events', permissions: { read: 'audit:read' } }).list(
  'Who changed what, newest first: every write through the API and every refused attempt, filtered by actor, action, resource, outcome and time. Events are never changed or removed.',
  AuditEventListQuery,
);
