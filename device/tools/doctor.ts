// `gymgate-agent doctor`: one line per check, ok / warn / fail with the reason, for the technician
// at the door. Every outside fact comes through DoctorEnv so tests run it against a fake sysfs
// tree, stand-in libgpiod tools, a stand-in timedatectl and a Worker test double.
import { execFile } from 'node:child_process';
import { constants } from 'node:fs';
import { access, readdir, readFile, stat, statfs } from 'node:fs/promises';
import { connect } from 'node:net';
import { join } from 'node:path';
import { cachePath } from '../cache/store.ts';
import { CLOCK_FILE } from '../clock/door-clock.ts';
import { readAgentConfig, readDeviceIdentity } from '../config/files.ts';
import { checkBrokerAccess } from './broker-check.ts';
import type { AgentConfig, DeviceIdentity } from '../config/schema.ts';
import { gpiogetArgs, parseGpiodVersion } from '../gpio/gpiod.ts';
import { findChipBase, SYSFS_GPIO, sysfsChips } from '../gpio/onoff.ts';

export type CheckResult = { check: string; status: 'ok' | 'warn' | 'fail'; reason: string };

export type DoctorEnv = {
  dataDir: string;
  sysfsRoot?: string;
  devDir?: string;
  /** Tool environment (PATH for gpiomon, gpioget, timedatectl). */
  env?: NodeJS.ProcessEnv;
  fetch?: typeof fetch;
  now?: () => number;
  timeoutMs?: number;
};

const run = (command: string, args: string[], env: NodeJS.ProcessEnv, timeoutMs: number) =>
  new Promise<{ ok: boolean; stdout: string; stderr: string }>((resolve) => {
    execFile(command, args, { env, timeout: timeoutMs, encoding: 'utf8' }, (error, stdout, stderr) =>
      resolve({ ok: !error, stdout: String(stdout), stderr: error && !stderr ? error.message : String(stderr) }),
    );
  });

const mib = (bytes: number) => `${Math.round(bytes / 1048576)} MiB`;

export async function runDoctor(options: DoctorEnv): Promise<CheckResult[]> {
  const { dataDir, env = process.env, timeoutMs = 5000 } = options;
  const sysfsRoot = options.sysfsRoot ?? SYSFS_GPIO;
  const devDir = options.devDir ?? '/dev';
  const now = options.now ?? Date.now;
  const results: CheckResult[] = [];
  const add = (check: string, status: CheckResult['status'], reason: string) => results.push({ check, status, reason });

  // Identity and config.
  let identity: DeviceIdentity | undefined;
  let config: AgentConfig | undefined;
  try {
    identity = await readDeviceIdentity(dataDir);
    if (identity) add('identity', 'ok', `device ${identity.deviceId} at site ${identity.siteId}`);
    else add('identity', 'fail', `${join(dataDir, 'device.json')} not found: run gymgate-agent provision`);
  } catch (error) {
    add('identity', 'fail', (error as Error).message);
  }
  try {
    config = await readAgentConfig(dataDir);
    if (config) add('config', 'ok', `${config.doors.length} door(s), driver ${config.driver}`);
    else add('config', 'warn', 'config.json not found: the agent writes default wiring on its first run');
  } catch (error) {
    add('config', 'fail', (error as Error).message);
  }

  // GPIO: character device and tools, sysfs and its chip base, permissions.
  let chardevs: string[] = [];
  try {
    chardevs = (await readdir(devDir)).filter((n) => /^gpiochip\d+$/.test(n)).sort();
  } catch {
    chardevs = [];
  }
  const mon = await run('gpiomon', ['--version'], env, timeoutMs);
  const version = mon.ok ? parseGpiodVersion(mon.stdout) : undefined;
  if (chardevs.length > 0) {
    const first = join(devDir, chardevs[0] as string);
    const writable = await access(first, constants.R_OK | constants.W_OK).then(
      () => true,
      () => false,
    );
    if (!writable) add('gpio-chardev', 'fail', `${first} is not readable and writable by this user: add it to the gpio group`);
    else if (!version) add('gpio-chardev', 'warn', `${chardevs.join(', ')} present but gpiomon is missing: apt-get install gpiod (or use the onoff driver)`);
    else add('gpio-chardev', 'ok', `${chardevs.join(', ')}; libgpiod tools ${version.text}`);
  } else add('gpio-chardev', 'warn', `no ${devDir}/gpiochip*: this kernel has no GPIO character device (or this is not a Pi)`);
  const chips = sysfsChips(sysfsRoot);
  if (chips.length > 0) {
    const base = findChipBase(sysfsRoot);
    const exportable = await access(join(sysfsRoot, 'export'), constants.W_OK).then(
      () => true,
      () => false,
    );
    const configured = config?.gpioBase;
    const mismatch = typeof configured === 'number' && configured !== base.base;
    add(
      'gpio-sysfs',
      !exportable ? 'warn' : mismatch ? 'warn' : 'ok',
      `chip base ${base.base} (${base.why})` +
        (mismatch ? `; config.json gpioBase is ${configured}: set it to "auto" or ${base.base}` : '') +
        (exportable ? '' : `; ${join(sysfsRoot, 'export')} is not writable by this user`),
    );
  } else add('gpio-sysfs', chardevs.length > 0 ? 'ok' : 'warn', `no sysfs GPIO under ${sysfsRoot}${chardevs.length > 0 ? ' (the character device is used instead)' : ''}`);
  if (chardevs.length === 0 && chips.length === 0) {
    // Say what is missing, what it means for this config, and how to fix it on a Pi and elsewhere.
    const chardevGlob = join(devDir, 'gpiochip*');
    const missing = `no GPIO at all: neither ${chardevGlob} nor GPIO chips under ${sysfsRoot}`;
    if (config?.driver === 'simulated') {
      add('gpio', 'warn', `${missing}; config.json sets "driver": "simulated", so no relay moves (fine on a development machine, never at a door)`);
    } else {
      const effect = config && config.driver !== 'auto' ? `the ${config.driver} driver set in config.json cannot start` : 'the agent would run on the simulated driver and move no relay';
      const onPi = `check that the kernel exposes ${chardevGlob} (ls -l ${chardevGlob}), sudo apt-get install gpiod, and add the service user to the gpio group (sudo usermod -a -G gpio gymgate, then restart the agent)`;
      const onDevMachine = `set "driver": "simulated" in ${join(dataDir, 'config.json')}`;
      add('gpio', 'fail', `${missing}, so ${effect}. Fix on a Raspberry Pi: ${onPi}. Fix on a development machine: ${onDevMachine}`);
    }
  }

  // Reader wiring: Wiegand data lines idle high (the reader pulls them up); low at idle means
  // the reader is unpowered, a line is shorted to ground, or D0/D1 are on other pins.
  if (config && config.doors.length > 0) {
    if (version && chardevs.length > 0) {
      for (const [i, door] of config.doors.entries()) {
        const levels: string[] = [];
        let busy = false;
        for (const [name, line] of [
          ['D0', door.wiegand.d0],
          ['D1', door.wiegand.d1],
        ] as const) {
          const got = await run('gpioget', gpiogetArgs(version.major, config.gpioChip ?? (chardevs[0] as string), line), env, timeoutMs);
          if (!got.ok) {
            busy ||= /busy/i.test(got.stderr);
            levels.push(`${name}=?`);
          } else levels.push(`${name}=${got.stdout.trim().endsWith('0') ? 0 : 1}`);
        }
        const low = levels.some((l) => l.endsWith('=0'));
        const unknown = levels.some((l) => l.endsWith('=?'));
        add(
          `reader-${i + 1}`,
          low ? 'fail' : unknown ? 'warn' : 'ok',
          `${door.name}: ${levels.join(' ')} at GPIO ${door.wiegand.d0}/${door.wiegand.d1}` +
            (low ? ' — a data line is low at idle: reader unpowered, line shorted, or wired to other pins' : '') +
            (unknown ? (busy ? ' — lines busy (the agent is running; stop it to read idle levels)' : ' — cannot read the lines') : ' — idle high as expected'),
        );
      }
    } else add('readers', 'warn', 'cannot read idle levels without the gpiod tools and /dev/gpiochip*');
  }

  // Keyboard-wedge readers: grabbed through the python3 helper, or read directly (not grabbed).
  const keyboards = (config?.doors ?? []).map((door, i) => ({ door, i, keyboard: door.keyboard })).filter((k) => k.keyboard);
  if (keyboards.length > 0) {
    const python = await run('python3', ['-c', 'import fcntl, select'], env, timeoutMs);
    for (const { door, i, keyboard } of keyboards) {
      const path = keyboard?.device ?? '';
      const present = await access(path, constants.R_OK).then(
        () => true,
        () => false,
      );
      const where = `${door.name}: ${path}${present ? '' : ' is not present or not readable (plugged in? user in the input group?)'}`;
      if (keyboard?.grab === 'off') add(`keyboard-${i + 1}`, 'warn', `${where}; mode direct (grab: "off"): not grabbed, the console sees the keystrokes`);
      else if (!python.ok) add(`keyboard-${i + 1}`, 'warn', `${where}; mode direct: python3 is missing, so the device is not grabbed and the console sees the keystrokes (apt-get install python3-minimal)`);
      else add(`keyboard-${i + 1}`, present ? 'ok' : 'warn', `${where}; mode grab: grabbed (EVIOCGRAB) through the python3 helper`);
    }
  }

  // Clock.
  const td = await run('timedatectl', ['show', '-p', 'NTPSynchronized', '--value'], env, timeoutMs);
  if (!td.ok) add('clock', 'warn', `cannot ask timedatectl (${td.stderr.trim().split('\n')[0]}); the agent still learns the Worker's time`);
  else if (td.stdout.trim() === 'yes') add('clock', 'ok', 'system clock synchronised (NTP)');
  else add('clock', 'warn', 'system clock not synchronised: check network time (systemd-timesyncd); time-limited access waits for a Worker sync');

  // API and broker.
  const doFetch = options.fetch ?? fetch;
  if (identity) {
    try {
      const res = await doFetch(new URL('/v1/device/whoami', identity.api), {
        headers: { authorization: `Bearer ${identity.deviceToken}` },
        signal: AbortSignal.timeout(timeoutMs),
      });
      await res.body?.cancel();
      if (res.ok) add('api', 'ok', `${identity.api} answered ${res.status}`);
      else if (res.status === 401 || res.status === 403) add('api', 'fail', `${identity.api} refused the device token (${res.status}): re-provision this door`);
      else add('api', 'warn', `${identity.api} answered ${res.status}`);
    } catch (error) {
      add('api', 'fail', `${identity.api} unreachable: ${(error as Error).message}`);
    }
    const broker = config?.mqtt?.url ?? identity.mqtt?.url;
    if (!broker) add('broker', 'ok', 'no MQTT broker configured (the agent polls)');
    else {
      const url = new URL(broker);
      const port = Number(url.port || (url.protocol === 'mqtts:' ? 8883 : url.protocol === 'wss:' ? 443 : url.protocol === 'ws:' ? 80 : 1883));
      const reachable = await new Promise<string | undefined>((resolve) => {
        const socket = connect({ host: url.hostname, port, timeout: timeoutMs });
        socket.once('connect', () => {
          socket.destroy();
          resolve(undefined);
        });
        socket.once('timeout', () => {
          socket.destroy();
          resolve('timed out');
        });
        socket.once('error', (error) => resolve(error.message));
      });
      add('broker', reachable ? 'fail' : 'ok', reachable ? `${url.hostname}:${port} unreachable: ${reachable}` : `${url.hostname}:${port} accepts connections`);
      if (!reachable) {
        const credentials = config?.mqtt ?? identity.mqtt;
        for (const result of await checkBrokerAccess(broker, { username: credentials?.username, password: credentials?.password }, timeoutMs)) {
          add(result.check, result.status, result.reason);
        }
      }
    }
  }

  // Cache age.
  try {
    const cacheStat = await stat(cachePath(dataDir));
    let lastSync: number | undefined;
    try {
      const v = (JSON.parse(await readFile(join(dataDir, CLOCK_FILE), 'utf8')) as { lastSyncServerTime?: unknown }).lastSyncServerTime;
      if (typeof v === 'number') lastSync = v;
    } catch {
      lastSync = undefined;
    }
    const age = now() - (lastSync ?? cacheStat.mtimeMs);
    const hours = Math.round(age / 360_000) / 10;
    add('cache', age > 86_400_000 ? 'warn' : 'ok', `last confirmed by the Worker ${hours} h ago (${mib(cacheStat.size)} on disk)`);
  } catch {
    add('cache', 'fail', 'no entitlement cache on disk: the door denies everyone until the first sync');
  }

  // Disk.
  try {
    const fs = await statfs(dataDir);
    const free = fs.bavail * fs.bsize;
    add('disk', free < 50 * 1048576 ? 'fail' : free < 500 * 1048576 ? 'warn' : 'ok', `${mib(free)} free on the data directory's filesystem`);
  } catch (error) {
    add('disk', 'warn', `cannot check free space: ${(error as Error).message}`);
  }

  // The running agent.
  const port = config?.healthPort;
  if (port === null) add('agent', 'warn', 'health endpoint turned off in config.json');
  else {
    try {
      const res = await doFetch(`http://127.0.0.1:${port ?? 7468}/health`, { signal: AbortSignal.timeout(timeoutMs) });
      const body = (await res.json()) as { ok?: boolean; problems?: string[] };
      add('agent', body.ok ? 'ok' : 'warn', body.ok ? 'running and deciding' : `running but: ${(body.problems ?? []).join(', ')}`);
    } catch {
      add('agent', 'warn', 'not running (no health endpoint on loopback): systemctl status gymgate-agent');
    }
  }
  return results;
}
