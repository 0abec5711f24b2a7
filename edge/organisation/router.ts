import { OpenAPIHono } from '@hono/zod-openapi';
import { asc, eq, isNull } from 'drizzle-orm';
import { apiKeys, organisations } from '../db/schema.ts';
import type { AppEnv } from '../env.ts';
import { newId, newSecret, sha256Hex } from '../lib/ids.ts';
import { expandScopes, grants, PERMISSIONS } from '../../core/permissions.ts';
import { forbidden, notFound } from '../lib/problem.ts';
import { iso, isoOrNull } from '../lib/time.ts';
import { createApiKey, getOrganisation, listApiKeys, revokeApiKey, updateOrganisation } from './routes.ts';
import { findOwned, namedFields, ownedBy } from '../lib/owned.ts';
import { callerSites, checkSitesExist, requireSitesWithin } from '../lib/site-limits.ts';

type OrganisationRow = typeof organisations.$inferSelect;
type ApiKeyRow = typeof apiKeys.$inferSelect;

const organisationOut = (o: OrganisationRow) => ({ id: o.id, name: o.name, staffMfaRequired: o.staffMfaRequired, createdAt: iso(o.createdAt) });
const apiKeyOut = (k: ApiKeyRow) => ({
  id: k.id,
  name: k.name,
  prefix: k.prefix,
  createdAt: iso(k.createdAt),
  revokedAt: isoOrNull(k.revokedAt),
  lastUsedAt: isoOrNull(k.lastUsedAt),
  scopes: k.scopes ?? null,
  siteIds: k.siteIds ?? null,
});

export const organisationRouter = new OpenAPIHono<AppEnv>()
  .openapi(getOrganisation, async (c) => {
    const [org] = await c.var.db.select().from(organisations).where(eq(organisations.id, c.var.organisationId));
    if (!org) throw notFound('Organisation');
    return c.json(organisationOut(org), 200);
  })
  .openapi(updateOrganisation, async (c) => {
    const changes = namedFields(c.req.valid('json'));
    if (Object.keys(changes).length === 0) {
      const [org] = await c.var.db.select().from(organisations).where(eq(organisations.id, c.var.organisationId));
      if (!org) throw notFound('Organisation');
      return c.json(organisationOut(org), 200);
    }
    const [org] = await c.var.db
      .update(organisations)
      .set(changes)
      .where(eq(organisations.id, c.var.organisationId))
      .returning();
    if (!org) throw notFound('Organisation');
    return c.json(organisationOut(org), 200);
  })
  .openapi(listApiKeys, async (c) => {
    const rows = await c.var.db
      .select()
      .from(apiKeys)
      .where(eq(apiKeys.organisationId, c.var.organisationId))
      .orderBy(asc(apiKeys.id));
    return c.json({ data: rows.map(apiKeyOut), nextCursor: null }, 200);
  })
  .openapi(createApiKey, async (c) => {
    const { name, scopes: asked, siteIds } = c.req.valid('json');
    // An owner key (no scopes) only when asked for: every permission spelled out is a scoped key.
    const scopes = asked === undefined ? null : expandScopes(asked);
    const beyond = (scopes ?? PERMISSIONS).filter((p) => !grants(c.var.scopes, p));
    if (beyond.length > 0) {
      throw forbidden(`A key can give no more than it holds; this one lacks ${beyond.join(', ')}.`, 'scopes', `the calling key lacks ${beyond.join(', ')}`);
    }
    requireSitesWithin(c, siteIds ?? null);
    await checkSitesExist(c.var.db, c.var.organisationId, siteIds);
    const secret = newSecret('gg_live');
    const [row] = await c.var.db
      .insert(apiKeys)
      .values({
        id: newId('key'),
        organisationId: c.var.organisationId,
        name,
        prefix: secret.slice(0, 12),
        keyHash: await sha256Hex(secret),
        scopes,
        siteIds: siteIds ?? null,
        createdAt: Date.now(),
      })
      .returning();
    return c.json({ ...apiKeyOut(row!), secret }, 201);
  })
  .openapi(revokeApiKey, async (c) => {
    const { id } = c.req.valid('param');
    const target = await findOwned(c.var.db, apiKeys, id, c.var.organisationId, 'API key');
    // Revoking a key that can do more than the caller would let a narrow key lock the owner out.
    const beyond = (target.scopes ?? PERMISSIONS).filter((p) => !grants(c.var.scopes, p));
    if (beyond.length > 0) {
      throw forbidden(`This key may not revoke a key that holds more than it does (${beyond.join(', ')}).`, 'id', `key ${id} holds ${beyond.join(', ')}, which the calling key lacks`);
    }
    const mine = callerSites(c);
    if (mine && (!target.siteIds || target.siteIds.some((s) => !mine.includes(s)))) {
      throw forbidden(`You work at some sites only; key ${id} reaches others.`, 'id', `key ${id} reaches sites beyond yours`);
    }
    const [row] = await c.var.db
      .update(apiKeys)
      .set({ revokedAt: Date.now() })
      .where(ownedBy(apiKeys, id, c.var.organisationId, isNull(apiKeys.revokedAt)))
      .returning();
    if (!row) throw notFound('API key', id);
    return c.json(apiKeyOut(row), 200);
  });
