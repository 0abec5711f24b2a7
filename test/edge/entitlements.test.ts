import { env } from 'cloudflare:test';
import { describe, expect, inject, it } from 'vitest';
import { checkCommand, commandTopic, SignedCommand } from '../../core/commands.ts';
import { EntitlementNotice, EntitlementUpdate, readSignedDelta, SIMULATED_FALLBACK_PROBLEM, type EntitlementSnapshot, type Heartbeat } from '../../core/contracts/wire.ts';
import { EntitlementHash } from '../../core/entitlement-hash.ts';
import { applyDelta } from '../../core/entitlement-delta.ts';
import { generateSigningKey } from '../../edge/lib/signing.ts';
import { call, enrollDevice, gym } from './helpers.ts';

const snapshotOf = async (token: string) => (await call<EntitlementSnapshot>('GET', '/v1/device/snapshot', { token })).body;
const updateSince = async (token: string, since: number) => EntitlementUpdate.parse((await call('GET', `/v1/device/entitlements?since=${since}`, { token })).body);
const withoutTime = (s: EntitlementSnapshot) => ({ ...s, serverTime: 0 });

describe('versioned sync', () => {
  it('answers with deltas that turn the old snapshot into the new one, hash included', async () => {
    const g = await gym();
    const device = await enrollDevice(g.apiKey, g.site.id);
    const before = await snapshotOf(device.deviceToken);

    const staff = await call('POST', '/v1/access-profiles', { token: g.apiKey, body: { name: 'Staff', staff: true, doorGroups: ['general', 'staff'] } });
    expect(staff.status).toBe(201);
    const coach = (await call('POST', '/v1/members', { token: g.apiKey, body: { name: 'Coach K', accessProfileId: staff.body.id } })).body;
    await call('POST', '/v1/credentials', { token: g.apiKey, body: { kind: 'raw', memberId: coach.id, rawId: '04A1B2C3' } });
    await call('PATCH', `/v1/members/${g.member.id}`, { token: g.apiKey, body: { status: 'past_due', validUntil: '2026-12-01T00:00:00Z' } });
    await call('PATCH', `/v1/doors/${g.studio.id}`, { token: g.apiKey, body: { group: 'studio', antiPassbackSeconds: 120 } });
    await call('DELETE', `/v1/credentials/${g.card.id}`, { token: g.apiKey });

    const update = await updateSince(device.deviceToken, before.version);
    expect(update.kind).toBe('delta');
    if (update.kind !== 'delta') return;
    const after = await snapshotOf(device.deviceToken);
    expect(update.delta.version).toBe(after.version);
    expect(update.delta.hash).toBe(after.hash);
    // The member lost their only card, so doors drop them; the coach arrives with the staff profile.
    expect(update.delta.members.remove).toEqual([g.member.id]);
    expect(update.delta.members.upsert.map((m) => m.id)).toEqual([coach.id]);
    expect(update.delta.credentials.remove).toEqual(['wiegand:12:345']);
    const applied = applyDelta(before, update.delta);
    expect(withoutTime(applied)).toEqual(withoutTime(after));
    expect(EntitlementHash.of(applied).value).toBe(after.hash);
    expect(after.doors.find((d) => d.id === g.studio.id)).toMatchObject({ group: 'studio', antiPassbackSeconds: 120 });
  });

  it('reads a delta over more members and cards than one statement may bind, and leaves another organisation’s same card number out', async () => {
    const g = await gym();
    const other = await gym(); // holds the same Wiegand card 12:345 in its own organisation
    const device = await enrollDevice(g.apiKey, g.site.id);
    const made: Array<{ id: string }> = [];
    for (let i = 0; i < 120; i++) {
      const m = (await call('POST', '/v1/members', { token: g.apiKey, body: { name: `Member ${i}` } })).body;
      await call('POST', '/v1/credentials', { token: g.apiKey, body: { kind: 'wiegand', memberId: m.id, facilityCode: 7, cardNumber: 1000 + i } });
      made.push(m);
    }
    const before = await snapshotOf(device.deviceToken);
    for (const m of made.slice(0, 110)) await call('PATCH', `/v1/members/${m.id}`, { token: g.apiKey, body: { status: 'frozen' } });
    await call('POST', `/v1/members/${made[0]!.id}/bookings`, {
      token: g.apiKey,
      body: { doorGroup: 'general', startsAt: '2026-12-09T10:00:00Z', endsAt: '2026-12-09T11:00:00Z' },
    });
    await call('DELETE', `/v1/credentials/${g.card.id}`, { token: g.apiKey });
    await call('PATCH', `/v1/members/${other.member.id}`, { token: other.apiKey, body: { status: 'frozen' } });

    const update = await updateSince(device.deviceToken, before.version);
    expect(update.kind).toBe('delta');
    if (update.kind !== 'delta') return;
    const after = await snapshotOf(device.deviceToken);
    expect(update.delta.members.upsert).toHaveLength(110);
    expect(update.delta.members.remove).toEqual([g.member.id]);
    expect(update.delta.credentials.remove).toEqual(['wiegand:12:345']);
    expect(update.delta.credentials.upsert).toEqual([]);
    expect(update.delta.members.upsert.find((m) => m.id === made[0]!.id)?.bookings).toHaveLength(1);
    expect(update.delta.hash).toBe(after.hash);
    expect(withoutTime(applyDelta(before, update.delta))).toEqual(withoutTime(after));
  });

  it('says `current` when nothing changed and sends a snapshot to a door that is ahead or too far behind', async () => {
    const g = await gym();
    const device = await enrollDevice(g.apiKey, g.site.id);
    const now = await snapshotOf(device.deviceToken);
    expect(await updateSince(device.deviceToken, now.version)).toMatchObject({ kind: 'current', version: now.version, hash: now.hash });
    expect((await updateSince(device.deviceToken, now.version + 10)).kind).toBe('snapshot');
    await env.DB.prepare('DELETE FROM entitlement_changes WHERE site_id = ? AND version <= ?').bind(g.site.id, now.version).run();
    await call('PATCH', `/v1/members/${g.member.id}`, { token: g.apiKey, body: { status: 'frozen' } });
    expect((await updateSince(device.deviceToken, 0)).kind).toBe('snapshot');
    expect((await updateSince(device.deviceToken, now.version)).kind).toBe('delta');
  });

  it('puts a small delta inside the MQTT notice, signed with the door-command key; without a key the notice is only a hint', async () => {
    const g = await gym();
    const mqttEnv = { MQTT_URL: inject('brokerUrl'), COMMAND_SIGNING_KEY: await generateSigningKey() };
    const device = await enrollDevice(g.apiKey, g.site.id, mqttEnv);
    const before = await snapshotOf(device.deviceToken);
    await call('PATCH', `/v1/members/${g.member.id}`, { token: g.apiKey, body: { status: 'suspended', suspension: 'payment_overdue' }, env: mqttEnv });
    const topic = `gymgate/${g.organisationId}/sites/${g.site.id}/entitlements`;
    /** The notice of `version`, once the broker has it (bounded wait). */
    const noticeOf = async (version: number) => {
      for (let i = 0; ; i++) {
        const messages = (await (await fetch(`${inject('brokerLogUrl')}?topic=${encodeURIComponent(topic)}`)).json()) as Array<{ payload: string }>;
        const found = messages.map((m) => EntitlementNotice.parse(JSON.parse(m.payload))).find((n) => n.version === version);
        if (found || i >= 50) return found!;
        await new Promise((r) => setTimeout(r, 100));
      }
    };
    const notice = await noticeOf(before.version + 1);
    expect(notice.delta).toBeUndefined();
    const signed = notice.signedDelta!;
    const key = await crypto.subtle.importKey('raw', b64urlBytes(device.commandPublicKey), { name: 'Ed25519' }, false, ['verify']);
    expect(await crypto.subtle.verify('Ed25519', key, b64urlBytes(signed.signature), new TextEncoder().encode(signed.text))).toBe(true);
    const read = readSignedDelta(signed.text, { organisationId: g.organisationId, siteId: g.site.id });
    if (!read.ok) throw new Error(read.detail);
    expect(read.body).toMatchObject({ organisationId: g.organisationId, siteId: g.site.id, fromVersion: before.version, version: before.version + 1 });
    expect(read.body.delta.members.upsert).toMatchObject([{ id: g.member.id, status: 'suspended', suspension: 'payment_overdue' }]);
    expect(applyDelta(before, read.body.delta).hash).toBe((await snapshotOf(device.deviceToken)).hash);
    // The same text read by a door of another organisation or site is refused.
    expect(readSignedDelta(signed.text, { organisationId: 'org_other0000000', siteId: g.site.id })).toMatchObject({ ok: false, reason: 'wrong_organisation' });
    expect(readSignedDelta(signed.text, { organisationId: g.organisationId, siteId: 'site_other000000' })).toMatchObject({ ok: false, reason: 'wrong_site' });

    const restored = await call('PATCH', `/v1/members/${g.member.id}`, { token: g.apiKey, body: { status: 'active' }, env: { MQTT_URL: inject('brokerUrl') } });
    expect(restored.status, JSON.stringify(restored.body)).toBe(200);
    const hint = await noticeOf(before.version + 2);
    expect(hint).toEqual({ siteId: g.site.id, version: before.version + 2 });
  });
});

const b64urlBytes = (s: string) => Uint8Array.from(atob(s.replaceAll('-', '+').replaceAll('_', '/')), (c) => c.charCodeAt(0));

describe('access rules through the API', () => {
  const explain = (apiKey: string, doorId: string, at: string, facilityCode = 12, cardNumber = 345) =>
    call('POST', '/v1/access/explain', { token: apiKey, body: { doorId, credential: { kind: 'wiegand', facilityCode, cardNumber }, at } });

  it('explains off-peak schedules, closures, door groups and bookings the way the door decides', async () => {
    const g = await gym();
    const offPeak = await call('POST', '/v1/access-profiles', {
      token: g.apiKey,
      body: { name: 'Off-peak', schedule: { windows: [{ days: [1, 2, 3, 4, 5], start: '10:00', end: '16:00' }] } },
    });
    await call('PATCH', `/v1/members/${g.member.id}`, { token: g.apiKey, body: { accessProfileId: offPeak.body.id } });
    // Thursday 2026-11-26 in Bangkok: 09:00 is outside, 11:00 inside.
    expect((await explain(g.apiKey, g.front.id, '2026-11-26T02:00:00Z')).body).toMatchObject({ granted: false, reason: 'outside_schedule' });
    expect((await explain(g.apiKey, g.front.id, '2026-11-26T04:00:00Z')).body).toMatchObject({ granted: true, memberId: g.member.id });

    await call('PATCH', `/v1/sites/${g.site.id}`, { token: g.apiKey, body: { closures: [{ date: '2026-11-26', note: 'Staff training' }] } });
    expect((await explain(g.apiKey, g.front.id, '2026-11-26T04:00:00Z')).body).toMatchObject({ reason: 'site_closed' });

    await call('PATCH', `/v1/doors/${g.studio.id}`, { token: g.apiKey, body: { group: 'studio' } });
    expect((await explain(g.apiKey, g.studio.id, '2026-11-27T04:00:00Z')).body.reason).toBe('door_not_included');
    const booking = await call('POST', `/v1/members/${g.member.id}/bookings`, {
      token: g.apiKey,
      body: { doorGroup: 'studio', startsAt: '2026-11-27T11:00:00Z', endsAt: '2026-11-27T12:00:00Z', opensMinutesBefore: 10 },
    });
    expect(booking.status).toBe(201);
    // 17:55 Bangkok is after the off-peak window, but the booking opens the studio from 17:50.
    expect((await explain(g.apiKey, g.studio.id, '2026-11-27T10:55:00Z')).body).toMatchObject({ granted: true, explanation: 'Booked class.' });
    expect((await explain(g.apiKey, g.studio.id, '2026-11-27T10:45:00Z')).body.reason).toBe('door_not_included');
    expect((await explain(g.apiKey, g.front.id, '2026-11-26T04:00:00Z', 99, 1)).body.reason).toBe('unknown_credential');
  });

  it('rejects bad rules with the field named', async () => {
    const g = await gym();
    const bad = await call('POST', '/v1/access-profiles', { token: g.apiKey, body: { name: 'x', lockdownAccess: true, doorGroups: ['Pool!'] } });
    expect(bad.status).toBe(400);
    expect(bad.body.errors.map((e: { field: string }) => e.field)).toEqual(expect.arrayContaining(['doorGroups.0']));
    const noStaff = await call('POST', '/v1/access-profiles', { token: g.apiKey, body: { name: 'x', lockdownAccess: true } });
    expect(noStaff.body.errors).toEqual([{ field: 'lockdownAccess', reason: 'lockdown access is for staff profiles only' }]);
    const door = await call('PATCH', `/v1/doors/${g.front.id}`, { token: g.apiKey, body: { maxOfflineHours: 24 * 31 } });
    expect(door.body.errors[0].field).toBe('maxOfflineHours');
    const booking = await call('POST', `/v1/members/${g.member.id}/bookings`, {
      token: g.apiKey,
      body: { doorGroup: 'studio', startsAt: '2026-11-27T11:00:00Z', endsAt: '2026-11-27T10:00:00Z' },
    });
    expect(booking.body.errors).toEqual([{ field: 'endsAt', reason: 'must be after startsAt' }]);
  });

  it('shows the offline policy per door', async () => {
    const g = await gym();
    expect(g.front).toMatchObject({ maxOfflineHours: 72, mode: 'normal', group: 'general', grantSeconds: 5 });
    const updated = await call('PATCH', `/v1/doors/${g.front.id}`, { token: g.apiKey, body: { maxOfflineHours: 720 } });
    expect(updated.body.maxOfflineHours).toBe(720);
    const device = await enrollDevice(g.apiKey, g.site.id);
    const snapshot = await snapshotOf(device.deviceToken);
    expect(snapshot.doors.find((d) => d.id === g.front.id)?.maxOfflineSeconds).toBe(720 * 3600);
  });

  it('counts pass entries used at the door once per event', async () => {
    const g = await gym();
    await call('PATCH', `/v1/members/${g.member.id}`, { token: g.apiKey, body: { entriesLeft: 2 } });
    const device = await enrollDevice(g.apiKey, g.site.id);
    const event = {
      id: crypto.randomUUID(), doorId: g.front.id, memberId: g.member.id, credentialKey: 'wiegand:12:345',
      granted: true, reason: 'granted', explanation: 'Pass entry (1 left after this one).', occurredAt: Date.now(), usesPass: true,
    };
    const version = (await snapshotOf(device.deviceToken)).version;
    await call('POST', '/v1/device/checkins', { token: device.deviceToken, body: { events: [event] } });
    await call('POST', '/v1/device/checkins', { token: device.deviceToken, body: { events: [event] } });
    expect((await call('GET', `/v1/members/${g.member.id}`, { token: g.apiKey })).body.entriesLeft).toBe(1);
    const after = await snapshotOf(device.deviceToken);
    expect(after.version).toBe(version + 1);
    expect(after.members[0]?.entriesLeft).toBe(1);
  });
});

describe('signed door commands', () => {
  const published = async (topic: string) =>
    (await (await fetch(`${inject('brokerLogUrl')}?topic=${encodeURIComponent(topic)}`)).json()) as Array<{ payload: string; retain: boolean }>;

  it('signs, publishes without retain, and records the door’s acknowledgement', async () => {
    const g = await gym();
    const keyEnv = { MQTT_URL: inject('brokerUrl'), COMMAND_SIGNING_KEY: await generateSigningKey() };
    const device = await enrollDevice(g.apiKey, g.site.id, keyEnv);
    expect(device.commandPublicKey).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const sent = await call('POST', `/v1/devices/${device.deviceId}/commands`, {
      token: g.apiKey,
      body: { action: { type: 'unlock', doorId: g.front.id, seconds: 8 }, ttlSeconds: 30 },
      env: keyEnv,
    });
    expect(sent.status).toBe(201);
    expect(sent.body.status).toBe('sent');

    const [message] = await published(commandTopic(`gymgate/${g.organisationId}`, device.deviceId));
    expect(message?.retain).toBe(false);
    const signed = SignedCommand.parse(JSON.parse(message!.payload));
    const publicKey = await crypto.subtle.importKey('raw', Uint8Array.from(atob(device.commandPublicKey.replaceAll('-', '+').replaceAll('_', '/') + '='), (ch) => ch.charCodeAt(0)), { name: 'Ed25519' }, false, ['verify']);
    const sig = Uint8Array.from(atob(signed.signature.replaceAll('-', '+').replaceAll('_', '/') + '=='.slice(0, (4 - (signed.signature.length % 4)) % 4)), (ch) => ch.charCodeAt(0));
    expect(await crypto.subtle.verify('Ed25519', publicKey, sig, new TextEncoder().encode(signed.command))).toBe(true);
    expect(await crypto.subtle.verify('Ed25519', publicKey, sig, new TextEncoder().encode(signed.command.replace('"seconds":8', '"seconds":80')))).toBe(false);
    const check = checkCommand(signed.command, { deviceId: device.deviceId, now: Date.now(), clockSynced: true, seenNonce: () => false });
    expect(check).toMatchObject({ ok: true, command: { id: sent.body.id, action: { type: 'unlock', seconds: 8 } } });

    const ack = await call('POST', `/v1/device/commands/${sent.body.id}/ack`, { token: device.deviceToken, body: { status: 'executed' } });
    expect(ack.body).toEqual({ id: sent.body.id, status: 'executed' });
    const again = await call('POST', `/v1/device/commands/${sent.body.id}/ack`, { token: device.deviceToken, body: { status: 'rejected', reason: 'replayed' } });
    expect(again.body.status).toBe('executed');
    expect((await call('GET', `/v1/commands/${sent.body.id}`, { token: g.apiKey })).body).toMatchObject({ status: 'executed', ackedAt: expect.any(String) });
  });

  it('persists a mode change and a lockdown so every sync agrees with the command', async () => {
    const g = await gym();
    const keyEnv = { MQTT_URL: inject('brokerUrl'), COMMAND_SIGNING_KEY: await generateSigningKey() };
    const device = await enrollDevice(g.apiKey, g.site.id, keyEnv);
    await call('POST', `/v1/devices/${device.deviceId}/commands`, { token: g.apiKey, body: { action: { type: 'set_mode', doorId: g.studio.id, mode: 'locked' } }, env: keyEnv });
    expect((await snapshotOf(device.deviceToken)).doors.find((d) => d.id === g.studio.id)?.mode).toBe('locked');
    const lockdown = await call('POST', `/v1/sites/${g.site.id}/lockdown`, { token: g.apiKey, env: keyEnv });
    expect(lockdown.body).toMatchObject({ doors: 2, commands: [{ deviceId: device.deviceId, action: { type: 'lockdown' }, status: 'sent' }] });
    expect((await snapshotOf(device.deviceToken)).doors.map((d) => d.mode)).toEqual(['lockdown', 'lockdown']);
    await call('POST', `/v1/sites/${g.site.id}/release`, { token: g.apiKey, env: keyEnv });
    expect((await snapshotOf(device.deviceToken)).doors.map((d) => d.mode)).toEqual(['normal', 'normal']);
  });

  it('records a device lockdown on its site’s doors until a release; without a signing key nothing is written', async () => {
    const g = await gym();
    const keyEnv = { COMMAND_SIGNING_KEY: await generateSigningKey() };
    const device = await enrollDevice(g.apiKey, g.site.id, keyEnv);
    const refused = await call('POST', `/v1/devices/${device.deviceId}/commands`, { token: g.apiKey, body: { action: { type: 'lockdown' } } });
    expect(refused.status).toBe(409);
    expect((await snapshotOf(device.deviceToken)).doors.map((d) => d.mode)).toEqual(['normal', 'normal']);
    await call('POST', `/v1/devices/${device.deviceId}/commands`, { token: g.apiKey, body: { action: { type: 'lockdown' } }, env: keyEnv });
    expect((await snapshotOf(device.deviceToken)).doors.map((d) => d.mode)).toEqual(['lockdown', 'lockdown']);
    // An unrelated change later keeps it.
    await call('PATCH', `/v1/doors/${g.studio.id}`, { token: g.apiKey, body: { name: 'Studio (upstairs)' } });
    expect((await snapshotOf(device.deviceToken)).doors.map((d) => d.mode)).toEqual(['lockdown', 'lockdown']);
    await call('POST', `/v1/devices/${device.deviceId}/commands`, { token: g.apiKey, body: { action: { type: 'release' } }, env: keyEnv });
    expect((await snapshotOf(device.deviceToken)).doors.map((d) => d.mode)).toEqual(['normal', 'normal']);
  });

  it('refuses commands for another organisation’s device or a door elsewhere, and without a signing key', async () => {
    const a = await gym();
    const b = await gym();
    const keyEnv = { COMMAND_SIGNING_KEY: await generateSigningKey() };
    const device = await enrollDevice(a.apiKey, a.site.id, keyEnv);
    expect((await call('POST', `/v1/devices/${device.deviceId}/commands`, { token: b.apiKey, body: { action: { type: 'sync_now' } }, env: keyEnv })).status).toBe(404);
    const elsewhere = await call('POST', `/v1/devices/${device.deviceId}/commands`, { token: a.apiKey, body: { action: { type: 'unlock', doorId: b.front.id, seconds: 5 } }, env: keyEnv });
    expect(elsewhere.body.errors[0].field).toBe('action.doorId');
    const unsigned = await call('POST', `/v1/devices/${device.deviceId}/commands`, { token: a.apiKey, body: { action: { type: 'sync_now' } } });
    expect(unsigned.status).toBe(409);
    const noBroker = await call('POST', `/v1/devices/${device.deviceId}/commands`, { token: a.apiKey, body: { action: { type: 'sync_now' } }, env: keyEnv });
    expect(noBroker.body).toMatchObject({ status: 'publish_failed', resultReason: 'publish_failed' });
  });
});

describe('fleet health', () => {
  it('lists online state, version lag, clock offset and flapping from heartbeats', async () => {
    const g = await gym();
    const device = await enrollDevice(g.apiKey, g.site.id);
    const snap = await snapshotOf(device.deviceToken);
    const reply = await call('POST', '/v1/device/heartbeat', {
      token: device.deviceToken,
      body: { agentVersion: '0.2.0', entitlementVersion: snap.version - 1, entitlementHash: 'x', uptimeSeconds: 3600, clockOffsetMs: -850, mqttConnected: true, reconnectsLastHour: 7, outboxPending: 3 },
    });
    expect(reply.body).toMatchObject({ entitlementVersion: snap.version, entitlementHash: snap.hash, serverTime: expect.any(Number) });
    const [listed] = (await call('GET', '/v1/devices', { token: g.apiKey })).body.data;
    expect(listed).toMatchObject({ online: true, agentVersion: '0.2.0', versionLag: 1, clockOffsetMs: -850, flapping: true, outboxPending: 3 });
    await env.DB.prepare('UPDATE devices SET last_seen_at = ? WHERE id = ?').bind(Date.now() - 120_000, device.deviceId).run();
    expect((await call('GET', `/v1/devices/${device.deviceId}`, { token: g.apiKey })).body.online).toBe(false);
  });

  it('shows a door whose GPIO fell back to the simulated driver until a heartbeat says it is fixed', async () => {
    const g = await gym();
    const device = await enrollDevice(g.apiKey, g.site.id);
    const beat: Heartbeat = { agentVersion: '0.3.0', entitlementVersion: null, entitlementHash: null, uptimeSeconds: 60, clockOffsetMs: null, mqttConnected: false, reconnectsLastHour: 0, outboxPending: 0 };
    const heartbeat = (body: unknown) => call('POST', '/v1/device/heartbeat', { token: device.deviceToken, body });
    const listed = async () => (await call('GET', '/v1/devices', { token: g.apiKey })).body.data[0];
    const read = async () => (await call('GET', `/v1/devices/${device.deviceId}`, { token: g.apiKey })).body;

    expect((await heartbeat({ ...beat, gpio: { driver: 'simulated', simulatedFallback: true } })).status).toBe(200);
    expect(await listed()).toMatchObject({ gpioDriver: 'simulated', problems: [SIMULATED_FALLBACK_PROBLEM] });
    expect(await read()).toMatchObject({ gpioDriver: 'simulated', problems: [SIMULATED_FALLBACK_PROBLEM] });

    expect((await heartbeat({ ...beat, uptimeSeconds: 5, gpio: { driver: 'gpiod', simulatedFallback: false } })).status).toBe(200);
    expect(await listed()).toMatchObject({ gpioDriver: 'gpiod', problems: [] });

    // An invalid report is refused whole: nothing of it is written.
    const before = await read();
    const bad = await heartbeat({ ...beat, uptimeSeconds: 9, gpio: { driver: 'simulated', simulatedFallback: 'yes' } });
    expect(bad.status).toBe(400);
    expect(bad.body.errors.map((e: { field: string }) => e.field)).toEqual(['gpio.simulatedFallback']);
    expect(await read()).toEqual(before);

    // An agent that does not report its GPIO is still accepted; its GPIO is unknown, not a problem.
    expect((await heartbeat(beat)).status).toBe(200);
    expect(await listed()).toMatchObject({ gpioDriver: null, problems: [], uptimeSeconds: 60 });
  });
});
