// Who may do what: every operation of /openapi.json declares the permission it needs
// (x-permission), an API key holds a set of permissions (or is an owner key from before scopes),
// and the built-in roles are sets of permissions. The walks below call every owner operation
// with keys that hold and lack its permission.
import { describe, expect, it } from 'vitest';
import { BUILT_IN_ROLES, PERMISSIONS, ROUTE_AUDIENCES, type BuiltInRole, type Permission } from '../../core/permissions.ts';
import { call, gym, staffSession } from './helpers.ts';

type Operation = { 'x-permission'?: string; security?: Array<Record<string, unknown>>; responses: Record<string, unknown> };
type Op = { method: string; path: string; permission: string; operation: Operation };

async function operations(token: string): Promise<Op[]> {
  const doc = (await call('GET', '/openapi.json', { token })).body as { paths: Record<string, Record<string, Operation>> };
  return Object.entries(doc.paths).flatMap(([path, ops]) =>
    Object.entries(ops).map(([method, operation]) => ({ method: method.toUpperCase(), path, permission: operation['x-permission'] ?? '', operation })),
  );
}

const ownerOps = (ops: Op[]) => ops.filter((op) => (PERMISSIONS as readonly string[]).includes(op.permission));
/** The path with made-up ids: the permission is checked before anything is looked up. */
const concrete = (path: string) => path.replace(/\{[^}]+\}/g, 'x_0000000000000000');

async function keyWith(owner: string, scopes: string[], name = scopes.join(' ')) {
  const res = await call('POST', '/v1/api-keys', { token: owner, body: { name: name.slice(0, 200), scopes } });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body as { id: string; secret: string; scopes: string[] };
}

describe('permissions on every route', () => {
  it('every operation declares a known permission or who authenticates it, and every owner operation documents 403', async () => {
    const g = await gym();
    const ops = await operations(g.apiKey);
    expect(ops.length).toBeGreaterThan(90);
    const undeclared = ops.filter((op) => !op.permission).map((op) => `${op.method} ${op.path}`);
    expect(undeclared).toEqual([]);
    const unknown = ops.filter((op) => ![...PERMISSIONS, ...ROUTE_AUDIENCES].includes(op.permission as Permission)).map((op) => `${op.method} ${op.path}: ${op.permission}`);
    expect(unknown).toEqual([]);
    for (const op of ownerOps(ops)) {
      expect(op.operation.security, `${op.method} ${op.path}`).toEqual([{ ownerKey: [] }, { staffSession: [] }]);
      expect(op.operation.responses['403'], `${op.method} ${op.path}`).toBeDefined();
    }
    // The routes that are not the owner API say who calls them.
    const audience = (prefix: string) => ops.filter((op) => op.path.startsWith(prefix)).map((op) => op.permission);
    expect(new Set(audience('/v1/device/'))).toEqual(new Set(['device']));
    expect(new Set(audience('/v1/broker/'))).toEqual(new Set(['broker']));
    expect(new Set(audience('/v1/auth/'))).toEqual(new Set(['public', 'session']));
    expect(new Set(audience('/v1/member-auth/'))).toEqual(new Set(['public']));
    expect(new Set(audience('/v1/me/'))).toEqual(new Set(['member']));
    expect(ops.find((op) => op.path === '/v1/me')?.permission).toBe('member');
  });

  it('a key with one permission passes that permission and is refused every other, on every owner operation', async () => {
    const g = await gym();
    const ops = ownerOps(await operations(g.apiKey));
    const keys = new Map<string, string>();
    for (const p of PERMISSIONS) keys.set(p, (await keyWith(g.apiKey, [p])).secret);
    let calls = 0;
    for (const op of ops) {
      const holder = await call(op.method, concrete(op.path), { token: keys.get(op.permission)! });
      expect(holder.status, `${op.method} ${op.path} with ${op.permission}`).not.toBe(403);
      // Called without a body or real ids: an answer about that, never a crash.
      expect(holder.status, `${op.method} ${op.path} with ${op.permission}: ${JSON.stringify(holder.body)}`).toBeLessThan(500);
      const other = PERMISSIONS.find((p) => p !== op.permission)!;
      const refused = await call(op.method, concrete(op.path), { token: keys.get(other)! });
      expect(refused.status, `${op.method} ${op.path} with ${other}`).toBe(403);
      expect(refused.contentType).toContain('application/problem+json');
      expect(refused.body.errors).toEqual([{ field: 'authorization', reason: `the key lacks ${op.permission}` }]);
      calls += 2;
    }
    console.log(`permission walk: ${ops.length} owner operations × 2 keys = ${calls} calls, 0 refused wrongly`);
  });

  it('each built-in role, as a key and as a staff person signed in, is allowed exactly the operations of its permissions', async () => {
    const g = await gym();
    const ops = ownerOps(await operations(g.apiKey));
    const table: string[] = [];
    let calls = 0;
    for (const role of Object.keys(BUILT_IN_ROLES) as BuiltInRole[]) {
      const key = await keyWith(g.apiKey, [role]);
      const held = BUILT_IN_ROLES[role] as readonly string[];
      expect(key.scopes).toEqual(PERMISSIONS.filter((p) => held.includes(p)));
      const session = (await staffSession(g.apiKey, [role])).headers;
      let allowed = 0;
      for (const op of ops) {
        const may = held.includes(op.permission);
        for (const auth of [{ token: key.secret }, { headers: session }]) {
          const res = await call(op.method, concrete(op.path), auth);
          expect(res.status === 403, `${role} ${'token' in auth ? 'key' : 'session'}: ${op.method} ${op.path} (${op.permission})`).toBe(!may);
          calls++;
        }
        if (may) allowed++;
      }
      table.push(`${role} ${allowed}/${ops.length}`);
    }
    // A custom role, held by a signed-in person: the front desk plus refunds and plan edits.
    const custom = (await call('POST', '/v1/roles', { token: g.apiKey, body: { name: 'Desk lead', permissions: ['front_desk', 'payments:refund', 'plans:write'] } })).body as { id: string; permissions: string[] };
    const lead = (await staffSession(g.apiKey, [custom.id])).headers;
    let customAllowed = 0;
    for (const op of ops) {
      const may = custom.permissions.includes(op.permission);
      const res = await call(op.method, concrete(op.path), { headers: lead });
      expect(res.status === 403, `custom role: ${op.method} ${op.path} (${op.permission})`).toBe(!may);
      calls++;
      if (may) customAllowed++;
    }
    table.push(`custom role (front desk + refunds + plan edits, as a session) ${customAllowed}/${ops.length}`);
    console.log(`roles walk (${calls} calls, each role as a key and as a signed-in staff person): ${table.join(', ')}`);
  });
});

describe('API keys with scopes', () => {
  it('a read-only key reads and changes nothing; the refusal names the permission', async () => {
    const g = await gym();
    const reader = await keyWith(g.apiKey, ['read_only']);
    expect((await call('GET', '/v1/sites', { token: reader.secret })).status).toBe(200);
    const refused = await call('POST', '/v1/sites', { token: reader.secret, body: { name: 'Silom', timezone: 'Asia/Bangkok' } });
    expect(refused.status).toBe(403);
    expect(refused.body.detail).toContain('sites:write');
    const sites = (await call('GET', '/v1/sites', { token: g.apiKey })).body.data as Array<{ name: string }>;
    expect(sites.map((s) => s.name)).toEqual(['Sukhumvit']);
    const rename = await call('PATCH', `/v1/members/${g.member.id}`, { token: reader.secret, body: { name: 'Changed' } });
    expect(rename.status).toBe(403);
    expect((await call('GET', `/v1/members/${g.member.id}`, { token: g.apiKey })).body.name).toBe('Somchai P.');
  });

  it('front desk takes payments and enrols cards but cannot refund, change dunning policy or see keys', async () => {
    const g = await gym();
    const desk = await keyWith(g.apiKey, ['front_desk']);
    const card = await call('POST', '/v1/credentials', { token: desk.secret, body: { kind: 'wiegand', memberId: g.member.id, facilityCode: 12, cardNumber: 346 } });
    expect(card.status).toBe(201);
    expect((await call('GET', '/v1/api-keys', { token: desk.secret })).status).toBe(403);
    expect((await call('PUT', '/v1/dunning/policy', { token: desk.secret, body: {} })).status).toBe(403);
    expect((await call('POST', '/v1/payments/pay_0000000000000000/refunds', { token: desk.secret, body: {} })).status).toBe(403);
    expect((await call('POST', `/v1/sites/${g.site.id}/lockdown`, { token: desk.secret })).status).toBe(403);
  });

  it('keys made before scopes are owner keys; scopes are listed; unknown scopes are named', async () => {
    const g = await gym();
    const keys = (await call('GET', '/v1/api-keys', { token: g.apiKey })).body.data as Array<{ scopes: string[] | null }>;
    expect(keys.map((k) => k.scopes)).toEqual([null]);
    const bad = await call('POST', '/v1/api-keys', { token: g.apiKey, body: { name: 'Bad', scopes: ['sites:read', 'sites:fly'] } });
    expect(bad.status).toBe(400);
    expect(bad.body.errors).toEqual([{ field: 'scopes.1', reason: expect.stringContaining('must be one of') }]);
    const empty = await call('POST', '/v1/api-keys', { token: g.apiKey, body: { name: 'Empty', scopes: [] } });
    expect(empty.status).toBe(400);
    expect(empty.body.errors).toEqual([{ field: 'scopes', reason: 'must name at least one permission or role' }]);
  });

  it('a key shows when it was last used', async () => {
    const g = await gym();
    const used = await keyWith(g.apiKey, ['sites:read'], 'Used');
    const idle = await keyWith(g.apiKey, ['sites:read'], 'Idle');
    const before = Date.now();
    expect((await call('GET', '/v1/sites', { token: used.secret })).status).toBe(200);
    const keys = (await call('GET', '/v1/api-keys', { token: g.apiKey })).body.data as Array<{ id: string; lastUsedAt: string | null }>;
    const lastUse = (id: string) => keys.find((k) => k.id === id)!.lastUsedAt;
    expect(Date.parse(lastUse(used.id)!)).toBeGreaterThanOrEqual(before - 1000);
    expect(lastUse(idle.id)).toBeNull();
  });

  it('a key gives no more than it holds, and cannot revoke a key that holds more', async () => {
    const g = await gym();
    const manager = await keyWith(g.apiKey, ['api_keys:manage', 'members:read']);
    const wider = await call('POST', '/v1/api-keys', { token: manager.secret, body: { name: 'Wider', scopes: ['members:read', 'members:write'] } });
    expect(wider.status).toBe(403);
    expect(wider.body.errors).toEqual([{ field: 'scopes', reason: 'the calling key lacks members:write' }]);
    const owner = await call('POST', '/v1/api-keys', { token: manager.secret, body: { name: 'Owner' } });
    expect(owner.status).toBe(403);
    const narrower = await call('POST', '/v1/api-keys', { token: manager.secret, body: { name: 'Narrower', scopes: ['members:read'] } });
    expect(narrower.status).toBe(201);
    expect(narrower.body.scopes).toEqual(['members:read']);
    const ownerKey = ((await call('GET', '/v1/api-keys', { token: g.apiKey })).body.data as Array<{ id: string; scopes: string[] | null }>).find((k) => k.scopes === null)!;
    const revoke = await call('DELETE', `/v1/api-keys/${ownerKey.id}`, { token: manager.secret });
    expect(revoke.status).toBe(403);
    expect((await call('GET', '/v1/sites', { token: g.apiKey })).status).toBe(200);
    expect((await call('DELETE', `/v1/api-keys/${narrower.body.id}`, { token: manager.secret })).status).toBe(200);
  });
});
