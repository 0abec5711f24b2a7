// `npm start`: the whole gym on this machine. Applies local D1 migrations, starts an embedded
// MQTT broker (unless MQTT_URL names one), the Worker under `wrangler dev`, seeds a demo gym on
// first run, provisions a simulated door agent through the real enrollment flow and runs it,
// and fires the Worker's cron triggers on their schedule (wrangler dev does not). Ctrl-C stops everything.
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import {
  applyLocalMigrations,
  bootstrapLocal,
  newGymSecrets,
  provisionAgent,
  startAgent,
  startEmbeddedBroker,
  startWorker,
  trustVars,
  type Agent,
  type Broker,
  type GymSecrets,
  type Worker,
} from './local-gym.ts';
import { takenPorts } from './ports.ts';
import { LocalSchedule } from './schedule.ts';
import { ROOT } from './processes.ts';

const stateDir = path.resolve(process.env.GYMGATE_STATE ?? path.join(ROOT, '.gymgate'));
const persistDir = path.join(stateDir, 'wrangler');
const agentDir = path.join(stateDir, 'agent');
const demoFile = path.join(stateDir, 'demo.json');
const apiPort = Number(process.env.PORT ?? 8787);
const controlPort = Number(process.env.AGENT_CONTROL_PORT ?? 7467);
const brokerPort = Number(process.env.MQTT_PORT ?? 1883);
const healthPort = Number(process.env.AGENT_HEALTH_PORT ?? 7468);

type Demo = {
  organisationId: string;
  apiKey: string;
  siteId: string;
  cards: Array<{ name: string; card: string; status: string }>;
  /** Staff to sign in as at /staff/sign-in (state from before staff accounts has none). */
  staff?: Array<{ email: string; password: string; role: string }>;
};

/** The demo staff's password: a local run only, printed at start. */
const DEMO_STAFF_PASSWORD = 'demo gym password';

const say = (line: string) => console.log(`[gymgate] ${line}`);
const prefixed = (name: string) => (line: string) => {
  if (line.trim()) console.log(`[${name}] ${line}`);
};

let broker: Broker | null = null;
let worker: Worker | null = null;
let agent: Agent | null = null;
let schedule: LocalSchedule | null = null;
let stopping = false;

async function stopAll(code: number) {
  if (stopping) return;
  stopping = true;
  say('stopping…');
  await schedule?.stop().catch(() => undefined);
  await agent?.stop().catch(() => undefined);
  await worker?.stop().catch(() => undefined);
  await broker?.stop().catch(() => undefined);
  process.exit(code);
}
process.on('SIGINT', () => void stopAll(0));
process.on('SIGTERM', () => void stopAll(0));

async function api<T>(method: string, url: string, key: string, body?: unknown): Promise<T> {
  const res = await fetch(url, {
    method,
    headers: { authorization: `Bearer ${key}`, ...(body ? { 'content-type': 'application/json' } : {}) },
    ...(body ? { body: JSON.stringify(body) } : {}),
  });
  const json = (await res.json()) as T;
  if (!res.ok) throw new Error(`${method} ${url} → ${res.status} ${JSON.stringify(json)}`);
  return json;
}

async function seed(apiUrl: string): Promise<Demo> {
  const boot = await bootstrapLocal(persistDir, 'Demo Gym');
  const key = boot.apiKey;
  const site = await api<{ id: string }>('POST', `${apiUrl}/v1/sites`, key, { name: 'Sukhumvit', timezone: 'Asia/Bangkok' });
  for (const name of ['Front door', 'Studio']) await api('POST', `${apiUrl}/v1/doors`, key, { siteId: site.id, name });
  const people = [
    { name: 'Somchai Prasert', email: 'somchai@example.com', card: 1001, status: 'active' },
    { name: 'Nok Chaiyaporn', email: 'nok@example.com', card: 1002, status: 'active' },
    { name: 'Anan Wong', email: 'anan@example.com', card: 1003, status: 'active' },
    { name: 'Ploy Srisuk', email: 'ploy@example.com', card: 1004, status: 'suspended' },
  ];
  const cards: Demo['cards'] = [];
  for (const p of people) {
    const member = await api<{ id: string }>('POST', `${apiUrl}/v1/members`, key, { name: p.name, email: p.email, status: p.status });
    await api('POST', `${apiUrl}/v1/credentials`, key, { kind: 'wiegand', memberId: member.id, facilityCode: 12, cardNumber: p.card });
    cards.push({ name: p.name, card: `12:${p.card}`, status: p.status });
  }
  // People to sign in as: an owner and a front-desk worker, invited and accepted as anyone would be.
  const staff: NonNullable<Demo['staff']> = [];
  for (const [email, name, role] of [['owner@example.com', 'Malee (owner)', 'owner'], ['desk@example.com', 'Pim (front desk)', 'front_desk']] as const) {
    const invitation = await api<{ acceptUrl: string }>('POST', `${apiUrl}/v1/staff-invitations`, key, { email, name, roles: [role] });
    const token = new URL(invitation.acceptUrl).searchParams.get('token');
    const accepted = await fetch(`${apiUrl}/v1/auth/invitations/accept`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ token, password: DEMO_STAFF_PASSWORD }) });
    if (!accepted.ok) throw new Error(`demo staff ${email}: ${accepted.status} ${await accepted.text()}`);
    staff.push({ email, password: DEMO_STAFF_PASSWORD, role });
  }
  const demo = { organisationId: boot.organisationId, apiKey: key, siteId: site.id, cards, staff };
  writeFileSync(demoFile, JSON.stringify(demo, null, 2), { mode: 0o600 });
  return demo;
}

/**
 * Local stand-ins for the Worker's secrets, made once and kept with the local state: the key that
 * signs door commands and notices (its own file, as before), the Worker's broker identity and the
 * secret the broker asks with (MQTT_USERNAME/MQTT_PASSWORD and BROKER_AUTH_SECRET when deployed).
 */
async function localSecrets(): Promise<GymSecrets> {
  const keyFile = path.join(stateDir, 'command-signing-key.json');
  const brokerFile = path.join(stateDir, 'broker-secrets.json');
  const fresh = await newGymSecrets();
  if (!existsSync(keyFile)) writeFileSync(keyFile, fresh.signingKey, { mode: 0o600 });
  if (!existsSync(brokerFile)) writeFileSync(brokerFile, JSON.stringify({ publisher: fresh.publisher, brokerSecret: fresh.brokerSecret }, null, 2), { mode: 0o600 });
  const broker = JSON.parse(readFileSync(brokerFile, 'utf8')) as Omit<GymSecrets, 'signingKey'>;
  return { signingKey: readFileSync(keyFile, 'utf8'), publisher: broker.publisher, brokerSecret: broker.brokerSecret };
}

async function main() {
  // Nothing is written, started or seeded until every port is ours to take.
  const taken = await takenPorts([
    { port: apiPort, what: 'the Worker API', variable: 'PORT' },
    ...(process.env.MQTT_URL ? [] : [{ port: brokerPort, what: 'the embedded MQTT broker', variable: 'MQTT_PORT' }]),
    { port: controlPort, what: 'the door agent control endpoint', variable: 'AGENT_CONTROL_PORT' },
    { port: healthPort, what: 'the door agent health endpoint', variable: 'AGENT_HEALTH_PORT' },
  ]);
  if (taken.length > 0) {
    for (const line of taken) console.error(`[gymgate] ${line}`);
    console.error('[gymgate] nothing was started or written.');
    process.exit(1);
  }
  mkdirSync(stateDir, { recursive: true });
  say('applying D1 migrations (local)…');
  await applyLocalMigrations(persistDir);

  const secrets = await localSecrets();

  let mqttUrl = process.env.MQTT_URL;
  if (!mqttUrl) {
    // Every door signs in as itself and may touch only its own topics, as in production.
    const auth = { workerUrl: `http://127.0.0.1:${apiPort}`, secret: secrets.brokerSecret, log: (msg: string, fields: object) => say(`broker: ${msg} ${JSON.stringify(fields)}`) };
    broker = await startEmbeddedBroker(brokerPort, auth);
    mqttUrl = broker.url;
    say(`embedded MQTT broker at ${mqttUrl} (anonymous clients refused; each door has its own user)`);
  } else {
    say(`using MQTT broker ${mqttUrl}`);
  }

  say('starting the Worker under wrangler dev…');
  worker = await startWorker({
    port: apiPort,
    persistDir,
    vars: {
      MQTT_URL: mqttUrl,
      ...trustVars(secrets),
      PAYMENT_PROVIDER: 'simulated',
      DEV_MAILBOX: 'on',
      // A host name, not an IP: browsers make and use passkeys only there (links in emails too).
      PUBLIC_BASE_URL: `http://localhost:${apiPort}`,
    },
    echo: prefixed('worker'),
  });

  const demo: Demo = existsSync(demoFile) ? JSON.parse(readFileSync(demoFile, 'utf8')) : await seed(worker.url);

  // A door provisioned before doors had their own broker users would be refused by the broker: provision it again.
  const deviceFile = path.join(agentDir, 'device.json');
  if (existsSync(deviceFile) && !(JSON.parse(readFileSync(deviceFile, 'utf8')) as { mqtt?: { username?: string } | null }).mqtt?.username) {
    say('the simulated door has no broker user of its own (provisioned by an older version): provisioning it again…');
    rmSync(agentDir, { recursive: true, force: true });
  }
  if (!existsSync(deviceFile)) {
    const { code } = await api<{ code: string }>('POST', `${worker.url}/v1/enrollment-codes`, demo.apiKey, { siteId: demo.siteId });
    say(`provisioning the simulated door agent with enrollment code ${code}…`);
    await provisionAgent({ api: worker.url, code, dataDir: agentDir, name: 'Front desk Pi (simulated)' });
  }
  agent = await startAgent({ dataDir: agentDir, controlPort, healthPort, mqttUrl, echo: prefixed('agent') });

  // The Worker's cron triggers, which wrangler dev does not fire: billing, dunning, notice delivery.
  const frequentSeconds = Number(process.env.GYMGATE_CRON_SECONDS ?? 300);
  schedule = new LocalSchedule({ workerUrl: worker.url, frequentSeconds, stateFile: path.join(stateDir, 'schedule.json'), log: (line) => say(`schedule: ${line}`) });
  schedule.start();

  const active = demo.cards.find((c) => c.status === 'active');
  const suspended = demo.cards.find((c) => c.status === 'suspended');
  console.log(`
gymgate is running (simulated door hardware).

  API          ${worker.url}   (OpenAPI: ${worker.url}/openapi.json)
  API key      ${demo.apiKey}
  MQTT broker  ${mqttUrl}
  Door agent   ${agent.controlUrl}   (simulated GPIO control endpoint)
  Agent health http://127.0.0.1:${healthPort}/health
  Dev mailbox  ${worker.url}/dev/mailbox   (member email and SMS stay here on local runs)
  Staff        http://localhost:${apiPort}/staff/sign-in${(demo.staff ?? []).map((s) => `\n               ${s.email} / ${s.password}   (${s.role})`).join('')}

Tap a card at the front door:
  npm run tap -- --card ${active?.card}        # ${active?.name}: granted
  npm run tap -- --card ${suspended?.card}        # ${suspended?.name}: suspended, denied
  npm run tap -- --card 99:1                 # unknown card, denied
  npm run tap -- --bits 10000000000000000000000001   # bad parity, bad_read
  npm run relay                              # relay state history

List check-ins:
  curl -s -H "Authorization: Bearer ${demo.apiKey}" ${worker.url}/v1/checkins

The Worker's schedules run here too: the five-minute run every ${frequentSeconds} s (GYMGATE_CRON_SECONDS),
the daily billing run at 03:17 UTC and at start when due. Run one now: npm run cron -- daily (or frequent).

Ctrl-C stops everything. State lives in ${path.relative(process.cwd(), stateDir) || stateDir}/ (delete it to start afresh).
`);
}

main().catch(async (err) => {
  console.error(`[gymgate] start failed: ${(err as Error).message}`);
  await stopAll(1);
});
