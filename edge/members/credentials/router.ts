import { OpenAPIHono } from '@hono/zod-openapi';
import { and, eq } from 'drizzle-orm';
import { credentialKey, normaliseRawId } from '../../../core/credential-key.ts';
import { credentials, members } from '../../db/schema.ts';
import { writeWithChanges } from '../../entitlements/index.ts';
import type { AppEnv } from '../../env.ts';
import { newId } from '../../lib/ids.ts';
import { findOwned, matching, ownedBy, pageOwned } from '../../lib/owned.ts';
import { conflict, invalidField, notFound } from '../../lib/problem.ts';
import { iso } from '../../lib/time.ts';
import { createCredential, deleteCredential, getCredential, listCredentials } from './routes.ts';

type CredentialRow = typeof credentials.$inferSelect;
const credentialOut = (r: CredentialRow) => ({
  id: r.id,
  memberId: r.memberId,
  kind: r.kind,
  facilityCode: r.facilityCode,
  cardNumber: r.cardNumber,
  rawId: r.rawId,
  key: r.key,
  createdAt: iso(r.createdAt),
});

export const credentialsRouter = new OpenAPIHono<AppEnv>()
  .openapi(listCredentials, async (c) => {
    const { limit, cursor, ...filters } = c.req.valid('query');
    return c.json(await pageOwned(c.var.db, credentials, c.var.organisationId, { limit, cursor }, credentialOut, matching(credentials, filters)), 200);
  })
  .openapi(createCredential, async (c) => {
    const body = c.req.valid('json');
    const db = c.var.db;
    const organisationId = c.var.organisationId;
    const [member] = await db.select({ id: members.id }).from(members).where(ownedBy(members, body.memberId, organisationId));
    if (!member) throw invalidField('memberId', `no member with id ${body.memberId}`);
    const identity =
      body.kind === 'wiegand'
        ? ({ kind: 'wiegand', facilityCode: body.facilityCode, cardNumber: body.cardNumber } as const)
        : ({ kind: 'raw', rawId: normaliseRawId(body.rawId) } as const);
    const key = credentialKey(identity);
    const [taken] = await db
      .select({ id: credentials.id })
      .from(credentials)
      .where(and(eq(credentials.organisationId, organisationId), eq(credentials.key, key)));
    if (taken) throw conflict(body.kind === 'wiegand' ? 'cardNumber' : 'rawId', `card ${key} is already issued (${taken.id})`);
    const row = {
      id: newId('cred'),
      organisationId,
      memberId: body.memberId,
      kind: identity.kind,
      facilityCode: identity.kind === 'wiegand' ? identity.facilityCode : null,
      cardNumber: identity.kind === 'wiegand' ? identity.cardNumber : null,
      rawId: identity.kind === 'raw' ? identity.rawId : null,
      key,
      createdAt: Date.now(),
    };
    try {
      await writeWithChanges(c, [db.insert(credentials).values(row)], { organisationId }, [
        { kind: 'credential', entityId: key },
        { kind: 'member', entityId: row.memberId },
      ]);
    } catch (err) {
      // Two requests raced for the same card: the unique index let exactly one through.
      if (String(err).includes('UNIQUE')) throw conflict('cardNumber', `card ${key} is already issued`);
      throw err;
    }
    return c.json(credentialOut(row), 201);
  })
  .openapi(getCredential, async (c) => {
    return c.json(credentialOut(await findOwned(c.var.db, credentials, c.req.valid('param').id, c.var.organisationId, 'Credential')), 200);
  })
  .openapi(deleteCredential, async (c) => {
    const { id } = c.req.valid('param');
    const db = c.var.db;
    const organisationId = c.var.organisationId;
    const scope = ownedBy(credentials, id, organisationId);
    const [row] = await db.select({ key: credentials.key, memberId: credentials.memberId }).from(credentials).where(scope);
    if (!row) throw notFound('Credential', id);
    // The member is a change too: without cards left, doors drop them.
    await writeWithChanges(c, [db.delete(credentials).where(scope)], { organisationId }, [
      { kind: 'credential', entityId: row.key },
      { kind: 'member', entityId: row.memberId },
    ]);
    return c.json({ id, deleted: true as const }, 200);
  });
