// Door alarms from the agents: uploaded over the device protocol (idempotent by event id,
// validated with field names), listed to owners per organisation, per site and per door.
import { describe, expect, it } from 'vitest';
import { call, enrollDevice, gym } from './helpers.ts';

const alarm = (doorId: string, over: Record<string, unknown> = {}) => ({
  kind: 'door_alarm',
  id: crypto.randomUUID(),
  doorId,
  type: 'door_forced',
  occurredAt: Date.now() - 60_000,
  openForMs: null,
  ...over,
});

describe('door alarms', () => {
  it('stores uploaded alarms once and lists them newest first, per door and per site', async () => {
    const g = await gym();
    const device = await enrollDevice(g.apiKey, g.site.id);
    const t = Date.now() - 120_000;
    const forced = alarm(g.front.id, { occurredAt: t });
    const held = alarm(g.studio.id, { type: 'door_held_open', occurredAt: t + 1000, openForMs: 31_000 });
    const cleared = alarm(g.studio.id, { type: 'door_held_open_cleared', occurredAt: t + 5000, openForMs: 35_000 });
    const first = await call('POST', '/v1/device/alarms', { token: device.deviceToken, body: { events: [forced, held] } });
    expect(first).toMatchObject({ status: 200, body: { accepted: 2, duplicates: 0 } });
    // The outbox resends after a lost reply: the same ids are recognised.
    const again = await call('POST', '/v1/device/alarms', { token: device.deviceToken, body: { events: [held, cleared] } });
    expect(again.body).toEqual({ accepted: 1, duplicates: 1 });

    const all = await call('GET', `/v1/alarms?siteId=${g.site.id}`, { token: g.apiKey });
    expect(all.status).toBe(200);
    expect(all.body.data.map((a: { id: string }) => a.id)).toEqual([cleared.id, held.id, forced.id]);
    expect(all.body.data[1]).toEqual({
      id: held.id,
      siteId: g.site.id,
      doorId: g.studio.id,
      deviceId: device.deviceId,
      type: 'door_held_open',
      openForMs: 31_000,
      occurredAt: new Date(t + 1000).toISOString(),
      receivedAt: expect.any(String),
    });

    const studio = await call('GET', `/v1/doors/${g.studio.id}/alarms`, { token: g.apiKey });
    expect(studio.body.data.map((a: { type: string }) => a.type)).toEqual(['door_held_open_cleared', 'door_held_open']);
    const since = await call('GET', `/v1/alarms?since=${encodeURIComponent(new Date(t + 500).toISOString())}&type=door_held_open`, { token: g.apiKey });
    expect(since.body.data.map((a: { id: string }) => a.id)).toEqual([held.id]);
    const paged = await call('GET', '/v1/alarms?limit=2', { token: g.apiKey });
    expect(paged.body.data).toHaveLength(2);
    const rest = await call('GET', `/v1/alarms?limit=2&cursor=${paged.body.nextCursor}`, { token: g.apiKey });
    expect(rest.body).toEqual({ data: [expect.objectContaining({ id: forced.id })], nextCursor: null });
  });

  it('scopes alarm ids to the device: another door’s id does not drop an alarm; a reused id with other content is refused', async () => {
    const a = await gym();
    const b = await gym();
    const deviceA = await enrollDevice(a.apiKey, a.site.id);
    const deviceB = await enrollDevice(b.apiKey, b.site.id);
    const forced = alarm(a.front.id);
    expect((await call('POST', '/v1/device/alarms', { token: deviceA.deviceToken, body: { events: [forced] } })).body).toEqual({ accepted: 1, duplicates: 0 });
    expect((await call('POST', '/v1/device/alarms', { token: deviceB.deviceToken, body: { events: [{ ...forced, doorId: b.front.id }] } })).body).toEqual({ accepted: 1, duplicates: 0 });
    expect((await call('GET', '/v1/alarms', { token: b.apiKey })).body.data).toMatchObject([{ id: forced.id, doorId: b.front.id }]);
    const reused = await call('POST', '/v1/device/alarms', { token: deviceA.deviceToken, body: { events: [{ ...forced, type: 'door_held_open', openForMs: 40_000 }] } });
    expect(reused.status).toBe(422);
    expect(reused.body.errors).toEqual([{ field: 'events.0.id', reason: 'this device already uploaded a different event with this id' }]);
  });

  it('refuses a malformed alarm with a 400 naming the field, storing nothing of the batch', async () => {
    const g = await gym();
    const device = await enrollDevice(g.apiKey, g.site.id);
    const good = alarm(g.front.id);
    const res = await call('POST', '/v1/device/alarms', {
      token: device.deviceToken,
      body: { events: [good, alarm(g.front.id, { type: 'door_exploded' })] },
    });
    expect(res.status).toBe(400);
    expect(res.contentType).toBe('application/problem+json');
    expect(res.body.errors.map((e: { field: string }) => e.field)).toEqual(['events.1.type']);
    const noId = await call('POST', '/v1/device/alarms', { token: device.deviceToken, body: { events: [alarm(g.front.id, { id: 'not-a-uuid' })] } });
    expect(noId.body.errors[0].field).toBe('events.0.id');
    const empty = await call('POST', '/v1/device/alarms', { token: device.deviceToken, body: { events: [] } });
    expect(empty.body.errors[0].field).toBe('events');
    expect((await call('GET', '/v1/alarms', { token: g.apiKey })).body.data).toEqual([]);
    // Owner keys are not device tokens.
    expect((await call('POST', '/v1/device/alarms', { token: g.apiKey, body: { events: [good] } })).status).toBe(401);
  });

  it("hides one organisation's alarms and doors from another", async () => {
    const a = await gym();
    const b = await gym();
    const device = await enrollDevice(a.apiKey, a.site.id);
    await call('POST', '/v1/device/alarms', { token: device.deviceToken, body: { events: [alarm(a.front.id)] } });
    expect((await call('GET', `/v1/doors/${a.front.id}/alarms`, { token: a.apiKey })).body.data).toHaveLength(1);
    const other = await call('GET', `/v1/doors/${a.front.id}/alarms`, { token: b.apiKey });
    expect(other.status).toBe(404);
    expect((await call('GET', `/v1/alarms?siteId=${a.site.id}`, { token: b.apiKey })).body.data).toEqual([]);
  });

  it('keeps an alarm about a door outside the device site, without the door reference', async () => {
    const a = await gym();
    const b = await gym();
    const device = await enrollDevice(a.apiKey, a.site.id);
    const stray = alarm(b.front.id);
    expect((await call('POST', '/v1/device/alarms', { token: device.deviceToken, body: { events: [stray] } })).body.accepted).toBe(1);
    const listed = (await call('GET', '/v1/alarms', { token: a.apiKey })).body.data;
    expect(listed).toEqual([expect.objectContaining({ id: stray.id, doorId: null })]);
    expect((await call('GET', '/v1/alarms', { token: b.apiKey })).body.data).toEqual([]);
  });

  it('documents the upload and the listings in the OpenAPI document', async () => {
    const doc = (await call('GET', '/openapi.json')).body;
    expect(Object.keys(doc.paths)).toEqual(expect.arrayContaining(['/v1/device/alarms', '/v1/alarms', '/v1/doors/{id}/alarms']));
    expect(doc.components.schemas.DoorAlarm.properties.type).toBeDefined();
  });
});
