import { env } from 'cloudflare:test';
import { describe, expect, inject, it } from 'vitest';
import { EntitlementSnapshot } from '../../core/contracts/wire.ts';
import { EntitlementHash } from '../../core/entitlement-hash.ts';
import { call, enrollDevice, gym } from './helpers.ts';

describe('enrollment', () => {
  it('exchanges a one-time code for a device token, once', async () => {
    const g = await gym();
    const code = await call('POST', '/v1/enrollment-codes', { token: g.apiKey, body: { siteId: g.site.id, ttlMinutes: 10 } });
    expect(code.status).toBe(201);
    expect(code.body.code).toMatch(/^[A-Z2-9]{4}-[A-Z2-9]{4}$/);
    // Codes are typed by technicians: case and separators do not matter.
    const typed = code.body.code.toLowerCase().replace('-', ' ');
    const first = await call('POST', '/v1/enroll', { body: { code: typed, agentVersion: '0.1.0' } });
    expect(first.status).toBe(201);
    expect(first.body).toMatchObject({ organisationId: g.organisationId, siteId: g.site.id, topicPrefix: `gymgate/${g.organisationId}`, mqtt: null });
    expect(first.body.deviceToken).toMatch(/^ggd_/);

    const reused = await call('POST', '/v1/enroll', { body: { code: code.body.code } });
    expect(reused.status).toBe(409);
    expect(reused.contentType).toBe('application/problem+json');
    expect(reused.body.errors).toEqual([{ field: 'code', reason: 'already used' }]);
    const devices = await call('GET', '/v1/devices', { token: g.apiKey });
    expect(devices.body.data).toHaveLength(1);
    expect(devices.body.data[0]).toMatchObject({ id: first.body.deviceId, siteId: g.site.id, agentVersion: '0.1.0', revokedAt: null });
  });

  it('refuses an expired code and an unknown one, creating no device', async () => {
    const g = await gym();
    const code = await call('POST', '/v1/enrollment-codes', { token: g.apiKey, body: { siteId: g.site.id } });
    // 03:00 UTC is 10:00 on the Bangkok site's clock, which the technician reads.
    await env.DB.prepare('UPDATE enrollment_codes SET expires_at = ? WHERE id = ?').bind(Date.parse('2026-11-26T03:00:00Z'), code.body.id).run();
    const expired = await call('POST', '/v1/enroll', { body: { code: code.body.code } });
    expect(expired.status).toBe(410);
    expect(expired.body.detail).toBe('This code expired at 2026-11-26 10:00 (Asia/Bangkok); ask for a new one.');
    expect(expired.body.errors).toEqual([{ field: 'code', reason: 'expired' }]);
    const unknown = await call('POST', '/v1/enroll', { body: { code: 'ZZZZ-ZZZZ' } });
    expect(unknown.status).toBe(400);
    expect(unknown.body.errors[0].field).toBe('code');
    expect((await call('GET', '/v1/devices', { token: g.apiKey })).body.data).toHaveLength(0);
  });

  it('lets only one of two simultaneous enrollments with the same code through', async () => {
    const g = await gym();
    const { code } = (await call('POST', '/v1/enrollment-codes', { token: g.apiKey, body: { siteId: g.site.id } })).body;
    const results = await Promise.all([1, 2, 3].map(() => call('POST', '/v1/enroll', { body: { code } })));
    expect(results.map((r) => r.status).sort()).toEqual([201, 409, 409]);
    expect((await call('GET', '/v1/devices', { token: g.apiKey })).body.data).toHaveLength(1);
  });

  it('will not issue codes for another organisation’s site', async () => {
    const a = await gym();
    const b = await gym();
    const res = await call('POST', '/v1/enrollment-codes', { token: b.apiKey, body: { siteId: a.site.id } });
    expect(res.status).toBe(400);
    expect(res.body.errors[0].field).toBe('siteId');
  });
});

describe('snapshot', () => {
  it('carries the site doors and every credential with its member status, and nothing personal', async () => {
    const g = await gym();
    const device = await enrollDevice(g.apiKey, g.site.id);
    const res = await call('GET', '/v1/device/snapshot', { token: device.deviceToken });
    expect(res.status).toBe(200);
    const snapshot = EntitlementSnapshot.parse(res.body);
    expect(snapshot.siteId).toBe(g.site.id);
    expect(snapshot.doors.map((d) => d.id).sort()).toEqual([g.front.id, g.studio.id].sort());
    expect(snapshot.members).toEqual([
      { id: g.member.id, status: 'active', suspension: null, profile: 0, validFrom: null, validUntil: null, entriesLeft: null, bookings: [] },
    ]);
    expect(snapshot.hash).toBe(EntitlementHash.of(snapshot).value);
    expect(snapshot.credentials).toEqual([['wiegand:12:345', 0]]);
    expect(JSON.stringify(res.body)).not.toContain('Somchai');
    expect(JSON.stringify(res.body)).not.toContain('example.com');
  });

  it('moves to a new version when a member is suspended, and not on unrelated edits', async () => {
    const g = await gym();
    const device = await enrollDevice(g.apiKey, g.site.id);
    const before = (await call('GET', '/v1/device/snapshot', { token: device.deviceToken })).body;
    await call('PATCH', `/v1/members/${g.member.id}`, { token: g.apiKey, body: { phone: '+66 81 111 2222' } });
    expect((await call('GET', '/v1/device/snapshot', { token: device.deviceToken })).body.version).toBe(before.version);
    await call('PATCH', `/v1/members/${g.member.id}`, { token: g.apiKey, body: { status: 'suspended' } });
    const after = (await call('GET', '/v1/device/snapshot', { token: device.deviceToken })).body;
    expect(after.version).toBeGreaterThan(before.version);
    expect(after.members).toMatchObject([{ id: g.member.id, status: 'suspended', suspension: 'staff' }]);
    expect(after.hash).not.toBe(before.hash);
  });

  it('answers whoami cheaply for the technician’s doctor', async () => {
    const g = await gym();
    const device = await enrollDevice(g.apiKey, g.site.id);
    const res = await call('GET', '/v1/device/whoami', { token: device.deviceToken });
    expect(res.body).toMatchObject({ deviceId: device.deviceId, siteId: g.site.id, entitlementVersion: (await call('GET', `/v1/sites/${g.site.id}`, { token: g.apiKey })).body.entitlementVersion });
    expect(Math.abs(res.body.serverTime - Date.now())).toBeLessThan(60_000);
    expect((await call('GET', '/v1/device/whoami', { token: 'ggd_nope' })).status).toBe(401);
  });

  it('refuses a revoked device', async () => {
    const g = await gym();
    const device = await enrollDevice(g.apiKey, g.site.id);
    await call('DELETE', `/v1/devices/${device.deviceId}`, { token: g.apiKey });
    const refused = await call('GET', '/v1/device/snapshot', { token: device.deviceToken });
    expect(refused.status).toBe(401);
    // Said as a revocation, which tells the agent to wipe its cache, unlike an unknown token.
    expect(refused.body).toMatchObject({ type: 'https://gymgate.dev/problems/device-revoked', title: 'Device revoked' });
    expect(refused.body.detail).toMatch(/revoked at \d{4}-\d\d-\d\dT.*must not grant access/);
    for (const [method, path] of [['POST', '/v1/device/heartbeat'], ['GET', '/v1/device/entitlements?since=0'], ['POST', '/v1/device/checkins']] as const) {
      expect((await call(method, path, { token: device.deviceToken, ...(method === 'POST' ? { body: {} } : {}) })).body.type, path).toMatch(/device-revoked$/);
    }
    const unknown = await call('GET', '/v1/device/snapshot', { token: 'ggd_nope' });
    expect(unknown.status).toBe(401);
    expect(unknown.body.type).not.toMatch(/device-revoked$/);
  });

  it('does not accept an owner key on device endpoints, nor a device token on the owner API', async () => {
    const g = await gym();
    const device = await enrollDevice(g.apiKey, g.site.id);
    expect((await call('GET', '/v1/device/snapshot', { token: g.apiKey })).status).toBe(401);
    expect((await call('GET', '/v1/members', { token: device.deviceToken })).status).toBe(401);
  });
});

describe('check-in upload', () => {
  const event = (over: Record<string, unknown> = {}) => ({
    id: crypto.randomUUID(),
    doorId: null,
    memberId: null,
    credentialKey: 'wiegand:12:345',
    granted: true,
    reason: 'granted',
    explanation: 'Active membership.',
    occurredAt: Date.now(),
    ...over,
  });

  it('stores events once, however often they are sent, and lists them with filters', async () => {
    const g = await gym();
    const device = await enrollDevice(g.apiKey, g.site.id);
    const t0 = Date.UTC(2026, 10, 25, 6, 0, 0);
    const events = [
      event({ doorId: g.front.id, memberId: g.member.id, occurredAt: t0 }),
      event({ doorId: g.studio.id, memberId: g.member.id, occurredAt: t0 + 60_000, granted: false, reason: 'member_suspended', explanation: 'The membership is suspended.' }),
      event({ doorId: g.front.id, credentialKey: 'wiegand:1:1', occurredAt: t0 + 120_000, granted: false, reason: 'unknown_credential', explanation: 'x' }),
    ];
    const first = await call('POST', '/v1/device/checkins', { token: device.deviceToken, body: { events } });
    expect(first.body).toEqual({ accepted: 3, duplicates: 0 });
    const again = await call('POST', '/v1/device/checkins', { token: device.deviceToken, body: { events } });
    expect(again.body).toEqual({ accepted: 0, duplicates: 3 });

    const all = (await call('GET', '/v1/checkins', { token: g.apiKey })).body.data;
    expect(all.map((e: { id: string }) => e.id)).toEqual(events.map((e) => e.id).reverse());
    expect(all[2]).toMatchObject({ deviceId: device.deviceId, siteId: g.site.id, occurredAt: new Date(t0).toISOString() });

    const byMember = (await call('GET', `/v1/checkins?memberId=${g.member.id}`, { token: g.apiKey })).body.data;
    expect(byMember).toHaveLength(2);
    const byDoor = (await call('GET', `/v1/checkins?doorId=${g.studio.id}`, { token: g.apiKey })).body.data;
    expect(byDoor.map((e: { reason: string }) => e.reason)).toEqual(['member_suspended']);
    const window = (
      await call('GET', `/v1/checkins?from=${new Date(t0 + 1).toISOString()}&to=${new Date(t0 + 120_000).toISOString()}`, { token: g.apiKey })
    ).body.data;
    expect(window.map((e: { id: string }) => e.id)).toEqual([events[1]!.id]);
    const denied = (await call('GET', '/v1/checkins?granted=false&limit=1', { token: g.apiKey })).body;
    expect(denied.data).toHaveLength(1);
    const next = (await call('GET', `/v1/checkins?granted=false&limit=1&cursor=${denied.nextCursor}`, { token: g.apiKey })).body;
    expect(next.data[0].id).not.toBe(denied.data[0].id);
    expect(next.nextCursor).toBeNull();
  });

  it('scopes event ids to the device: another organisation’s door cannot suppress an event, and a reused id with other content is refused', async () => {
    const a = await gym();
    const b = await gym();
    const deviceA = await enrollDevice(a.apiKey, a.site.id);
    const deviceB = await enrollDevice(b.apiKey, b.site.id);
    const shared = event({ doorId: a.front.id, memberId: a.member.id });
    expect((await call('POST', '/v1/device/checkins', { token: deviceA.deviceToken, body: { events: [shared] } })).body).toEqual({ accepted: 1, duplicates: 0 });
    // The same id from a door of another organisation is that door's own event.
    const theirs = { ...shared, doorId: b.front.id, memberId: b.member.id };
    expect((await call('POST', '/v1/device/checkins', { token: deviceB.deviceToken, body: { events: [theirs] } })).body).toEqual({ accepted: 1, duplicates: 0 });
    expect((await call('GET', '/v1/checkins', { token: b.apiKey })).body.data).toMatchObject([{ id: shared.id, doorId: b.front.id, deviceId: deviceB.deviceId }]);
    expect((await call('GET', '/v1/checkins', { token: a.apiKey })).body.data).toMatchObject([{ id: shared.id, doorId: a.front.id, deviceId: deviceA.deviceId }]);
    // The same device reusing the id for a different event: refused whole, naming the event; nothing of the batch stored.
    const fresh = event({ doorId: a.front.id });
    const reused = await call('POST', '/v1/device/checkins', {
      token: deviceA.deviceToken,
      body: { events: [fresh, { ...shared, granted: false, reason: 'member_suspended', explanation: 'The membership is suspended.' }] },
    });
    expect(reused.status).toBe(422);
    expect(reused.contentType).toContain('application/problem+json');
    expect(reused.body.errors).toEqual([{ field: 'events.1.id', reason: 'this device already uploaded a different event with this id' }]);
    expect((await call('GET', '/v1/checkins', { token: a.apiKey })).body.data).toHaveLength(1);
    // An exact repeat is still a duplicate.
    expect((await call('POST', '/v1/device/checkins', { token: deviceA.deviceToken, body: { events: [shared, fresh] } })).body).toEqual({ accepted: 1, duplicates: 1 });
  });

  it('lists check-ins with the member’s and door’s names on request, so a desk can read them', async () => {
    const g = await gym();
    const device = await enrollDevice(g.apiKey, g.site.id);
    await call('POST', '/v1/device/checkins', { token: device.deviceToken, body: { events: [event({ doorId: g.front.id, memberId: g.member.id }), event({ credentialKey: 'wiegand:9:9', granted: false, reason: 'unknown_credential' })] } });
    const named = (await call('GET', '/v1/checkins?expand=names', { token: g.apiKey })).body.data;
    expect(named).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ memberId: g.member.id, memberName: 'Somchai P.', doorName: 'Front door' }),
        expect.objectContaining({ memberId: null, memberName: null, doorName: null }),
      ]),
    );
    const plain = (await call('GET', '/v1/checkins', { token: g.apiKey })).body.data;
    expect(plain[0]).not.toHaveProperty('memberName');
    expect((await call('GET', '/v1/checkins?expand=everything', { token: g.apiKey })).body.errors).toEqual([{ field: 'query.expand', reason: 'must be names' }]);
  });

  it('rejects a malformed batch whole, naming the field', async () => {
    const g = await gym();
    const device = await enrollDevice(g.apiKey, g.site.id);
    const res = await call('POST', '/v1/device/checkins', {
      token: device.deviceToken,
      body: { events: [event(), event({ reason: 'because' })] },
    });
    expect(res.status).toBe(400);
    expect(res.body.errors[0].field).toBe('events.1.reason');
    expect((await call('GET', '/v1/checkins', { token: g.apiKey })).body.data).toHaveLength(0);
  });

  it('drops references to doors and members outside the device’s site and organisation', async () => {
    const a = await gym();
    const b = await gym();
    const device = await enrollDevice(b.apiKey, b.site.id);
    await call('POST', '/v1/device/checkins', { token: device.deviceToken, body: { events: [event({ doorId: a.front.id, memberId: a.member.id })] } });
    const [stored] = (await call('GET', '/v1/checkins', { token: b.apiKey })).body.data;
    expect(stored).toMatchObject({ doorId: null, memberId: null });
    expect((await call('GET', '/v1/checkins', { token: a.apiKey })).body.data).toHaveLength(0);
  });
});

describe('MQTT notifications', () => {
  type Seen = Array<{ payload: string; retain: boolean; qos: number }>;
  /** What the broker received on a topic, once it holds at least `count` messages (bounded wait). */
  const published = async (topic: string, count = 1): Promise<Seen> => {
    for (let i = 0; ; i++) {
      const seen = (await (await fetch(`${inject('brokerLogUrl')}?topic=${encodeURIComponent(topic)}`)).json()) as Seen;
      if (seen.length >= count || i >= 50) return seen;
      await new Promise((r) => setTimeout(r, 100));
    }
  };

  it('publishes the new version, retained, without personal data, when access changes', async () => {
    const g = await gym();
    const mqttEnv = { MQTT_URL: inject('brokerUrl') };
    const device = await enrollDevice(g.apiKey, g.site.id, mqttEnv);
    expect(device.mqtt).toMatchObject({ url: inject('brokerUrl'), username: device.deviceId, password: expect.stringMatching(/^ggm_/) });
    const topic = `gymgate/${g.organisationId}/sites/${g.site.id}/entitlements`;
    const res = await call('PATCH', `/v1/members/${g.member.id}`, { token: g.apiKey, body: { status: 'suspended' }, env: mqttEnv });
    expect(res.status).toBe(200);
    const version = (await call('GET', `/v1/sites/${g.site.id}`, { token: g.apiKey })).body.entitlementVersion;
    const messages = await published(topic);
    expect(messages).toHaveLength(1);
    expect(messages[0]).toMatchObject({ retain: true, qos: 1 });
    expect(JSON.parse(messages[0]!.payload)).toMatchObject({ siteId: g.site.id, version });

    await call('POST', '/v1/credentials', {
      token: g.apiKey,
      body: { kind: 'raw', memberId: g.member.id, rawId: 'DEADBEEF' },
      env: mqttEnv,
    });
    const later = await published(topic, 2);
    expect(later.map((m) => JSON.parse(m.payload).version)).toEqual([version, version + 1]);
  });

  it('still answers the API when the broker is unreachable', async () => {
    const g = await gym();
    const res = await call('PATCH', `/v1/members/${g.member.id}`, {
      token: g.apiKey,
      body: { status: 'suspended' },
      env: { MQTT_URL: 'mqtt://127.0.0.1:1' },
    });
    expect(res.status).toBe(200);
    expect(res.body.status).toBe('suspended');
  });
});
