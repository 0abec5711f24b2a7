// gymgate-agent: the door agent's command line.
//   provision  trade a one-time enrollment code for this door's identity
//   run        run the agent
//   tap        tap a card at a door of a running agent (simulated driver)
//   relay      show a door's relay history (simulated driver)
//   status     show a running agent's status (simulated driver)
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { resolve } from 'node:path';
import type { AccessDecision } from '../core/access.ts';
import { Agent, type AgentStatus } from './agent.ts';
import { ApiError, NetworkError } from './api/worker-client.ts';
import { mqttUrl } from './config/schema.ts';
import { ConfigError } from './config/files.ts';
import { DRIVER_NAMES, type DriverName } from './gpio/driver.ts';
import { GpioUnavailableError } from './gpio/onoff.ts';
import { createLogger } from './log/logger.ts';
import { AlreadyProvisionedError, provision } from './provision/provision.ts';
import { ControlRequestError, ControlUnreachableError, controlRequest, DEFAULT_CONTROL_URL } from './sim/control-client.ts';
import type { TapBody } from './sim/control-server.ts';
import { SystemdNotifier } from './systemd/notify.ts';
import { readAgentConfig } from './config/files.ts';
import { Relay } from './door/relay.ts';
import { selectDriver } from './gpio/select.ts';
import { runDoctor } from './tools/doctor.ts';
import { showLogs } from './tools/logs.ts';
import { readOneFrame } from './tools/read-card.ts';
import { AGENT_VERSION } from './version.ts';

export type CliIO = {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  env: NodeJS.ProcessEnv;
  /** Resolves when the process is asked to stop (SIGINT/SIGTERM); `run` waits on it. */
  stopSignal?: () => Promise<string>;
};

const USAGE = `Usage: gymgate-agent <command> [options]

Commands:
  provision --api URL --code CODE [--data DIR] [--name NAME] [--force]
      Enroll this door with a one-time code; writes DIR/device.json and DIR/config.json.
  run [--data DIR] [--driver simulated|onoff|gpiod|auto] [--control-port N] [--health-port N|off] [--mqtt URL]
      [--pull-interval SECONDS] [--heartbeat-interval SECONDS] [--verbose]
      Run the door agent (JSON log lines on stdout; SIGINT/SIGTERM stop it).
  tap [--door ID|N] (--card FACILITY:CARD [--format H10301|N10002|C1000|H10304] | --bits 0101… | --raw HEX)
      [--control URL] [--json]
      Tap a card at a door of a running agent that uses the simulated driver.
  relay [--door ID|N] [--control URL] [--json]
      Show a door's relay history (simulated driver).
  status [--control URL] [--json]
      Show the running agent's status.

Technician toolkit:
  doctor [--data DIR] [--json]
      Check GPIO access and chip base, reader wiring, clock sync, API and broker reachability,
      cache age, disk space and the running agent; each check ok / warn / fail with a reason.
  read-card [--data DIR] [--door ID|N] [--timeout SECONDS] [--driver NAME] [--json]
      Stop the agent first. Waits for one card and shows raw bits, format, facility, card, parity.
  test-relay [--data DIR] [--door ID|N] [--seconds S] [--driver NAME]
      Stop the agent first. Unlocks the door's relay for S seconds (default 3), then locks it.
  logs [-f] [-n LINES]
      The agent's log from the journal, one readable line per entry.
  version

DIR defaults to $GYMGATE_AGENT_DATA or ./.gymgate/agent.
The control URL defaults to $GYMGATE_AGENT_CONTROL, http://127.0.0.1:$AGENT_CONTROL_PORT, or ${DEFAULT_CONTROL_URL}.
`;

class UsageError extends Error {
  override name = 'UsageError';
}

type Options = NonNullable<ParseArgsConfig['options']>;

function parse<T extends Options>(command: string, argv: string[], options: T) {
  try {
    return parseArgs({ args: argv, options: { ...options, help: { type: 'boolean', short: 'h' } }, strict: true, allowPositionals: false }).values as {
      [K in keyof T]?: T[K]['type'] extends 'boolean' ? boolean : string;
    } & { help?: boolean };
  } catch (error) {
    throw new UsageError(`${command}: ${(error as Error).message.split('. To specify')[0]}`);
  }
}

const dataDirOf = (value: string | undefined, env: NodeJS.ProcessEnv) =>
  resolve(value ?? env.GYMGATE_AGENT_DATA ?? './.gymgate/agent');
const controlOf = (value: string | undefined, env: NodeJS.ProcessEnv) => {
  // AGENT_CONTROL_PORT is the port `npm start` gives the local agent; the tap follows it.
  const url = value ?? env.GYMGATE_AGENT_CONTROL ?? (env.AGENT_CONTROL_PORT ? `http://127.0.0.1:${env.AGENT_CONTROL_PORT}` : DEFAULT_CONTROL_URL);
  if (!URL.canParse(url) || new URL(url).protocol !== 'http:') throw new UsageError(`--control must be an http:// URL, got ${url}`);
  return url;
};
const required = (command: string, flag: string, value: string | undefined): string => {
  if (value === undefined || value === '') throw new UsageError(`${command}: --${flag} is required`);
  return value;
};
const doorRef = (value: string | undefined): string | number | undefined =>
  value === undefined ? undefined : /^\d+$/.test(value) ? Number(value) : value;

async function provisionCommand(argv: string[], io: CliIO): Promise<number> {
  const v = parse('provision', argv, {
    api: { type: 'string' },
    code: { type: 'string' },
    data: { type: 'string' },
    name: { type: 'string' },
    force: { type: 'boolean' },
  });
  if (v.help) return help(io);
  const api = required('provision', 'api', v.api);
  if (!URL.canParse(api) || !/^https?:$/.test(new URL(api).protocol)) {
    throw new UsageError(`provision: --api must be an http:// or https:// URL, got ${api}`);
  }
  const code = required('provision', 'code', v.code);
  const dataDir = dataDirOf(v.data, io.env);
  let result;
  try {
    result = await provision({ api, code, dataDir, name: v.name, force: v.force });
  } catch (error) {
    if (error instanceof ApiError) {
      const p = error.problem;
      io.stderr(`Enrollment refused (HTTP ${error.status}): ${p?.title ?? 'error'}`);
      if (p?.detail) io.stderr(`  ${p.detail}`);
      for (const e of p?.errors ?? []) io.stderr(`  ${e.field}: ${e.reason}`);
      if (!p) io.stderr(`  ${error.body.slice(0, 300)}`);
      return 1;
    }
    if (error instanceof AlreadyProvisionedError || error instanceof NetworkError) {
      io.stderr(`Cannot provision: ${error.message}`);
      return 1;
    }
    throw error;
  }
  const { identity } = result;
  io.stdout(`Enrolled device ${identity.deviceId} at site ${identity.siteId} (organisation ${identity.organisationId}).`);
  io.stdout(`Wrote ${result.devicePath} (mode 0600; it holds the device token).`);
  io.stdout(identity.mqtt ? `MQTT broker: ${identity.mqtt.url}` : 'No MQTT broker given at enrollment; the agent will poll (or pass --mqtt URL to run).');
  if (result.config && result.snapshot) {
    io.stdout(`Wrote ${result.configPath} with ${result.config.doors.length} door(s), driver "${result.config.driver}":`);
    result.config.doors.forEach((d, i) =>
      io.stdout(
        `  ${i + 1}  ${d.id}  ${d.name}  D0=GPIO${d.wiegand.d0} D1=GPIO${d.wiegand.d1} relay=GPIO${d.relay.line} ` +
          `(${d.relay.activeLow ? 'active-low' : 'active-high'}, ${d.grantMs} ms)`,
      ),
    );
    io.stdout(`Entitlements: version ${result.snapshot.version}, ${result.snapshot.credentials.length} credential(s) cached.`);
    io.stdout('Edit config.json if the doors are wired to other GPIO lines.');
  } else {
    io.stderr(`Warning: could not fetch the site snapshot (${result.snapshotError}); config.json will be written on the first run.`);
  }
  io.stdout(`Start the agent: gymgate-agent run --data ${dataDir}`);
  return 0;
}

async function runCommand(argv: string[], io: CliIO): Promise<number> {
  const v = parse('run', argv, {
    data: { type: 'string' },
    driver: { type: 'string' },
    'control-port': { type: 'string' },
    'health-port': { type: 'string' },
    mqtt: { type: 'string' },
    'pull-interval': { type: 'string' },
    'heartbeat-interval': { type: 'string' },
    verbose: { type: 'boolean' },
  });
  if (v.help) return help(io);
  if (v.driver !== undefined && !(DRIVER_NAMES as readonly string[]).includes(v.driver)) {
    throw new UsageError(`run: --driver must be one of ${DRIVER_NAMES.join(', ')}, got ${v.driver}`);
  }
  let controlPort: number | undefined;
  if (v['control-port'] !== undefined) {
    controlPort = Number(v['control-port']);
    if (!/^\d+$/.test(v['control-port']) || controlPort > 65_535) {
      throw new UsageError(`run: --control-port must be a whole number from 0 to 65535, got ${v['control-port']}`);
    }
  }
  let healthPort: number | null | undefined;
  if (v['health-port'] !== undefined) {
    healthPort = v['health-port'] === 'off' ? null : Number(v['health-port']);
    if (healthPort !== null && (!/^\d+$/.test(v['health-port']) || healthPort > 65_535)) {
      throw new UsageError(`run: --health-port must be a whole number from 0 to 65535 or "off", got ${v['health-port']}`);
    }
  }
  let pullIntervalSeconds: number | undefined;
  if (v['pull-interval'] !== undefined) {
    pullIntervalSeconds = Number(v['pull-interval']);
    if (!Number.isFinite(pullIntervalSeconds) || pullIntervalSeconds < 0.05) {
      throw new UsageError(`run: --pull-interval must be a number of seconds (at least 0.05), got ${v['pull-interval']}`);
    }
  }
  let heartbeatSeconds: number | undefined;
  if (v['heartbeat-interval'] !== undefined) {
    heartbeatSeconds = Number(v['heartbeat-interval']);
    if (!Number.isFinite(heartbeatSeconds) || heartbeatSeconds < 0.05 || heartbeatSeconds > 3600) {
      throw new UsageError(`run: --heartbeat-interval must be a number of seconds from 0.05 to 3600, got ${v['heartbeat-interval']}`);
    }
  }
  if (v.mqtt !== undefined && !mqttUrl.safeParse(v.mqtt).success) {
    throw new UsageError(`run: --mqtt must be an mqtt://, mqtts://, ws:// or wss:// URL, got ${v.mqtt}`);
  }
  const log = createLogger({ write: io.stdout, level: v.verbose ? 'debug' : 'info' });
  let agent: Agent;
  try {
    agent = await Agent.start({
      dataDir: dataDirOf(v.data, io.env),
      driver: v.driver as DriverName | undefined,
      controlPort,
      ...(healthPort !== undefined ? { healthPort } : {}),
      mqttUrl: v.mqtt,
      pullIntervalSeconds,
      heartbeatSeconds,
      log,
    });
  } catch (error) {
    if (error instanceof ConfigError || error instanceof GpioUnavailableError) {
      log.error('agent cannot start', { error: error.message });
      io.stderr(`Cannot start: ${error.message}`);
      return 1;
    }
    throw error;
  }
  let failed = false;
  const stop = io.stopSignal?.() ?? new Promise<string>(() => undefined);
  const startFailure = agent.ready.then(
    () => new Promise<string>(() => undefined),
    (error: unknown) => {
      failed = true;
      log.error('agent failed to start', { error });
      return 'start failure';
    },
  );
  // Under systemd (Type=notify): READY=1 once deciding, then the watchdog keepalive.
  const notifier = new SystemdNotifier({ log, env: io.env });
  void agent.ready.then(
    () => notifier.ready(`deciding at ${agent.status().doors.length} door(s)`),
    () => undefined,
  );
  const why = await Promise.race([stop, startFailure]);
  log.info('agent stopping', { why });
  await notifier.stopping();
  await agent.stop();
  return failed ? 1 : 0;
}

// The door holds no personal data, so the member is named by id; `GET /v1/checkins?expand=names` gives names.
type TapResponse = { door: string; doorName?: string; credentialKey: string | null; decision: AccessDecision };

async function tapCommand(argv: string[], io: CliIO): Promise<number> {
  const v = parse('tap', argv, {
    door: { type: 'string' },
    card: { type: 'string' },
    format: { type: 'string' },
    bits: { type: 'string' },
    raw: { type: 'string' },
    control: { type: 'string' },
    json: { type: 'boolean' },
  });
  if (v.help) return help(io);
  const given = [v.card, v.bits, v.raw].filter((x) => x !== undefined).length;
  if (given !== 1) throw new UsageError('tap: give exactly one of --card FACILITY:CARD, --bits 0101… or --raw HEX');
  const body: TapBody = { door: doorRef(v.door) };
  if (v.card !== undefined) {
    const m = /^(\d{1,5}):(\d{1,7})$/.exec(v.card);
    if (!m) throw new UsageError(`tap: --card must be FACILITY:CARD in decimal, e.g. 12:3456, got ${v.card}`);
    body.facility = Number(m[1]);
    body.card = Number(m[2]);
    if (v.format !== undefined) {
      if (!['H10301', 'N10002', 'C1000', 'H10304'].includes(v.format)) {
        throw new UsageError(`tap: --format must be H10301, N10002, C1000 or H10304, got ${v.format}`);
      }
      body.format = v.format as TapBody['format'];
    }
  } else if (v.format !== undefined) {
    throw new UsageError('tap: --format only applies to --card');
  }
  if (v.bits !== undefined) {
    if (!/^[01]+$/.test(v.bits)) throw new UsageError(`tap: --bits must be a string of 0 and 1, got ${v.bits}`);
    body.bits = v.bits;
  }
  if (v.raw !== undefined) body.raw = v.raw;
  const result = await controlRequest<TapResponse>(controlOf(v.control, io.env), 'POST', '/tap', body);
  if (v.json) {
    io.stdout(JSON.stringify(result));
    return 0;
  }
  const d = result.decision;
  io.stdout(
    `${d.granted ? 'GRANTED' : 'DENIED'} at ${result.doorName ? `${result.doorName} (${result.door})` : result.door}: ${d.reason} — ${d.explanation}` +
      `${result.credentialKey ? ` [${result.credentialKey}]` : ''}${d.memberId ? ` member ${d.memberId}` : ''}`,
  );
  return 0;
}

type RelayResponse = {
  door: string;
  line: number;
  activeLow: boolean;
  history: Array<{ at: number; level: 0 | 1; active: boolean }>;
};

async function relayCommand(argv: string[], io: CliIO): Promise<number> {
  const v = parse('relay', argv, { door: { type: 'string' }, control: { type: 'string' }, json: { type: 'boolean' } });
  if (v.help) return help(io);
  const query = v.door === undefined ? '' : `?door=${encodeURIComponent(v.door)}`;
  const result = await controlRequest<RelayResponse>(controlOf(v.control, io.env), 'GET', `/relay${query}`);
  if (v.json) {
    io.stdout(JSON.stringify(result));
    return 0;
  }
  io.stdout(`Relay of ${result.door} on GPIO ${result.line} (${result.activeLow ? 'active-low' : 'active-high'}):`);
  for (const w of result.history) {
    io.stdout(`  ${new Date(w.at).toISOString()}  level ${w.level}  ${w.active ? 'ACTIVE (unlocked)' : 'inactive (locked)'}`);
  }
  return 0;
}

async function statusCommand(argv: string[], io: CliIO): Promise<number> {
  const v = parse('status', argv, { control: { type: 'string' }, json: { type: 'boolean' } });
  if (v.help) return help(io);
  const s = await controlRequest<AgentStatus>(controlOf(v.control, io.env), 'GET', '/status');
  if (v.json) {
    io.stdout(JSON.stringify(s));
    return 0;
  }
  const when = (t: number | null) => (t === null ? 'never' : new Date(t).toISOString());
  io.stdout(`Device ${s.deviceId} at site ${s.siteId} (agent ${s.agentVersion}, ${s.driver} driver)`);
  if (s.gpioFallback) io.stdout(`GPIO: SIMULATED, no relay moves: driver "auto" found no usable GPIO (${s.gpioFallback}); run gymgate-agent doctor`);
  io.stdout(
    `Entitlements: version ${s.entitlementVersion ?? 'none'} (hash ${s.entitlementHash ?? 'none'}), ${s.credentials} credential(s), ` +
      `last sync ${when(s.lastSyncAt)}, cache age ${s.cacheAgeMs === null ? 'unknown' : `${Math.round(s.cacheAgeMs / 1000)} s`}`,
  );
  io.stdout(`Clock: ${s.clockSynced ? 'synchronised' : 'NOT synchronised'}, offset ${s.clockOffsetMs === null ? 'unknown' : `${s.clockOffsetMs} ms`}`);
  io.stdout(`Broker: ${s.brokerConnected ? 'connected' : 'not connected'} (${s.reconnectsLastHour} reconnect(s) in the last hour); last heartbeat ${when(s.lastHeartbeatAt)}`);
  io.stdout(`Outbox: ${s.outboxPending} event(s) waiting, last upload ${when(s.lastUploadAt)}`);
  io.stdout(`Commands: ${s.commandsEnabled ? 'accepted (signed)' : 'ignored (no command key)'}${s.overrides.lockdown ? '; LOCKDOWN by command' : ''}`);
  for (const d of s.doors) {
    io.stdout(`  door ${d.slot}: ${d.id}  ${d.name}  mode ${d.mode ?? 'unknown'}${d.heldOpen ? ', held open' : ''}${d.relayActive ? ', relay active' : ''}`);
  }
  return 0;
}

async function doctorCommand(argv: string[], io: CliIO): Promise<number> {
  const v = parse('doctor', argv, { data: { type: 'string' }, json: { type: 'boolean' } });
  if (v.help) return help(io);
  const results = await runDoctor({
    dataDir: dataDirOf(v.data, io.env),
    env: io.env,
    sysfsRoot: io.env.GYMGATE_SYSFS_GPIO,
    devDir: io.env.GYMGATE_DEV_DIR,
  });
  if (v.json) io.stdout(JSON.stringify(results));
  else for (const r of results) io.stdout(`${r.status.toUpperCase().padEnd(4)}  ${r.check.padEnd(12)}  ${r.reason}`);
  return results.some((r) => r.status === 'fail') ? 1 : 0;
}

/** Opens real GPIO for the technician commands (config.json's driver and base, or --driver). */
async function technicianDriver(command: string, v: { data?: string; door?: string; driver?: string }, io: CliIO) {
  const dataDir = dataDirOf(v.data, io.env);
  const config = await readAgentConfig(dataDir);
  if (!config || config.doors.length === 0) throw new UsageError(`${command}: no doors in ${dataDir}/config.json`);
  const ref = doorRef(v.door) ?? 1;
  const door = typeof ref === 'number' ? config.doors[ref - 1] : config.doors.find((d) => d.id === ref);
  if (!door) throw new UsageError(`${command}: no door ${String(ref)} in config.json`);
  if (v.driver !== undefined && !(DRIVER_NAMES as readonly string[]).includes(v.driver)) {
    throw new UsageError(`${command}: --driver must be one of ${DRIVER_NAMES.join(', ')}, got ${v.driver}`);
  }
  const log = createLogger({ write: () => undefined });
  const driver = await selectDriver((v.driver as DriverName | undefined) ?? config.driver, {
    log,
    gpioBase: config.gpioBase,
    gpioChip: config.gpioChip,
    sysfsRoot: io.env.GYMGATE_SYSFS_GPIO,
    devDir: io.env.GYMGATE_DEV_DIR,
  });
  return { door, driver };
}

async function readCardCommand(argv: string[], io: CliIO): Promise<number> {
  const v = parse('read-card', argv, {
    data: { type: 'string' },
    door: { type: 'string' },
    timeout: { type: 'string' },
    driver: { type: 'string' },
    json: { type: 'boolean' },
  });
  if (v.help) return help(io);
  const seconds = Number(v.timeout ?? 30);
  if (!Number.isFinite(seconds) || seconds <= 0) throw new UsageError(`read-card: --timeout must be a number of seconds, got ${v.timeout}`);
  const { door, driver } = await technicianDriver('read-card', v, io);
  try {
    if (!v.json) io.stdout(`Present a card at ${door.name} (D0=GPIO${door.wiegand.d0}, D1=GPIO${door.wiegand.d1}, driver ${driver.name}); waiting ${seconds} s…`);
    const read = await readOneFrame({ driver, d0: door.wiegand.d0, d1: door.wiegand.d1, timeoutMs: seconds * 1000 });
    if (!read) {
      io.stderr(`No frame within ${seconds} s: check reader power, D0/D1 on GPIO${door.wiegand.d0}/${door.wiegand.d1}, common ground, and that the agent is stopped.`);
      return 1;
    }
    if (v.json) io.stdout(JSON.stringify(read));
    else {
      io.stdout(`bits      ${read.bits} (${read.length} bits, ${read.durationMs.toFixed(1)} ms, hex ${read.hex})`);
      io.stdout(`format    ${read.format ?? 'unknown'}`);
      if (read.facility !== null) io.stdout(`facility  ${read.facility}\ncard      ${read.card}`);
      io.stdout(`parity    ${read.parity}`);
      io.stdout(`key       ${read.credentialKey ?? '-'}`);
      io.stdout(read.detail);
    }
    return read.parity === 'bad' ? 1 : 0;
  } finally {
    driver.close();
  }
}

async function testRelayCommand(argv: string[], io: CliIO): Promise<number> {
  const v = parse('test-relay', argv, { data: { type: 'string' }, door: { type: 'string' }, seconds: { type: 'string' }, driver: { type: 'string' } });
  if (v.help) return help(io);
  const seconds = Number(v.seconds ?? 3);
  if (!Number.isFinite(seconds) || seconds <= 0 || seconds > 60) throw new UsageError(`test-relay: --seconds must be from 0 to 60, got ${v.seconds}`);
  const { door, driver } = await technicianDriver('test-relay', v, io);
  const relay = new Relay({ driver, line: door.relay.line, activeLow: door.relay.activeLow, lock: door.relay.lock });
  try {
    io.stdout(`${door.name}: relay on GPIO${door.relay.line} (${door.relay.activeLow ? 'active-low' : 'active-high'}, ${door.relay.lock}) locked at level ${relay.inactiveLevel}.`);
    relay.pulse(seconds * 1000);
    io.stdout(`UNLOCKED (level ${relay.activeLevel}) for ${seconds} s…`);
    await new Promise((resolve) => setTimeout(resolve, seconds * 1000 + 20));
    io.stdout(`Locked again (level ${relay.inactiveLevel}). Did the strike click twice and the door hold afterwards?`);
    return 0;
  } finally {
    relay.close();
    driver.close();
    // The gpiod driver's holders settle asynchronously: give the last one time to take over.
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

async function logsCommand(argv: string[], io: CliIO): Promise<number> {
  const v = parse('logs', argv, { follow: { type: 'boolean', short: 'f' }, lines: { type: 'string', short: 'n' } });
  if (v.help) return help(io);
  const lines = Number(v.lines ?? 100);
  if (!Number.isInteger(lines) || lines < 0) throw new UsageError(`logs: -n must be a whole number, got ${v.lines}`);
  return showLogs({ follow: v.follow === true, lines, journalctl: io.env.GYMGATE_JOURNALCTL, stdout: io.stdout, stderr: io.stderr, env: io.env });
}

function help(io: CliIO): number {
  io.stdout(USAGE);
  return 0;
}

const defaultStopSignal = () =>
  new Promise<string>((resolve) => {
    const onSignal = (signal: NodeJS.Signals) => {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      // A second signal while stopping ends the process at once.
      process.once('SIGINT', () => process.exit(130));
      process.once('SIGTERM', () => process.exit(143));
      resolve(signal);
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  });

export async function runCli(argv: string[], io?: Partial<CliIO>): Promise<number> {
  const out: CliIO = {
    stdout: io?.stdout ?? ((text) => process.stdout.write(`${text}\n`)),
    stderr: io?.stderr ?? ((text) => process.stderr.write(`${text}\n`)),
    env: io?.env ?? process.env,
    stopSignal: io?.stopSignal ?? defaultStopSignal,
  };
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case 'provision':
        return await provisionCommand(rest, out);
      case 'run':
        return await runCommand(rest, out);
      case 'tap':
        return await tapCommand(rest, out);
      case 'relay':
        return await relayCommand(rest, out);
      case 'status':
        return await statusCommand(rest, out);
      case 'doctor':
        return await doctorCommand(rest, out);
      case 'read-card':
        return await readCardCommand(rest, out);
      case 'test-relay':
        return await testRelayCommand(rest, out);
      case 'logs':
        return await logsCommand(rest, out);
      case 'version':
      case '--version':
        out.stdout(AGENT_VERSION);
        return 0;
      case undefined:
      case 'help':
      case '--help':
      case '-h':
        return help(out);
      default:
        throw new UsageError(`unknown command ${JSON.stringify(command)}`);
    }
  } catch (error) {
    if (error instanceof UsageError) {
      out.stderr(`gymgate-agent ${error.message}`);
      out.stderr('Run `gymgate-agent help` for usage.');
      return 2;
    }
    if (error instanceof ControlUnreachableError) {
      out.stderr(error.message);
      return 1;
    }
    if (error instanceof ControlRequestError) {
      out.stderr(`The agent refused the request: ${error.message}`);
      return 1;
    }
    out.stderr(`gymgate-agent: ${(error as Error).stack ?? String(error)}`);
    return 1;
  }
}
