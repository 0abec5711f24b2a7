// The broker's side of door trust: per-door credentials from enrollment, checked by a broker that
// asks the Worker (EMQX's HTTP hooks, the embedded broker) or reads the mosquitto files rendered here.
import { describe, expect, it } from 'vitest';
import { brokerRules } from '../../core/broker-acl.ts';
import { verifyBrokerPassword } from '../../edge/devices/broker/password-hash.ts';
import { call, enrollDevice, gym } from './helpers.ts';

const brokerEnv = { MQTT_URL: 'mqtt://127.0.0.1:1', MQTT_USERNAME: 'gymgate-worker', MQTT_PASSWORD: 'publisher-secret', BROKER_AUTH_SECRET: 'broker-hook-secret' };

const asBroker = async (method: 'GET' | 'POST', path: string, body?: unknown, secret = brokerEnv.BROKER_AUTH_SECRET) => {
  const res = await call(method, path, { token: secret, ...(body ? { body } : {}), env: brokerEnv });
  return res;
};

const raw = async (path: string) => {
  const { env } = await import('cloudflare:test');
  const { createApp } = await import('../../edge/app.ts');
  const res = await createApp().request(path, { headers: { authorization: `Bearer ${brokerEnv.BROKER_AUTH_SECRET}` } }, { ...(env as object), ...brokerEnv });
  return { status: res.status, text: await res.text(), type: res.headers.get('content-type') };
};

describe('broker identities', () => {
  it('gives each enrolled door its own broker user and password', async () => {
    const g = await gym();
    const a = await enrollDevice(g.apiKey, g.site.id, brokerEnv);
    const b = await enrollDevice(g.apiKey, g.site.id, brokerEnv);
    const [ma, mb] = [a.mqtt as { url: string; username: string; password: string }, b.mqtt as { url: string; username: string; password: string }];
    expect(ma).toMatchObject({ url: brokerEnv.MQTT_URL, username: a.deviceId });
    expect(mb.username).toBe(b.deviceId);
    expect(ma.password).toMatch(/^ggm_/);
    expect(ma.password).not.toBe(mb.password);
  });

  it('authenticates a door and the publisher with their rules, and denies wrong passwords, strangers and revoked doors', async () => {
    const g = await gym();
    const door = await enrollDevice(g.apiKey, g.site.id, brokerEnv);
    const password = (door.mqtt as { password: string }).password;
    const ok = await asBroker('POST', '/v1/broker/authenticate', { username: door.deviceId, password, clientid: `gymgate-${door.deviceId}` });
    expect(ok.body).toEqual({
      result: 'allow',
      is_superuser: false,
      acl: brokerRules({ role: 'device', organisationId: g.organisationId, siteId: g.site.id, deviceId: door.deviceId }, 'gymgate'),
    });
    expect((await asBroker('POST', '/v1/broker/authenticate', { username: door.deviceId, password: `${password}x` })).body.result).toBe('deny');
    expect((await asBroker('POST', '/v1/broker/authenticate', { username: 'dev_nobody0000000', password })).body.result).toBe('deny');
    expect((await asBroker('POST', '/v1/broker/authenticate', { username: 'gymgate-worker', password: 'publisher-secret' })).body).toEqual({
      result: 'allow',
      is_superuser: false,
      acl: brokerRules({ role: 'publisher' }, 'gymgate'),
    });
    expect((await asBroker('POST', '/v1/broker/authenticate', { username: 'gymgate-worker', password: 'guess' })).body.result).toBe('deny');

    // Authorisation by name, as EMQX asks per publish and subscription.
    const prefix = `gymgate/${g.organisationId}`;
    const authorize = async (username: string, action: string, topic: string) => (await asBroker('POST', '/v1/broker/authorize', { username, action, topic })).body.result;
    expect(await authorize(door.deviceId, 'subscribe', `${prefix}/sites/${g.site.id}/entitlements`)).toBe('allow');
    expect(await authorize(door.deviceId, 'publish', `${prefix}/sites/${g.site.id}/entitlements`)).toBe('deny');
    expect(await authorize(door.deviceId, 'publish', `${prefix}/devices/${door.deviceId}/commands`)).toBe('deny');
    expect(await authorize(door.deviceId, 'subscribe', '#')).toBe('deny');
    expect(await authorize(door.deviceId, 'publish', `${prefix}/devices/${door.deviceId}/presence`)).toBe('allow');
    expect(await authorize('gymgate-worker', 'publish', `${prefix}/devices/${door.deviceId}/commands`)).toBe('allow');
    expect(await authorize('gymgate-worker', 'subscribe', `${prefix}/devices/${door.deviceId}/commands`)).toBe('deny');

    // Revoked: refused at once.
    expect((await call('DELETE', `/v1/devices/${door.deviceId}`, { token: g.apiKey })).status).toBe(200);
    expect((await asBroker('POST', '/v1/broker/authenticate', { username: door.deviceId, password })).body.result).toBe('deny');
    expect(await authorize(door.deviceId, 'subscribe', `${prefix}/sites/${g.site.id}/entitlements`)).toBe('deny');
  });

  it('renders mosquitto password and ACL files without revoked doors', async () => {
    const g = await gym();
    const kept = await enrollDevice(g.apiKey, g.site.id, brokerEnv);
    const revoked = await enrollDevice(g.apiKey, g.site.id, brokerEnv);
    await call('DELETE', `/v1/devices/${revoked.deviceId}`, { token: g.apiKey });
    const passwords = await raw('/v1/broker/mosquitto/password-file');
    expect(passwords.status).toBe(200);
    expect(passwords.type).toContain('text/plain');
    const lines = new Map(passwords.text.trim().split('\n').map((l) => [l.slice(0, l.indexOf(':')), l.slice(l.indexOf(':') + 1)]));
    expect(await verifyBrokerPassword((kept.mqtt as { password: string }).password, lines.get(kept.deviceId)!)).toBe(true);
    expect(await verifyBrokerPassword('publisher-secret', lines.get('gymgate-worker')!)).toBe(true);
    expect(lines.has(revoked.deviceId)).toBe(false);
    const acl = await raw('/v1/broker/mosquitto/acl-file');
    expect(acl.text).toContain(`user ${kept.deviceId}\ntopic read gymgate/${g.organisationId}/sites/${g.site.id}/entitlements\ntopic read gymgate/${g.organisationId}/devices/${kept.deviceId}/commands\ntopic write gymgate/${g.organisationId}/devices/${kept.deviceId}/presence\n`);
    expect(acl.text).toContain('user gymgate-worker\ntopic write gymgate/+/sites/+/entitlements\ntopic write gymgate/+/devices/+/commands\n');
    expect(acl.text).not.toContain(revoked.deviceId);
  });

  it('answers only the broker: no secret, a wrong one, or hooks not configured', async () => {
    expect((await call('POST', '/v1/broker/authenticate', { body: { username: 'x', password: 'y' }, env: brokerEnv })).status).toBe(401);
    expect((await asBroker('POST', '/v1/broker/authenticate', { username: 'x', password: 'y' }, 'wrong')).status).toBe(401);
    const g = await gym();
    expect((await call('POST', '/v1/broker/authenticate', { token: g.apiKey, body: { username: 'x', password: 'y' }, env: brokerEnv })).status).toBe(401);
    const off = await call('POST', '/v1/broker/authenticate', { token: 'anything', body: { username: 'x', password: 'y' }, env: { ...brokerEnv, BROKER_AUTH_SECRET: '' } });
    expect(off.status).toBe(404);
  });
});
