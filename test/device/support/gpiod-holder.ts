// Child process for the gpiod fail-secure test: claims an output at 0 (locked) through the
// stand-in tools, drives it to 1 (unlocked), reports, and waits to be killed.
import { createGpiodDriver } from '../../../device/gpio/gpiod.ts';
import { silentLogger } from '../../../device/log/logger.ts';

const [dir, version] = process.argv.slice(2) as [string, string];
const env = { ...process.env, FAKE_GPIO_DIR: dir, FAKE_GPIOD_VERSION: version };
const driver = await createGpiodDriver({ log: silentLogger, gpiomon: `${dir}/gpiomon`, gpioset: `${dir}/gpioset`, chip: 'gpiochip0', env });
const out = driver.openOutput(22, 0);
out.write(1);
process.stdout.write('unlocked\n');
setInterval(() => undefined, 1000);
