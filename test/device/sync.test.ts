// Versioned sync through the running agent: deltas, hash checks, inline notice deltas, heartbeats.
import { webcrypto } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { entitlementTopic } from '../../core/contracts/wire.ts';
import { DEFAULT_PROFILE, type AccessProfile } from '../../core/entitlement.ts';
import { provisionCli } from './support/agent-harness.ts';
import { scenario } from './support/scenario.ts';
import { sleep, waitFor } from './support/wait.ts';

const ctx = scenario();

describe('versioned sync', () => {
  it('applies deltas: a suspension, a removed card and a profile change, with the content hash kept equal', async () => {
    const { worker } = ctx;
    const studio: AccessProfile = { ...DEFAULT_PROFILE, id: 'prof_studio000000', doorGroups: ['general', 'studio'] };
    worker.setProfiles([DEFAULT_PROFILE, studio]);
    worker.setDoor(worker.doors[1]!.id, { group: 'studio' });
    const alice = worker.addMember('wiegand:1:100');
    const bob = worker.addMember('wiegand:1:200');
    worker.addMember('wiegand:1:300');
    const { dataDir } = await provisionCli(worker);
    const r = await ctx.start(dataDir, { pullIntervalSeconds: 600 });
    expect((await r.tap({ door: 2, facility: 1, card: 200 })).decision.reason).toBe('door_not_included');

    worker.setStatus(alice, 'suspended', 'payment_overdue');
    worker.removeCredential('wiegand:1:300');
    worker.updateMember(bob, { profileId: studio.id });
    await r.agent.sync?.pull('test');
    expect(r.agent.cache?.version).toBe(worker.version);
    expect(r.agent.cache?.hashValue).toBe(worker.hash);
    const update = r.log.records.findLast((x) => x.msg === 'entitlements updated');
    expect(update).toMatchObject({ kind: 'delta', from: worker.version - 3, version: worker.version });
    expect(worker.requests.some((q) => q.path === '/v1/device/entitlements' && q.query === `?since=${worker.version - 3}`)).toBe(true);
    expect(worker.count('/v1/device/snapshot')).toBe(1); // the one at provisioning

    expect((await r.tap({ facility: 1, card: 100 })).decision).toMatchObject({ granted: false, reason: 'payment_overdue', memberId: alice });
    expect((await r.tap({ facility: 1, card: 300 })).decision.reason).toBe('unknown_credential');
    expect((await r.tap({ door: 2, facility: 1, card: 200 })).decision).toMatchObject({ granted: true, memberId: bob });

    // A restart starts from cache.json plus the delta journal, without the Worker.
    await worker.stop();
    await ctx.stopAgent(r);
    const again = await ctx.start(dataDir);
    expect(again.agent.cache?.version).toBe(worker.version);
    expect(again.agent.cache?.hashValue).toBe(worker.hash);
    expect(again.log.records.some((x) => x.msg === 'applied journalled entitlement deltas')).toBe(true);
    expect((await again.tap({ facility: 1, card: 100 })).decision.reason).toBe('payment_overdue');
  });

  it('pulls a full snapshot when the hash after a delta differs from the Worker', async () => {
    const { worker } = ctx;
    const { dataDir } = await provisionCli(worker);
    const r = await ctx.start(dataDir, { pullIntervalSeconds: 600 });
    const snapshots = worker.count('/v1/device/snapshot');
    const member = worker.addMember('wiegand:2:2');
    worker.loseNextDeltaMembers = true; // the card arrives, its member does not: the door drifts
    await r.agent.sync?.pull('test');
    await waitFor(() => worker.count('/v1/device/snapshot') === snapshots + 1, 'a full snapshot pull');
    await r.agent.sync?.settled();
    expect(r.log.records.some((x) => x.msg === 'entitlement hash mismatch after a delta; pulling a full snapshot' && x.expected === worker.hash)).toBe(true);
    expect(r.log.records.findLast((x) => x.msg === 'entitlements updated')).toMatchObject({ kind: 'snapshot', reason: 'hash mismatch (full)' });
    expect(r.agent.cache?.hashValue).toBe(worker.hash);
    expect((await r.tap({ facility: 2, card: 2 })).decision).toMatchObject({ granted: true, memberId: member });
  });

  it('takes a snapshot when the Worker answers `since` with one (the log no longer reaches back)', async () => {
    const { worker } = ctx;
    const { dataDir } = await provisionCli(worker);
    const r = await ctx.start(dataDir, { pullIntervalSeconds: 600 });
    worker.addMember('wiegand:3:3');
    worker.truncateLog();
    worker.addMember('wiegand:3:4');
    await r.agent.sync?.pull('test');
    expect(r.log.records.findLast((x) => x.msg === 'entitlements updated')).toMatchObject({ kind: 'snapshot', version: worker.version });
    expect(r.agent.cache?.lookup('wiegand:3:3')).toBeDefined();
    // The wrapped snapshot replaced cache.json.
    expect(JSON.parse(await readFile(join(dataDir, 'cache.json'), 'utf8')).snapshot.version).toBe(worker.version);
  });

  it('applies a signed delta riding inline on the MQTT notice, without a pull', async () => {
    const { worker } = ctx;
    const broker = await ctx.withBroker();
    const suspended = worker.addMember('wiegand:4:4');
    const { dataDir } = await provisionCli(worker);
    const r = await ctx.start(dataDir, { pullIntervalSeconds: 600 });
    await waitFor(async () => (await r.status()).brokerConnected, 'the broker connection');
    await sleep(100); // let the subscription settle
    const from = worker.version;
    worker.setStatus(suspended, 'suspended');
    const added = worker.addMember('wiegand:4:5');
    const pulls = worker.count('/v1/device/entitlements');
    await broker.publishRetained(entitlementTopic(worker.topicPrefix, worker.siteId), await worker.signedNotice(from));
    await waitFor(() => r.agent.cache?.version === worker.version, 'the inline delta');
    expect(worker.count('/v1/device/entitlements')).toBe(pulls);
    expect(r.log.records.some((x) => x.msg === 'entitlement notice received' && x.inlineDelta === true)).toBe(true);
    expect(r.agent.cache?.hashValue).toBe(worker.hash);
    expect((await r.tap({ facility: 4, card: 4 })).decision.reason).toBe('member_suspended');
    expect((await r.tap({ facility: 4, card: 5 })).decision).toMatchObject({ granted: true, memberId: added });

    // An inline delta that does not start at the cached version makes the door pull instead.
    const stale = worker.version;
    worker.addMember('wiegand:4:6');
    const skipFrom = worker.version;
    worker.addMember('wiegand:4:7');
    await broker.publishRetained(entitlementTopic(worker.topicPrefix, worker.siteId), await worker.signedNotice(skipFrom));
    await waitFor(() => r.agent.cache?.version === worker.version, 'the pull after a notice it could not apply');
    expect(worker.requests.filter((q) => q.path === '/v1/device/entitlements').at(-1)?.query).toBe(`?since=${stale}`);
    expect(r.agent.cache?.lookup('wiegand:4:6')).toBeDefined();
  });

  it('applies nothing from forged, altered, cross-site or unsigned notices: each is logged, the door pulls, the relay stays still', async () => {
    const { worker } = ctx;
    const broker = await ctx.withBroker();
    worker.addMember('wiegand:7:1');
    const suspended = worker.addMember('wiegand:7:2');
    worker.setStatus(suspended, 'suspended');
    worker.setDoor(worker.doors[0]!.id, { mode: 'lockdown' });
    const { dataDir } = await provisionCli(worker);
    const r = await ctx.start(dataDir, { pullIntervalSeconds: 600 });
    await waitFor(async () => (await r.status()).brokerConnected, 'the broker connection');
    await sleep(100);
    const topic = entitlementTopic(worker.topicPrefix, worker.siteId);
    const version = worker.version;
    expect((await r.tap({ facility: 7, card: 1 })).decision.reason).toBe('lockdown');

    // What an attacker would like the door to believe, built on the Worker's own state and then put back.
    worker.setDoor(worker.doors[0]!.id, { mode: 'unlocked' });
    worker.setStatus(suspended, 'active');
    worker.addMember('wiegand:7:3');
    const forgedKeys = (await webcrypto.subtle.generateKey({ name: 'Ed25519' }, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
    const wanted = worker.deltaSince(version);
    const forgeries: Array<[string, unknown]> = [
      ['unsigned', { siteId: worker.siteId, version: wanted.version, delta: wanted }],
      ['bad_signature', await worker.signedNotice(version, { keys: forgedKeys })],
      ['bad_signature', await worker.signedNotice(version, { text: (t) => t.replace('"normal"', '"unlocked"') })],
      ['wrong_site', await worker.signedNotice(version, { body: { siteId: 'site_elsewhere00000' } })],
      ['wrong_organisation', await worker.signedNotice(version, { body: { organisationId: 'org_elsewhere000000' } })],
      ['inconsistent', await worker.signedNotice(version, { body: { fromVersion: version - 1 } })],
    ];
    // The Worker's truth is what the door pulls: lockdown, the suspension, no new card.
    worker.setDoor(worker.doors[0]!.id, { mode: 'lockdown' });
    worker.setStatus(suspended, 'suspended');
    worker.removeCredential('wiegand:7:3');
    const relayBefore = (await r.relay()).history.length;
    for (const [, notice] of forgeries) await broker.publish(topic, notice);
    // An empty version bump is only a hint: the door asks the Worker, which still says lockdown.
    await broker.publish(topic, { siteId: worker.siteId, version: worker.version + 5 });
    await waitFor(async () => Object.values((await r.status()).refusedNotices).reduce((a, b) => a + b, 0) === forgeries.length, 'every forgery refused');
    expect((await r.status()).refusedNotices).toEqual({ unsigned: 1, bad_signature: 2, wrong_site: 1, wrong_organisation: 1, inconsistent: 1 });
    // One line per reason (the first of each): a flood of forgeries does not flood the log.
    const logged = r.log.records.filter((x) => x.msg === 'ignoring the inline delta of an entitlement notice; pulling over HTTPS').map((x) => x.reason);
    expect(logged).toEqual([...new Set(forgeries.map(([reason]) => reason))]);
    await waitFor(() => r.agent.cache?.hashValue === worker.hash, 'the pull to bring the Worker’s own state');
    await r.agent.sync?.settled();
    expect(r.log.records.some((x) => x.msg === 'entitlement notice received' && x.inlineDelta === true)).toBe(false);
    for (const card of [1, 2, 3]) expect((await r.tap({ facility: 7, card })).decision.granted).toBe(false);
    expect((await r.relay()).history.length).toBe(relayBefore);
  });

  it('drops malformed and oversized notices with a log line and keeps deciding', async () => {
    const { worker } = ctx;
    const broker = await ctx.withBroker();
    worker.addMember('wiegand:6:6');
    const { dataDir } = await provisionCli(worker);
    const r = await ctx.start(dataDir, { pullIntervalSeconds: 600 });
    await waitFor(async () => (await r.status()).brokerConnected, 'the broker connection');
    await sleep(100);
    const version = r.agent.cache?.version;
    const topic = entitlementTopic(worker.topicPrefix, worker.siteId);
    await broker.publish(topic, 'not json {');
    await broker.publish(topic, { siteId: worker.siteId, version: 'seven' });
    await broker.publish(topic, { siteId: worker.siteId, version: (version ?? 0) + 1, padding: 'x'.repeat(100_000) });
    await waitFor(() => r.log.records.find((x) => x.msg === 'dropping an oversized broker message'), 'the oversized message to be dropped');
    expect(r.log.records.filter((x) => x.msg === 'ignoring a malformed entitlement notice')).toHaveLength(2);
    expect(r.agent.cache?.version).toBe(version);
    expect((await r.tap({ facility: 6, card: 6 })).decision.granted).toBe(true);
  });

  it('sends heartbeats at start and on its interval, and pulls a full snapshot when the hashes differ at the same version', async () => {
    const { worker } = ctx;
    worker.addMember('wiegand:5:5');
    const { dataDir } = await provisionCli(worker);
    const r = await ctx.start(dataDir, { heartbeatSeconds: 0.2, pullIntervalSeconds: 600 });
    const beat = await waitFor(() => worker.heartbeats[0], 'the first heartbeat');
    expect(beat).toMatchObject({
      agentVersion: expect.any(String),
      entitlementVersion: worker.version,
      entitlementHash: worker.hash,
      mqttConnected: false,
      reconnectsLastHour: 0,
      outboxPending: 0,
      deviceId: r.agent.identity.deviceId,
    });
    await waitFor(() => worker.heartbeats.length >= 3, 'periodic heartbeats');
    // Once synchronised, heartbeats carry the learned clock offset.
    expect(Math.abs(worker.heartbeats.at(-1)?.clockOffsetMs ?? Infinity)).toBeLessThan(1000);
    expect((await r.status()).lastHeartbeatAt).toEqual(expect.any(Number));

    const snapshots = worker.count('/v1/device/snapshot');
    worker.heartbeatHash = '00000000000ff';
    await waitFor(() => worker.count('/v1/device/snapshot') === snapshots + 1, 'a full pull after the hash mismatch');
    expect(r.log.records.some((x) => x.msg === 'entitlement hash differs from the Worker at the same version; pulling a full snapshot')).toBe(true);
    // The Worker's own snapshot still hashes differently: the door keeps it and does not loop.
    await sleep(800);
    expect(worker.count('/v1/device/snapshot')).toBe(snapshots + 1);
    expect(r.log.records.filter((x) => /still differs/.test(x.msg))).toHaveLength(1);

    // A heartbeat announcing a newer version makes the door pull.
    worker.heartbeatHash = undefined;
    worker.addMember('wiegand:5:6');
    await waitFor(() => r.agent.cache?.version === worker.version, 'the pull after a heartbeat');
  });

  it('folds the delta journal into cache.json once it grows, and restarts from the result', async () => {
    const { worker } = ctx;
    const { dataDir } = await provisionCli(worker);
    const r = await ctx.start(dataDir, { pullIntervalSeconds: 600, compaction: { journalDeltas: 3 } });
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      ids.push(worker.addMember(`wiegand:8:${i}`));
      await r.agent.sync?.pull('test');
    }
    await r.agent.sync?.settled();
    const compacted = r.log.records.find((x) => x.msg === 'entitlement cache compacted');
    expect(compacted).toMatchObject({ version: worker.version, members: 3, credentials: 3 });
    expect(JSON.parse(await readFile(join(dataDir, 'cache.json'), 'utf8'))).toMatchObject({ version: worker.version, hash: worker.hash });
    await expect(readFile(join(dataDir, 'cache-deltas.jsonl'), 'utf8')).rejects.toMatchObject({ code: 'ENOENT' });
    expect(r.agent.cache?.overlaySize).toBe(0);
    expect(r.agent.cache?.hashValue).toBe(worker.hash);
    expect((await r.tap({ facility: 8, card: 1 })).decision).toMatchObject({ granted: true, memberId: ids[1] });

    await worker.stop();
    await ctx.stopAgent(r);
    const again = await ctx.start(dataDir);
    expect(again.agent.cache?.hashValue).toBe(worker.hash);
    expect((await again.tap({ facility: 8, card: 2 })).decision).toMatchObject({ granted: true, memberId: ids[2] });
  });
});
