// The pieces of a gym on one machine: a broker, the Worker under `wrangler dev` with local D1,
// and door agents with the simulated GPIO driver.
import { writeFileSync } from 'node:fs';
import { createServer, type AddressInfo, type Server } from 'node:net';
import path from 'node:path';
import { Aedes } from 'aedes';
import { BIN, ROOT, run, startProcess, waitUntil, type Proc } from './processes.ts';

export type Broker = { url: string; kind: 'embedded' | 'mosquitto'; stop: () => Promise<void> };

/** An embedded aedes broker on loopback (port 0 picks a free one). */
export async function startEmbeddedBroker(port = 0): Promise<Broker> {
  const broker = await Aedes.createBroker();
  const server: Server = createServer(broker.handle);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', resolve);
  });
  const actual = (server.address() as AddressInfo).port;
  return {
    kind: 'embedded',
    url: `mqtt://127.0.0.1:${actual}`,
    stop: async () => {
      await new Promise<void>((resolve) => broker.close(() => resolve()));
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** Debian's mosquitto on a loopback port, with a config file of our own. */
export async function startMosquitto(port: number, workDir: string): Promise<Broker & { proc: Proc }> {
  const conf = path.join(workDir, 'mosquitto.conf');
  // stderr, because mosquitto buffers its stdout when it is not a terminal.
  writeFileSync(conf, [`listener ${port} 127.0.0.1`, 'allow_anonymous true', 'persistence false', 'log_dest stderr', ''].join('\n'));
  const proc = startProcess(process.env.MOSQUITTO_BIN ?? '/usr/sbin/mosquitto', ['-c', conf]);
  await proc.waitForLine(/mosquitto version .* running/, 10_000);
  return { kind: 'mosquitto', url: `mqtt://127.0.0.1:${port}`, proc, stop: () => proc.stop() };
}

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
      ...(options.pullIntervalSeconds ? ['--pull-interval', String(options.pullIntervalSeconds)] : []),
      ...(options.heartbeatSeconds ? ['--heartbeat-interval', String(options.heartbeatSeconds)] : []),
    ],
    { env: { MALLOC_ARENA_MAX: '1' }, ...(options.echo ? { echo: options.echo } : {}) },
  );
  const ready = await proc.waitForLine(/"agent ready"/, 30_000);
  const controlUrl = (JSON.parse(ready) as { controlUrl?: string }).controlUrl ?? `http://127.0.0.1:${options.controlPort}`;
  return { proc, controlUrl, stop: () => proc.stop('SIGTERM') };
}

