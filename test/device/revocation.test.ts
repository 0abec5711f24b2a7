// A door the Worker revoked: the first call that hears 401 device-revoked wipes the member list,
// every tap is refused (the relay never moves), commands are refused, and the door stays revoked
// across a restart until it is provisioned again.
import { access, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Decider } from '../../device/access/decider.ts';
import { executeCommand } from '../../device/features/commands.ts';
import { FakeWorker } from './support/fake-worker.ts';
import { provisionCli, runAgent, type RunningAgent } from './support/agent-harness.ts';
import { waitFor } from './support/wait.ts';

let worker: FakeWorker;
const running: RunningAgent[] = [];

beforeEach(async () => {
  worker = new FakeWorker();
  await worker.start();
});

afterEach(async () => {
  for (const r of running.splice(0)) await r.agent.stop();
  await worker.stop();
});

const start = async (dataDir: string) => {
  const r = await runAgent(dataDir);
  running.push(r);
  return r;
};
const exists = (path: string) => access(path).then(() => true, () => false);

describe('a revoked door', () => {
  it('wipes its member list, refuses every tap, and stays revoked after a restart until provisioned again', async () => {
    worker.addMember('wiegand:12:3456');
    const { dataDir } = await provisionCli(worker);
    const r = await start(dataDir);
    expect((await r.tap({ facility: 12, card: 3456 })).decision.granted).toBe(true);
    await waitFor(async () => (await r.relay(1)).history.length === 3, 'the grant to pulse and relock the relay');
    const { deviceId } = JSON.parse(await readFile(join(dataDir, 'device.json'), 'utf8')) as { deviceId: string };

    worker.revoked.add(deviceId);
    // A card the door does not know asks the Worker for a fresher list: that call hears of the revocation.
    expect((await r.tap({ facility: 12, card: 9999 })).decision.reason).toBe('unknown_credential');
    await waitFor(() => r.log.records.some((l) => l.msg.includes('says this door was revoked')), 'the agent to hear it was revoked');
    await waitFor(async () => !(await exists(join(dataDir, 'cache.json'))), 'the cache file to be wiped');
    expect(await exists(join(dataDir, 'cache-deltas.jsonl'))).toBe(false);
    expect(JSON.parse(await readFile(join(dataDir, 'revoked.json'), 'utf8')).detail).toMatch(/revoked/);

    const relayBefore = (await r.relay(1)).history.length;
    const refused = await r.tap({ facility: 12, card: 3456 });
    expect(refused.decision).toMatchObject({ granted: false, reason: 'device_revoked', explanation: expect.stringContaining('provisioned again') });
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect((await r.relay(1)).history.length).toBe(relayBefore);
    const status = await r.status();
    expect(status).toMatchObject({ entitlementVersion: null, credentials: 0, revoked: { detail: expect.stringContaining('revoked') } });
    expect(r.agent.healthReport()).toMatchObject({ ok: false, problems: expect.arrayContaining([expect.stringMatching(/^revoked: /), 'no entitlement cache']) });

    // Restarted (while the Worker still refuses it): it loads no cache, says why, and refuses.
    await r.agent.stop();
    running.splice(0);
    const again = await start(dataDir);
    expect(again.ready).toMatchObject({ revoked: true, entitlementVersion: null, credentials: 0 });
    expect(again.log.records.some((l) => l.msg.includes('refuses every tap until it is provisioned again'))).toBe(true);
    expect((await again.tap({ facility: 12, card: 3456 })).decision.reason).toBe('device_revoked');
    await again.agent.stop();
    running.splice(0);

    // Provisioned again with a new code, it is a trusted door with its member list back.
    const fresh = await provisionCli(worker, { dataDir, force: true });
    expect(fresh.exit).toBe(0);
    expect(await exists(join(dataDir, 'revoked.json'))).toBe(false);
    const trusted = await start(dataDir);
    expect(trusted.ready).toMatchObject({ revoked: false, credentials: 1 });
    expect((await trusted.tap({ facility: 12, card: 3456 })).decision.granted).toBe(true);
  });

  it('carries out no command, even a valid one', async () => {
    const decider = new Decider();
    const relay = { pulses: 0, pulse: () => relay.pulses++ };
    const target = { cache: undefined, doors: [{ id: 'door_1', relay }] as never, decider, sync: undefined, evaluateHolds: () => undefined, restart: async () => undefined };
    const command = worker.command('dev_x', { type: 'unlock', doorId: 'door_1', seconds: 3 });
    expect(await executeCommand(command, { ...target, revoked: false })).toMatchObject({ status: 'executed' });
    expect(relay.pulses).toBe(1);
    expect(await executeCommand(command, { ...target, revoked: true })).toMatchObject({ status: 'rejected', reason: 'device_revoked' });
    expect(relay.pulses).toBe(1);
  });
});
