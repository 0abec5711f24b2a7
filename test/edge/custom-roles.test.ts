// Custom roles: an owner makes "Desk lead" (the front desk plus refunds), gives it to a person, and
// their session may do exactly its permissions; editing the role applies on the person's next
// request; a role in use cannot be deleted; another organisation's role cannot be given; nobody
// makes or gives a role beyond what they hold.
import { env } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { BUILT_IN_ROLES, PERMISSIONS } from '../../core/permissions.ts';
import { call, gym, staffSession } from './helpers.ts';

describe('custom roles', () => {
  it('a role made of the front desk and refunds is held by a person, changed under them and kept while in use', async () => {
    const g = await gym();
    const created = await call('POST', '/v1/roles', { token: g.apiKey, body: { name: 'Desk lead', permissions: ['front_desk', 'payments:refund'] } });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const expected = PERMISSIONS.filter((p) => (BUILT_IN_ROLES.front_desk as readonly string[]).includes(p) || p === 'payments:refund');
    expect(created.body).toMatchObject({ name: 'Desk lead', permissions: expected });
    const role = created.body as { id: string };
    expect((await call('POST', '/v1/roles', { token: g.apiKey, body: { name: 'Desk lead', permissions: ['trainer'] } })).status).toBe(409);

    const lead = await staffSession(g.apiKey, [role.id]);
    const session = (await call('GET', '/v1/auth/session', { headers: lead.headers })).body;
    expect(session.organisation.roles).toEqual([role.id]);
    expect(session.permissions).toEqual(expected);
    const listed = (await call('GET', `/v1/staff/${lead.staffMemberId}`, { token: g.apiKey })).body;
    expect(listed).toMatchObject({ roles: [role.id], permissions: expected });
    // Refunds pass the permission check (a made-up payment is then not found); plan edits do not.
    expect((await call('POST', '/v1/payments/pay_0000000000000000/refunds', { headers: lead.headers, body: { amount: 100 } })).status).toBe(404);
    expect((await call('POST', '/v1/plans', { headers: lead.headers, body: { name: 'x', currency: 'THB', price: 100, interval: 'monthly' } })).status).toBe(403);
    expect((await call('POST', '/v1/members', { headers: lead.headers, body: { name: 'Walk-in' } })).status).toBe(201);

    // The owner takes members:write out of the role: the person's next request is refused.
    const edited = await call('PATCH', `/v1/roles/${role.id}`, { token: g.apiKey, body: { permissions: ['members:read', 'payments:refund'] } });
    expect(edited.status).toBe(200);
    expect(edited.body.permissions).toEqual(['members:read', 'payments:refund']);
    const refused = await call('POST', '/v1/members', { headers: lead.headers, body: { name: 'Walk-in 2' } });
    expect(refused.status).toBe(403);
    expect(refused.body.errors).toEqual([{ field: 'role', reason: 'your roles lack members:write' }]);
    // The audit log has the change, before and after.
    const change = (await call('GET', `/v1/audit-events?action=roles.update&resourceId=${role.id}`, { token: g.apiKey })).body.data[0];
    expect(change.before.permissions).toEqual(expected);
    expect(change.after.permissions).toEqual(['members:read', 'payments:refund']);

    // In use: not deleted. Once nobody holds it: deleted, and gone from the list.
    const inUse = await call('DELETE', `/v1/roles/${role.id}`, { token: g.apiKey });
    expect(inUse.status).toBe(409);
    expect(inUse.body.errors[0].field).toBe('id');
    expect((await call('PATCH', `/v1/staff/${lead.staffMemberId}`, { token: g.apiKey, body: { roles: ['front_desk'] } })).status).toBe(200);
    expect((await call('DELETE', `/v1/roles/${role.id}`, { token: g.apiKey })).body).toEqual({ id: role.id, deleted: true });
    expect((await call('GET', '/v1/roles', { token: g.apiKey })).body.data).toEqual([]);
  });

  it('another organisation’s role, an unknown role and a role beyond the giver are refused', async () => {
    const g = await gym();
    const other = await gym();
    const theirs = (await call('POST', '/v1/roles', { token: other.apiKey, body: { name: 'Theirs', permissions: ['trainer'] } })).body;
    const foreign = await call('POST', '/v1/staff-invitations', { token: g.apiKey, body: { email: 'x@example.com', name: 'X', roles: ['trainer', theirs.id] } });
    expect(foreign.status).toBe(400);
    expect(foreign.body.errors).toEqual([{ field: 'roles.1', reason: `no role ${theirs.id} in this organisation` }]);
    expect((await call('GET', `/v1/roles/${theirs.id}`, { token: g.apiKey })).status).toBe(404);
    const notARole = await call('POST', '/v1/staff-invitations', { token: g.apiKey, body: { email: 'x@example.com', name: 'X', roles: ['janitor'] } });
    expect(notARole.status).toBe(400);
    expect(notARole.body.errors[0].field).toBe('roles.0');

    // A manager (no staff:manage) makes no roles; a key with staff:manage but not refunds makes none with refunds.
    const manager = await staffSession(g.apiKey, ['manager']);
    expect((await call('POST', '/v1/roles', { headers: manager.headers, body: { name: 'Mine', permissions: ['trainer'] } })).status).toBe(403);
    const narrow = (await call('POST', '/v1/api-keys', { token: g.apiKey, body: { name: 'Staff admin', scopes: ['staff:manage', 'members:read'] } })).body.secret;
    const beyond = await call('POST', '/v1/roles', { token: narrow, body: { name: 'Refunder', permissions: ['payments:refund'] } });
    expect(beyond.status).toBe(403);
    expect(beyond.body.errors).toEqual([{ field: 'permissions', reason: 'you lack payments:refund' }]);
    const big = (await call('POST', '/v1/roles', { token: g.apiKey, body: { name: 'Big', permissions: ['manager'] } })).body;
    const give = await call('POST', '/v1/staff-invitations', { token: narrow, body: { email: 'y@example.com', name: 'Y', roles: [big.id] } });
    expect(give.status).toBe(403);
    expect(give.body.errors[0].field).toBe('roles');
  });

  it('an expired invitation does not keep a role; a rename to a taken name is refused and changes nothing', async () => {
    const g = await gym();
    const role = (await call('POST', '/v1/roles', { token: g.apiKey, body: { name: 'Night desk', permissions: ['front_desk'] } })).body;
    await call('POST', '/v1/roles', { token: g.apiKey, body: { name: 'Day desk', permissions: ['front_desk'] } });
    const offer = (await call('POST', '/v1/staff-invitations', { token: g.apiKey, body: { email: 'late@example.com', name: 'Late', roles: [role.id] } })).body;
    expect((await call('DELETE', `/v1/roles/${role.id}`, { token: g.apiKey })).status).toBe(409);
    const renamed = await call('PATCH', `/v1/roles/${role.id}`, { token: g.apiKey, body: { name: 'Day desk', permissions: ['trainer'] } });
    expect([renamed.status, renamed.body.errors]).toEqual([409, [{ field: 'name', reason: 'a role called Day desk exists already' }]]);
    expect((await call('GET', `/v1/roles/${role.id}`, { token: g.apiKey })).body).toMatchObject({ name: 'Night desk', permissions: role.permissions });
    await env.DB.prepare('UPDATE staff_invitations SET expires_at = ? WHERE id = ?').bind(Date.now() - 1, offer.id).run();
    expect((await call('DELETE', `/v1/roles/${role.id}`, { token: g.apiKey })).body).toEqual({ id: role.id, deleted: true });
  });
});
