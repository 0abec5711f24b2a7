import { OpenAPIHono } from '@hono/zod-openapi';
import type { z } from 'zod';
import type { AccessProfileCreate, AccessProfileUpdate } from '../../../core/contracts/api.ts';
import { accessProfiles } from '../../db/schema.ts';
import { writeWithChanges } from '../../entitlements/index.ts';
import type { AppEnv } from '../../env.ts';
import { checkSitesExist, requireSitesWithin } from '../../lib/site-limits.ts';
import { newId } from '../../lib/ids.ts';
import { findOwned, ownedBy, pageOwned } from '../../lib/owned.ts';
import { invalidField } from '../../lib/problem.ts';
import { iso } from '../../lib/time.ts';
import { createProfile, getProfile, listProfiles, updateProfile } from './routes.ts';

type ProfileRow = typeof accessProfiles.$inferSelect;

const profileOut = (p: ProfileRow) => ({
  id: p.id,
  name: p.name,
  sites: p.sites ?? null,
  doorGroups: p.doorGroups,
  schedule: p.scheduleKind === 'custom' ? { windows: p.schedule ?? [] } : p.scheduleKind,
  maxEntriesPerDay: p.maxEntriesPerDay,
  staff: p.staff,
  lockdownAccess: p.lockdownAccess,
  createdAt: iso(p.createdAt),
});

const columnsOf = (body: Partial<z.infer<typeof AccessProfileCreate>> | z.infer<typeof AccessProfileUpdate>): Partial<ProfileRow> => {
  const { schedule, ...rest } = body;
  const out: Partial<ProfileRow> = {};
  for (const [k, v] of Object.entries(rest)) if (v !== undefined) (out as Record<string, unknown>)[k] = v;
  if (schedule !== undefined) {
    if (typeof schedule === 'string') Object.assign(out, { scheduleKind: schedule, schedule: null });
    else Object.assign(out, { scheduleKind: 'custom', schedule: schedule.windows });
  }
  return out;
};

// A profile is shared by every member who holds it: a change reaches every site the profile names.
export const accessProfilesRouter = new OpenAPIHono<AppEnv>()
  .openapi(listProfiles, async (c) => {
    return c.json(await pageOwned(c.var.db, accessProfiles, c.var.organisationId, c.req.valid('query'), profileOut), 200);
  })
  .openapi(createProfile, async (c) => {
    const body = c.req.valid('json');
    const db = c.var.db;
    // Someone limited to some sites makes profiles for those sites only (null would be every site).
    requireSitesWithin(c, body.sites ?? null, 'sites');
    await checkSitesExist(db, c.var.organisationId, body.sites, 'sites');
    const id = newId('prof');
    const [rows] = (await writeWithChanges(
      c,
      [db.insert(accessProfiles).values({ id, organisationId: c.var.organisationId, createdAt: Date.now(), scheduleKind: 'always', ...columnsOf(body), name: body.name, doorGroups: body.doorGroups }).returning()],
      { organisationId: c.var.organisationId },
      [{ kind: 'profile', entityId: id }],
    )) as [ProfileRow[]];
    return c.json(profileOut(rows[0]!), 201);
  })
  .openapi(getProfile, async (c) => {
    return c.json(profileOut(await findOwned(c.var.db, accessProfiles, c.req.valid('param').id, c.var.organisationId, 'Access profile')), 200);
  })
  .openapi(updateProfile, async (c) => {
    const { id } = c.req.valid('param');
    const body = c.req.valid('json');
    const db = c.var.db;
    const scope = ownedBy(accessProfiles, id, c.var.organisationId);
    const current = await findOwned(db, accessProfiles, id, c.var.organisationId, 'Access profile');
    // Changing a profile changes access wherever it reaches: a limited caller's reach must cover it, before and after.
    requireSitesWithin(c, current.sites ?? null, 'id');
    requireSitesWithin(c, body.sites, 'sites');
    await checkSitesExist(db, c.var.organisationId, body.sites, 'sites');
    const changes = columnsOf(body);
    const next = { ...current, ...changes };
    if (next.lockdownAccess && !next.staff) throw invalidField('lockdownAccess', 'lockdown access is for staff profiles only');
    if (Object.keys(changes).length === 0) return c.json(profileOut(current), 200);
    const [rows] = (await writeWithChanges(c, [db.update(accessProfiles).set(changes).where(scope).returning()], { organisationId: c.var.organisationId }, [
      { kind: 'profile', entityId: id },
    ])) as [ProfileRow[]];
    return c.json(profileOut(rows[0]!), 200);
  });
