// A whole gym for end-to-end tests: real wrangler dev with local D1, a real broker, a real agent
// process with the simulated GPIO driver. Everything on loopback, in a temporary folder.
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import mqtt, { type MqttClient } from 'mqtt';
import {
  applyLocalMigrations,
  bootstrapLocal,
  provisionAgent,
  startAgent,
  startEmbeddedBroker,
  startMosquitto,
  startWorker,
  newGymSecrets,
  trustVars,
  type Agent,
  type GymSecrets,
  type Broker,
  type Worker,
} from '../../edge/dev/local-gym.ts';
import { freePort } from '../../edge/dev/processes.ts';

export type BrokerKind = 'embedded' | 'mosquitto';

export const mosquittoAvailable = () => existsSync(process.env.MOSQUITTO_BIN ?? '/usr/sbin/mosquitto');

export class TestGym {
  dir = mkdtempSync(path.join(tmpdir(), 'gymgate-e2e-'));
  persistDir = path.join(this.dir, 'wrangler');
  agentDir = path.join(this.dir, 'agent');
  apiPort = 0;
  broker!: Broker;
  worker: Worker | null = null;
  agent: Agent | null = null;
  apiKey = '';
  organisationId = '';

  constructor(
    readonly brokerKind: BrokerKind,
    readonly workerVars: Record<string, string> = {},
  ) {}

  get api() {
    return `http://127.0.0.1:${this.apiPort}`;
  }

  /** The Worker's signing key, its publisher identity on the broker and the secret the broker asks the Worker with. */
  secrets: GymSecrets | null = null;
  get signingKey() {
    return this.trust.signingKey;
  }
  get publisher() {
    return this.trust.publisher;
  }
  private get trust(): GymSecrets {
    if (!this.secrets) throw new Error('start the gym first');
    return this.secrets;
  }

  async start() {
    await applyLocalMigrations(this.persistDir);
    const boot = await bootstrapLocal(this.persistDir, `E2E Gym (${this.brokerKind})`);
    this.apiKey = boot.apiKey;
    this.organisationId = boot.organisationId;
    this.apiPort = await freePort();
    this.secrets = await newGymSecrets();
    const auth = { workerUrl: this.api, secret: this.secrets.brokerSecret, recheckMs: 1000 };
    this.broker = this.brokerKind === 'embedded' ? await startEmbeddedBroker(0, auth) : await startMosquitto(await freePort(), this.dir, auth);
    await this.startWorker();
    await this.broker.refreshIdentities();
  }

  async startWorker() {
    this.worker = await startWorker({ port: this.apiPort, persistDir: this.persistDir, vars: { MQTT_URL: this.broker.url, ...trustVars(this.trust), ...this.workerVars } });
  }

  async stopWorker() {
    await this.worker?.stop();
    this.worker = null;
  }

  async provisionAndRunAgent(siteId: string, pullIntervalSeconds = 30, grantMs = 1000) {
    const { code } = await this.call<{ code: string }>('POST', '/v1/enrollment-codes', { siteId });
    await provisionAgent({ api: this.api, code, dataDir: this.agentDir, name: 'e2e door' });
    await this.broker.refreshIdentities();
    // As a technician would: shorten the grant time in config.json so relock is quick to observe.
    const configFile = path.join(this.agentDir, 'config.json');
    const config = JSON.parse(readFileSync(configFile, 'utf8')) as { doors: Array<{ grantMs: number }> };
    for (const door of config.doors) door.grantMs = grantMs;
    writeFileSync(configFile, JSON.stringify(config, null, 2));
    this.agentControlPort = await freePort();
    this.agentPullIntervalSeconds = pullIntervalSeconds;
    this.agent = await startAgent({ dataDir: this.agentDir, controlPort: this.agentControlPort, pullIntervalSeconds, heartbeatSeconds: 2 });
    return code;
  }

  agentControlPort = 0;
  agentPullIntervalSeconds = 30;

  /** Stops the agent process and starts it again on the same data (a reboot of the Pi). */
  async restartAgent() {
    await this.agent?.stop();
    this.agent = await startAgent({ dataDir: this.agentDir, controlPort: this.agentControlPort, pullIntervalSeconds: this.agentPullIntervalSeconds, heartbeatSeconds: 2 });
  }

  /** The door's own broker credentials, as provisioning wrote them to device.json (what a stolen Pi gives away). */
  doorCredentials(): { username: string; password: string } {
    const { mqtt: settings } = JSON.parse(readFileSync(path.join(this.agentDir, 'device.json'), 'utf8')) as { mqtt: { username: string; password: string } };
    return { username: settings.username, password: settings.password };
  }

  /** A client on the gym's broker: as the door (stolen credentials), as the Worker's publisher (a leaked secret), or anonymous. */
  async brokerClient(as: 'door' | 'publisher' | 'anonymous' | { username: string; password: string } = 'door'): Promise<MqttClient> {
    const credentials = as === 'door' ? this.doorCredentials() : as === 'publisher' ? this.publisher : as === 'anonymous' ? {} : as;
    for (let attempt = 1; ; attempt++) {
      try {
        return await mqtt.connectAsync(this.broker.url, { reconnectPeriod: 0, connectTimeout: 20_000, clientId: `e2e-${randomBytes(4).toString('hex')}`, ...credentials });
      } catch (error) {
        // CONNACK 3: the broker could not ask the Worker just now (busy); a client tries again, as the agent does.
        if ((error as { code?: unknown }).code !== 3 || attempt >= 3) throw error;
      }
    }
  }

  async call<T = any>(method: string, pathname: string, body?: unknown): Promise<T> {
    const res = await fetch(`${this.api}${pathname}`, {
      method,
      headers: { authorization: `Bearer ${this.apiKey}`, ...(body ? { 'content-type': 'application/json' } : {}) },
      ...(body ? { body: JSON.stringify(body) } : {}),
    });
    const json = (await res.json()) as T;
    if (!res.ok) throw new Error(`${method} ${pathname} → ${res.status} ${JSON.stringify(json)}`);
    return json;
  }

  async control<T = any>(method: string, pathname: string, body?: unknown): Promise<T> {
    const res = await fetch(`${this.agent!.controlUrl}${pathname}`, {
      method,
      ...(body ? { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) } : {}),
    });
    if (!res.ok) throw new Error(`agent ${method} ${pathname} → ${res.status} ${await res.text()}`);
    return (await res.json()) as T;
  }

  async stop() {
    await this.agent?.stop().catch(() => undefined);
    await this.worker?.stop().catch(() => undefined);
    await this.broker?.stop().catch(() => undefined);
    rmSync(this.dir, { recursive: true, force: true });
  }
}
