// Custom roles: an organisation's own sets of permissions ("Desk lead": the front desk plus
// refunds), given to staff like the built-in roles and named by id (role_…) in their roles. A
// person's permissions are worked out on every request, so editing a role applies to everyone who
// holds it on their next request. API keys take built-in roles and permissions only.
import { OpenAPIHono } from '@hono/zod-openapi';
import { and, eq, sql } from 'drizzle-orm';
import { CustomRole, CustomRoleCreate, CustomRoleUpdate } from '../../core/contracts/staff.ts';
import { expandScopes, grants, isCustomRoleId, permissionsOfRoles, type Permission } from '../../core/permissions.ts';
import type { AppEnv, Db } from '../env.ts';
import { newId } from '../lib/ids.ts';
import { inJson } from '../lib/json-rows.ts';
import { findOwned, ownedBy, pageOwned } from '../lib/owned.ts';
import { conflict, forbidden, invalid } from '../lib/problem.ts';
import { ownerResource } from '../lib/resource-routes.ts';
import { requireEverySite } from '../lib/site-limits.ts';
import { iso } from '../lib/time.ts';
import { staffInvitations, staffMembers, staffRoles } from './tables.ts';

type RoleRow = typeof staffRoles.$inferSelect;
const roleOut = (r: RoleRow) => ({ id: r.id, name: r.name, permissions: r.permissions, createdAt: iso(r.createdAt), updatedAt: iso(r.updatedAt) });

/** The organisation's custom roles among `roles` (none named: no query). */
async function customRoleRows(db: Db, organisationId: string, roles: readonly string[]): Promise<Array<Pick<RoleRow, 'id' | 'name' | 'permissions'>>> {
  const ids = roles.filter(isCustomRoleId);
  if (ids.length === 0) return [];
  return db
    .select({ id: staffRoles.id, name: staffRoles.name, permissions: staffRoles.permissions })
    .from(staffRoles)
    .where(and(eq(staffRoles.organisationId, organisationId), inJson(staffRoles.id, ids)));
}

/** The organisation's custom roles among `roles`, as id → permissions. */
export async function customRolesOf(db: Db, organisationId: string, roles: readonly string[]): Promise<Map<string, Permission[]>> {
  return new Map((await customRoleRows(db, organisationId, roles)).map((r) => [r.id, r.permissions]));
}

/** What a person with `roles` may do in the organisation. */
export async function permissionsOf(db: Db, organisationId: string, roles: readonly string[]): Promise<Permission[]> {
  return permissionsOfRoles(roles, await customRolesOf(db, organisationId, roles));
}

/** Names of the organisation's custom roles among `roles`, for pages (id → name). */
export async function roleNames(db: Db, organisationId: string, roles: readonly string[]): Promise<Map<string, string>> {
  return new Map((await customRoleRows(db, organisationId, roles)).map((r) => [r.id, r.name]));
}

/**
 * Roles given to a person: every custom one must be the organisation's (400 naming each that is
 * not), and together they may not reach beyond what the caller holds (403). Their permissions.
 */
export async function checkRolesGiven(db: Db, organisationId: string, held: Permission[] | null, roles: readonly string[], field: string, what: string): Promise<Permission[]> {
  const custom = await customRolesOf(db, organisationId, roles);
  const unknown = roles.flatMap((r, i) => (isCustomRoleId(r) && !custom.has(r) ? [{ field: `${field}.${i}`, reason: `no role ${r} in this organisation` }] : []));
  if (unknown.length > 0) throw invalid(unknown);
  const permissions = permissionsOfRoles(roles, custom);
  withinHeld(held, permissions, field, what);
  return permissions;
}

/** Refuses permissions beyond what the caller holds. */
export function withinHeld(held: Permission[] | null, permissions: readonly Permission[], field: string, what: string): void {
  const beyond = permissions.filter((p) => !grants(held, p));
  if (beyond.length > 0) throw forbidden(`${what}: it needs ${beyond.join(', ')}, which you do not hold.`, field, `you lack ${beyond.join(', ')}`);
}

const roles = ownerResource({ path: '/v1/roles', tags: ['Staff'], item: CustomRole, one: 'role', many: 'Custom roles', permissions: { read: 'staff:manage', write: 'staff:manage' } });
export const listRolesRoute = roles.list('The organisation’s custom roles (the built-in ones are in core/permissions.ts and the Permission schema)');
export const createRoleRoute = roles.create('A custom role: a name and its permissions (single permissions and built-in roles mix)', CustomRoleCreate, 403);
export const getRoleRoute = roles.get('One custom role');
export const updateRoleRoute = roles.update('Rename a role or change its permissions: everyone holding it has the new ones on their next request', CustomRoleUpdate, 403);
export const deleteRoleRoute = roles.remove('Delete a role nobody holds and no pending invitation gives');

/** How many staff memberships and pending (unexpired) invitations name the role. */
async function holdersOf(db: Db, organisationId: string, roleId: string, now: number): Promise<number> {
  const names = (column: typeof staffMembers.roles | typeof staffInvitations.roles) => sql`exists (select 1 from json_each(${column}) where value = ${roleId})`;
  const [members, invitations] = await Promise.all([
    db.$count(staffMembers, and(eq(staffMembers.organisationId, organisationId), names(staffMembers.roles))),
    db.$count(staffInvitations, and(eq(staffInvitations.organisationId, organisationId), sql`${staffInvitations.acceptedAt} is null and ${staffInvitations.revokedAt} is null and ${staffInvitations.expiresAt} > ${now}`, names(staffInvitations.roles))),
  ]);
  return members + invitations;
}

export const rolesRouter = new OpenAPIHono<AppEnv>()
  .openapi(listRolesRoute, async (c) => c.json(await pageOwned(c.var.db, staffRoles, c.var.organisationId, c.req.valid('query'), roleOut), 200))
  .openapi(createRoleRoute, async (c) => {
    const body = c.req.valid('json');
    requireEverySite(c, 'name', 'A role');
    const permissions = expandScopes(body.permissions);
    withinHeld(c.var.scopes, permissions, 'permissions', 'You may not make a role with these permissions');
    const now = Date.now();
    const [row] = await c.var.db
      .insert(staffRoles)
      .values({ id: newId('role', now), organisationId: c.var.organisationId, name: body.name, permissions, createdAt: now, updatedAt: now })
      .onConflictDoNothing()
      .returning();
    if (!row) throw conflict('name', `a role called ${body.name} exists already`);
    return c.json(roleOut(row), 201);
  })
  .openapi(getRoleRoute, async (c) => c.json(roleOut(await findOwned(c.var.db, staffRoles, c.req.valid('param').id, c.var.organisationId, 'Role')), 200))
  .openapi(updateRoleRoute, async (c) => {
    const { id } = c.req.valid('param');
    const body = c.req.valid('json');
    const current = await findOwned(c.var.db, staffRoles, id, c.var.organisationId, 'Role');
    requireEverySite(c, 'id', 'A role');
    withinHeld(c.var.scopes, current.permissions, 'id', 'You may not change a role that holds more than you');
    const permissions = body.permissions ? expandScopes(body.permissions) : undefined;
    if (permissions) withinHeld(c.var.scopes, permissions, 'permissions', 'You may not give a role these permissions');
    const changes = { ...(body.name !== undefined ? { name: body.name } : {}), ...(permissions ? { permissions } : {}) };
    if (Object.keys(changes).length === 0) return c.json(roleOut(current), 200);
    // The name check is part of the update itself, so two renames racing to one name cannot both pass it.
    const nameFree =
      body.name === undefined
        ? undefined
        : sql`not exists (select 1 from ${staffRoles} as other where other.organisation_id = ${c.var.organisationId} and other.name = ${body.name} and other.id <> ${id})`;
    const [row] = await c.var.db
      .update(staffRoles)
      .set({ ...changes, updatedAt: Date.now() })
      .where(and(ownedBy(staffRoles, id, c.var.organisationId), nameFree))
      .returning();
    if (!row) {
      // Deleted meanwhile, or (when renaming) the name was taken.
      await findOwned(c.var.db, staffRoles, id, c.var.organisationId, 'Role');
      throw conflict('name', `a role called ${body.name} exists already`);
    }
    return c.json(roleOut(row), 200);
  })
  .openapi(deleteRoleRoute, async (c) => {
    const { id } = c.req.valid('param');
    const current = await findOwned(c.var.db, staffRoles, id, c.var.organisationId, 'Role');
    requireEverySite(c, 'id', 'A role');
    withinHeld(c.var.scopes, current.permissions, 'id', 'You may not delete a role that holds more than you');
    const holders = await holdersOf(c.var.db, c.var.organisationId, id, Date.now());
    if (holders > 0) throw conflict('id', `${holders} staff ${holders === 1 ? 'membership or invitation names' : 'memberships and invitations name'} this role: give them other roles first`);
    await c.var.db.delete(staffRoles).where(ownedBy(staffRoles, id, c.var.organisationId));
    return c.json({ id, deleted: true as const }, 200);
  });
