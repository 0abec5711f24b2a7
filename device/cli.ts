// gymgate-agent: the door agent's command line.
//   provision  trade a one-time enrollment code for this door's identity
//   run        run the agent
//   tap        tap a card at a door of a running agent (simulated driver)
//   relay      show a door's relay history (simulated driver)
//   status     show a running agent's status (simulated driver)
import { Agent } from './agent.ts';
import { ApiError, NetworkError } from './api/worker-client.ts';
import { mqttUrl } from './config/schema.ts';
import { ConfigError } from './config/files.ts';
import { DRIVER_NAMES, type DriverName } from './gpio/driver.ts';
import { GpioUnavailableError } from './gpio/onoff.ts';
import { createLogger } from './log/logger.ts';
import { AlreadyProvisionedError, provision } from './provision/provision.ts';
import { ControlRequestError, ControlUnreachableError } from './sim/control-client.ts';
import { SystemdNotifier } from './systemd/notify.ts';
import { AGENT_VERSION } from './version.ts';

import { dataDirOf, parse, required, UsageError, help, type CliIO } from './cli/args.ts';
import { relayCommand, statusCommand, tapCommand } from './cli/control-commands.ts';
import { doctorCommand, logsCommand, readCardCommand, testRelayCommand } from './cli/technician-commands.ts';


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
