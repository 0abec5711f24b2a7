// The owner API takes only what it documents: unknown body fields and query parameters are
// refused naming them, a body that is not JSON gets a 415 saying what to send, and reasons are
// plain ("required", "must be one of: …"). The device protocol stays tolerant.
import { env } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { createApp } from '../../edge/app.ts';
import type { Env } from '../../edge/env.ts';
import { call, enrollDevice, gym } from './helpers.ts';

type BodySchema = { $ref?: string; required?: string[]; oneOf?: unknown[]; anyOf?: unknown[] };
type Operation = {
  parameters?: Array<{ in: string; name: string; schema?: { pattern?: string } }>;
  requestBody?: { content?: Record<string, { schema?: BodySchema }> };
  security?: Array<Record<string, unknown>>;
};

/** A value matching an id pattern such as ^mem_[0-9a-z]{10,40}$. */
const idFor = (pattern: string | undefined) => `${/^\^([a-z]+)_/.exec(pattern ?? '')?.[1] ?? 'x'}_0000000000000000`;

describe('strict input on the owner API', () => {
  it('refuses an unknown body field and changes nothing', async () => {
    const g = await gym();
    const res = await call('PATCH', `/v1/members/${g.member.id}`, { token: g.apiKey, body: { name: 'Renamed', bogusField: 1 } });
    expect(res.status).toBe(400);
    expect(res.contentType).toContain('application/problem+json');
    expect(res.body.errors).toEqual([{ field: 'bogusField', reason: 'unknown field' }]);
    expect((await call('GET', `/v1/members/${g.member.id}`, { token: g.apiKey })).body.name).toBe('Somchai P.');
  });

  it('refuses an unknown query parameter, and names the allowed values of a filter', async () => {
    const g = await gym();
    const unknown = await call('GET', '/v1/checkins?outcome=maybe', { token: g.apiKey });
    expect(unknown.status).toBe(400);
    expect(unknown.body.errors).toEqual([{ field: 'query.outcome', reason: 'unknown query parameter' }]);
    const bad = await call('GET', '/v1/checkins?granted=maybe', { token: g.apiKey });
    expect(bad.status).toBe(400);
    expect(bad.body.errors).toEqual([{ field: 'query.granted', reason: 'must be one of: true, false' }]);
  });

  it('gives plain reasons instead of zod’s defaults', async () => {
    const g = await gym();
    const missing = await call('POST', '/v1/members', { token: g.apiKey, body: {} });
    expect(missing.status).toBe(400);
    expect(missing.body.errors).toEqual([{ field: 'name', reason: 'required' }]);
    const res = await call('POST', '/v1/members', { token: g.apiKey, body: { name: 42, email: 'not an address' } });
    expect(res.status).toBe(400);
    expect(res.body.errors).toEqual(expect.arrayContaining([{ field: 'name', reason: 'must be a string' }, { field: 'email', reason: 'must be an email address' }]));
    expect(JSON.stringify(res.body)).not.toMatch(/Invalid input|expected string/);
  });

  it('answers a body that is not JSON with 415 saying what to send, and writes nothing', async () => {
    const g = await gym();
    const res = await createApp().request(
      '/v1/members',
      { method: 'POST', headers: { authorization: `Bearer ${g.apiKey}`, 'content-type': 'text/plain' }, body: JSON.stringify({ name: 'Plain text' }) },
      env as unknown as Env,
    );
    expect(res.status).toBe(415);
    expect(res.headers.get('content-type')).toContain('application/problem+json');
    expect(((await res.json()) as { detail: string }).detail).toContain('Content-Type: application/json');
    const listed = (await call('GET', '/v1/members', { token: g.apiKey })).body.data as Array<{ name: string }>;
    expect(listed.some((m) => m.name === 'Plain text')).toBe(false);
  });

  it('keeps the device protocol tolerant of fields it does not know', async () => {
    const g = await gym();
    const device = await enrollDevice(g.apiKey, g.site.id);
    const heartbeat = {
      agentVersion: '9.9.9',
      entitlementVersion: null,
      entitlementHash: null,
      uptimeSeconds: 1,
      clockOffsetMs: null,
      mqttConnected: false,
      reconnectsLastHour: 0,
      outboxPending: 0,
      fieldFromANewerAgent: { x: 1 },
    };
    expect((await call('POST', '/v1/device/heartbeat', { token: device.deviceToken, body: heartbeat })).status).toBe(200);
  });

  it('refuses an unknown query parameter and an unknown body field on every owner route of the OpenAPI document', async () => {
    const g = await gym();
    const doc = (await call('GET', '/openapi.json')).body as { paths: Record<string, Record<string, Operation>>; components: { schemas: Record<string, BodySchema> } };
    let routes = 0;
    for (const [path, methods] of Object.entries(doc.paths)) {
      for (const [method, op] of Object.entries(methods)) {
        if (!op.security?.some((s) => 'ownerKey' in s)) continue;
        const concrete = path.replace(/\{(\w+)\}/g, (_m, name: string) => idFor(op.parameters?.find((p) => p.in === 'path' && p.name === name)?.schema?.pattern));
        const body = op.requestBody?.content?.['application/json']?.schema;
        routes++;
        if (method === 'get' || method === 'delete') {
          const res = await call(method.toUpperCase(), `${concrete}?bogusParam=1`, { token: g.apiKey });
          expect(res.status, `${method} ${path}`).toBe(400);
          expect(res.body.errors, `${method} ${path}`).toContainEqual({ field: 'query.bogusParam', reason: 'unknown query parameter' });
        } else if (body) {
          const schema = body.$ref ? doc.components.schemas[body.$ref.split('/').pop()!] ?? {} : body;
          const res = await call(method.toUpperCase(), concrete, { token: g.apiKey, body: { bogusField: 1 } });
          expect(res.status, `${method} ${path}`).toBe(400);
          // An object body names the unknown field, also beside the fields still missing.
          if (!schema.oneOf && !schema.anyOf) {
            expect(res.body.errors, `${method} ${path}`).toContainEqual({ field: 'bogusField', reason: 'unknown field' });
          }
        }
      }
    }
    expect(routes).toBeGreaterThan(50);
  });
});
