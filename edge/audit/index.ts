// The audit subsystem: one append-only table of who changed what (tables.ts), the middleware that
// records every owner API write and refusal (trail.ts), recordAuditEvent for writers outside a
// request (devices), JobTally for the scheduled jobs' runs (jobs.ts), and GET /v1/audit-events. It depends on nothing but core/ and lib/.
export { auditRouter } from './router.ts';
export { auditTrail, recordAuditEvent, requestOrigin, type AuditHooks, type AuditRecord } from './trail.ts';
export { JobTally, type AuditedJob } from './jobs.ts';
