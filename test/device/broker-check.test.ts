// doctor's broker checks against real aedes brokers on loopback: one open to anyone, one guarded
// by the per-door rules (edge/dev/broker-guard.ts) as the local gym and production run it.
import { createServer, type AddressInfo, type Server } from 'node:net';
import { Aedes } from 'aedes';
import { afterEach, describe, expect, it } from 'vitest';
import { brokerRules } from '../../core/broker-acl.ts';
import { guardBroker } from '../../edge/dev/broker-guard.ts';
import { checkBrokerAccess } from '../../device/tools/broker-check.ts';

const running: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const stop of running.splice(0)) await stop();
});

async function broker(guarded: boolean): Promise<string> {
  const aedes = await Aedes.createBroker();
  const door = { role: 'device' as const, organisationId: 'org_a', siteId: 'site_a', deviceId: 'dev_a' };
  const guard = guarded
    ? guardBroker(aedes, { authenticate: async (u, p) => (u === 'dev_a' && p === 'right' ? { ...door, rules: brokerRules(door, 'gymgate') } : null) })
    : null;
  const server: Server = createServer(aedes.handle);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  running.push(async () => {
    guard?.stop();
    await new Promise<void>((resolve) => aedes.close(() => resolve()));
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return `mqtt://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

describe('doctor broker checks', () => {
  it('reports a broker that lets anonymous clients in as a failure', async () => {
    const results = await checkBrokerAccess(await broker(false), { username: 'dev_a', password: 'right' }, 2000);
    expect(results.find((r) => r.check === 'broker-anonymous')).toMatchObject({ status: 'fail', reason: expect.stringContaining('accepts anonymous clients') });
  });

  it('is content with a broker that refuses strangers and lets the door in; a refused door is told to re-provision', async () => {
    const url = await broker(true);
    expect(await checkBrokerAccess(url, { username: 'dev_a', password: 'right' }, 2000)).toEqual([
      { check: 'broker-login', status: 'ok', reason: 'signed in as dev_a' },
      { check: 'broker-anonymous', status: 'ok', reason: 'anonymous clients are refused' },
    ]);
    const refused = await checkBrokerAccess(url, { username: 'dev_a', password: 'revoked' }, 2000);
    expect(refused[0]).toMatchObject({ check: 'broker-login', status: 'fail', reason: expect.stringContaining('re-provision') });
  });
});
