// One harness per GPIO driver, so the same contract suite runs against all three. Each harness
// drives its driver only through the driver's own seam: the simulated driver's injectors, a fake
// sysfs tree under a temporary root (with a test edge watcher in place of epoll), and stand-in
// gpiomon/gpioset/gpiodetect executables that replay recorded output and record what they set.
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, appendFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { GpioDriver, Level } from '../../../device/gpio/driver.ts';
import { createGpiodDriver } from '../../../device/gpio/gpiod.ts';
import { createOnoffDriver, type EdgeWatcher } from '../../../device/gpio/onoff.ts';
import { SimulatedGpio } from '../../../device/gpio/simulated.ts';
import { createMemoryLogger, type Logger } from '../../../device/log/logger.ts';

export type DriverHarness = {
  driver: GpioDriver;
  log: ReturnType<typeof createMemoryLogger>;
  /** Makes the hardware produce one falling edge on an input line. */
  fall(line: number): Promise<void>;
  /** Sets the level the hardware presents on an input line (before or after it is claimed). */
  setLevel(line: number, level: Level): Promise<void>;
  /** Resolves once a claimed input is being watched (a helper process may take a moment to start). */
  watching(line: number): Promise<void>;
  /** The level the outside world sees on an output line, undefined when it cannot tell. */
  level(line: number): Level | undefined;
  /** Every level set on the line as seen from outside, when the seam records it. */
  history(line: number): Level[] | undefined;
  dispose(): Promise<void>;
};

export type HarnessFactory = () => Promise<DriverHarness>;

export async function simulatedHarness(): Promise<DriverHarness> {
  const log = createMemoryLogger();
  const driver = new SimulatedGpio();
  return {
    driver,
    log,
    fall: async (line) => driver.fallingEdge(line),
    setLevel: async (line, level) => driver.setInput(line, level),
    watching: async () => undefined,
    level: (line) => driver.level(line),
    history: (line) => driver.writes(line).map((w) => w.level),
    dispose: async () => driver.close(),
  };
}

/** A sysfs tree like a Raspberry Pi 4 on kernel 6.6: the header chip at base 512. */
export function fakeSysfs(options: { base?: number; label?: string; lines?: number } = {}) {
  const { base = 512, label = 'pinctrl-bcm2711', lines = 58 } = options;
  const root = mkdtempSync(join(tmpdir(), 'gymgate-sysfs-'));
  const chip = (name: string, b: number, l: string, n: number) => {
    mkdirSync(join(root, name));
    writeFileSync(join(root, name, 'base'), `${b}\n`);
    writeFileSync(join(root, name, 'label'), `${l}\n`);
    writeFileSync(join(root, name, 'ngpio'), `${n}\n`);
  };
  // The expander chip of a Pi 4 sits above the header chip; it must not be taken for it.
  chip(`gpiochip${base}`, base, label, lines);
  chip(`gpiochip${base + lines}`, base + lines, 'raspberrypi-exp-gpio', 8);
  writeFileSync(join(root, 'export'), '');
  writeFileSync(join(root, 'unexport'), '');
  // The kernel would create gpioN on export; the fake has them ready (value 'x' until written).
  for (let n = 0; n < lines; n++) {
    const dir = join(root, `gpio${base + n}`);
    mkdirSync(dir);
    writeFileSync(join(dir, 'direction'), 'in');
    writeFileSync(join(dir, 'edge'), 'none');
    writeFileSync(join(dir, 'value'), 'x');
  }
  return { root, base, dispose: () => rmSync(root, { recursive: true, force: true }) };
}

export async function sysfsHarness(): Promise<DriverHarness> {
  const log = createMemoryLogger();
  const tree = fakeSysfs();
  const watched = new Map<string, () => void>();
  const watcher: EdgeWatcher = (path, _fd, onInterrupt) => {
    watched.set(path, onInterrupt);
    return () => watched.delete(path);
  };
  const driver = await createOnoffDriver({ log, root: tree.root, watcher });
  const dir = (line: number) => join(tree.root, `gpio${tree.base + line}`);
  return {
    driver,
    log,
    async fall(line) {
      writeFileSync(join(dir(line), 'value'), '0');
      // The kernel raises POLLPRI only for the edges the line's edge file asks for.
      if (!['falling', 'both'].includes(readFileSync(join(dir(line), 'edge'), 'utf8'))) return;
      watched.get(join(dir(line), 'value'))?.();
    },
    async setLevel(line, level) {
      const path = join(dir(line), 'value');
      const before = readFileSync(path, 'utf8');
      writeFileSync(path, String(level));
      if (before === String(level)) return;
      const edge = readFileSync(join(dir(line), 'edge'), 'utf8');
      if (edge === 'both' || (edge === 'falling' && level === 0) || (edge === 'rising' && level === 1)) watched.get(path)?.();
    },
    level(line) {
      const value = readFileSync(join(dir(line), 'value'), 'utf8').trim();
      if (value === '0' || value === '1') return Number(value) as Level;
      const direction = readFileSync(join(dir(line), 'direction'), 'utf8').trim();
      return direction === 'high' ? 1 : direction === 'low' ? 0 : undefined;
    },
    history: () => undefined,
    watching: async () => undefined,
    dispose: async () => {
      driver.close();
      tree.dispose();
    },
  };
}

const GPIOMON = `#!/bin/sh
# Stand-in gpiomon: prints the version asked for, or replays the recorded events of its line.
dir="$FAKE_GPIO_DIR"
case "$1" in --version) echo "gpiomon (libgpiod) v$FAKE_GPIOD_VERSION"; exit 0;; esac
# The line offsets follow the chip name.
lines=$(echo "$*" | sed 's/.*gpiochip[0-9]* *//')
echo "gpiomon $$ $*" >> "$dir/calls.log"
feeds=""
for l in $lines; do
  if [ -e "$dir/mon-$l.fail" ]; then echo "gpiomon: error waiting for events: Device or resource busy" >&2; exit 1; fi
  touch "$dir/mon-$l.feed"
  feeds="$feeds $dir/mon-$l.feed"
done
exec tail -q -n +1 -f $feeds
`;

const GPIOSET = `#!/bin/sh
# Stand-in gpioset: records each level it sets; holds (until SIGTERM) when the real tool would.
dir="$FAKE_GPIO_DIR"
case "$1" in --version) echo "gpioset (libgpiod) v$FAKE_GPIOD_VERSION"; exit 0;; esac
for a; do last=$a; done
line=\${last%%=*}; val=\${last#*=}
case "$FAKE_GPIOD_VERSION" in
  1.*) case " $* " in *" --mode=signal "*) hold=1;; *) hold=0;; esac;;
  *) case " $* " in *" -t0 "*) hold=0;; *) hold=1;; esac;;
esac
echo "$val" >> "$dir/level-$line"
echo "gpioset $$ hold=$hold $*" >> "$dir/calls.log"
if [ "$hold" = 1 ]; then
  trap 'echo "released $line" >> "$dir/calls.log"; exit 0' TERM INT
  while :; do sleep 0.05 & wait $!; done
fi
`;

const GPIOGET = `#!/bin/sh
dir="$FAKE_GPIO_DIR"
for a; do last=$a; done
if [ -e "$dir/in-$last" ]; then cat "$dir/in-$last"; else echo 1; fi
`;

const GPIODETECT = `#!/bin/sh
echo "gpiochip0 [pinctrl-bcm2711] (58 lines)"
echo "gpiochip1 [raspberrypi-exp-gpio] (8 lines)"
`;

/** Stand-in libgpiod tools in a temporary directory, speaking version 1.6 or 2.1. */
export function fakeGpiodTools(version: '1.6.3' | '2.1.3') {
  const dir = mkdtempSync(join(tmpdir(), 'gymgate-gpiod-'));
  for (const [name, text] of [
    ['gpiomon', GPIOMON],
    ['gpioset', GPIOSET],
    ['gpiodetect', GPIODETECT],
    ['gpioget', GPIOGET],
  ] as const) {
    writeFileSync(join(dir, name), text);
    chmodSync(join(dir, name), 0o755);
  }
  const major = Number(version.split('.')[0]);
  const env = { ...process.env, FAKE_GPIO_DIR: dir, FAKE_GPIOD_VERSION: version };
  return {
    dir,
    env,
    gpiomon: join(dir, 'gpiomon'),
    gpioset: join(dir, 'gpioset'),
    gpiodetect: join(dir, 'gpiodetect'),
    gpioget: join(dir, 'gpioget'),
    /** Sets an input's level: what gpioget prints, and an edge in gpiomon's recorded output when it changes. */
    setLevel(line: number, level: Level) {
      const path = join(dir, `in-${line}`);
      const before = existsSync(path) ? readFileSync(path, 'utf8').trim() : '1';
      writeFileSync(path, `${level}\n`);
      // Only a running gpiomon (which creates the feed) sees the edge; a level set before the claim is what gpioget reads.
      if (before !== String(level) && existsSync(join(dir, `mon-${line}.feed`))) this.edge(line, process.hrtime.bigint(), level === 0);
    },
    /** Appends one edge to the line's recorded output, in the tool version's format. */
    edge(line: number, timestampNs: bigint, falling = true) {
      const s = timestampNs / 1_000_000_000n;
      const ns = timestampNs % 1_000_000_000n;
      const text =
        major >= 2
          ? `${line} ${falling ? 2 : 1} ${s}.${ns.toString().padStart(9, '0')}\n`
          : `${line} ${falling ? 0 : 1} ${s} ${ns}\n`;
      appendFileSync(join(dir, `mon-${line}.feed`), text);
    },
    levels(line: number): Level[] {
      const path = join(dir, `level-${line}`);
      if (!existsSync(path)) return [];
      return readFileSync(path, 'utf8').split('\n').filter(Boolean).map((v) => Number(v) as Level);
    },
    calls(): string[] {
      const path = join(dir, 'calls.log');
      return existsSync(path) ? readFileSync(path, 'utf8').split('\n').filter(Boolean) : [];
    },
    dispose: () => rmSync(dir, { recursive: true, force: true }),
  };
}

export function gpiodHarness(version: '1.6.3' | '2.1.3'): HarnessFactory {
  return async () => {
    const log = createMemoryLogger();
    const tools = fakeGpiodTools(version);
    const driver = await createGpiodDriver({
      log: log as Logger,
      gpiomon: tools.gpiomon,
      gpioset: tools.gpioset,
      gpiodetect: tools.gpiodetect,
      gpioget: tools.gpioget,
      env: tools.env,
      restartMs: 100,
    });
    return {
      driver,
      log,
      fall: async (line) => tools.edge(line, process.hrtime.bigint()),
      setLevel: async (line, level) => tools.setLevel(line, level),
      watching: async (line) => {
        const deadline = Date.now() + 5000;
        while (!existsSync(join(tools.dir, `mon-${line}.feed`)) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
      },
      level: (line) => tools.levels(line).at(-1),
      history: (line) => tools.levels(line),
      dispose: async () => {
        driver.close();
        // Let the guards set their safe levels and exit before the directory goes.
        await new Promise((resolve) => setTimeout(resolve, 300));
        tools.dispose();
      },
    };
  };
}
