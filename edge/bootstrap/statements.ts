// The first organisation and its first API key. Used by the bootstrap command (which runs the
// SQL through `wrangler d1 execute`) and by tests; the key itself is returned once, only its
// hash is stored.
import { newId, newSecret, sha256Hex } from '../lib/ids.ts';

const quote = (s: string) => `'${s.replaceAll("'", "''")}'`;

export type Bootstrap = { organisationId: string; apiKeyId: string; apiKey: string; sql: string };

export async function bootstrapOrganisation(name: string, now: number, keyName = 'Bootstrap key'): Promise<Bootstrap> {
  if (!name.trim()) throw new Error('organisation name must not be empty');
  const organisationId = newId('org', now);
  const apiKeyId = newId('key', now);
  const apiKey = newSecret('gg_live');
  const sql = [
    `INSERT INTO organisations (id, name, created_at) VALUES (${quote(organisationId)}, ${quote(name.trim())}, ${now});`,
    `INSERT INTO api_keys (id, organisation_id, name, prefix, key_hash, created_at) VALUES (${quote(apiKeyId)}, ${quote(organisationId)}, ${quote(keyName)}, ${quote(apiKey.slice(0, 12))}, ${quote(await sha256Hex(apiKey))}, ${now});`,
  ].join('\n');
  return { organisationId, apiKeyId, apiKey, sql };
}
