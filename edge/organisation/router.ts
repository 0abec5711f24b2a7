import { OpenAPIHono } from '@hono/zod-openapi';
import { asc, eq, isNull } from 'drizzle-orm';
import { apiKeys, organisations } from '../db/schema.ts';
import type { AppEnv } from '../env.ts';
import { newId, newSecret, sha256Hex } from '../lib/ids.ts';
import { notFound } from '../lib/problem.ts';
import { iso, isoOrNull } from '../lib/time.ts';
import { createApiKey, getOrganisation, listApiKeys, revokeApiKey, updateOrganisation } from './routes.ts';
import { ownedBy } from '../lib/owned.ts';

type OrganisationRow = typeof organisations.$inferSelect;
type ApiKeyRow = typeof apiKeys.$inferSelect;

const organisationOut = (o: OrganisationRow) => ({ id: o.id, name: o.name, createdAt: iso(o.createdAt) });
const apiKeyOut = (k: ApiKeyRow) => ({
  id: k.id,
  name: k.name,
  prefix: k.prefix,
  createdAt: iso(k.createdAt),
  revokedAt: isoOrNull(k.revokedAt),
});

export const organisationRouter = new OpenAPIHono<AppEnv>()
  .openapi(getOrganisation, async (c) => {
    const [org] = await c.var.db.select().from(organisations).where(eq(organisations.id, c.var.organisationId));
    if (!org) throw notFound('Organisation');
    return c.json(organisationOut(org), 200);
  })
  .openapi(updateOrganisation, async (c) => {
    const { name } = c.req.valid('json');
    const [org] = await c.var.db
      .update(organisations)
      .set({ name })
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
    const { name } = c.req.valid('json');
    const secret = newSecret('gg_live');
    const [row] = await c.var.db
      .insert(apiKeys)
      .values({
        id: newId('key'),
        organisationId: c.var.organisationId,
        name,
        prefix: secret.slice(0, 12),
        keyHash: await sha256Hex(secret),
        createdAt: Date.now(),
      })
      .returning();
    return c.json({ ...apiKeyOut(row!), secret }, 201);
  })
  .openapi(revokeApiKey, async (c) => {
    const { id } = c.req.valid('param');
    const [row] = await c.var.db
      .update(apiKeys)
      .set({ revokedAt: Date.now() })
      .where(ownedBy(apiKeys, id, c.var.organisationId, isNull(apiKeys.revokedAt)))
      .returning();
    if (!row) throw notFound('API key', id);
    return c.json(apiKeyOut(row), 200);
  });
