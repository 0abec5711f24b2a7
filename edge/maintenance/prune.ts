// Keeps the entitlement change log bounded: each site keeps its most recent versions; a door
// further behind than that simply gets a full snapshot.
import { sql } from 'drizzle-orm';
import type { Db } from '../env.ts';

export const CHANGE_LOG_VERSIONS_KEPT = 5000;

export async function pruneChangeLog(db: Db, keep = CHANGE_LOG_VERSIONS_KEPT): Promise<number> {
  const result = await db.run(sql`
    delete from entitlement_changes
    where version <= (select s.entitlement_version - ${keep} from sites s where s.id = entitlement_changes.site_id)`);
  return result.meta.changes ?? 0;
}
