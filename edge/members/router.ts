import { OpenAPIHono } from '@hono/zod-openapi';
import { and, asc, eq, gt } from 'drizzle-orm';
import type { z } from 'zod';
import type { MemberUpdate } from '../../core/contracts/api.ts';
import { members } from '../db/schema.ts';
import type { AppEnv } from '../env.ts';
import { newId } from '../lib/ids.ts';
import { pageOf } from '../lib/pagination.ts';
import { notFound } from '../lib/problem.ts';
import { iso } from '../lib/time.ts';
import { announceEntitlementChanges, bumpSiteVersions } from '../notify/entitlements.ts';
import { createMember, getMember, listMembers, updateMember } from './routes.ts';

type MemberRow = typeof members.$inferSelect;

export const memberOut = (m: MemberRow) => ({
  id: m.id,
  name: m.name,
  email: m.email,
  phone: m.phone,
  emergencyContact:
    m.emergencyContactName && m.emergencyContactPhone
      ? {
          name: m.emergencyContactName,
          phone: m.emergencyContactPhone,
          ...(m.emergencyContactRelationship ? { relationship: m.emergencyContactRelationship } : {}),
        }
      : null,
  status: m.status,
  createdAt: iso(m.createdAt),
  updatedAt: iso(m.updatedAt),
});

const columnsOf = (body: z.infer<typeof MemberUpdate>) => {
  const out: Partial<MemberRow> = {};
  if (body.name !== undefined) out.name = body.name;
  if (body.email !== undefined) out.email = body.email;
  if (body.phone !== undefined) out.phone = body.phone;
  if (body.status !== undefined) out.status = body.status;
  if (body.emergencyContact !== undefined) {
    out.emergencyContactName = body.emergencyContact?.name ?? null;
    out.emergencyContactPhone = body.emergencyContact?.phone ?? null;
    out.emergencyContactRelationship = body.emergencyContact?.relationship ?? null;
  }
  return out;
};

export const membersRouter = new OpenAPIHono<AppEnv>()
  .openapi(listMembers, async (c) => {
    const { limit, cursor, status } = c.req.valid('query');
    const rows = await c.var.db
      .select()
      .from(members)
      .where(
        and(
          eq(members.organisationId, c.var.organisationId),
          status ? eq(members.status, status) : undefined,
          cursor ? gt(members.id, cursor) : undefined,
        ),
      )
      .orderBy(asc(members.id))
      .limit(limit + 1);
    return c.json(pageOf(rows, limit, memberOut, (r) => r.id), 200);
  })
  .openapi(createMember, async (c) => {
    const body = c.req.valid('json');
    const now = Date.now();
    // A member without credentials opens no door, so creating one does not change entitlements.
    const [row] = await c.var.db
      .insert(members)
      .values({
        id: newId('mem'),
        organisationId: c.var.organisationId,
        name: body.name,
        status: body.status,
        createdAt: now,
        updatedAt: now,
        ...columnsOf({ ...body, email: body.email ?? null, phone: body.phone ?? null, emergencyContact: body.emergencyContact ?? null }),
      })
      .returning();
    return c.json(memberOut(row!), 201);
  })
  .openapi(getMember, async (c) => {
    const { id } = c.req.valid('param');
    const [row] = await c.var.db
      .select()
      .from(members)
      .where(and(eq(members.id, id), eq(members.organisationId, c.var.organisationId)));
    if (!row) throw notFound('Member', id);
    return c.json(memberOut(row), 200);
  })
  .openapi(updateMember, async (c) => {
    const { id } = c.req.valid('param');
    const body = c.req.valid('json');
    const db = c.var.db;
    const scope = and(eq(members.id, id), eq(members.organisationId, c.var.organisationId));
    const [current] = await db.select().from(members).where(scope);
    if (!current) throw notFound('Member', id);
    const changes = columnsOf(body);
    if (Object.keys(changes).length === 0) return c.json(memberOut(current), 200);
    const update = db.update(members).set({ ...changes, updatedAt: Date.now() }).where(scope).returning();
    if (changes.status === undefined || changes.status === current.status) {
      const [row] = await update;
      return c.json(memberOut(row!), 200);
    }
    // Members may use every site of their organisation for now, so a status change bumps them all.
    const [rows, bumped] = await db.batch([update, bumpSiteVersions(db, { organisationId: c.var.organisationId })]);
    c.executionCtx.waitUntil(announceEntitlementChanges(c.env, bumped));
    return c.json(memberOut(rows[0]!), 200);
  });
