// Real GPIO through the Linux sysfs interface, using the optional `onoff` package. The package is
// imported only when this driver is chosen, so machines without it (or without GPIO) still run.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import type { Logger } from '../log/logger.ts';
import type { GpioDriver, InputLine, Level, OutputLine } from './driver.ts';

export const SYSFS_GPIO = '/sys/class/gpio';

type OnoffGpio = {
  readSync(): Level;
  writeSync(value: Level): void;
  watch(callback: (err: Error | null | undefined, value: Level) => void): void;
  unwatchAll(): void;
  unexport(): void;
};
type OnoffGpioClass = {
  new (gpio: number, direction: 'in' | 'out' | 'high' | 'low', edge?: 'none' | 'rising' | 'falling' | 'both'): OnoffGpio;
  accessible: boolean;
};

export class GpioUnavailableError extends Error {
  override name = 'GpioUnavailableError';
}

export async function loadOnoff(): Promise<OnoffGpioClass> {
  let mod: { Gpio?: OnoffGpioClass; default?: { Gpio?: OnoffGpioClass } };
  try {
    // A variable specifier keeps type checkers and bundlers from requiring the optional package.
    const name = 'onoff';
    mod = (await import(name)) as typeof mod;
  } catch (error) {
    throw new GpioUnavailableError(
      `the onoff package is not installed (${(error as Error).message}); install it on the door controller or use --driver simulated`,
    );
  }
  const Gpio = mod.Gpio ?? mod.default?.Gpio;
  if (!Gpio) throw new GpioUnavailableError('the onoff package does not export Gpio');
  return Gpio;
}

/** Chip bases under /sys/class/gpio, e.g. [{chip: 'gpiochip512', base: 512, label: 'pinctrl-bcm2711'}]. */
export function sysfsChips(root = SYSFS_GPIO): Array<{ chip: string; base: number; label: string }> {
  try {
    return readdirSync(root)
      .filter((name) => name.startsWith('gpiochip'))
      .map((chip) => ({
        chip,
        base: Number(readFileSync(`${root}/${chip}/base`, 'utf8').trim()),
        label: readFileSync(`${root}/${chip}/label`, 'utf8').trim(),
      }));
  } catch {
    return [];
  }
}

export async function createOnoffDriver(options: { gpioBase?: number; log: Logger }): Promise<GpioDriver> {
  const { gpioBase = 0, log } = options;
  if (!existsSync(SYSFS_GPIO)) {
    throw new GpioUnavailableError(`${SYSFS_GPIO} does not exist: this kernel exposes no sysfs GPIO`);
  }
  const Gpio = await loadOnoff();
  if (!Gpio.accessible) {
    throw new GpioUnavailableError(
      `GPIO is not accessible through ${SYSFS_GPIO} (onoff reports Gpio.accessible = false); ` +
        'run as a user in the gpio group or check that sysfs GPIO is enabled',
    );
  }
  // Raspberry Pi kernels 6.6 and later number sysfs lines from the chip base (e.g. 512), not 0.
  const chips = sysfsChips();
  if (gpioBase === 0 && chips.length > 0 && chips.every((c) => c.base > 0)) {
    log.warn('gpioBase is 0 but every GPIO chip starts above 0; set gpioBase in config.json to the chip base', {
      chips,
    });
  }
  const open = new Set<OnoffGpio>();
  const claim = (line: number, direction: 'in' | 'high' | 'low', edge?: 'falling') => {
    const number = gpioBase + line;
    try {
      const gpio = edge ? new Gpio(number, direction, edge) : new Gpio(number, direction);
      open.add(gpio);
      return gpio;
    } catch (error) {
      throw new GpioUnavailableError(`cannot claim GPIO ${number} (line ${line} + base ${gpioBase}): ${(error as Error).message}`);
    }
  };
  const release = (gpio: OnoffGpio) => {
    if (!open.delete(gpio)) return;
    try {
      gpio.unwatchAll();
      gpio.unexport();
    } catch (error) {
      log.warn('failed to release a GPIO line', { error });
    }
  };
  return {
    name: 'onoff',
    openInput(line, onFallingEdge): InputLine {
      const gpio = claim(line, 'in', 'falling');
      gpio.watch((err) => {
        if (err) log.error('GPIO watch failed', { line, error: err });
        else onFallingEdge(process.hrtime.bigint());
      });
      return { close: () => release(gpio) };
    },
    openOutput(line, initialLevel): OutputLine {
      // 'high' / 'low' set the direction to output with that level in one step, so a relay wired
      // to this line never energises while it is being claimed.
      const gpio = claim(line, initialLevel === 1 ? 'high' : 'low');
      return {
        write: (level) => gpio.writeSync(level),
        read: () => gpio.readSync(),
        close: () => release(gpio),
      };
    },
    close() {
      for (const gpio of [...open]) release(gpio);
    },
  };
}
