import { OpenAPIHono } from '@hono/zod-openapi';
import type { Context } from 'hono';
import { and, asc, eq, exists, inArray, or, sql } from 'drizzle-orm';
import type { z } from 'zod';
import type { MemberCreate, MemberUpdate } from '../../core/contracts/api.ts';
import { accessProfiles, bookings, members, subscriptionMembers, subscriptions } from '../db/schema.ts';
import { writeWithChanges } from '../entitlements/index.ts';
import type { AppEnv, Db } from '../env.ts';
import { newId } from '../lib/ids.ts';
import { findOwned, matching, ownedBy, pageOwned } from '../lib/owned.ts';
import { ApiProblem, invalidField, notFound } from '../lib/problem.ts';
import { iso, isoOrNull } from '../lib/time.ts';
import { clearMemberPin, createBooking, createMember, deleteBooking, getMember, listBookings, listMembers, setMemberPin, updateMember } from './routes.ts';
import { derivePinVerifier, type Pbkdf2 } from '../../core/entitlement.ts';

type MemberRow = typeof members.$inferSelect;
type BookingRow = typeof bookings.$inferSelect;

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
  suspension: m.status === 'suspended' ? (m.suspension ?? 'staff') : null,
  accessProfileId: m.accessProfileId,
  validFrom: isoOrNull(m.validFrom),
  validUntil: isoOrNull(m.validUntil),
  entriesLeft: m.entriesLeft,
  locale: m.locale,
  createdAt: iso(m.createdAt),
  updatedAt: iso(m.updatedAt),
});

const bookingOut = (b: BookingRow) => ({
  id: b.id,
  memberId: b.memberId,
  doorGroup: b.doorGroup,
  startsAt: iso(b.startsAt),
  endsAt: iso(b.endsAt),
  opensMinutesBefore: b.opensMinutesBefore,
  createdAt: iso(b.createdAt),
});

const ACCESS_COLUMNS = ['status', 'suspension', 'accessProfileId', 'validFrom', 'validUntil', 'entriesLeft'] as const;

const columnsOf = (body: z.infer<typeof MemberUpdate> | z.infer<typeof MemberCreate>) => {
  const out: Partial<MemberRow> = {};
  if (body.name !== undefined) out.name = body.name;
  if (body.email !== undefined) out.email = body.email;
  if (body.phone !== undefined) out.phone = body.phone;
  if (body.status !== undefined) out.status = body.status;
  if (body.suspension !== undefined) out.suspension = body.suspension;
  if (body.accessProfileId !== undefined) out.accessProfileId = body.accessProfileId;
  if (body.validFrom !== undefined) out.validFrom = body.validFrom === null ? null : Date.parse(body.validFrom);
  if (body.validUntil !== undefined) out.validUntil = body.validUntil === null ? null : Date.parse(body.validUntil);
  if (body.entriesLeft !== undefined) out.entriesLeft = body.entriesLeft;
  if (body.locale !== undefined) out.locale = body.locale;
  if (body.emergencyContact !== undefined) {
    out.emergencyContactName = body.emergencyContact?.name ?? null;
    out.emergencyContactPhone = body.emergencyContact?.phone ?? null;
    out.emergencyContactRelationship = body.emergencyContact?.relationship ?? null;
  }
  return out;
};

async function checkProfile(db: Db, organisationId: string, profileId: string | null | undefined) {
  if (!profileId) return;
  const [p] = await db
    .select({ id: accessProfiles.id })
    .from(accessProfiles)
    .where(ownedBy(accessProfiles, profileId, organisationId));
  if (!p) throw invalidField('accessProfileId', `no access profile with id ${profileId}`);
}

const ownMember = (db: Db, organisationId: string, id: string): Promise<MemberRow> => findOwned(db, members, id, organisationId, 'Member');

const b64url = (bytes: Uint8Array) => btoa(String.fromCharCode(...bytes)).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');

/** WebCrypto PBKDF2 (workerd allows up to 100,000 iterations). */
export const pbkdf2: Pbkdf2 = async (pin, salt, iterations) => {
  const key = await crypto.subtle.importKey('raw', new TextEncoder().encode(pin), 'PBKDF2', false, ['deriveBits']);
  const bits = await crypto.subtle.deriveBits({ name: 'PBKDF2', hash: 'SHA-256', salt: new TextEncoder().encode(salt), iterations }, key, 256);
  return b64url(new Uint8Array(bits));
};

/** A PIN change reaches the doors like any other change to who may pass. */
async function writePin(c: Context<AppEnv>, id: string, pinVerifier: string | null) {
  const db = c.var.db;
  await ownMember(db, c.var.organisationId, id);
  const update = db
    .update(members)
    .set({ pinVerifier, updatedAt: Date.now() })
    .where(ownedBy(members, id, c.var.organisationId));
  await writeWithChanges(c, [update], { organisationId: c.var.organisationId }, [{ kind: 'member', entityId: id }]);
  return { memberId: id, pinSet: pinVerifier !== null };
}

/** Statuses at which the door refuses the member. */
const REFUSING = new Set(['frozen', 'suspended', 'cancelled', 'ended']);
/** Subscription states in which billing goes on. */
const BILLING = ['active', 'trialing', 'past_due'] as const;

/**
 * A member a subscription still bills must not be refused at the door by a hand-set status while
 * the charges go on: the subscription is what freezes or ends (and the door follows it).
 */
const billingSubscriptionOf = (db: Db, memberId: string) =>
  db
    .select({ id: subscriptions.id })
    .from(subscriptions)
    .where(
      and(
        inArray(subscriptions.status, [...BILLING]),
        or(
          eq(subscriptions.payerId, memberId),
          exists(db.select({ one: sql`1` }).from(subscriptionMembers).where(and(eq(subscriptionMembers.subscriptionId, subscriptions.id), eq(subscriptionMembers.memberId, memberId)))),
        ),
      ),
    )
    .limit(1);

function refuseWhileBilled(billed: { id: string } | undefined, status: string): void {
  if (!billed) return;
  const how =
    status === 'frozen'
      ? `freeze the subscription instead: POST /v1/subscriptions/${billed.id}/freeze (billing pauses or charges the freeze fee, and the door follows)`
      : `cancel or freeze the subscription first: POST /v1/subscriptions/${billed.id}/cancel or /freeze (the door follows it)`;
  throw new ApiProblem(409, 'member-billed', 'Member is billed by a subscription', `Subscription ${billed.id} still bills this member, so the door would refuse someone who keeps paying; ${how}.`, [
    { field: 'status', reason: `billed by subscription ${billed.id}: ${how}` },
  ]);
}

export const membersRouter = new OpenAPIHono<AppEnv>()
  .openapi(listMembers, async (c) => {
    const { limit, cursor, ...filters } = c.req.valid('query');
    return c.json(await pageOwned(c.var.db, members, c.var.organisationId, { limit, cursor }, memberOut, matching(members, filters)), 200);
  })
  .openapi(createMember, async (c) => {
    const body = c.req.valid('json');
    await checkProfile(c.var.db, c.var.organisationId, body.accessProfileId);
    const now = Date.now();
    // A member without credentials opens no door, so creating one does not change entitlements.
    const [row] = await c.var.db
      .insert(members)
      .values({ id: newId('mem'), organisationId: c.var.organisationId, name: body.name, status: body.status, createdAt: now, updatedAt: now, ...columnsOf(body) })
      .returning();
    return c.json(memberOut(row!), 201);
  })
  .openapi(getMember, async (c) => {
    const { id } = c.req.valid('param');
    return c.json(memberOut(await ownMember(c.var.db, c.var.organisationId, id)), 200);
  })
  .openapi(updateMember, async (c) => {
    const { id } = c.req.valid('param');
    const body = c.req.valid('json');
    const db = c.var.db;
    // The member, and with a refusing status the subscription that may still bill them, in one round trip.
    const refusing = body.status !== undefined && REFUSING.has(body.status);
    const [[current], [billed]] = refusing
      ? await db.batch([db.select().from(members).where(ownedBy(members, id, c.var.organisationId)), billingSubscriptionOf(db, id)])
      : [await db.select().from(members).where(ownedBy(members, id, c.var.organisationId)), []];
    if (!current) throw notFound('Member', id);
    await checkProfile(db, c.var.organisationId, body.accessProfileId);
    const changes = columnsOf(body);
    if (refusing && changes.status !== current.status) refuseWhileBilled(billed, changes.status!);
    if (changes.status !== undefined && changes.status !== 'suspended' && body.suspension === undefined) changes.suspension = null;
    if (Object.keys(changes).length === 0) return c.json(memberOut(current), 200);
    const update = db
      .update(members)
      .set({ ...changes, updatedAt: Date.now() })
      .where(ownedBy(members, id, c.var.organisationId))
      .returning();
    const accessChanged = ACCESS_COLUMNS.some((k) => k in changes && changes[k] !== current[k]);
    if (!accessChanged) {
      const [row] = await update;
      return c.json(memberOut(row!), 200);
    }
    const [rows] = (await writeWithChanges(c, [update], { organisationId: c.var.organisationId }, [{ kind: 'member', entityId: id }])) as [MemberRow[]];
    return c.json(memberOut(rows[0]!), 200);
  })
  .openapi(listBookings, async (c) => {
    const { id } = c.req.valid('param');
    await ownMember(c.var.db, c.var.organisationId, id);
    const rows = await c.var.db.select().from(bookings).where(eq(bookings.memberId, id)).orderBy(asc(bookings.startsAt));
    return c.json({ data: rows.map(bookingOut), nextCursor: null }, 200);
  })
  .openapi(createBooking, async (c) => {
    const { id } = c.req.valid('param');
    const body = c.req.valid('json');
    const db = c.var.db;
    await ownMember(db, c.var.organisationId, id);
    const row: BookingRow = {
      id: newId('bkg'),
      organisationId: c.var.organisationId,
      memberId: id,
      doorGroup: body.doorGroup,
      startsAt: Date.parse(body.startsAt),
      endsAt: Date.parse(body.endsAt),
      opensMinutesBefore: body.opensMinutesBefore,
      createdAt: Date.now(),
    };
    await writeWithChanges(c, [db.insert(bookings).values(row)], { organisationId: c.var.organisationId }, [{ kind: 'member', entityId: id }]);
    return c.json(bookingOut(row), 201);
  })
  .openapi(deleteBooking, async (c) => {
    const { id } = c.req.valid('param');
    const db = c.var.db;
    const scope = ownedBy(bookings, id, c.var.organisationId);
    const [row] = await db.select().from(bookings).where(scope);
    if (!row) throw notFound('Booking', id);
    await writeWithChanges(c, [db.delete(bookings).where(scope)], { organisationId: c.var.organisationId }, [{ kind: 'member', entityId: row.memberId }]);
    return c.json({ id, deleted: true as const }, 200);
  })
  .openapi(setMemberPin, async (c) => {
    const { id } = c.req.valid('param');
    const { pin } = c.req.valid('json');
    const salt = b64url(crypto.getRandomValues(new Uint8Array(16)));
    return c.json(await writePin(c, id, await derivePinVerifier(pin, salt, pbkdf2)), 200);
  })
  .openapi(clearMemberPin, async (c) => c.json(await writePin(c, c.req.valid('param').id, null), 200));
