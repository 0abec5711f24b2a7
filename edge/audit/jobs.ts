// What the scheduled jobs did, in the audit log: one `system` event per organisation for each run
// of a job (billing, dunning), with its counts (subscriptions billed, charges that failed,
// suspensions…), so an owner can see the machine's work beside the people's. Jobs count as they
// go and record at the end; an organisation the run did nothing for gets no event.
import type { Db } from '../env.ts';
import { iso } from '../lib/time.ts';
import { recordAuditEvent } from './trail.ts';

export type AuditedJob = 'billing' | 'dunning';
const JOB_NAMES: Record<AuditedJob, string> = { billing: 'Billing run', dunning: 'Dunning run' };

/** Counts per organisation and run instant (a queue batch may hold messages of two runs). */
export class JobTally {
  private readonly counts = new Map<string, { organisationId: string; runAt: number; counts: Record<string, number> }>();

  add(organisationId: string, runAt: number, what: string, n = 1): void {
    const key = `${organisationId} ${runAt}`;
    let entry = this.counts.get(key);
    if (!entry) this.counts.set(key, (entry = { organisationId, runAt, counts: {} }));
    entry.counts[what] = (entry.counts[what] ?? 0) + n;
  }

  /** One event per organisation and run. */
  async record(db: Db, job: AuditedJob): Promise<void> {
    for (const { organisationId, runAt, counts } of this.counts.values()) {
      await recordAuditEvent(db, {
        organisationId,
        actorType: 'system',
        actorId: job,
        actorName: JOB_NAMES[job],
        action: `${job}.run`,
        resourceType: 'job',
        // The run's instant: a run the queue spreads over batches shares it.
        resourceId: iso(runAt),
        outcome: 'succeeded',
        status: 200,
        method: 'JOB',
        path: `/jobs/${job}`,
        ip: null,
        userAgent: null,
        before: null,
        after: { runAt: iso(runAt), ...counts },
      });
    }
    this.counts.clear();
  }
}
