// The pieces of a gym on one machine: a broker, the Worker under `wrangler dev` with local D1,
// and door agents with the simulated GPIO driver.
import { randomBytes } from 'node:crypto';
import { chmodSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo, type Server } from 'node:net';
import path from 'node:path';
import { Aedes } from 'aedes';
import { BrokerAuthResult } from '../../core/broker-acl.ts';
import { syncMosquittoFiles } from '../devices/broker/mosquitto-sync.ts';
import { generateSigningKey } from '../lib/signing.ts';
import { guardBroker, type BrokerIdentityWithRules } from './broker-guard.ts';
import { BIN, ROOT, run, startProcess, waitUntil, type Proc } from './processes.ts';

export type Broker = {
  url: string;
  kind: 'embedded' | 'mosquitto';
  /** Brings the broker's list of identities up to date after doors were enrolled or revoked (mosquitto's files; aedes asks live). */
  refreshIdentities: () => Promise<void>;
  stop: () => Promise<void>;
};

/** How a broker checks its clients against the Worker: its URL and BROKER_AUTH_SECRET. Without it the broker is open (tests of other things). */
export type BrokerAuth = { workerUrl: string; secret: string; recheckMs?: number; log?: (msg: string, fields: object) => void };

/**
 * The Worker's publisher connects for every batch it publishes; its identity comes from the
 * Worker's own settings and changes only with them, so the answer is kept for a minute. Doors
 * connect once and stay: they are always asked afresh (and re-checked for revocation).
 */
const publisherAnswers = new Map<string, { identity: BrokerIdentityWithRules; until: number }>();

/** What the broker's guard asks the Worker: the client's rules, or null when refused. */
async function askWorker(auth: BrokerAuth, username: string, password: string, clientId: string): Promise<BrokerIdentityWithRules | null> {
  const key = `${auth.workerUrl}\n${username}\n${password}`;
  const kept = publisherAnswers.get(key);
  if (kept && kept.until > Date.now()) return kept.identity;
  const res = await fetch(`${auth.workerUrl}/v1/broker/authenticate`, {
    method: 'POST',
    headers: { authorization: `Bearer ${auth.secret}`, 'content-type': 'application/json' },
    body: JSON.stringify({ username, password, clientid: clientId }),
    // A busy local Worker (a test hammering it) can take a while; a refusal here makes clients retry.
    signal: AbortSignal.timeout(15_000),
  });
  if (!res.ok) throw new Error(`the Worker answered ${res.status} to /v1/broker/authenticate`);
  const answer = BrokerAuthResult.parse(await res.json());
  if (answer.result !== 'allow') return null;
  const rules = answer.acl ?? [];
  if (username.startsWith('dev_')) return { role: 'device', organisationId: '', siteId: '', deviceId: username, rules };
  const identity: BrokerIdentityWithRules = { role: 'publisher', rules };
  publisherAnswers.set(key, { identity, until: Date.now() + 60_000 });
  return identity;
}

/** An embedded aedes broker on loopback (port 0 picks a free one); with `auth`, under the same per-door rules as production. */
export async function startEmbeddedBroker(port = 0, auth?: BrokerAuth): Promise<Broker> {
  const broker = await Aedes.createBroker();
  const guard = auth
    ? guardBroker(broker, { authenticate: (u, p, id) => askWorker(auth, u, p, id), ...(auth.recheckMs ? { recheckMs: auth.recheckMs } : {}), ...(auth.log ? { log: auth.log } : {}) })
    : null;
  const server: Server = createServer(broker.handle);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', resolve);
  });
  const actual = (server.address() as AddressInfo).port;
  return {
    kind: 'embedded',
    url: `mqtt://127.0.0.1:${actual}`,
    refreshIdentities: async () => undefined,
    stop: async () => {
      guard?.stop();
      await new Promise<void>((resolve) => broker.close(() => resolve()));
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/**
 * Debian's mosquitto on a loopback port, with a config file of our own. With `auth`, anonymous
 * clients are refused and its password and ACL files come from the Worker (refreshIdentities
 * syncs them and sends SIGHUP), as `npm run broker:mosquitto` does beside a production broker.
 */
export async function startMosquitto(port: number, workDir: string, auth?: BrokerAuth): Promise<Broker & { proc: Proc }> {
  const conf = path.join(workDir, 'mosquitto.conf');
  const passwords = path.join(workDir, 'passwords');
  const acl = path.join(workDir, 'acl');
  const access = auth ? ['allow_anonymous false', `password_file ${passwords}`, `acl_file ${acl}`] : ['allow_anonymous true'];
  if (auth) {
    // Started as root, mosquitto drops to its own user, which must be able to read the files.
    chmodSync(workDir, 0o755);
    writeFileSync(passwords, '', { mode: 0o644 });
    writeFileSync(acl, '', { mode: 0o644 });
  }
  // stderr, because mosquitto buffers its stdout when it is not a terminal.
  writeFileSync(conf, [`listener ${port} 127.0.0.1`, ...access, 'persistence false', 'log_dest stderr', ''].join('\n'));
  const proc = startProcess(process.env.MOSQUITTO_BIN ?? '/usr/sbin/mosquitto', ['-c', conf]);
  await proc.waitForLine(/mosquitto version .* running/, 10_000);
  const refreshIdentities = async () => {
    if (!auth) return;
    const reloads = () => proc.output().split('Reloading config').length;
    const before = reloads();
    const synced = await syncMosquittoFiles({ api: auth.workerUrl, secret: auth.secret, dir: workDir, ...(proc.child.pid ? { pid: proc.child.pid } : {}) });
    // mosquitto reloads on SIGHUP; wait for it to say so before anyone relies on the new list.
    if (synced.changed) await waitUntil(() => reloads() > before, 'mosquitto to reload its files', 5_000, 20).catch(() => undefined);
  };
  return { kind: 'mosquitto', url: `mqtt://127.0.0.1:${port}`, proc, refreshIdentities, stop: () => proc.stop() };
}

/** The Worker's trust secrets for a gym on this machine: the signing key, its broker identity and the broker's secret. */
export type GymSecrets = { signingKey: string; publisher: { username: string; password: string }; brokerSecret: string };

export async function newGymSecrets(): Promise<GymSecrets> {
  return {
    signingKey: await generateSigningKey(),
    publisher: { username: 'gymgate-worker', password: randomBytes(24).toString('base64url') },
    brokerSecret: randomBytes(24).toString('base64url'),
  };
}

/** The Worker vars that carry them (secrets when deployed). */
export const trustVars = (s: GymSecrets): Record<string, string> => ({
  COMMAND_SIGNING_KEY: s.signingKey,
  MQTT_USERNAME: s.publisher.username,
  MQTT_PASSWORD: s.publisher.password,
  BROKER_AUTH_SECRET: s.brokerSecret,
});

export async function applyLocalMigrations(persistDir: string): Promise<void> {
  await run(BIN('wrangler'), ['d1', 'migrations', 'apply', 'gymgate', '--local', '--persist-to', persistDir]);
}

export async function bootstrapLocal(persistDir: string, name: string): Promise<{ organisationId: string; apiKey: string }> {
  const out = await run(BIN('tsx'), [path.join(ROOT, 'edge/bootstrap/cli.ts'), '--name', name, '--local', '--persist-to', persistDir, '--json']);
  const line = out.split('\n').find((l) => l.startsWith('{"organisationId"'));
  if (!line) throw new Error(`bootstrap printed no result:\n${out}`);
  return JSON.parse(line);
}

export type Worker = { url: string; proc: Proc; stop: () => Promise<void> };

export async function startWorker(options: { port: number; persistDir: string; vars?: Record<string, string>; echo?: (l: string) => void }): Promise<Worker> {
  // Links in member notices point at this Worker unless the caller says otherwise (deployed, the
  // public address comes from wrangler.toml or the dashboard).
  const local = { PUBLIC_BASE_URL: `http://127.0.0.1:${options.port}`, ...options.vars };
  const vars = Object.entries(local).flatMap(([k, v]) => ['--var', `${k}:${v}`]);
  const proc = startProcess(
    BIN('wrangler'),
    ['dev', '--ip', '127.0.0.1', '--port', String(options.port), '--persist-to', options.persistDir, '--show-interactive-dev-session=false', '--log-level', 'info', ...vars],
    { ...(options.echo ? { echo: options.echo } : {}) },
  );
  const url = `http://127.0.0.1:${options.port}`;
  try {
    await waitUntil(async () => (await fetch(`${url}/health`)).ok, `the Worker at ${url}`, 60_000, 200);
  } catch (err) {
    await proc.stop();
    throw new Error(`${(err as Error).message}\n${proc.output().slice(-3000)}`);
  }
  return { url, proc, stop: () => proc.stop('SIGTERM') };
}

const AGENT = path.join(ROOT, 'device/bin/gymgate-agent.mjs');

export async function provisionAgent(options: { api: string; code: string; dataDir: string; name?: string }): Promise<string> {
  return run(process.execPath, [AGENT, 'provision', '--api', options.api, '--code', options.code, '--data', options.dataDir, ...(options.name ? ['--name', options.name] : [])]);
}

export type Agent = { proc: Proc; controlUrl: string; stop: () => Promise<void> };

export async function startAgent(options: {
  dataDir: string;
  controlPort: number;
  /** The agent's /health port (default: config.json's, 7468); null turns it off. */
  healthPort?: number | null;
  mqttUrl?: string;
  pullIntervalSeconds?: number;
  heartbeatSeconds?: number;
  echo?: (l: string) => void;
}): Promise<Agent> {
  const proc = startProcess(
    process.execPath,
    [
      AGENT, 'run', '--data', options.dataDir, '--driver', 'simulated', '--control-port', String(options.controlPort),
      ...(options.mqttUrl ? ['--mqtt', options.mqttUrl] : []),
      ...(options.healthPort !== undefined ? ['--health-port', options.healthPort === null ? 'off' : String(options.healthPort)] : []),
      ...(options.pullIntervalSeconds ? ['--pull-interval', String(options.pullIntervalSeconds)] : []),
      ...(options.heartbeatSeconds ? ['--heartbeat-interval', String(options.heartbeatSeconds)] : []),
    ],
    { env: { MALLOC_ARENA_MAX: '1' }, ...(options.echo ? { echo: options.echo } : {}) },
  );
  const ready = await proc.waitForLine(/"agent ready"/, 30_000);
  const controlUrl = (JSON.parse(ready) as { controlUrl?: string }).controlUrl ?? `http://127.0.0.1:${options.controlPort}`;
  return { proc, controlUrl, stop: () => proc.stop('SIGTERM') };
}

