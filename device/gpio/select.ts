// Picks the GPIO driver: `gpiod` (character device through libgpiod tools), `onoff` (sysfs),
// `simulated` (software twin), or `auto`: gpiod when the machine has /dev/gpiochip* and the tools,
// else sysfs when it has /sys/class/gpio chips and epoll, else the simulation. config.json's
// `driver` (or --driver) overrides the choice.
import type { Logger } from '../log/logger.ts';
import type { DriverName, GpioDriver } from './driver.ts';
import { createGpiodDriver, gpiodUsable, type GpiodOptions } from './gpiod.ts';
import { createOnoffDriver, GpioUnavailableError, SYSFS_GPIO, sysfsUsable } from './onoff.ts';
import { SimulatedGpio } from './simulated.ts';

export type SelectOptions = {
  log: Logger;
  gpioBase?: number | 'auto';
  gpioChip?: string;
  /** Test seams: where to look for sysfs GPIO and /dev/gpiochip*, and which tools to run. */
  sysfsRoot?: string;
  devDir?: string;
  gpiod?: Partial<Omit<GpiodOptions, 'log'>>;
};

const fallbacks = new WeakMap<GpioDriver, string>();

/**
 * Why `auto` fell back to the simulated driver (no usable gpiod or sysfs GPIO), or undefined when
 * the driver was not such a fallback (real GPIO, or the simulated driver chosen by name).
 */
export function autoFallbackReason(driver: GpioDriver): string | undefined {
  return fallbacks.get(driver);
}

export async function selectDriver(name: DriverName, options: SelectOptions): Promise<GpioDriver> {
  const { log } = options;
  const root = options.sysfsRoot ?? SYSFS_GPIO;
  const gpiod = () => createGpiodDriver({ log, chip: options.gpioChip, ...options.gpiod });
  const onoff = () => createOnoffDriver({ log, gpioBase: options.gpioBase, root });
  switch (name) {
    case 'simulated':
      log.info('using the simulated GPIO driver (no hardware)');
      return new SimulatedGpio();
    case 'onoff':
      return onoff();
    case 'gpiod':
      return gpiod();
    case 'auto': {
      const reasons: string[] = [];
      const chardev = gpiodUsable({ devDir: options.devDir, gpiomon: options.gpiod?.gpiomon, env: options.gpiod?.env });
      if (chardev.ok) {
        try {
          return await gpiod();
        } catch (error) {
          if (!(error instanceof GpioUnavailableError)) throw error;
          reasons.push(`gpiod: ${error.message}`);
        }
      } else reasons.push(`gpiod: ${chardev.why}`);
      const sysfs = sysfsUsable(root);
      if (sysfs.ok) {
        try {
          return await onoff();
        } catch (error) {
          if (!(error instanceof GpioUnavailableError)) throw error;
          reasons.push(`onoff: ${error.message}`);
        }
      } else reasons.push(`onoff: ${sysfs.why}`);
      const reason = reasons.join('; ');
      log.warn('no usable GPIO on this machine; using the simulated GPIO driver', { reason });
      const fallback = new SimulatedGpio();
      fallbacks.set(fallback, reason);
      return fallback;
    }
  }
}
