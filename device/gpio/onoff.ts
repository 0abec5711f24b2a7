// Real GPIO through the Linux sysfs interface (/sys/class/gpio), the way the `onoff` package does
// it: export a line, set its direction and edge, write and read its `value` file, and wait for
// edges with epoll (POLLPRI) on the value file through the `epoll` package that `onoff` brings.
// The driver does its own file I/O so that it can find the chip base itself and run against a
// fake sysfs tree in tests (`root`), with an injectable edge watcher in place of epoll.
import { closeSync, existsSync, openSync, readdirSync, readFileSync, readSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import type { Logger } from '../log/logger.ts';
import type { GpioDriver, InputLine, Level, LevelInput, OutputLine } from './driver.ts';

export const SYSFS_GPIO = '/sys/class/gpio';

/** Labels of the GPIO controllers that carry a Raspberry Pi's 40-pin header. */
export const PI_HEADER_LABELS = ['pinctrl-bcm2835', 'pinctrl-bcm2711', 'pinctrl-rp1', 'pinctrl-bcm2712', 'raspberrypi-exp-gpio'] as const;
const HEADER_FIRST = ['pinctrl-bcm2835', 'pinctrl-bcm2711', 'pinctrl-rp1'];

export class GpioUnavailableError extends Error {
  override name = 'GpioUnavailableError';
}

export type SysfsChip = { chip: string; base: number; label: string; ngpio: number | null };

/** Chips under a sysfs GPIO root, e.g. [{chip: 'gpiochip512', base: 512, label: 'pinctrl-bcm2711', ngpio: 58}]. */
export function sysfsChips(root = SYSFS_GPIO): SysfsChip[] {
  let names: string[];
  try {
    names = readdirSync(root).filter((name) => /^gpiochip\d+$/.test(name));
  } catch {
    return [];
  }
  const chips: SysfsChip[] = [];
  for (const chip of names) {
    try {
      const base = Number(readFileSync(join(root, chip, 'base'), 'utf8').trim());
      const label = readFileSync(join(root, chip, 'label'), 'utf8').trim();
      let ngpio: number | null = null;
      try {
        ngpio = Number(readFileSync(join(root, chip, 'ngpio'), 'utf8').trim());
      } catch {
        ngpio = null;
      }
      if (Number.isInteger(base)) chips.push({ chip, base, label, ngpio });
    } catch {
      // A chip directory without base/label is not one we can number lines on.
    }
  }
  return chips.sort((a, b) => a.base - b.base);
}

/**
 * The base of the chip that carries the header: the chip labelled as a Pi's main GPIO controller
 * (512 on a Pi 4 and 571 on a Pi 5 with kernel 6.6+, 0 on older kernels), else the lowest base.
 */
export function findChipBase(root = SYSFS_GPIO): { base: number; chip: SysfsChip | undefined; why: string } {
  const chips = sysfsChips(root);
  const header = chips.find((c) => HEADER_FIRST.includes(c.label));
  if (header) return { base: header.base, chip: header, why: `${header.chip} is labelled ${header.label}` };
  const first = chips[0];
  if (first) return { base: first.base, chip: first, why: `no known Raspberry Pi label; using the lowest chip ${first.chip} (${first.label})` };
  return { base: 0, chip: undefined, why: `no gpiochip under ${root}` };
}

/** Waits for POLLPRI on a sysfs value file; returns a function that stops watching. */
export type EdgeWatcher = (valuePath: string, fd: number, onInterrupt: () => void) => () => void;

type EpollInstance = { add(fd: number, events: number): EpollInstance; remove(fd: number): EpollInstance; close(): void };
type EpollClass = { new (callback: (err: Error | null, fd: number, events: number) => void): EpollInstance; EPOLLPRI: number };

/** The production watcher: the `epoll` package (installed with `onoff`). */
export function epollWatcher(): EdgeWatcher {
  let Epoll: EpollClass;
  try {
    const require = createRequire(import.meta.url);
    Epoll = (require('epoll') as { Epoll: EpollClass }).Epoll;
  } catch (error) {
    throw new GpioUnavailableError(
      `the epoll package (installed with onoff) is not available (${(error as Error).message}); install onoff on the door controller or use --driver gpiod`,
    );
  }
  return (_path, fd, onInterrupt) => {
    const poller = new Epoll((err) => {
      if (!err) onInterrupt();
    });
    poller.add(fd, Epoll.EPOLLPRI);
    return () => {
      try {
        poller.remove(fd).close();
      } catch {
        // Already closed.
      }
    };
  };
}

const sleepSync = (ms: number) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);

export type SysfsOptions = {
  log: Logger;
  /** Explicit base added to every line number; 'auto' (default) reads it from the chips under root. */
  gpioBase?: number | 'auto';
  /** The sysfs GPIO directory; a temporary tree in tests. */
  root?: string;
  /** Edge watcher; default epoll. */
  watcher?: EdgeWatcher;
  /** How long to wait for udev to make a freshly exported line writable, ms. Default 1000. */
  exportWaitMs?: number;
  monotonic?: () => bigint;
};

export async function createOnoffDriver(options: SysfsOptions): Promise<GpioDriver> {
  const { log, root = SYSFS_GPIO, exportWaitMs = 1000, monotonic = process.hrtime.bigint } = options;
  if (!existsSync(root)) throw new GpioUnavailableError(`${root} does not exist: this kernel exposes no sysfs GPIO`);
  const found = findChipBase(root);
  let base: number;
  if (options.gpioBase === undefined || options.gpioBase === 'auto') {
    base = found.base;
    log.info('sysfs GPIO chip base found', { base, why: found.why, root });
  } else {
    base = options.gpioBase;
    if (found.chip && found.base !== base) {
      log.warn('gpioBase in config.json differs from the chip base found under sysfs; using the configured value', {
        gpioBase: base,
        found: found.base,
        why: found.why,
      });
    }
  }
  const watcher = options.watcher ?? epollWatcher();
  const claimed = new Map<number, () => void>();
  const exported = new Set<number>();

  const lineDir = (n: number) => join(root, `gpio${n}`);
  const writeAttr = (n: number, attr: string, value: string) => {
    // udev changes the group of a freshly exported line a moment later: retry EACCES for a while.
    const deadline = Date.now() + exportWaitMs;
    for (;;) {
      try {
        writeFileSync(join(lineDir(n), attr), value);
        return;
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code;
        if ((code !== 'EACCES' && code !== 'ENOENT') || Date.now() > deadline) throw error;
        sleepSync(10);
      }
    }
  };
  const exportLine = (line: number): number => {
    if (!Number.isInteger(line) || line < 0) throw new RangeError(`GPIO line ${line} is not a line number`);
    if (claimed.has(line)) throw new Error(`GPIO line ${line} is already in use`);
    const n = base + line;
    try {
      if (!existsSync(lineDir(n))) {
        writeFileSync(join(root, 'export'), String(n));
        exported.add(n);
      }
    } catch (error) {
      throw new GpioUnavailableError(`cannot export GPIO ${n} (line ${line} + base ${base}) under ${root}: ${(error as Error).message}`);
    }
    return n;
  };
  const unexport = (n: number) => {
    if (!exported.delete(n)) return;
    try {
      writeFileSync(join(root, 'unexport'), String(n));
    } catch (error) {
      log.warn('failed to unexport a GPIO line', { gpio: n, error });
    }
  };
  const readValue = (fd: number): Level => {
    const buffer = Buffer.alloc(2);
    readSync(fd, buffer, 0, 2, 0);
    return buffer[0] === 0x31 ? 1 : 0;
  };

  return {
    name: 'onoff',
    openInput(line, onFallingEdge): InputLine {
      return watchInput(line, 'falling', (_level, ns) => onFallingEdge(ns));
    },
    openLevelInput(line, onChange): LevelInput {
      return watchInput(line, 'both', onChange);
    },
    openOutput(line, initialLevel): OutputLine {
      return claimOutput(line, initialLevel);
    },
    close() {
      for (const close of [...claimed.values()]) close();
    },
  };

  function watchInput(line: number, edge: 'falling' | 'both', onEdge: (level: Level, ns: bigint) => void): LevelInput {
    const n = exportLine(line);
    let fd: number;
    let level: Level = 1;
    try {
      writeAttr(n, 'direction', 'in');
      writeAttr(n, 'edge', edge);
      fd = openSync(join(lineDir(n), 'value'), 'r');
      level = readValue(fd); // Also clears a pending interrupt.
    } catch (error) {
      unexport(n);
      throw new GpioUnavailableError(`cannot claim GPIO ${n} (line ${line}) as an input: ${(error as Error).message}`);
    }
    let open = true;
    const stop = watcher(join(lineDir(n), 'value'), fd, () => {
      if (!open) return;
      const at = monotonic();
      try {
        level = readValue(fd);
      } catch (error) {
        log.error('GPIO value read failed', { line, gpio: n, error });
        return;
      }
      // With edge 'falling' every interrupt is a falling edge, whatever the line reads by now.
      onEdge(edge === 'falling' ? 0 : level, at);
    });
    const close = () => {
      if (!open) return;
      open = false;
      claimed.delete(line);
      stop();
      try {
        writeFileSync(join(lineDir(n), 'edge'), 'none');
      } catch {
        // The line may already be gone.
      }
      closeSync(fd);
      unexport(n);
    };
    claimed.set(line, close);
    return { close, read: () => level };
  }

  function claimOutput(line: number, initialLevel: Level): OutputLine {
    const n = exportLine(line);
    const valuePath = join(lineDir(n), 'value');
    try {
      // 'high' / 'low' make the line an output at that level in one step, so a relay on it never
      // energises while it is being claimed.
      writeAttr(n, 'direction', initialLevel === 1 ? 'high' : 'low');
    } catch (error) {
      unexport(n);
      throw new GpioUnavailableError(`cannot claim GPIO ${n} (line ${line}) as an output: ${(error as Error).message}`);
    }
    let open = true;
    let level: Level = initialLevel;
    const close = () => {
      if (!open) return;
      open = false;
      claimed.delete(line);
      // The line is left exported as an output at its last level (the relay's locked level once
      // the relay has stopped): unexporting could turn it into a floating input.
    };
    claimed.set(line, close);
    return {
      write(value) {
        if (!open) throw new Error(`GPIO line ${line} is closed`);
        writeFileSync(valuePath, value === 1 ? '1' : '0');
        level = value;
      },
      read() {
        if (!open) throw new Error(`GPIO line ${line} is closed`);
        return level;
      },
      close,
    };
  }
}

/** Whether the sysfs driver can work here: a GPIO root with chips and the epoll package. */
export function sysfsUsable(root = SYSFS_GPIO): { ok: true } | { ok: false; why: string } {
  if (!existsSync(root)) return { ok: false, why: `${root} does not exist` };
  if (sysfsChips(root).length === 0) return { ok: false, why: `no gpiochip under ${root}` };
  try {
    epollWatcher();
  } catch (error) {
    return { ok: false, why: (error as Error).message };
  }
  return { ok: true };
}
