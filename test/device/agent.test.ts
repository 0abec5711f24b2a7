import { readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { entitlementTopic } from '../../core/contracts/wire.ts';
import { readAgentConfig } from '../../device/config/files.ts';
import { ControlRequestError } from '../../device/sim/control-client.ts';
import { USER_AGENT } from '../../device/version.ts';
import { startBroker, type TestBroker } from './support/broker.ts';
import { FakeWorker } from './support/fake-worker.ts';
import { provisionCli, runAgent, setGrantMs, tempDir, type RunningAgent } from './support/agent-harness.ts';
import { sleep, waitFor } from './support/wait.ts';

let worker: FakeWorker;
let running: RunningAgent[] = [];
let broker: TestBroker | undefined;

beforeEach(async () => {
  worker = new FakeWorker();
  await worker.start();
});

afterEach(async () => {
  for (const r of running.splice(0)) await r.agent.stop();
  await worker.stop();
  await broker?.close();
  broker = undefined;
});

const start = async (...args: Parameters<typeof runAgent>) => {
  const r = await runAgent(...args);
  running.push(r);
  return r;
};

describe('provision', () => {
  it('writes device.json (0600), config.json with distinct default lines, and the cache', async () => {
    const { dataDir, exit, stdout } = await provisionCli(worker);
    expect(exit).toBe(0);
    expect(stdout).toMatch(/Enrolled device dev_/);
    const devicePath = join(dataDir, 'device.json');
    expect((await stat(devicePath)).mode & 0o777).toBe(0o600);
    const identity = JSON.parse(await readFile(devicePath, 'utf8'));
    expect(identity).toMatchObject({ api: worker.url, siteId: worker.siteId, organisationId: worker.organisationId, topicPrefix: worker.topicPrefix, mqtt: null });
    expect(worker.tokens.get(identity.deviceToken)).toBe(identity.deviceId);
    const config = await readAgentConfig(dataDir);
    expect(config?.driver).toBe('auto');
    expect(config?.doors.map((d) => d.id)).toEqual(worker.doors.map((d) => d.id));
    const lines = config?.doors.flatMap((d) => [d.wiegand.d0, d.wiegand.d1, d.relay.line]) ?? [];
    expect(new Set(lines).size).toBe(6);
    expect(config?.doors.every((d) => d.relay.activeLow === false && d.grantMs === undefined)).toBe(true);
    expect(JSON.parse(await readFile(join(dataDir, 'cache.json'), 'utf8')).version).toBe(worker.snapshot.version);
    expect(identity.commandPublicKey).toBe(worker.commandPublicKey);
    // The snapshot's server time counts as the last sync, so a first run can decide offline.
    const clock = JSON.parse(await readFile(join(dataDir, 'clock.json'), 'utf8'));
    expect(clock.lastSyncServerTime).toBeGreaterThan(Date.now() - 10_000);
  });

  it('refuses to overwrite device.json without --force, before spending the code', async () => {
    const { dataDir } = await provisionCli(worker);
    const code = worker.issueCode();
    const enrolls = worker.count('/v1/enroll');
    const again = await provisionCli(worker, { dataDir, code });
    expect(again.exit).not.toBe(0);
    expect(again.stderr).toMatch(/already exists.*--force/);
    expect(worker.count('/v1/enroll')).toBe(enrolls);
    expect(worker.codes.get(code)).toBe('fresh');

    const before = JSON.parse(await readFile(join(dataDir, 'device.json'), 'utf8'));
    const forced = await provisionCli(worker, { dataDir, code, force: true });
    expect(forced.exit).toBe(0);
    const after = JSON.parse(await readFile(join(dataDir, 'device.json'), 'utf8'));
    expect(after.deviceId).not.toBe(before.deviceId);
    expect((await stat(join(dataDir, 'device.json'))).mode & 0o777).toBe(0o600);
  });

  it.each([
    ['used', 409, /Enrollment code already used/, /already used to enroll/],
    ['expired', 410, /Enrollment code expired/, /ask the owner for a new one/],
  ] as const)('reports a %s code with the problem title and detail', async (state, status, title, detail) => {
    const { dataDir, exit, stderr } = await provisionCli(worker, { code: worker.issueCode(state) });
    expect(exit).toBe(1);
    expect(stderr).toContain(`HTTP ${status}`);
    expect(stderr).toMatch(title);
    expect(stderr).toMatch(detail);
    await expect(stat(join(dataDir, 'device.json'))).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('reports an unknown code', async () => {
    const { exit, stderr } = await provisionCli(worker, { code: 'NOPE-1234' });
    expect(exit).toBe(1);
    expect(stderr).toMatch(/HTTP 400.*Unknown enrollment code/);
  });
});

describe('run', () => {
  it('decides taps from the cache, pulses the relay on a grant and uploads every decision', async () => {
    const active = worker.addMember('wiegand:12:3456');
    const suspended = worker.addMember('wiegand:12:777', 'suspended');
    const rawHolder = worker.addMember('raw:04A1B2C3');
    const { dataDir } = await provisionCli(worker);
    await setGrantMs(dataDir, 300);
    const t0 = Date.now();
    const r = await start(dataDir);
    expect(r.controlUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(r.ready).toMatchObject({ entitlementVersion: worker.snapshot.version, credentials: 3, driver: 'simulated' });
    const [front, studio] = worker.doors;

    const granted = await r.tap({ facility: 12, card: 3456 });
    expect(granted).toMatchObject({ door: front?.id, credentialKey: 'wiegand:12:3456', decision: { granted: true, reason: 'granted', memberId: active } });
    const pulsed = await waitFor(async () => {
      const relay = await r.relay(1);
      return relay.history.length === 3 && relay;
    }, 'the relay to pulse and relock');
    expect(pulsed.history.map((h) => h.active)).toEqual([false, true, false]);
    expect(pulsed.history.map((h) => h.level)).toEqual([0, 1, 0]);
    expect((pulsed.history[2]?.at ?? 0) - (pulsed.history[1]?.at ?? 0)).toBeGreaterThanOrEqual(290);

    const denied = await r.tap({ door: front?.id, facility: 12, card: 777 });
    expect(denied.decision).toMatchObject({ granted: false, reason: 'member_suspended', memberId: suspended });
    const unknown = await r.tap({ door: 1, facility: 12, card: 778 });
    expect(unknown.decision).toMatchObject({ granted: false, reason: 'unknown_credential', memberId: null });
    expect(unknown.decision.explanation).toContain('wiegand:12:778');

    const raw = await r.tap({ door: 2, raw: '04:a1:b2:c3' });
    expect(raw).toMatchObject({ door: studio?.id, credentialKey: 'raw:04A1B2C3', decision: { granted: true, memberId: rawHolder } });

    // A 26-bit frame with bad parity at the studio door.
    const bits = '10000110000001101100000001';
    const bad = await r.tap({ door: 2, bits: bits.slice(0, 25) + (bits[25] === '1' ? '0' : '1') });
    expect(bad).toMatchObject({ credentialKey: null, decision: { granted: false, reason: 'bad_read' } });
    expect(bad.decision.explanation).toMatch(/parity/);
    const studioRelayBefore = (await r.relay(2)).history.length;

    const short = await r.tap({ door: 2, bits: '1'.repeat(25) });
    expect(short.decision).toMatchObject({ reason: 'bad_read' });
    expect(short.decision.explanation).toMatch(/25-bit/);

    // The raw grant pulsed the studio relay once; the bad reads added nothing.
    const studioRelay = await r.relay(studio?.id);
    expect(studioRelay.history.length).toBe(studioRelayBefore);
    expect(studioRelay.history.filter((h) => h.active)).toHaveLength(1);

    await waitFor(() => worker.checkins.length === 6, 'six check-ins at the Worker');
    expect(worker.checkins.map((e) => [e.doorId, e.reason, e.memberId, e.credentialKey])).toEqual([
      [front?.id, 'granted', active, 'wiegand:12:3456'],
      [front?.id, 'member_suspended', suspended, 'wiegand:12:777'],
      [front?.id, 'unknown_credential', null, 'wiegand:12:778'],
      [studio?.id, 'granted', rawHolder, 'raw:04A1B2C3'],
      [studio?.id, 'bad_read', null, null],
      [studio?.id, 'bad_read', null, null],
    ]);
    expect(new Set(worker.checkins.map((e) => e.id)).size).toBe(6);
    for (const e of worker.checkins) expect(e.occurredAt).toBeGreaterThanOrEqual(t0);
    const upload = worker.requests.find((q) => q.path === '/v1/device/checkins');
    expect(upload?.headers['user-agent']).toBe(USER_AGENT);
    expect(upload?.headers['x-entitlement-version']).toBe(String(worker.snapshot.version));

    const status = await waitFor(async () => {
      const s = await r.status();
      return s.outboxPending === 0 && s;
    }, 'an empty outbox');
    expect(status).toMatchObject({
      deviceId: expect.stringMatching(/^dev_/),
      siteId: worker.siteId,
      entitlementVersion: worker.snapshot.version,
      credentials: 3,
      brokerConnected: false,
      doors: [
        { id: front?.id, name: 'Front door', slot: 1 },
        { id: studio?.id, name: 'Studio', slot: 2 },
      ],
    });
    expect(status.lastSyncAt).toBeGreaterThanOrEqual(t0);
  });

  it('answers bad tap bodies with 400 problems naming the field', async () => {
    const { dataDir } = await provisionCli(worker);
    const r = await start(dataDir);
    const problem = async (body: object) => {
      try {
        await r.tap(body as never);
      } catch (error) {
        expect(error).toBeInstanceOf(ControlRequestError);
        return (error as ControlRequestError).problem;
      }
      throw new Error('expected a refusal');
    };
    expect((await problem({ card: 5 }))?.errors).toEqual([{ field: 'facility', reason: 'is required with card' }]);
    expect((await problem({ bits: '0120' }))?.errors?.[0]?.field).toBe('bits');
    expect((await problem({ door: 'door_nowhere000000', facility: 1, card: 2 }))?.errors?.[0]?.field).toBe('door');
    expect((await problem({ door: 9, facility: 1, card: 2 }))?.errors?.[0]?.field).toBe('door');
    expect((await problem({ facility: 300, card: 2 }))?.errors?.[0]).toMatchObject({ field: 'facility', reason: expect.stringMatching(/does not fit/) });
    expect((await problem({ facility: 1, card: 2, raw: 'AB' }))?.errors?.[0]?.field).toBe('(body)');
    expect((await problem({ facility: 1, card: 2, format: 'H99999' }))?.errors?.[0]?.field).toBe('format');
    expect(worker.checkins).toHaveLength(0);
    expect(r.gpio.writes(r.agent.doors()[0]!.relay.line)).toHaveLength(1);
  });

  it('keeps deciding from cache while the Worker is down, across a restart, and uploads when it is back', async () => {
    const member = worker.addMember('wiegand:40:4040');
    const { dataDir } = await provisionCli(worker);
    const first = await start(dataDir);
    await worker.stop();

    expect((await first.tap({ facility: 40, card: 4040 })).decision).toMatchObject({ granted: true, memberId: member });
    expect((await first.tap({ facility: 40, card: 4041 })).decision.reason).toBe('unknown_credential');
    await waitFor(async () => (await first.status()).outboxPending === 2, 'two events waiting');
    await first.agent.stop();
    running = running.filter((x) => x !== first);

    // Restart with the Worker still down: the cache on disk is enough to open the door.
    const second = await start(dataDir);
    expect(second.log.records.some((x) => x.msg === 'entitlement cache loaded from disk')).toBe(true);
    expect((await second.status()).outboxPending).toBe(2);
    expect((await second.tap({ facility: 40, card: 4040 })).decision.granted).toBe(true);
    expect(worker.checkins).toHaveLength(0);

    await worker.start();
    await waitFor(() => worker.checkins.length === 3, 'the backlog to upload', 8000);
    expect(worker.checkins.map((e) => [e.credentialKey, e.granted])).toEqual([
      ['wiegand:40:4040', true],
      ['wiegand:40:4041', false],
      ['wiegand:40:4040', true],
    ]);
    await waitFor(async () => (await second.status()).outboxPending === 0, 'an empty outbox');
  });

  it('pulls right after a denied tap, so a card added without a notice works on the second tap', async () => {
    const { dataDir } = await provisionCli(worker);
    const r = await start(dataDir, { pullIntervalSeconds: 600 });
    await waitFor(async () => (await r.status()).lastSyncAt !== null, 'the startup pull');
    const member = worker.addMember('wiegand:7:7000');
    expect((await r.tap({ facility: 7, card: 7000 })).decision.reason).toBe('unknown_credential');
    await waitFor(() => r.agent.cache?.version === worker.snapshot.version, 'the pull after the denied tap');
    expect((await r.tap({ facility: 7, card: 7000 })).decision).toMatchObject({ granted: true, memberId: member });
  });

  it('pulls the changes when the MQTT notice announces a newer version', async () => {
    broker = await startBroker();
    worker.mqtt = { url: broker.url };
    const member = worker.addMember('wiegand:9:9001', 'suspended');
    const { dataDir } = await provisionCli(worker);
    const r = await start(dataDir, { pullIntervalSeconds: 600 });
    const topic = entitlementTopic(worker.topicPrefix, worker.siteId);
    await waitFor(async () => (await r.status()).brokerConnected, 'the broker connection');
    await waitFor(async () => (await r.status()).lastSyncAt !== null, 'the startup pull');
    await sleep(100); // let the subscription settle

    const pulls = () => worker.count('/v1/device/entitlements');
    const before = pulls();
    // A notice that is not newer than the cache changes nothing.
    await broker.publishRetained(topic, { siteId: worker.siteId, version: worker.snapshot.version });
    await sleep(300);
    expect(pulls()).toBe(before);

    worker.setStatus(member, 'active');
    await broker.publishRetained(topic, { siteId: worker.siteId, version: worker.snapshot.version });
    await waitFor(() => r.agent.cache?.version === worker.snapshot.version, 'the pull after the notice');
    expect(pulls()).toBe(before + 1);
    expect(r.log.records.some((x) => x.msg === 'entitlement notice received')).toBe(true);
    expect((await r.tap({ facility: 9, card: 9001 })).decision).toMatchObject({ granted: true, memberId: member });

    await r.agent.stop();
    await waitFor(() => broker?.aedes.connectedClients === 0, 'the agent to disconnect from the broker');
  });

  it('pulls periodically as a backstop without a broker', async () => {
    const { dataDir } = await provisionCli(worker);
    const r = await start(dataDir, { pullIntervalSeconds: 0.2 });
    await waitFor(async () => (await r.status()).lastSyncAt !== null, 'the startup pull');
    worker.addMember('wiegand:3:33');
    const update = await waitFor(
      () => r.log.records.find((x) => x.msg === 'entitlements updated' && x.version === worker.snapshot.version),
      'a periodic pull',
      3000,
    );
    expect(update).toMatchObject({ reason: 'periodic', kind: 'delta' });
    expect(r.agent.cache?.lookup('wiegand:3:33')?.member.status).toBe('active');
    // The delta is journalled next to cache.json, so a restart starts from it.
    await waitFor(async () => {
      const journal = await readFile(join(dataDir, 'cache-deltas.jsonl'), 'utf8').catch(() => '');
      return journal.includes(`"version":${worker.snapshot.version}`);
    }, 'the delta journal');
  });

  it('ignores a corrupt cache.json at start and becomes ready after the first pull', async () => {
    worker.addMember('wiegand:5:55');
    const { dataDir } = await provisionCli(worker);
    await writeFile(join(dataDir, 'cache.json'), '{"siteId": "site_');
    const r = await start(dataDir);
    expect(r.log.records.some((x) => x.level === 'warn' && /corrupt/.test(x.msg))).toBe(true);
    expect(r.ready.entitlementVersion).toBe(worker.snapshot.version);
    expect((await r.tap({ facility: 5, card: 55 })).decision.granted).toBe(true);
  });

  it('stops cleanly: relays locked, pins released, events kept on disk', async () => {
    worker.addMember('wiegand:1:1');
    const { dataDir } = await provisionCli(worker);
    await setGrantMs(dataDir, 10_000);
    const r = await start(dataDir);
    await worker.stop();
    await r.tap({ facility: 1, card: 1 });
    const line = r.agent.doors()[0]!.relay.line;
    expect(r.gpio.level(line)).toBe(1);
    await r.agent.stop();
    running = [];
    expect(r.gpio.writes(line).map((w) => w.level)).toEqual([0, 1, 0]);
    expect(r.gpio.level(line)).toBeUndefined();
    expect(r.log.records.at(-1)).toMatchObject({ msg: 'agent stopped', outboxPending: 1 });
    const events = (await readFile(join(dataDir, 'outbox', 'events.jsonl'), 'utf8')).trim().split('\n');
    expect(events).toHaveLength(1);
    await expect(fetch(`${r.controlUrl}/status`)).rejects.toThrow();
  });

  it('writes config.json on first run when provisioning could not', async () => {
    const { dataDir } = await provisionCli(worker);
    const { rm } = await import('node:fs/promises');
    await rm(join(dataDir, 'config.json'));
    await rm(join(dataDir, 'cache.json'));
    const r = await start(dataDir);
    expect(r.agent.doors().map((d) => d.id)).toEqual(worker.doors.map((d) => d.id));
    expect((await readAgentConfig(dataDir))?.doors).toHaveLength(2);
  });

  it('refuses to start without device.json', async () => {
    await expect(runAgent(await tempDir())).rejects.toThrow(/device.json not found/);
  });
});
