// Picks the GPIO driver: `onoff` for real pins, `simulated` for the software twin, or `auto`,
// which uses real pins when the machine has them and the simulation otherwise.
import type { Logger } from '../log/logger.ts';
import type { DriverName, GpioDriver } from './driver.ts';
import { createOnoffDriver, GpioUnavailableError, loadOnoff, SYSFS_GPIO } from './onoff.ts';
import { SimulatedGpio } from './simulated.ts';
import { existsSync } from 'node:fs';

export async function selectDriver(name: DriverName, options: { gpioBase?: number; log: Logger }): Promise<GpioDriver> {
  const { log } = options;
  switch (name) {
    case 'simulated':
      log.info('using the simulated GPIO driver (no hardware)');
      return new SimulatedGpio();
    case 'onoff':
      return createOnoffDriver(options);
    case 'auto': {
      let why: string;
      if (!existsSync(SYSFS_GPIO)) {
        why = `${SYSFS_GPIO} does not exist`;
      } else {
        try {
          const Gpio = await loadOnoff();
          if (Gpio.accessible) return await createOnoffDriver(options);
          why = 'onoff reports GPIO is not accessible';
        } catch (error) {
          if (!(error instanceof GpioUnavailableError)) throw error;
          why = error.message;
        }
      }
      log.info('no usable GPIO on this machine; using the simulated GPIO driver', { reason: why });
      return new SimulatedGpio();
    }
  }
}
