// GPIO through the character device (/dev/gpiochipN) with Debian's libgpiod tools, for kernels
// without sysfs GPIO. Works with libgpiod 1.6 (Debian 12, Raspberry Pi OS bookworm) and 2.x
// (Debian 13): the version is read from `gpiomon --version` and the flags chosen to match.
//
// Inputs: one `gpiomon` per line, falling edges only, printing the kernel's timestamp of each edge
// (CLOCK_MONOTONIC, the clock process.hrtime.bigint() reads), so bit timing does not depend on how
// fast Node reads the pipe. A gpiomon that dies (line busy, device gone) is logged and restarted.
//
// Outputs: `gpioset` holds a line at a level for as long as it runs. Each level change stops the
// holder and starts a new one at the new level. Every holder runs under a small `sh` guard that
// reads the agent's pipe: when the agent exits or is killed (even SIGKILL) the pipe closes, the
// guard stops gpioset and drives the line to its `safeLevel` (the relay's locked level) once more
// before exiting, so a crash never leaves a strike released.
import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { createInterface } from 'node:readline';
import type { Logger } from '../log/logger.ts';
import type { GpioDriver, InputLine, Level, LevelInput, OutputLine } from './driver.ts';
import { GpioUnavailableError, PI_HEADER_LABELS } from './onoff.ts';

export type GpiodOptions = {
  log: Logger;
  /** Chip name, number or path; default: the chip labelled as the Pi's header controller, else gpiochip0. */
  chip?: string;
  gpiomon?: string;
  gpioset?: string;
  gpiodetect?: string;
  gpioget?: string;
  /** Environment of the tools (tests point stand-ins at their files). */
  env?: NodeJS.ProcessEnv;
  /** Delay before restarting a gpiomon that exited, ms. Default 1000. */
  restartMs?: number;
  /** Bias for inputs ('pull-up' suits open-collector Wiegand, door contacts and exit buttons). Default none. */
  bias?: 'pull-up' | 'pull-down' | 'disable' | 'as-is';
};

export type GpiodVersion = { major: number; text: string };

/** Parses `gpiomon --version` ("gpiomon (libgpiod) v1.6.3" or "gpiomon (libgpiod) v2.1.3"). */
export function parseGpiodVersion(text: string): GpiodVersion | undefined {
  const m = /v?(\d+)\.(\d+)(?:\.(\d+))?/.exec(text);
  if (!m) return undefined;
  return { major: Number(m[1]), text: m[0] };
}

/** Parses `gpiodetect` ("gpiochip0 [pinctrl-bcm2711] (58 lines)") into chip names and labels. */
export function parseGpiodetect(text: string): Array<{ chip: string; label: string; lines: number }> {
  const chips: Array<{ chip: string; label: string; lines: number }> = [];
  for (const line of text.split('\n')) {
    const m = /^(\S+)\s+\[([^\]]*)\]\s+\((\d+) lines?\)/.exec(line.trim());
    if (m) chips.push({ chip: m[1] ?? '', label: m[2] ?? '', lines: Number(m[3]) });
  }
  return chips;
}

/** gpiomon arguments for lines of one chip (falling edges, or both), one event per output line. */
export function gpiomonArgs(
  major: number,
  chip: string,
  lines: number | readonly number[],
  bias?: GpiodOptions['bias'],
  edges: 'falling' | 'both' = 'falling',
): string[] {
  const b = bias ? [`--bias=${bias}`] : [];
  const offsets = (typeof lines === 'number' ? [lines] : lines).map(String);
  if (major >= 2) return [`--edges=${edges}`, '--format=%o %e %S', ...b, '-c', chip, ...offsets];
  // 1.6 watches both edges when neither --rising-edge nor --falling-edge is given.
  return [...(edges === 'falling' ? ['--falling-edge'] : []), '--line-buffered', '--format=%o %e %s %n', ...b, chip, ...offsets];
}

/** gpioget arguments that print one line's level as 0 or 1. */
export function gpiogetArgs(major: number, chip: string, line: number, bias?: GpiodOptions['bias']): string[] {
  const b = bias ? [`--bias=${bias}`] : [];
  return major >= 2 ? ['--numeric', ...b, '-c', chip, String(line)] : [...b, chip, String(line)];
}

/** gpioset arguments that hold one line at a level until the process is stopped. */
export function gpiosetHoldArgs(major: number, chip: string, line: number, level: Level): string[] {
  return major >= 2 ? ['-c', chip, `${line}=${level}`] : ['--mode=signal', chip, `${line}=${level}`];
}

/** gpioset arguments that set a line and exit at once. */
export function gpiosetOnceArgs(major: number, chip: string, line: number, level: Level): string[] {
  return major >= 2 ? ['-t0', '-c', chip, `${line}=${level}`] : [chip, `${line}=${level}`];
}

export type GpiomonEvent = { line: number; falling: boolean; timestampNs: bigint };

/**
 * One line of gpiomon output in the format gpiomonArgs asks for: 1.6 prints "17 0 1234 567"
 * (offset, 0 = falling / 1 = rising, seconds, nanoseconds), 2.x "17 2 1234.000000567"
 * (offset, 1 = rising / 2 = falling, seconds.nanoseconds).
 */
export function parseGpiomonLine(major: number, text: string): GpiomonEvent | undefined {
  const parts = text.trim().split(/\s+/);
  const [offset, edge, seconds, nanos] = parts;
  if (offset === undefined || edge === undefined || seconds === undefined || !/^\d+$/.test(offset)) return undefined;
  let timestampNs: bigint;
  if (major >= 2) {
    const m = /^(\d+)\.(\d{1,9})$/.exec(seconds);
    if (!m) return undefined;
    timestampNs = BigInt(m[1] ?? '0') * 1_000_000_000n + BigInt((m[2] ?? '0').padEnd(9, '0'));
  } else {
    if (!/^\d+$/.test(seconds) || nanos === undefined || !/^\d+$/.test(nanos)) return undefined;
    timestampNs = BigInt(seconds) * 1_000_000_000n + BigInt(nanos);
  }
  const falling = major >= 2 ? edge === '2' || edge === 'falling' : edge === '0';
  return { line: Number(offset), falling, timestampNs };
}

const PI_LABEL_SET = new Set<string>(PI_HEADER_LABELS);

/** Whether the character-device driver can work here: a /dev/gpiochip* and gpiomon that runs. */
export function gpiodUsable(options: { devDir?: string; gpiomon?: string; env?: NodeJS.ProcessEnv } = {}): { ok: true; version: GpiodVersion } | { ok: false; why: string } {
  const devDir = options.devDir ?? '/dev';
  let chips: string[] = [];
  try {
    chips = readdirSync(devDir).filter((n) => /^gpiochip\d+$/.test(n));
  } catch {
    chips = [];
  }
  if (chips.length === 0) return { ok: false, why: `no ${devDir}/gpiochip* device` };
  try {
    const version = readVersion(options.gpiomon ?? 'gpiomon', options.env);
    return { ok: true, version };
  } catch (error) {
    return { ok: false, why: (error as Error).message };
  }
}

function readVersion(gpiomon: string, env?: NodeJS.ProcessEnv): GpiodVersion {
  let text: string;
  try {
    text = execFileSync(gpiomon, ['--version'], { env: env ?? process.env, encoding: 'utf8', timeout: 5000, stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (error) {
    throw new GpioUnavailableError(`cannot run ${gpiomon} --version (${(error as Error).message.split('\n')[0]}); install Debian's gpiod package`);
  }
  const version = parseGpiodVersion(text);
  if (!version) throw new GpioUnavailableError(`cannot tell the libgpiod version from ${JSON.stringify(text.trim().slice(0, 80))}`);
  return version;
}

// The guard: holds the line with gpioset in the background and waits on stdin (the agent's pipe).
// A "handover" line stops gpioset only (the agent starts the next holder at a new level); end of
// input (the agent stopped or died) stops gpioset and sets the safe level once more.
// $1 = gpioset, $2 = safe-set args (one string), the rest = hold args.
export const GUARD =
  'g="$1"; safe="$2"; shift 2; "$g" "$@" & p=$!; cmd=""; read -r cmd; kill $p 2>/dev/null; wait $p 2>/dev/null; ' +
  'if [ "$cmd" != handover ]; then "$g" $safe; fi; exit 0';

export async function createGpiodDriver(options: GpiodOptions): Promise<GpioDriver & { readonly version: GpiodVersion; readonly chip: string; settled(): Promise<void> }> {
  const { log, env = process.env, restartMs = 1000, bias } = options;
  const gpiomon = options.gpiomon ?? 'gpiomon';
  const gpioset = options.gpioset ?? 'gpioset';
  const version = readVersion(gpiomon, env);
  const chip: string = options.chip ?? findHeaderChip(options.gpiodetect ?? 'gpiodetect', env, log);
  const major = version.major;
  log.info('using the GPIO character device through libgpiod tools', { version: version.text, chip });
  const claimed = new Map<number, () => void>();
  const children = new Set<ChildProcess>();
  const outputChains = new Set<Promise<void>>();
  type MonitorGroup = {
    lines: Map<number, (level: Level, ns: bigint) => void>;
    child?: ChildProcess;
    pending?: NodeJS.Immediate;
    restart?: NodeJS.Timeout;
  };
  const monitors: Record<'falling' | 'both', MonitorGroup> = { falling: { lines: new Map() }, both: { lines: new Map() } };

  const claim = (line: number) => {
    if (!Number.isInteger(line) || line < 0) throw new RangeError(`GPIO line ${line} is not a line number`);
    if (claimed.has(line)) throw new Error(`GPIO line ${line} is already in use`);
  };

  const driver = {
    name: 'gpiod',
    version,
    chip,
    openInput(line: number, onFallingEdge: (timestampNs: bigint) => void): InputLine {
      return monitor(line, 'falling', (_level, ns) => onFallingEdge(ns));
    },
    openLevelInput(line: number, onChange: (level: Level, timestampNs: bigint) => void): LevelInput {
      claim(line);
      let level: Level = 1;
      try {
        const text = execFileSync(options.gpioget ?? 'gpioget', gpiogetArgs(major, chip, line, bias), { env, encoding: 'utf8', timeout: 5000, stdio: ['ignore', 'pipe', 'pipe'] });
        level = text.trim().endsWith('0') ? 0 : 1;
      } catch (error) {
        log.warn('gpioget failed; assuming the input is high until its first edge', { line, error: (error as Error).message.split('\n')[0] });
      }
      const input = monitor(line, 'both', (value, ns) => {
        if (value === level) return;
        level = value;
        onChange(value, ns);
      });
      return { read: () => level, close: input.close };
    },
    openOutput(line: number, initialLevel: Level): OutputLine {
      return claimOutput(line, initialLevel);
    },
    close() {
      for (const close of [...claimed.values()]) close();
      for (const group of Object.values(monitors)) {
        clearTimeout(group.restart);
        if (group.pending) clearImmediate(group.pending);
        group.pending = undefined;
        group.child?.kill('SIGTERM');
        group.child = undefined;
      }
    },
    /** Waits until every released output's guard has set its safe level and exited. */
    async settled() {
      await Promise.all([...outputChains]);
    },
  };
  return driver;

  // One gpiomon per edge kind watches all the lines of that kind, so the D0 and D1 edges of a
  // reader arrive in one ordered stream (two pipes could lag each other past the frame gap). Opening
  // or closing a line restarts that gpiomon with the new set of lines (start-up and restarts only).
  function monitor(line: number, edges: 'falling' | 'both', onEvent: (level: Level, ns: bigint) => void): InputLine {
    if (edges === 'falling') claim(line);
    const group = monitors[edges];
    group.lines.set(line, onEvent);
    rescan(edges);
    const close = () => {
      if (group.lines.get(line) !== onEvent) return;
      group.lines.delete(line);
      claimed.delete(line);
      rescan(edges);
    };
    claimed.set(line, close);
    return { close };
  }

  function rescan(edges: 'falling' | 'both') {
    const group = monitors[edges];
    if (group.pending) return;
    group.pending = setImmediate(() => {
      group.pending = undefined;
      clearTimeout(group.restart);
      const old = group.child;
      group.child = undefined;
      old?.kill('SIGTERM');
      if (group.lines.size > 0) startMonitor(edges);
    });
  }

  function startMonitor(edges: 'falling' | 'both') {
    const group = monitors[edges];
    const lines = [...group.lines.keys()].sort((a, b) => a - b);
    const proc = spawn(gpiomon, gpiomonArgs(major, chip, lines, bias, edges), { env, stdio: ['ignore', 'pipe', 'pipe'] });
    group.child = proc;
    children.add(proc);
    let stderr = '';
    proc.stderr?.on('data', (d: Buffer) => {
      stderr = (stderr + d.toString('utf8')).slice(-500);
    });
    proc.on('error', (error) => log.error('gpiomon failed to start', { lines, error: error.message }));
    if (proc.stdout) {
      createInterface({ input: proc.stdout }).on('line', (text) => {
        if (group.child !== proc) return;
        const event = parseGpiomonLine(major, text);
        if (!event) {
          if (text.trim()) log.warn('unexpected gpiomon output', { lines, text: text.slice(0, 120) });
          return;
        }
        if (edges === 'falling' && !event.falling) return;
        group.lines.get(event.line)?.(event.falling ? 0 : 1, event.timestampNs);
      });
    }
    proc.on('exit', (code, signal) => {
      children.delete(proc);
      if (group.child !== proc) return; // replaced or closed
      group.child = undefined;
      log.error('gpiomon exited; restarting it', { lines, line: lines[0], chip, code, signal, stderr: stderr.trim() || undefined, restartMs });
      group.restart = setTimeout(() => {
        if (!group.child && group.lines.size > 0) startMonitor(edges);
      }, restartMs);
      group.restart.unref();
    });
  }


  function claimOutput(line: number, initialLevel: Level): OutputLine {
    claim(line);
    // The level the guard falls back to when the agent dies: the level the line was claimed at,
    // which callers (the relay) choose as the locked level.
    const safeLevel = initialLevel;
    let level: Level = initialLevel;
    let open = true;
    let holder: ChildProcess | undefined;
    let chain: Promise<void> = Promise.resolve();
    const stopHolder = (proc: ChildProcess | undefined, handover: boolean) =>
      new Promise<void>((resolve) => {
        if (!proc || proc.exitCode !== null || proc.signalCode !== null) return resolve();
        proc.once('exit', () => resolve());
        proc.stdin?.on('error', () => undefined);
        proc.stdin?.end(handover ? 'handover\n' : undefined);
      });
    const startHolder = (value: Level) => {
      const safeArgs = gpiosetOnceArgs(major, chip, line, safeLevel).join(' ');
      const proc = spawn('sh', ['-c', GUARD, 'gpio-guard', gpioset, safeArgs, ...gpiosetHoldArgs(major, chip, line, value)], {
        env,
        stdio: ['pipe', 'ignore', 'pipe'],
      });
      children.add(proc);
      let stderr = '';
      proc.stderr?.on('data', (d: Buffer) => {
        stderr = (stderr + d.toString('utf8')).slice(-500);
      });
      proc.on('exit', (code) => {
        children.delete(proc);
        if (open && holder === proc) log.error('gpioset holder exited while the line was claimed', { line, chip, code, stderr: stderr.trim() || undefined });
      });
      proc.on('error', (error) => log.error('gpioset failed to start', { line, error: error.message }));
      holder = proc;
    };
    const setOnce = (value: Level) =>
      new Promise<void>((resolve) => {
        execFile(gpioset, gpiosetOnceArgs(major, chip, line, value), { env, timeout: 5000 }, (error) => {
          if (error) log.error('gpioset could not set the safe level', { line, chip, error: error.message });
          resolve();
        });
      });
    startHolder(initialLevel);
    const close = () => {
      if (!open) return;
      open = false;
      claimed.delete(line);
      const last = holder;
      chain = chain.then(() => stopHolder(last, false));
      const done = chain;
      outputChains.add(done);
      void done.then(() => outputChains.delete(done));
    };
    claimed.set(line, close);
    return {
      write(value) {
        if (!open) throw new Error(`GPIO line ${line} is closed`);
        if (value === level) return;
        level = value;
        chain = chain.then(async () => {
          if (!open) return;
          const previous = holder;
          holder = undefined;
          await stopHolder(previous, true);
          if (open) startHolder(value);
          // Closed during the handover: no holder will take over, so set the safe level here.
          else await setOnce(safeLevel);
        });
      },
      read() {
        if (!open) throw new Error(`GPIO line ${line} is closed`);
        return level;
      },
      close,
    };
  }
}

function findHeaderChip(gpiodetect: string, env: NodeJS.ProcessEnv, log: Logger): string {
  try {
    const text = execFileSync(gpiodetect, [], { env, encoding: 'utf8', timeout: 5000, stdio: ['ignore', 'pipe', 'pipe'] });
    const header = parseGpiodetect(text).find((c) => PI_LABEL_SET.has(c.label));
    if (header) return header.chip;
  } catch (error) {
    log.warn('gpiodetect failed; using gpiochip0', { error: (error as Error).message });
  }
  return 'gpiochip0';
}

export const hasGpioChipDevice = (devDir = '/dev') => existsSync(devDir) && readdirSync(devDir).some((n) => /^gpiochip\d+$/.test(n));
