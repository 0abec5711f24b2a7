// The audit log: every write through the owner API is recorded with who, what, when, from where
// and the changed fields before and after; refused attempts are recorded; events are never changed.
import { env } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { generateSigningKey } from '../../edge/lib/signing.ts';
import { call, enrollDevice, gym } from './helpers.ts';

type AuditEvent = {
  id: string;
  occurredAt: string;
  actor: { type: string; id: string | null; name: string | null };
  action: string;
  resourceType: string;
  resourceId: string | null;
  outcome: string;
  status: number;
  request: { method: string; path: string; ip: string | null; userAgent: string | null };
  before: Record<string, unknown> | null;
  after: Record<string, unknown> | null;
};

async function events(token: string, query = ''): Promise<AuditEvent[]> {
  const res = await call('GET', `/v1/audit-events${query}`, { token });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res.body.data;
}

const keyOf = async (owner: string, name: string, scopes?: string[]) => {
  const res = await call('POST', '/v1/api-keys', { token: owner, body: { name, ...(scopes ? { scopes } : {}) } });
  expect(res.status).toBe(201);
  return res.body as { id: string; secret: string };
};

describe('audit log', () => {
  it('records a change with actor, action, resource, origin and only the changed fields before and after', async () => {
    const g = await gym();
    const desk = await keyOf(g.apiKey, 'Front desk tablet', ['front_desk']);
    const headers = { 'user-agent': 'DeskApp/2.1', 'cf-connecting-ip': '203.0.113.7' };
    const res = await call('PATCH', `/v1/members/${g.member.id}`, { token: desk.secret, body: { name: 'Somchai Prasert', phone: '+66 81 234 5678' }, headers });
    expect(res.status).toBe(200);

    const [latest] = await events(g.apiKey, `?resourceId=${g.member.id}&action=members.update`);
    expect(latest).toMatchObject({
      actor: { type: 'api_key', id: desk.id, name: 'Front desk tablet' },
      action: 'members.update',
      resourceType: 'members',
      resourceId: g.member.id,
      outcome: 'succeeded',
      status: 200,
      request: { method: 'PATCH', path: `/v1/members/${g.member.id}`, ip: '203.0.113.7', userAgent: 'DeskApp/2.1' },
      before: { name: 'Somchai P.', phone: null },
      after: { name: 'Somchai Prasert', phone: '+66 81 234 5678' },
    });
    // Only what changed (and the change's own time): the e-mail stayed, so it is in neither.
    expect(Object.keys(latest!.after!).sort()).toEqual(['name', 'phone', 'updatedAt']);
    expect(Date.parse(latest!.occurredAt)).toBeGreaterThan(Date.now() - 60_000);
  });

  it('records creations, actions and deletions, newest first, and the setup writes of the gym', async () => {
    const g = await gym();
    const list = await events(g.apiKey);
    // gym() created a site, two doors, a member and a card: each is an event, newest first.
    expect(list.map((e) => e.action)).toEqual(['credentials.create', 'members.create', 'doors.create', 'doors.create', 'sites.create']);
    const created = list.find((e) => e.action === 'members.create')!;
    expect(created).toMatchObject({ resourceId: g.member.id, before: null, after: { id: g.member.id, name: 'Somchai P.' }, status: 201 });

    expect((await call('POST', `/v1/sites/${g.site.id}/lockdown`, { token: g.apiKey })).status).toBe(200);
    const plan = await call('POST', '/v1/plans', { token: g.apiKey, body: { name: 'Monthly', currency: 'THB', price: 199_000, interval: 'monthly' } });
    expect(plan.status, JSON.stringify(plan.body)).toBe(201);
    expect((await call('DELETE', `/v1/plans/${plan.body.id}`, { token: g.apiKey })).status).toBe(200);

    const [removed, made, locked] = await events(g.apiKey, '?limit=3');
    expect(locked).toMatchObject({ action: 'sites.lockdown', resourceId: g.site.id });
    expect(made).toMatchObject({ action: 'plans.create', resourceId: plan.body.id, before: null });
    expect(removed).toMatchObject({ action: 'plans.delete', resourceId: plan.body.id });
    expect(removed!.before).not.toBeNull();
  });

  it('redacts secrets, one-time codes and PINs', async () => {
    const g = await gym();
    const key = await keyOf(g.apiKey, 'Integration', ['read_only']);
    const [made] = await events(g.apiKey, '?action=api-keys.create');
    expect(made).toMatchObject({ resourceId: key.id, after: { name: 'Integration', secret: '[redacted]' } });
    expect(JSON.stringify(made)).not.toContain(key.secret);

    const code = await call('POST', '/v1/enrollment-codes', { token: g.apiKey, body: { siteId: g.site.id } });
    const [enrollment] = await events(g.apiKey, '?action=enrollment-codes.create');
    expect(enrollment!.after!.code).toBe('[redacted]');
    expect(JSON.stringify(enrollment)).not.toContain(code.body.code);

    expect((await call('PUT', `/v1/members/${g.member.id}/pin`, { token: g.apiKey, body: { pin: '482916' } })).status).toBe(200);
    const [pin] = await events(g.apiKey, '?action=members.pin.set');
    expect(pin).toMatchObject({ resourceType: 'members', resourceId: g.member.id, outcome: 'succeeded' });
    expect(JSON.stringify(pin)).not.toContain('482916');
  });

  it('records a refused attempt, which changes nothing', async () => {
    const g = await gym();
    const reader = await keyOf(g.apiKey, 'Reports', ['read_only']);
    const refused = await call('POST', `/v1/sites/${g.site.id}/lockdown`, { token: reader.secret });
    expect(refused.status).toBe(403);
    const [attempt] = await events(g.apiKey, '?outcome=refused');
    expect(attempt).toMatchObject({
      actor: { type: 'api_key', id: reader.id, name: 'Reports' },
      action: 'sites.lockdown',
      resourceId: g.site.id,
      outcome: 'refused',
      status: 403,
      before: null,
      after: null,
    });
    expect((await events(g.apiKey, '?action=sites.lockdown&outcome=succeeded')).length).toBe(0);
    // Reads are not events; a failed write (nothing changed) is not one either.
    await call('GET', `/v1/members/${g.member.id}`, { token: g.apiKey });
    expect((await call('PATCH', `/v1/members/${g.member.id}`, { token: g.apiKey, body: { email: 'not-an-email' } })).status).toBe(400);
    expect((await events(g.apiKey, '?limit=1'))[0]!.id).toBe(attempt!.id);
  });

  it('filters by actor, resource and time, pages newest first, and shows one organisation only its own events', async () => {
    const g = await gym();
    const other = await gym();
    const desk = await keyOf(g.apiKey, 'Desk', ['front_desk']);
    for (const name of ['A', 'B', 'C']) await call('PATCH', `/v1/members/${g.member.id}`, { token: desk.secret, body: { name } });
    const byDesk = await events(g.apiKey, `?actorId=${desk.id}`);
    expect(byDesk.map((e) => e.after!.name)).toEqual(['C', 'B', 'A']);
    const first = await call('GET', `/v1/audit-events?actorId=${desk.id}&limit=2`, { token: g.apiKey });
    const rest = await call('GET', `/v1/audit-events?actorId=${desk.id}&limit=2&cursor=${first.body.nextCursor}`, { token: g.apiKey });
    expect([...first.body.data, ...rest.body.data].map((e: AuditEvent) => e.id)).toEqual(byDesk.map((e) => e.id));
    expect(rest.body.nextCursor).toBeNull();
    expect(await events(g.apiKey, `?to=${encodeURIComponent(new Date(Date.now() - 3_600_000).toISOString())}`)).toEqual([]);
    expect((await events(g.apiKey, `?from=${encodeURIComponent(new Date(Date.now() - 60_000).toISOString())}&actorId=${desk.id}`)).length).toBe(3);

    // The other organisation sees none of it, even asking by this one's ids.
    expect(await events(other.apiKey, `?resourceId=${g.member.id}`)).toEqual([]);
    expect(await events(other.apiKey, `?actorId=${desk.id}`)).toEqual([]);
    const bad = await call('GET', '/v1/audit-events?outcome=maybe', { token: g.apiKey });
    expect(bad.status).toBe(400);
    expect(bad.body.errors[0].field).toBe('query.outcome');
  });

  it('is readable with audit:read only, and never changed or removed, not even in D1', async () => {
    const g = await gym();
    const desk = await keyOf(g.apiKey, 'Desk', ['front_desk']);
    expect((await call('GET', '/v1/audit-events', { token: desk.secret })).status).toBe(403);
    const auditor = await keyOf(g.apiKey, 'Auditor', ['audit:read']);
    const [event] = await events(auditor.secret);
    expect((await call('DELETE', `/v1/audit-events/${event!.id}`, { token: g.apiKey })).status).toBe(404);
    expect((await call('PATCH', `/v1/audit-events/${event!.id}`, { token: g.apiKey, body: {} })).status).toBe(404);
    await expect(env.DB.prepare('update audit_events set action = ? where id = ?').bind('nothing', event!.id).run()).rejects.toThrow(/never changed/);
    await expect(env.DB.prepare('delete from audit_events where id = ?').bind(event!.id).run()).rejects.toThrow(/never removed/);
    const [still] = await events(g.apiKey, `?limit=200`).then((all) => all.filter((e) => e.id === event!.id));
    expect(still).toEqual(event);
  });

  it('records what a door does through the API, its enrollment and its acknowledgement of a command, with the device as the actor', async () => {
    const g = await gym();
    const keyEnv = { COMMAND_SIGNING_KEY: await generateSigningKey() };
    const device = await enrollDevice(g.apiKey, g.site.id, keyEnv);
    const [enrolled] = await events(g.apiKey, '?action=devices.enroll');
    expect(enrolled).toMatchObject({ actor: { type: 'device', id: device.deviceId, name: 'Front Pi' }, resourceType: 'devices', resourceId: device.deviceId, before: null, after: { siteId: g.site.id } });

    const command = await call('POST', `/v1/devices/${device.deviceId}/commands`, { token: g.apiKey, body: { action: { type: 'unlock', doorId: g.front.id, seconds: 3 } }, env: keyEnv });
    expect(command.status, JSON.stringify(command.body)).toBeLessThan(300);
    const [sent] = await events(g.apiKey, '?action=devices.commands');
    expect(sent).toMatchObject({ actor: { type: 'api_key' }, resourceId: device.deviceId });
    for (let i = 0; i < 2; i++) {
      // QoS 1 may deliver twice: the second acknowledgement changes nothing and is no event.
      expect((await call('POST', `/v1/device/commands/${command.body.id}/ack`, { token: device.deviceToken, body: { status: 'executed' } })).status).toBe(200);
    }
    const acks = await events(g.apiKey, '?actorType=device&action=commands.ack');
    expect(acks).toHaveLength(1);
    expect(acks[0]).toMatchObject({ actor: { type: 'device', id: device.deviceId }, resourceType: 'commands', resourceId: command.body.id, before: { ackedAt: null }, after: { status: 'executed' } });
  });
});
