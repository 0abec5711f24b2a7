// Propagation from an API call to the door enforcing it: wrangler dev + a real broker + the
// agent, as in production. Each change suspends or reinstates a member through the API and
// waits until the agent holds the new version. Baseline in the same run: the same agent with
// no broker, converging by a one-second periodic pull only.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  applyLocalMigrations,
  bootstrapLocal,
  provisionAgent,
  startAgent,
  startEmbeddedBroker,
  startWorker,
  newGymSecrets,
  trustVars,
  type Agent,
} from '../../edge/dev/local-gym.ts';
import { freePort } from '../../edge/dev/processes.ts';

export type Propagation = { samples: number[]; p50: number; p99: number };

const pct = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!;

export async function measurePropagation(changes: number, baselineChanges: number): Promise<{ mqtt: Propagation; poll: Propagation }> {
  const dir = mkdtempSync(path.join(tmpdir(), 'gymgate-bench-'));
  const persistDir = path.join(dir, 'wrangler');
  // As deployed: doors sign in to the broker as themselves and the delta rides inline, signed.
  const secrets = await newGymSecrets();
  const port = await freePort();
  const broker = await startEmbeddedBroker(0, { workerUrl: `http://127.0.0.1:${port}`, secret: secrets.brokerSecret });
  await applyLocalMigrations(persistDir);
  const { apiKey } = await bootstrapLocal(persistDir, 'Bench Gym');
  const worker = await startWorker({ port, persistDir, vars: { MQTT_URL: broker.url, ...trustVars(secrets) } });
  const agents: Agent[] = [];
  try {
    const api = async <T>(method: string, p: string, body?: unknown): Promise<T> => {
      const res = await fetch(`${worker.url}${p}`, {
        method,
        headers: { authorization: `Bearer ${apiKey}`, ...(body ? { 'content-type': 'application/json' } : {}) },
        ...(body ? { body: JSON.stringify(body) } : {}),
      });
      if (!res.ok) throw new Error(`${method} ${p} → ${res.status} ${await res.text()}`);
      return (await res.json()) as T;
    };
    const site = await api<{ id: string }>('POST', '/v1/sites', { name: 'Bench', timezone: 'Asia/Bangkok' });
    await api('POST', '/v1/doors', { siteId: site.id, name: 'Front door' });
    const member = await api<{ id: string }>('POST', '/v1/members', { name: 'Bench member' });
    await api('POST', '/v1/credentials', { kind: 'wiegand', memberId: member.id, facilityCode: 1, cardNumber: 1 });

    const run = async (agentDir: string, withBroker: boolean, n: number): Promise<Propagation> => {
      const { code } = await api<{ code: string }>('POST', '/v1/enrollment-codes', { siteId: site.id });
      await provisionAgent({ api: worker.url, code, dataDir: agentDir });
      if (!withBroker) {
        // The baseline door has no broker configured at all.
        const file = path.join(agentDir, 'device.json');
        const identity = JSON.parse(readFileSync(file, 'utf8'));
        writeFileSync(file, JSON.stringify({ ...identity, mqtt: null }), { mode: 0o600 });
      }
      const agent = await startAgent({ dataDir: agentDir, controlPort: 0, pullIntervalSeconds: withBroker ? 300 : 1 });
      agents.push(agent);
      const version = async () => ((await (await fetch(`${agent.controlUrl}/status`)).json()) as { entitlementVersion: number }).entitlementVersion;
      const samples: number[] = [];
      let target = (await api<{ entitlementVersion: number }>('GET', `/v1/sites/${site.id}`)).entitlementVersion;
      while ((await version()) < target) await new Promise((r) => setTimeout(r, 20));
      for (let i = 0; i < n; i++) {
        const t0 = performance.now();
        // Each status change bumps this (only) site by exactly one version.
        await api('PATCH', `/v1/members/${member.id}`, { status: i % 2 === 0 ? 'suspended' : 'active' });
        target += 1;
        const deadline = t0 + 10_000;
        while ((await version()) < target) {
          if (performance.now() > deadline) throw new Error(`the agent did not reach version ${target} within 10 s`);
          await new Promise((r) => setTimeout(r, 2));
        }
        samples.push(performance.now() - t0);
      }
      await agent.stop();
      const sorted = [...samples].sort((a, b) => a - b);
      return { samples, p50: pct(sorted, 0.5), p99: pct(sorted, 0.99) };
    };
    const mqtt = await run(path.join(dir, 'agent-mqtt'), true, changes);
    const poll = await run(path.join(dir, 'agent-poll'), false, baselineChanges);
    return { mqtt, poll };
  } finally {
    for (const a of agents) await a.stop().catch(() => undefined);
    await worker.stop();
    await broker.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
