import { webcrypto } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { commandTopic } from '../../core/commands.ts';
import { entitlementTopic } from '../../core/contracts/wire.ts';
import { bitString, encodeWiegand } from '../../core/wiegand.ts';
import { signCommand } from '../../edge/lib/signing.ts';
import { waitUntil } from '../../edge/dev/processes.ts';
import { mosquittoAvailable, TestGym, type BrokerKind } from './gym.ts';

type Decision = { granted: boolean; reason: string; explanation: string; memberId: string | null };
type RelayHistory = { history: Array<{ at: number; level: number; active: boolean }> };

// CI installs mosquitto and must run both; a developer machine without it runs the embedded broker only.
const brokers: BrokerKind[] = mosquittoAvailable() || process.env.CI ? ['embedded', 'mosquitto'] : ['embedded'];

describe.each(brokers)('a card tap through the whole system (%s broker)', (brokerKind) => {
  const gym = new TestGym(brokerKind);
  let siteId = '';
  let frontDoor = '';
  let member = { id: '' };
  let other = { id: '' };
  let deviceId = '';
  let capturedCommand = '';

  const frame = (facility: number, card: number) => bitString(encodeWiegand('H10301', facility, card));
  const tap = (bits: string) => gym.control<{ decision: Decision; credentialKey: string | null }>('POST', '/tap', { door: frontDoor, bits });
  const relay = () => gym.control<RelayHistory>('GET', `/relay?door=${frontDoor}`);
  /** Waits for any earlier grant to relock, then returns the history length to compare against. */
  const settledRelay = async () => {
    await waitUntil(async () => (await relay()).history.at(-1)?.active === false, 'the relay to relock', 5_000);
    return (await relay()).history.length;
  };
  const agentVersion = async () => (await gym.control<{ entitlementVersion: number }>('GET', '/status')).entitlementVersion;
  const siteVersion = async () => (await gym.call<{ entitlementVersion: number }>('GET', `/v1/sites/${siteId}`)).entitlementVersion;

  beforeAll(async () => {
    await gym.start();
    siteId = (await gym.call('POST', '/v1/sites', { name: 'Sukhumvit', timezone: 'Asia/Bangkok' })).id;
    frontDoor = (await gym.call('POST', '/v1/doors', { siteId, name: 'Front door' })).id;
    await gym.call('POST', '/v1/doors', { siteId, name: 'Studio' });
    // A 3 s backstop pull: MQTT notices arrive long before it, and the broker-down test relies on it.
    await gym.provisionAndRunAgent(siteId, 3);
  });

  afterAll(async () => {
    await gym.stop();
  });

  it('opens the door for a member added through the API, and lists the check-in', async () => {
    member = await gym.call('POST', '/v1/members', { name: 'Somchai P.', email: 'somchai@example.com' });
    await gym.call('POST', '/v1/credentials', { kind: 'wiegand', memberId: member.id, facilityCode: 12, cardNumber: 345 });
    other = await gym.call('POST', '/v1/members', { name: 'Nok C.' });
    await gym.call('POST', '/v1/credentials', { kind: 'wiegand', memberId: other.id, facilityCode: 12, cardNumber: 346 });
    const version = await siteVersion();
    await waitUntil(async () => (await agentVersion()) >= version, 'the agent to learn the new cards over MQTT', 5_000);

    const before = await settledRelay();
    const { decision, credentialKey } = await tap(frame(12, 345));
    expect(decision).toMatchObject({ granted: true, reason: 'granted', memberId: member.id });
    expect(credentialKey).toBe('wiegand:12:345');
    expect((await relay()).history.slice(before)[0]?.active).toBe(true);
    await settledRelay();

    await waitUntil(async () => {
      const list = await gym.call<{ data: Array<{ memberId: string; granted: boolean; doorId: string; reason: string }> }>(
        'GET',
        `/v1/checkins?memberId=${member.id}`,
      );
      return list.data.some((e) => e.granted && e.doorId === frontDoor && e.reason === 'granted');
    }, 'the granted check-in to be listed by the API', 10_000);
  });

  it('denies within two seconds of the member being suspended (the bench times it: P4), and the relay never moves', async () => {
    const suspendedAt = Date.now();
    await gym.call('PATCH', `/v1/members/${member.id}`, { status: 'suspended' });
    const version = await siteVersion();
    await waitUntil(async () => (await agentVersion()) >= version, 'the agent to learn of the suspension', 2_000, 10);
    const propagationMs = Date.now() - suspendedAt;
    expect(propagationMs).toBeLessThan(2_000);

    const before = await settledRelay();
    const { decision } = await tap(frame(12, 345));
    expect(decision).toMatchObject({ granted: false, reason: 'member_suspended' });
    await new Promise((r) => setTimeout(r, 300));
    expect((await relay()).history.length).toBe(before);
  });

  it('denies a withdrawn card within two seconds', async () => {
    const extra = await gym.call<{ id: string }>('POST', '/v1/credentials', { kind: 'wiegand', memberId: other.id, facilityCode: 12, cardNumber: 347 });
    await waitUntil(async () => (await agentVersion()) >= (await siteVersion()), 'the agent to learn the new card', 10_000, 10);
    await settledRelay();
    expect((await tap(frame(12, 347))).decision.granted).toBe(true);
    const before = await settledRelay();
    const revokedAt = Date.now();
    await gym.call('DELETE', `/v1/credentials/${extra.id}`);
    const version = await siteVersion();
    await waitUntil(async () => (await agentVersion()) >= version, 'the agent to learn of the withdrawn card', 2_000, 10);
    expect(Date.now() - revokedAt).toBeLessThan(2_000);
    expect((await tap(frame(12, 347))).decision.reason).toBe('unknown_credential');
    await new Promise((r) => setTimeout(r, 200));
    expect((await relay()).history.length).toBe(before);
  });

  it('denies a bad read without moving the relay', async () => {
    const before = await settledRelay();
    const good = frame(12, 346);
    const flipped = (good[5] === '1' ? '0' : '1');
    const badParity = await tap(good.slice(0, 5) + flipped + good.slice(6));
    expect(badParity.decision.reason).toBe('bad_read');
    const short = await tap(good.slice(0, 25));
    expect(short.decision.reason).toBe('bad_read');
    await new Promise((r) => setTimeout(r, 300));
    expect((await relay()).history.length).toBe(before);
  });

  it('runs a signed unlock command sent through the API, and records the acknowledgement', async () => {
    const [device] = (await gym.call<{ data: Array<{ id: string }> }>('GET', `/v1/devices?siteId=${siteId}`)).data;
    deviceId = device!.id;
    // Listen like an attacker with the door's stolen credentials would, to replay the command later.
    const spy = await gym.brokerClient('door');
    const topic = commandTopic(`gymgate/${gym.organisationId}`, deviceId);
    await spy.subscribeAsync(topic, { qos: 1 });
    const seen = new Promise<string>((resolve) => spy.on('message', (_t, payload) => resolve(payload.toString())));
    const before = await settledRelay();
    const sent = await gym.call<{ id: string; status: string }>('POST', `/v1/devices/${device!.id}/commands`, {
      action: { type: 'unlock', doorId: frontDoor, seconds: 1 },
    });
    expect(sent.status).toBe('sent');
    await waitUntil(async () => (await relay()).history.slice(before).some((h) => h.active), 'the relay to release on the command', 5_000);
    await settledRelay();
    await waitUntil(
      async () => (await gym.call<{ status: string }>('GET', `/v1/commands/${sent.id}`)).status === 'executed',
      'the command to be acknowledged',
      5_000,
    );
    capturedCommand = await seen;
    await spy.endAsync();
  });

  it('opens no door for 1,000 forged, replayed, expired or misdirected commands published straight to the broker', async () => {
    // With the Worker's own broker credentials (leaked), the worst case: only the signature check stands.
    const attacker = await gym.brokerClient('publisher');
    const topic = commandTopic(`gymgate/${gym.organisationId}`, deviceId);
    const before = await settledRelay();
    const now = Date.now();
    const command = (over: Record<string, unknown>) =>
      JSON.stringify({
        id: crypto.randomUUID(),
        deviceId,
        issuedAt: now,
        expiresAt: now + 60_000,
        nonce: crypto.randomUUID().replaceAll('-', ''),
        action: { type: 'unlock', doorId: frontDoor, seconds: 30 },
        ...over,
      });
    const messages: string[] = [];
    for (let i = 0; i < 250; i++) {
      // Forged: a well-formed command with someone else's signature.
      messages.push(JSON.stringify({ command: command({}), signature: Buffer.from(crypto.getRandomValues(new Uint8Array(64))).toString('base64url') }));
      // Replayed: the genuine command the door already executed.
      messages.push(capturedCommand);
      // Expired and misdirected: genuinely signed, but too old or for another door device.
      const expired = command({ issuedAt: now - 600_000, expiresAt: now - 300_000 });
      messages.push(JSON.stringify({ command: expired, signature: await signCommand(gym.signingKey, expired) }));
      const misdirected = command({ deviceId: 'dev_0000000000someoneelse' });
      messages.push(JSON.stringify({ command: misdirected, signature: await signCommand(gym.signingKey, misdirected) }));
    }
    for (const m of messages) attacker.publish(topic, m, { qos: 1 });
    await attacker.endAsync();
    await new Promise((r) => setTimeout(r, 2_000));
    expect((await relay()).history.length).toBe(before);
    // The agent is still up and deciding. A tap simulated while it still works through the flood can
    // lose its bit timing (a bad read, as at a real reader); the member taps again.
    let after = await tap(frame(12, 346));
    for (let i = 0; i < 3 && after.decision.reason === 'bad_read'; i++) after = await tap(frame(12, 346));
    expect(after.decision).toMatchObject({ granted: true });
  });

  it('applies nothing from 1,000 forged, altered, cross-site or replayed entitlement notices published straight to the broker', async () => {
    const noticeTopic = entitlementTopic(`gymgate/${gym.organisationId}`, siteId);
    // A genuine notice, captured as an attacker on the broker would, then made old by a newer change.
    const spy = await gym.brokerClient('door');
    await spy.subscribeAsync(noticeTopic, { qos: 1 });
    const genuine = await new Promise<string>((resolve) => spy.on('message', (_t, payload) => resolve(payload.toString())));
    await spy.endAsync();
    await gym.call('POST', '/v1/doors', { siteId, name: 'Store room' });
    const current = await siteVersion();
    await waitUntil(async () => (await agentVersion()) >= current, 'the agent to learn of the new door', 5_000, 10);
    const refusedBefore = (await gym.control<{ refusedNotices: Record<string, number> }>('GET', '/status')).refusedNotices;
    const before = await settledRelay();

    const genuineNotice = JSON.parse(genuine) as { signedDelta?: { text: string; signature: string } };
    const body = (over: Record<string, unknown>) => {
      const delta = {
        siteId,
        fromVersion: current,
        version: current + 1,
        serverTime: Date.now(),
        hash: 'forged',
        doors: [{ id: frontDoor, name: 'Front door', group: 'general', mode: 'unlocked', unlockSchedule: null, antiPassbackSeconds: 0, maxOfflineSeconds: 259200, grantSeconds: 1 }],
        members: { upsert: [], remove: [] },
        credentials: { upsert: [['wiegand:99:1', member.id]], remove: [] },
      };
      return { organisationId: gym.organisationId, siteId, fromVersion: current, version: current + 1, hash: 'forged', delta, ...over };
    };
    const foreign = (await webcrypto.subtle.generateKey({ name: 'Ed25519' }, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
    const signWith = async (key: webcrypto.CryptoKey, text: string) => Buffer.from(await webcrypto.subtle.sign('Ed25519', key, new TextEncoder().encode(text))).toString('base64url');
    const messages: string[] = [];
    for (let i = 0; i < 200; i++) {
      const text = JSON.stringify(body({}));
      // Unsigned, as Workers before signing sent them.
      messages.push(JSON.stringify({ siteId, version: current + 1, delta: body({}).delta }));
      // Signed with someone else's key.
      messages.push(JSON.stringify({ siteId, version: current + 1, signedDelta: { text, signature: await signWith(foreign.privateKey, text) } }));
      // A genuine signature over other bytes: the captured notice with its delta altered.
      if (genuineNotice.signedDelta) {
        messages.push(JSON.stringify({ siteId, version: current + 1, signedDelta: { ...genuineNotice.signedDelta, text: genuineNotice.signedDelta.text.replace('"normal"', '"unlocked"') + ' ' } }));
      }
      // Genuinely signed by the Worker's key, but for another site.
      const elsewhere = JSON.stringify(body({ siteId: 'site_0000000000elsewhere', delta: { ...body({}).delta, siteId: 'site_0000000000elsewhere' } }));
      messages.push(JSON.stringify({ siteId, version: current + 1, signedDelta: { text: elsewhere, signature: await signCommand(gym.signingKey, elsewhere) } }));
      // Replayed: the genuine notice of an older version.
      messages.push(genuine);
    }
    // The Worker's own broker credentials (leaked) can publish notices: the door's verification is what holds.
    const attacker = await gym.brokerClient('publisher');
    for (const m of messages) attacker.publish(noticeTopic, m, { qos: 1 });
    await attacker.endAsync();
    await waitUntil(async () => {
      const refused = (await gym.control<{ refusedNotices: Record<string, number> }>('GET', '/status')).refusedNotices;
      const total = Object.values(refused).reduce((a, b) => a + b, 0) - Object.values(refusedBefore).reduce((a, b) => a + b, 0);
      return total >= 800;
    }, 'the agent to refuse the forged notices', 20_000, 100);
    expect((await relay()).history.length).toBe(before);
    expect(await agentVersion()).toBe(await siteVersion());
    expect((await gym.control<{ doors: Array<{ id: string; mode: string | null }> }>('GET', '/status')).doors.find((d) => d.id === frontDoor)?.mode).toBe('normal');
    expect((await tap(frame(99, 1))).decision.reason).toBe('unknown_credential');
  });

  it('keeps a device lockdown through an unrelated door change and a restart of the agent, until released', async () => {
    const locked = await gym.call<{ status: string }>('POST', `/v1/devices/${deviceId}/commands`, { action: { type: 'lockdown' } });
    expect(locked.status).toBe('sent');
    await waitUntil(async () => (await tap(frame(12, 346))).decision.reason === 'lockdown', 'the lockdown at the door', 5_000, 50);
    const doors = await gym.call<{ data: Array<{ id: string; name: string }> }>('GET', `/v1/doors?siteId=${siteId}`);
    const studio = doors.data.find((d) => d.id !== frontDoor)!;
    await gym.call('PATCH', `/v1/doors/${studio.id}`, { name: 'Studio (upstairs)' });
    const changed = await siteVersion();
    await waitUntil(async () => (await agentVersion()) >= changed, 'the agent to learn of the unrelated change', 5_000, 10);
    expect((await tap(frame(12, 346))).decision.reason).toBe('lockdown');
    await gym.restartAgent();
    // Once the restarted agent has settled (its start-up sync done), as a member would find it.
    await waitUntil(async () => (await gym.control<{ lastSyncAt: number | null; brokerConnected: boolean }>('GET', '/status')).brokerConnected, 'the restarted agent to settle', 10_000, 100);
    expect((await gym.control<{ doors: Array<{ id: string; mode: string | null }> }>('GET', '/status')).doors.find((d) => d.id === frontDoor)?.mode).toBe('lockdown');
    // A process just started can stall long enough to split the simulated frame (a bad read moves
    // nothing); the member taps again, as at a real reader.
    let afterRestart = await tap(frame(12, 346));
    for (let i = 0; i < 3 && afterRestart.decision.reason === 'bad_read'; i++) afterRestart = await tap(frame(12, 346));
    expect(afterRestart.decision.reason).toBe('lockdown');
    const released = await gym.call<{ status: string }>('POST', `/v1/devices/${deviceId}/commands`, { action: { type: 'release' } });
    expect(released.status).toBe('sent');
    await waitUntil(async () => (await tap(frame(12, 346))).decision.granted, 'the release at the door', 5_000, 50);
    await settledRelay();
  });

  it('gives each door its own broker identity: strangers are refused, a door reads only its own topics and publishes only its presence, a revoked door is shut out', async () => {
    const prefix = `gymgate/${gym.organisationId}`;
    await expect(gym.brokerClient('anonymous')).rejects.toThrow();
    await expect(gym.brokerClient({ username: deviceId, password: 'not-the-password' })).rejects.toThrow();

    // What the stolen door can read: an observer on its own two topics sees only what the Worker sends.
    const observer = await gym.brokerClient('door');
    const seen: Array<{ topic: string; payload: string; retain: boolean }> = [];
    observer.on('message', (topic, payload, packet) => seen.push({ topic, payload: payload.toString(), retain: packet.retain }));
    await observer.subscribeAsync([entitlementTopic(prefix, siteId), commandTopic(prefix, deviceId)], { qos: 1 });
    // Wider subscriptions are refused (embedded broker) or deliver nothing outside the door's topics (mosquitto).
    const wide = await gym.brokerClient('door');
    const wideSeen: string[] = [];
    wide.on('message', (topic) => wideSeen.push(topic));
    const granted = await wide.subscribeAsync(['#', `${prefix}/sites/+/entitlements`, `${prefix}/devices/+/commands`], { qos: 1 }).then(
      () => true,
      (error: Error) => (expect(error.message).toMatch(/Subscribe error/), false),
    );
    // The embedded broker refuses them in the SUBACK; mosquitto grants them and filters by the ACL.
    expect(granted).toBe(gym.brokerKind === 'mosquitto');

    // The door's credentials publishing a notice and a command: refused by the broker, so nobody hears them.
    const forger = await gym.brokerClient('door');
    forger.on('error', () => undefined);
    forger.publish(entitlementTopic(prefix, siteId), JSON.stringify({ siteId, version: 999_999 }), { qos: 0 });
    forger.publish(commandTopic(prefix, deviceId), JSON.stringify({ command: '{}', signature: 'AAAA' }), { qos: 0 });
    // Another site's change is published by the Worker; no door client of this site may hear it.
    const elsewhere = await gym.call<{ id: string }>('POST', '/v1/sites', { name: 'Thonglor', timezone: 'Asia/Bangkok' });
    await gym.call('POST', '/v1/doors', { siteId: elsewhere.id, name: 'Thonglor door' });
    await new Promise((r) => setTimeout(r, 1_000));
    expect(seen.filter((m) => !m.retain)).toEqual([]);
    expect(wideSeen.filter((topic) => topic.includes(elsewhere.id))).toEqual([]);
    expect(wideSeen.every((topic) => topic === entitlementTopic(prefix, siteId) || topic === `${prefix}/devices/${deviceId}/presence`)).toBe(true);
    for (const c of [observer, wide, forger]) await c.endAsync(true).catch(() => undefined);

    // A second door, enrolled and then revoked: its live connection is dropped and it cannot sign in again.
    const { code } = await gym.call<{ code: string }>('POST', '/v1/enrollment-codes', { siteId });
    const enrolled = (await (await fetch(`${gym.api}/v1/enroll`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ code }) })).json()) as {
      deviceId: string;
      mqtt: { username: string; password: string };
    };
    expect(enrolled.mqtt.username).toBe(enrolled.deviceId);
    expect(enrolled.mqtt.password).not.toBe(gym.doorCredentials().password);
    await gym.broker.refreshIdentities();
    const second = await gym.brokerClient(enrolled.mqtt);
    let dropped = false;
    second.on('close', () => (dropped = true));
    await gym.call('DELETE', `/v1/devices/${enrolled.deviceId}`);
    await gym.broker.refreshIdentities();
    await waitUntil(() => dropped, 'the broker to drop the revoked door', 10_000, 50);
    await expect(gym.brokerClient(enrolled.mqtt)).rejects.toThrow();
    // The running door is unaffected.
    expect((await gym.control<{ brokerConnected: boolean }>('GET', '/status')).brokerConnected).toBe(true);
  });

  it('locks the site down and releases it', async () => {
    await gym.call('POST', '/v1/sites/' + siteId + '/lockdown');
    const locked = await siteVersion();
    await waitUntil(async () => (await agentVersion()) >= locked, 'the agent to learn of the lockdown', 10_000, 10);
    expect((await tap(frame(12, 346))).decision.reason).toBe('lockdown');
    await gym.call('POST', '/v1/sites/' + siteId + '/release');
    const released = await siteVersion();
    await waitUntil(async () => (await agentVersion()) >= released, 'the agent to learn of the release', 10_000, 10);
    await settledRelay();
    expect((await tap(frame(12, 346))).decision.granted).toBe(true);
  });

  it('shows the door online with no version lag in the fleet list', async () => {
    await waitUntil(async () => {
      const [device] = (await gym.call<{ data: Array<{ online: boolean; versionLag: number | null; mqttConnected: boolean | null }> }>('GET', `/v1/devices?siteId=${siteId}`)).data;
      return device?.online === true && device.versionLag === 0 && device.mqttConnected === true;
    }, 'a heartbeat showing the door online and current', 15_000, 250);
  });

  it('keeps deciding from the cache while the Worker is down, and uploads the taps once it is back', async () => {
    await gym.stopWorker();
    const before = await settledRelay();
    const offlineGrant = await tap(frame(12, 346));
    expect(offlineGrant.decision).toMatchObject({ granted: true, memberId: other.id });
    expect((await relay()).history.slice(before)[0]?.active).toBe(true);
    const offlineDeny = await tap(frame(12, 345));
    expect(offlineDeny.decision.reason).toBe('member_suspended');
    const tappedAt = Date.now();

    await gym.startWorker();
    await waitUntil(async () => {
      const list = await gym.call<{ data: Array<{ memberId: string; occurredAt: string; granted: boolean }> }>(
        'GET',
        `/v1/checkins?memberId=${other.id}`,
      );
      return list.data.some((e) => e.granted && Date.parse(e.occurredAt) <= tappedAt);
    }, 'the offline taps to upload after the Worker returned', 30_000, 200);
    const denied = await gym.call<{ data: Array<{ reason: string }> }>('GET', `/v1/checkins?memberId=${member.id}&granted=false`);
    expect(denied.data.map((e) => e.reason)).toContain('member_suspended');
  });

  it('denies with offline_expired once offline longer than the door allows, and grants again after a sync', async () => {
    await gym.stopWorker();
    await settledRelay();
    // The simulated door's clocks move 73 hours ahead: longer than the default 72 h offline age.
    await gym.control('POST', '/time', { advanceSeconds: 73 * 3600 });
    expect((await tap(frame(12, 346))).decision).toMatchObject({ granted: false, reason: 'offline_expired' });
    await gym.startWorker();
    await waitUntil(async () => ((await gym.control<{ cacheAgeMs: number | null }>('GET', '/status')).cacheAgeMs ?? Infinity) < 60_000, 'the agent to sync again', 20_000, 200);
    expect((await tap(frame(12, 346))).decision.granted).toBe(true);
  });

  it('still learns of a change through the backstop pull when the broker is down', async () => {
    await gym.broker.stop();
    await gym.call('PATCH', `/v1/members/${member.id}`, { status: 'active' });
    const version = await siteVersion();
    await waitUntil(async () => (await agentVersion()) >= version, 'the periodic pull to bring the change', 10_000, 50);
    await settledRelay();
    expect((await tap(frame(12, 345))).decision.granted).toBe(true);
  });

  // Last in the file: the door stays revoked.
  it('wipes its cache and refuses every tap once the owner revokes it, and the audit log names who did it', async () => {
    await settledRelay();
    expect((await tap(frame(12, 345))).decision.granted).toBe(true);
    await gym.call('DELETE', `/v1/devices/${deviceId}`);
    // The broker is down (the test before): the backstop pull or the heartbeat hears the 401 device-revoked.
    await waitUntil(async () => (await gym.control<{ revoked: unknown }>('GET', '/status')).revoked !== null, 'the agent to hear it was revoked', 15_000, 100);
    const before = await settledRelay();
    expect((await tap(frame(12, 345))).decision).toMatchObject({ granted: false, reason: 'device_revoked' });
    expect((await gym.control<{ entitlementVersion: number | null; credentials: number }>('GET', '/status'))).toMatchObject({ entitlementVersion: null, credentials: 0 });
    await new Promise((r) => setTimeout(r, 300));
    expect((await relay()).history.length).toBe(before);

    const audit = await gym.call<{ data: Array<{ action: string; actor: { type: string }; before: { revokedAt: string | null }; after: { revokedAt: string | null } }> }>('GET', `/v1/audit-events?resourceId=${deviceId}`);
    expect(audit.data[0]).toMatchObject({ action: 'devices.delete', actor: { type: 'api_key' }, before: { revokedAt: null }, after: { revokedAt: expect.any(String) } });
  });
});
