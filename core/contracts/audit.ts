// The audit log's shapes: who changed what, when and from where, with the changed fields' values
// before and after. Events are written by the Worker and only ever read through the API.
import { z } from 'zod';
import { listQuery } from './api.ts';
import { resourceId, Timestamp } from './common.ts';

export const AUDIT_ACTOR_TYPES = ['api_key', 'staff_user', 'member', 'device', 'system'] as const;
export const AuditActorType = z.enum(AUDIT_ACTOR_TYPES).meta({ id: 'AuditActorType' });
export type AuditActorType = z.infer<typeof AuditActorType>;
/** succeeded: the write was made; refused: the caller lacked the permission (nothing changed). */
export const AUDIT_OUTCOMES = ['succeeded', 'refused'] as const;
export const AuditOutcome = z.enum(AUDIT_OUTCOMES).meta({ id: 'AuditOutcome' });

export const AuditEventId = resourceId('aud');

const Fields = z.record(z.string(), z.unknown()).nullable();

export const AuditEvent = z
  .object({
    id: AuditEventId,
    occurredAt: Timestamp,
    actor: z.object({
      type: AuditActorType,
      id: z.string().nullable(),
      name: z.string().nullable().meta({ description: "The actor's name when it was recorded (an API key's label)" }),
    }),
    action: z.string().meta({ description: 'resource.verb, e.g. members.update, invoices.void, members.pin.set', example: 'members.update' }),
    resourceType: z.string().meta({ example: 'members' }),
    resourceId: z.string().nullable(),
    outcome: AuditOutcome,
    status: z.number().int().meta({ description: 'The HTTP status the caller was answered' }),
    request: z.object({ method: z.string(), path: z.string(), ip: z.string().nullable(), userAgent: z.string().nullable() }),
    before: Fields.meta({ description: 'The changed fields before the write (secrets and PIN verifiers redacted); null for a creation or a refusal' }),
    after: Fields.meta({ description: 'The changed fields after the write (redacted the same way); null for a deletion or a refusal' }),
  })
  .meta({ id: 'AuditEvent' });

export const AuditEventListQuery = listQuery.extend({
  actorType: AuditActorType.optional(),
  actorId: z.string().max(100).optional(),
  action: z.string().max(100).optional().meta({ description: 'Exact action, e.g. members.update' }),
  resourceType: z.string().max(100).optional(),
  resourceId: z.string().max(100).optional(),
  outcome: AuditOutcome.optional(),
  from: Timestamp.optional().meta({ description: 'Only events at or after this time' }),
  to: Timestamp.optional().meta({ description: 'Only events before this time' }),
});
