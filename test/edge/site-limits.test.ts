// Site limits: a technician who works at one branch, as a staff session and as a key limited to
// that site, sees only that site's sites, doors, devices, check-ins and alarms, and every call about
// the other branch's things answers 403 naming the site, with nothing changed. Access handed on by
// someone limited stays within their sites.
import { describe, expect, it } from 'vitest';
import { BUILT_IN_ROLES } from '../../core/permissions.ts';
import { call, enrollDevice, gym, staffSession } from './helpers.ts';

type Ids = { data: Array<{ id: string; siteId?: string }> };

async function twoBranches() {
  const g = await gym();
  const site = (await call('POST', '/v1/sites', { token: g.apiKey, body: { name: 'Thonglor', timezone: 'Asia/Bangkok' } })).body;
  const door = (await call('POST', '/v1/doors', { token: g.apiKey, body: { siteId: site.id, name: 'Thonglor front' } })).body;
  const deviceA = await enrollDevice(g.apiKey, g.site.id);
  const deviceB = await enrollDevice(g.apiKey, site.id);
  const event = (doorId: string) => ({ id: crypto.randomUUID(), doorId, memberId: g.member.id, credentialKey: 'wiegand:12:345', granted: true, reason: 'granted', explanation: 'Active membership.', occurredAt: Date.now() });
  await call('POST', '/v1/device/checkins', { token: deviceA.deviceToken, body: { events: [event(g.front.id)] } });
  await call('POST', '/v1/device/checkins', { token: deviceB.deviceToken, body: { events: [event(door.id)] } });
  return { ...g, a: { site: g.site, door: g.front, device: deviceA }, b: { site, door, device: deviceB } };
}

describe('site limits', () => {
  it('a technician limited to one site, by session and by key, reaches only that site’s things', async () => {
    const g = await twoBranches();
    const session = await staffSession(g.apiKey, ['technician'], [g.a.site.id]);
    const key = (await call('POST', '/v1/api-keys', { token: g.apiKey, body: { name: 'Branch tech tool', scopes: ['technician'], siteIds: [g.a.site.id] } })).body;
    expect(key.siteIds).toEqual([g.a.site.id]);
    const identities = { session: { headers: session.headers }, key: { token: key.secret as string } };

    for (const [who, id] of Object.entries(identities)) {
      const as = (method: string, path: string, body?: unknown) => call(method, path, { ...id, body });
      const ids = async (path: string) => ((await as('GET', path)).body as Ids).data;
      expect((await ids('/v1/sites')).map((s) => s.id), who).toEqual([g.a.site.id]);
      expect(new Set((await ids('/v1/doors')).map((d) => d.siteId)), who).toEqual(new Set([g.a.site.id]));
      expect((await ids('/v1/devices')).map((d) => d.id), who).toEqual([g.a.device.deviceId]);
      expect((await ids('/v1/checkins')).map((e) => e.siteId), who).toEqual([g.a.site.id]);
      expect((await ids(`/v1/doors?siteId=${g.b.site.id}`)), who).toEqual([]);

      const refusals: Array<[string, string, unknown?]> = [
        ['GET', `/v1/sites/${g.b.site.id}`],
        ['GET', `/v1/doors/${g.b.door.id}`],
        ['PATCH', `/v1/doors/${g.b.door.id}`, { name: 'Renamed' }],
        ['POST', '/v1/doors', { siteId: g.b.site.id, name: 'Sneaky door' }],
        ['GET', `/v1/devices/${g.b.device.deviceId}`],
        ['POST', `/v1/devices/${g.b.device.deviceId}/commands`, { action: { type: 'unlock', doorId: g.b.door.id, seconds: 5 } }],
        ['POST', `/v1/sites/${g.b.site.id}/lockdown`],
        ['POST', '/v1/enrollment-codes', { siteId: g.b.site.id }],
        ['POST', '/v1/access/explain', { doorId: g.b.door.id, credential: { kind: 'wiegand', facilityCode: 12, cardNumber: 345 } }],
        ['GET', `/v1/doors/${g.b.door.id}/alarms`],
        ['DELETE', `/v1/devices/${g.b.device.deviceId}`],
      ];
      for (const [method, path, body] of refusals) {
        const res = await as(method, path, body);
        expect(res.status, `${who} ${method} ${path}: ${JSON.stringify(res.body)}`).toBe(403);
        expect(res.body.errors, `${who} ${method} ${path}`).toEqual([{ field: 'siteId', reason: 'not one of your sites' }]);
      }
      // Their own site works.
      expect((await as('GET', `/v1/doors/${g.a.door.id}`)).status, who).toBe(200);
      expect((await as('POST', '/v1/enrollment-codes', { siteId: g.a.site.id })).status, who).toBe(201);
    }
    // Nothing of site B changed: its door kept its name, its device is enrolled, and no site is in lockdown.
    expect((await call('GET', `/v1/doors/${g.b.door.id}`, { token: g.apiKey })).body.name).toBe('Thonglor front');
    expect((await call('GET', `/v1/devices/${g.b.device.deviceId}`, { token: g.apiKey })).body.revokedAt ?? null).toBeNull();
    expect((await call('GET', `/v1/doors?siteId=${g.b.site.id}`, { token: g.apiKey })).body.data.map((d: { name: string }) => d.name)).toEqual(['Thonglor front']);
    // The refusals are in the audit log, with who tried.
    const refused = await call('GET', `/v1/audit-events?outcome=refused&actorId=${session.userId}`, { token: g.apiKey });
    expect(refused.body.data.length).toBeGreaterThanOrEqual(5);
  });

  it('someone limited to a site hands on access only within it', async () => {
    const g = await twoBranches();
    const owner = await staffSession(g.apiKey, ['owner'], [g.a.site.id]);
    const newKey = (body: Record<string, unknown>) => call('POST', '/v1/api-keys', { headers: owner.headers, body: { name: 'Door tool', scopes: ['technician'], ...body } });
    const unlimited = await newKey({});
    expect(unlimited.status).toBe(403);
    expect(unlimited.body.errors).toEqual([{ field: 'siteIds', reason: 'must name sites, among yours' }]);
    const elsewhere = await newKey({ siteIds: [g.b.site.id] });
    expect(elsewhere.status).toBe(403);
    expect(elsewhere.body.errors[0].field).toBe('siteIds');
    expect((await newKey({ siteIds: [g.a.site.id] })).status).toBe(201);
    const invitation = await call('POST', '/v1/staff-invitations', { headers: owner.headers, body: { email: 'ton@example.com', name: 'Ton', roles: ['technician'], siteIds: [g.b.site.id] } });
    expect(invitation.status).toBe(403);
    // A site id of another organisation is unknown, not out of reach.
    const other = await gym();
    const foreign = await call('POST', '/v1/api-keys', { token: g.apiKey, body: { name: 'x', scopes: ['technician'], siteIds: [other.site.id] } });
    expect(foreign.status).toBe(400);
    expect(foreign.body.errors).toEqual([{ field: 'siteIds.0', reason: `no site ${other.site.id} in this organisation` }]);
    // An unlimited owner key sees both.
    expect((await call('GET', '/v1/sites', { token: g.apiKey })).body.data).toHaveLength(2);
    expect(BUILT_IN_ROLES.technician).toContain('sites:lockdown');
  });

  it('someone limited to a site changes access profiles, roles and invitations only within it', async () => {
    const g = await twoBranches();
    const owner = await staffSession(g.apiKey, ['owner'], [g.a.site.id]);
    const as = (method: string, path: string, body?: unknown) => call(method, path, { headers: owner.headers, body });
    const refusal = (res: { status: number; body: { errors: unknown } }) => [res.status, res.body.errors];

    // Access profiles: a profile for every site (sites null) or for the other branch reaches beyond theirs.
    expect(refusal(await as('POST', '/v1/access-profiles', { name: 'Everywhere' }))).toEqual([403, [{ field: 'sites', reason: 'must name sites, among yours' }]]);
    expect(refusal(await as('POST', '/v1/access-profiles', { name: 'Thonglor', sites: [g.b.site.id] }))).toEqual([403, [{ field: 'sites', reason: `${g.b.site.id} not among your sites` }]]);
    const mine = await as('POST', '/v1/access-profiles', { name: 'Sukhumvit only', sites: [g.a.site.id] });
    expect(mine.status, JSON.stringify(mine.body)).toBe(201);
    expect(refusal(await as('PATCH', `/v1/access-profiles/${mine.body.id}`, { sites: [g.a.site.id, g.b.site.id] }))).toEqual([403, [{ field: 'sites', reason: `${g.b.site.id} not among your sites` }]]);
    expect((await as('PATCH', `/v1/access-profiles/${mine.body.id}`, { name: 'Sukhumvit members' })).status).toBe(200);
    const everywhere = (await call('POST', '/v1/access-profiles', { token: g.apiKey, body: { name: 'All branches' } })).body;
    expect(refusal(await as('PATCH', `/v1/access-profiles/${everywhere.id}`, { name: 'Mine now', sites: [g.a.site.id] }))).toEqual([403, [{ field: 'id', reason: 'must name sites, among yours' }]]);
    expect((await call('GET', `/v1/access-profiles/${everywhere.id}`, { token: g.apiKey })).body).toMatchObject({ name: 'All branches', sites: null });

    // Roles are held across the organisation: someone limited makes, changes and deletes none.
    const role = (await call('POST', '/v1/roles', { token: g.apiKey, body: { name: 'Desk lead', permissions: ['front_desk'] } })).body;
    const reachesBeyond = [{ field: 'id', reason: 'reaches sites beyond yours' }];
    expect(refusal(await as('POST', '/v1/roles', { name: 'Branch lead', permissions: ['front_desk'] }))).toEqual([403, [{ field: 'name', reason: 'reaches sites beyond yours' }]]);
    expect(refusal(await as('PATCH', `/v1/roles/${role.id}`, { permissions: ['owner'] }))).toEqual([403, reachesBeyond]);
    expect(refusal(await as('DELETE', `/v1/roles/${role.id}`))).toEqual([403, reachesBeyond]);
    expect((await call('GET', `/v1/roles/${role.id}`, { token: g.apiKey })).body.permissions).toEqual(role.permissions);

    // Invitations to the other branch, or offering more than they hold, are not theirs to withdraw.
    const invite = async (body: Record<string, unknown>) => (await call('POST', '/v1/staff-invitations', { token: g.apiKey, body: { name: 'Ton', roles: ['technician'], ...body } })).body;
    const thonglor = await invite({ email: 'ton@example.com', siteIds: [g.b.site.id] });
    const sukhumvit = await invite({ email: 'nok@example.com', siteIds: [g.a.site.id] });
    expect(refusal(await as('POST', `/v1/staff-invitations/${thonglor.id}/revoke`))).toEqual([403, [{ field: 'id', reason: `${g.b.site.id} not among your sites` }]]);
    expect((await as('POST', `/v1/staff-invitations/${sukhumvit.id}/revoke`)).status).toBe(200);
    const hiring = (await call('POST', '/v1/roles', { token: g.apiKey, body: { name: 'Hiring', permissions: ['front_desk', 'staff:manage'] } })).body;
    const recruiter = await staffSession(g.apiKey, [hiring.id]);
    const ownerOffer = await invite({ email: 'boss@example.com', roles: ['owner'] });
    expect((await call('POST', `/v1/staff-invitations/${ownerOffer.id}/revoke`, { headers: recruiter.headers })).body.errors[0].field).toBe('id');
    const pending = (await call('GET', '/v1/staff-invitations', { token: g.apiKey })).body.data as Array<{ id: string; revokedAt: string | null; acceptedAt: string | null }>;
    expect(pending.filter((i) => i.revokedAt === null && i.acceptedAt === null).map((i) => i.id).sort()).toEqual([thonglor.id, ownerOffer.id].sort());
  });

  it('a profile naming a hundred sites is checked in one query, each unknown site named', async () => {
    const g = await gym();
    const unknown = Array.from({ length: 100 }, (_, i) => `site_${String(i).padStart(16, '0')}`);
    const res = await call('POST', '/v1/access-profiles', { token: g.apiKey, body: { name: 'Far and wide', sites: [g.site.id, ...unknown.slice(1)] } });
    expect(res.status, JSON.stringify(res.body).slice(0, 300)).toBe(400);
    expect(res.body.errors).toHaveLength(99);
    expect(res.body.errors[98]).toEqual({ field: 'sites.99', reason: `no site ${unknown[99]} in this organisation` });
  });
});
