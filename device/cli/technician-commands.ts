// The technician's tools at the door: doctor, read-card, test-relay, logs.
import { DRIVER_NAMES, type DriverName } from '../gpio/driver.ts';
import { createLogger } from '../log/logger.ts';
import { readAgentConfig } from '../config/files.ts';
import { Relay } from '../door/relay.ts';
import { selectDriver } from '../gpio/select.ts';
import { runDoctor } from '../tools/doctor.ts';
import { showLogs } from '../tools/logs.ts';
import { readOneFrame } from '../tools/read-card.ts';

import { dataDirOf, doorRef, parse, UsageError, help, type CliIO } from './args.ts';

export async function doctorCommand(argv: string[], io: CliIO): Promise<number> {
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

export async function readCardCommand(argv: string[], io: CliIO): Promise<number> {
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

export async function testRelayCommand(argv: string[], io: CliIO): Promise<number> {
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

export async function logsCommand(argv: string[], io: CliIO): Promise<number> {
  const v = parse('logs', argv, { follow: { type: 'boolean', short: 'f' }, lines: { type: 'string', short: 'n' } });
  if (v.help) return help(io);
  const lines = Number(v.lines ?? 100);
  if (!Number.isInteger(lines) || lines < 0) throw new UsageError(`logs: -n must be a whole number, got ${v.lines}`);
  return showLogs({ follow: v.follow === true, lines, journalctl: io.env.GYMGATE_JOURNALCTL, stdout: io.stdout, stderr: io.stderr, env: io.env });
}
