import { env } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { call, gym, newOrganisation } from './helpers.ts';

describe('authentication', () => {
  it('refuses a missing or unknown key with 401 problem+json', async () => {
    const missing = await call('GET', '/v1/members');
    expect(missing.status).toBe(401);
    expect(missing.contentType).toBe('application/problem+json');
    const unknown = await call('GET', '/v1/members', { token: 'gg_live_nope' });
    expect(unknown.status).toBe(401);
    expect(unknown.body.title).toBe('Unauthorized');
  });

  it('stores only a hash of the bootstrap key, and the key works', async () => {
    const { apiKey, organisationId } = await newOrganisation('Hash Gym');
    const stored = await env.DB.prepare('SELECT key_hash FROM api_keys WHERE organisation_id = ?').bind(organisationId).first<{ key_hash: string }>();
    expect(stored?.key_hash).toMatch(/^[0-9a-f]{64}$/);
    expect(stored?.key_hash).not.toContain(apiKey);
    const org = await call('GET', '/v1/organisation', { token: apiKey });
    expect(org.body).toMatchObject({ id: organisationId, name: 'Hash Gym' });
  });

  it('stops accepting a revoked key', async () => {
    const { apiKey } = await newOrganisation();
    const second = await call('POST', '/v1/api-keys', { token: apiKey, body: { name: 'Front desk' } });
    expect(second.status).toBe(201);
    expect(second.body.secret).toMatch(/^gg_live_/);
    expect((await call('GET', '/v1/members', { token: second.body.secret })).status).toBe(200);
    expect((await call('DELETE', `/v1/api-keys/${second.body.id}`, { token: apiKey })).status).toBe(200);
    expect((await call('GET', '/v1/members', { token: second.body.secret })).status).toBe(401);
  });
});

describe('validation', () => {
  it('names each bad field and the reason, and writes nothing', async () => {
    const { apiKey } = await newOrganisation();
    const res = await call('POST', '/v1/members', { token: apiKey, body: { name: '', email: 'nope', phone: 'x' } });
    expect(res.status).toBe(400);
    expect(res.contentType).toBe('application/problem+json');
    expect(res.body.errors).toEqual(
      expect.arrayContaining([
        { field: 'name', reason: 'must not be empty' },
        { field: 'email', reason: 'must be an email address' },
        expect.objectContaining({ field: 'phone' }),
      ]),
    );
    expect((await call('GET', '/v1/members', { token: apiKey })).body.data).toHaveLength(0);
  });

  it('rejects a body that is not JSON', async () => {
    const { apiKey } = await newOrganisation();
    const res = await call('POST', '/v1/sites', { token: apiKey, rawBody: '{"name": "x",' });
    expect(res.status).toBe(400);
    expect(res.body.errors[0].field).toBe('(body)');
  });

  it('names query parameters by their place', async () => {
    const { apiKey } = await newOrganisation();
    const res = await call('GET', '/v1/members?limit=5000', { token: apiKey });
    expect(res.status).toBe(400);
    expect(res.body.errors[0].field).toBe('query.limit');
  });

  it('refuses a site in a time zone that does not exist', async () => {
    const { apiKey } = await newOrganisation();
    const res = await call('POST', '/v1/sites', { token: apiKey, body: { name: 'Moon', timezone: 'Moon/Base' } });
    expect(res.status).toBe(400);
    expect(res.body.errors).toEqual([{ field: 'timezone', reason: 'must be an IANA time zone such as Asia/Bangkok' }]);
  });
});

describe('resources', () => {
  it('creates, reads, updates and pages members', async () => {
    const { apiKey } = await newOrganisation();
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      const m = await call('POST', '/v1/members', {
        token: apiKey,
        body: { name: `Member ${i}`, phone: '+66 81 234 5678', emergencyContact: { name: 'Mali', phone: '+66 89 000 0000', relationship: 'sister' } },
      });
      expect(m.status).toBe(201);
      expect(m.body.status).toBe('active');
      ids.push(m.body.id);
    }
    const first = await call('GET', '/v1/members?limit=2', { token: apiKey });
    expect(first.body.data.map((m: { id: string }) => m.id)).toEqual(ids.slice(0, 2));
    const second = await call('GET', `/v1/members?limit=2&cursor=${first.body.nextCursor}`, { token: apiKey });
    expect(second.body.data.map((m: { id: string }) => m.id)).toEqual(ids.slice(2, 4));
    const last = await call('GET', `/v1/members?limit=2&cursor=${second.body.nextCursor}`, { token: apiKey });
    expect(last.body).toEqual({ data: [expect.objectContaining({ id: ids[4] })], nextCursor: null });

    const updated = await call('PATCH', `/v1/members/${ids[0]}`, { token: apiKey, body: { status: 'suspended', emergencyContact: null } });
    expect(updated.body).toMatchObject({ status: 'suspended', emergencyContact: null, phone: '+66 81 234 5678' });
    const suspended = await call('GET', '/v1/members?status=suspended', { token: apiKey });
    expect(suspended.body.data.map((m: { id: string }) => m.id)).toEqual([ids[0]]);
  });

  it('keeps card numbers unique within an organisation but not across them', async () => {
    const a = await gym();
    const dup = await call('POST', '/v1/credentials', {
      token: a.apiKey,
      body: { kind: 'wiegand', memberId: a.member.id, facilityCode: 12, cardNumber: 345 },
    });
    expect(dup.status).toBe(409);
    expect(dup.body.errors[0].field).toBe('cardNumber');
    const b = await gym();
    expect(b.card.key).toBe('wiegand:12:345');
  });

  it('normalises raw card ids', async () => {
    const { apiKey, member } = await gym();
    const raw = await call('POST', '/v1/credentials', { token: apiKey, body: { kind: 'raw', memberId: member.id, rawId: '04:a2:3b:c1' } });
    expect(raw.status).toBe(201);
    expect(raw.body).toMatchObject({ rawId: '04A23BC1', key: 'raw:04A23BC1' });
    const again = await call('POST', '/v1/credentials', { token: apiKey, body: { kind: 'raw', memberId: member.id, rawId: '04A23BC1' } });
    expect(again.status).toBe(409);
  });

  it('hides another organisation’s resources behind 404, never revealing them', async () => {
    const a = await gym();
    const b = await gym();
    for (const path of [`/v1/members/${a.member.id}`, `/v1/sites/${a.site.id}`, `/v1/doors/${a.front.id}`, `/v1/credentials/${a.card.id}`]) {
      const res = await call('GET', path, { token: b.apiKey });
      expect(res.status, path).toBe(404);
      expect(res.contentType).toBe('application/problem+json');
    }
    expect((await call('PATCH', `/v1/members/${a.member.id}`, { token: b.apiKey, body: { status: 'suspended' } })).status).toBe(404);
    expect((await call('DELETE', `/v1/credentials/${a.card.id}`, { token: b.apiKey })).status).toBe(404);
    // Using another organisation's member as a reference is refused the same way as a missing one.
    const foreign = await call('POST', '/v1/credentials', {
      token: b.apiKey,
      body: { kind: 'wiegand', memberId: a.member.id, facilityCode: 1, cardNumber: 2 },
    });
    expect(foreign.status).toBe(400);
    expect(foreign.body.errors[0]).toEqual({ field: 'memberId', reason: `no member with id ${a.member.id}` });
    expect((await call('GET', `/v1/members/${a.member.id}`, { token: a.apiKey })).body.status).toBe('active');
  });
});

describe('OpenAPI document', () => {
  it('is generated from the contracts and lists every operation', async () => {
    const res = await call('GET', '/openapi.json');
    expect(res.status).toBe(200);
    expect(res.body.openapi).toBe('3.1.0');
    const paths = Object.keys(res.body.paths);
    for (const p of ['/v1/members', '/v1/members/{id}', '/v1/sites', '/v1/doors', '/v1/credentials', '/v1/enrollment-codes', '/v1/enroll', '/v1/devices', '/v1/checkins', '/v1/device/snapshot', '/v1/device/checkins']) {
      expect(paths).toContain(p);
    }
    expect(res.body.components.schemas.MemberCreate.properties.email).toBeDefined();
    expect(res.body.paths['/v1/members'].post.responses['400'].content['application/problem+json']).toBeDefined();
  });
});
