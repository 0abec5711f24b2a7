// The owner API of the staff subsystem: invitations out, the staff list, and changing or
// disabling a person. Nobody can hand out more than they hold, or change someone who holds more.
import { OpenAPIHono } from '@hono/zod-openapi';
import { and, eq, gt, isNull, sql } from 'drizzle-orm';
import { INVITATION_TTL_MS } from '../../core/sessions.ts';
import { permissionsOfRoles, type Permission } from '../../core/permissions.ts';
import { organisations } from '../db/schema.ts';
import type { AppEnv, Db } from '../env.ts';
import { newId, newSecret, sha256Hex } from '../lib/ids.ts';
import { findOwned, ownedBy, pageOwned } from '../lib/owned.ts';
import { checkSitesExist, requireSitesWithin } from '../lib/site-limits.ts';
import { conflict, forbidden, notFound } from '../lib/problem.ts';
import { iso, isoOrNull } from '../lib/time.ts';
import { deliverInBackground, enqueueEmail } from '../notifications/index.ts';
import { checkRolesGiven, customRolesOf, permissionsOf, withinHeld } from './roles.ts';
import { revokeSessions } from './sessions.ts';
import { staffInvitations, staffMembers, passkeyCount, staffUsers } from './tables.ts';
import { createInvitation, getStaffMember, listInvitations, listStaff, revokeInvitation, updateStaffMember } from './routes.ts';

type InvitationRow = typeof staffInvitations.$inferSelect;
const invitationOut = (r: InvitationRow) => ({
  id: r.id,
  email: r.email,
  name: r.name,
  phone: r.phone,
  roles: r.roles,
  siteIds: r.siteIds ?? null,
  expiresAt: iso(r.expiresAt),
  acceptedAt: isoOrNull(r.acceptedAt),
  revokedAt: isoOrNull(r.revokedAt),
  createdAt: iso(r.createdAt),
});

const memberColumns = {
  member: staffMembers,
  user: {
    name: staffUsers.name,
    email: staffUsers.email,
    phone: staffUsers.phone,
    totpSecret: staffUsers.totpSecret,
    passkeys: passkeyCount(staffUsers.id),
  },
};
type MemberRow = { member: typeof staffMembers.$inferSelect; user: { name: string; email: string; phone: string | null; totpSecret: string | null; passkeys: number } };
const memberOut = ({ member, user }: MemberRow, custom: ReadonlyMap<string, Permission[]>) => ({
  id: member.id,
  userId: member.userId,
  name: user.name,
  email: user.email,
  phone: user.phone,
  roles: member.roles,
  siteIds: member.siteIds ?? null,
  permissions: permissionsOfRoles(member.roles, custom),
  disabledAt: isoOrNull(member.disabledAt),
  mfa: user.totpSecret !== null || user.passkeys > 0,
  createdAt: iso(member.createdAt),
});

async function findMember(db: Db, id: string, organisationId: string): Promise<MemberRow> {
  const [row] = await db.select(memberColumns).from(staffMembers).innerJoin(staffUsers, eq(staffUsers.id, staffMembers.userId)).where(ownedBy(staffMembers, id, organisationId));
  if (!row) throw notFound('Staff member', id);
  return row;
}

/** The staff member as the API answers it, with their custom roles' permissions. */
async function memberAnswer(db: Db, row: MemberRow, organisationId: string) {
  return memberOut(row, await customRolesOf(db, organisationId, row.member.roles));
}

export const staffRouter = new OpenAPIHono<AppEnv>()
  .openapi(listStaff, async (c) => {
    const { limit, cursor } = c.req.valid('query');
    const rows = await c.var.db
      .select(memberColumns)
      .from(staffMembers)
      .innerJoin(staffUsers, eq(staffUsers.id, staffMembers.userId))
      .where(and(eq(staffMembers.organisationId, c.var.organisationId), cursor ? gt(staffMembers.id, cursor) : undefined))
      .orderBy(staffMembers.id)
      .limit(limit + 1);
    const custom = await customRolesOf(c.var.db, c.var.organisationId, [...new Set(rows.flatMap((r) => r.member.roles))]);
    return c.json({ data: rows.slice(0, limit).map((r) => memberOut(r, custom)), nextCursor: rows.length > limit ? rows[limit - 1]!.member.id : null }, 200);
  })
  .openapi(getStaffMember, async (c) => c.json(await memberAnswer(c.var.db, await findMember(c.var.db, c.req.valid('param').id, c.var.organisationId), c.var.organisationId), 200))
  .openapi(updateStaffMember, async (c) => {
    const { id } = c.req.valid('param');
    const body = c.req.valid('json');
    const target = await findMember(c.var.db, id, c.var.organisationId);
    withinHeld(c.var.scopes, await permissionsOf(c.var.db, c.var.organisationId, target.member.roles), 'id', 'You may not change someone who holds more than you');
    requireSitesWithin(c, target.member.siteIds ?? null, 'id');
    if (body.roles) await checkRolesGiven(c.var.db, c.var.organisationId, c.var.scopes, body.roles, 'roles', 'You may not give these roles');
    requireSitesWithin(c, body.siteIds);
    await checkSitesExist(c.var.db, c.var.organisationId, body.siteIds);
    if (body.disabled && c.var.actor.type === 'staff_user' && c.var.actor.id === target.member.userId) {
      throw forbidden('You cannot disable yourself; another owner can.', 'disabled', 'that is you');
    }
    const now = Date.now();
    const disabledAt = body.disabled === undefined ? undefined : body.disabled ? (target.member.disabledAt ?? now) : null;
    await c.var.db
      .update(staffMembers)
      .set({ ...(body.roles ? { roles: body.roles } : {}), ...(body.siteIds !== undefined ? { siteIds: body.siteIds } : {}), ...(disabledAt !== undefined ? { disabledAt } : {}) })
      .where(ownedBy(staffMembers, id, c.var.organisationId));
    // The session check already refuses a disabled person; revoking also shows it in their list.
    if (body.disabled) await revokeSessions(c.var.db, target.member.userId, c.var.organisationId, now);
    return c.json(await memberAnswer(c.var.db, await findMember(c.var.db, id, c.var.organisationId), c.var.organisationId), 200);
  })
  .openapi(listInvitations, async (c) => {
    const { limit, cursor } = c.req.valid('query');
    return c.json(await pageOwned(c.var.db, staffInvitations, c.var.organisationId, { limit, cursor, newestFirst: true }, invitationOut), 200);
  })
  .openapi(createInvitation, async (c) => {
    const body = c.req.valid('json');
    const email = body.email.toLowerCase();
    await checkRolesGiven(c.var.db, c.var.organisationId, c.var.scopes, body.roles, 'roles', 'You may not give these roles');
    requireSitesWithin(c, body.siteIds ?? null);
    await checkSitesExist(c.var.db, c.var.organisationId, body.siteIds);
    const [already] = await c.var.db
      .select({ id: staffMembers.id })
      .from(staffMembers)
      .innerJoin(staffUsers, eq(staffUsers.id, staffMembers.userId))
      .where(and(eq(staffMembers.organisationId, c.var.organisationId), eq(staffUsers.email, email), isNull(staffMembers.disabledAt)));
    if (already) throw conflict('email', `already on the staff here (${already.id}); change their roles instead`);
    const [org] = await c.var.db.select({ name: organisations.name }).from(organisations).where(eq(organisations.id, c.var.organisationId));
    const now = Date.now();
    const token = newSecret('ggi');
    const [row] = await c.var.db
      .insert(staffInvitations)
      .values({
        id: newId('inv', now),
        organisationId: c.var.organisationId,
        email,
        name: body.name,
        phone: body.phone ?? null,
        roles: body.roles,
        siteIds: body.siteIds ?? null,
        tokenHash: await sha256Hex(token),
        expiresAt: now + INVITATION_TTL_MS,
        createdAt: now,
      })
      .returning();
    const acceptUrl = `${c.env.PUBLIC_BASE_URL ?? new URL(c.req.url).origin}/staff/invitation?token=${token}`;
    await enqueueEmail(c.var.db, {
      organisationId: c.var.organisationId,
      to: email,
      template: 'staff_invitation',
      data: { gymName: org?.name ?? 'gymgate', memberName: body.name, acceptUrl, expiresAt: row!.expiresAt },
      dedupeKey: `invitation:${row!.id}`,
    });
    deliverInBackground(c, c.var.db, c.env, { organisationId: c.var.organisationId });
    return c.json({ ...invitationOut(row!), acceptUrl }, 201);
  })
  .openapi(revokeInvitation, async (c) => {
    const { id } = c.req.valid('param');
    const found = await findOwned(c.var.db, staffInvitations, id, c.var.organisationId, 'Invitation');
    if (found.acceptedAt !== null) throw conflict('id', 'the invitation was already accepted; disable the staff member instead');
    // As with changing a person: nobody withdraws an offer of more than they hold, or of sites beyond theirs.
    withinHeld(c.var.scopes, await permissionsOf(c.var.db, c.var.organisationId, found.roles), 'id', 'You may not revoke an invitation that offers more than you hold');
    requireSitesWithin(c, found.siteIds ?? null, 'id');
    const [row] = await c.var.db
      .update(staffInvitations)
      .set({ revokedAt: found.revokedAt ?? Date.now() })
      .where(ownedBy(staffInvitations, id, c.var.organisationId, isNull(staffInvitations.acceptedAt)))
      .returning();
    if (!row) throw conflict('id', 'the invitation was accepted meanwhile');
    return c.json(invitationOut(row), 200);
  });
