// Finding the chip base, reading libgpiod tool output of both versions, restarting a gpiomon that
// dies, the fail-secure guard of gpioset holders, and auto-detection, each through its seam.
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  createGpiodDriver,
  gpiomonArgs,
  gpiosetHoldArgs,
  parseGpiodetect,
  parseGpiodVersion,
  parseGpiomonLine,
} from '../../device/gpio/gpiod.ts';
import { createOnoffDriver, findChipBase } from '../../device/gpio/onoff.ts';
import { selectDriver } from '../../device/gpio/select.ts';
import { SimulatedGpio } from '../../device/gpio/simulated.ts';
import { createMemoryLogger } from '../../device/log/logger.ts';
import { AgentConfig } from '../../device/config/schema.ts';
import { fakeGpiodTools, fakeSysfs } from './support/gpio-harness.ts';
import { sleep, waitFor } from './support/wait.ts';

const cleanups: Array<() => void> = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});

describe('sysfs chip base', () => {
  it.each([
    [512, 'pinctrl-bcm2711', 'Pi 4, kernel 6.6+'],
    [571, 'pinctrl-rp1', 'Pi 5, kernel 6.6+'],
    [0, 'pinctrl-bcm2835', 'older kernels'],
  ])('finds base %i (%s, %s) and numbers lines from it', async (base, label) => {
    const tree = fakeSysfs({ base, label, lines: 28 });
    cleanups.push(tree.dispose);
    expect(findChipBase(tree.root)).toMatchObject({ base });
    const log = createMemoryLogger();
    const driver = await createOnoffDriver({ log, root: tree.root, watcher: () => () => undefined });
    const out = driver.openOutput(22, 0);
    out.write(1);
    const { readFileSync } = await import('node:fs');
    expect(readFileSync(join(tree.root, `gpio${base + 22}`, 'value'), 'utf8')).toBe('1');
    expect(readFileSync(join(tree.root, `gpio${base + 22}`, 'direction'), 'utf8')).toBe('low');
    expect(log.records).toContainEqual(expect.objectContaining({ msg: 'sysfs GPIO chip base found', base }));
    driver.close();
  });

  it('uses an explicit gpioBase from config.json and warns when it differs from the chip', async () => {
    const tree = fakeSysfs({ base: 512 });
    cleanups.push(tree.dispose);
    const log = createMemoryLogger();
    await createOnoffDriver({ log, root: tree.root, gpioBase: 0, watcher: () => () => undefined });
    expect(log.records).toContainEqual(expect.objectContaining({ level: 'warn', gpioBase: 0, found: 512 }));
  });

  it('config.json accepts gpioBase "auto" (the default) or a number, and names the key when wrong', () => {
    expect(AgentConfig.parse({ doors: [] }).gpioBase).toBe('auto');
    expect(AgentConfig.parse({ doors: [], gpioBase: 512 }).gpioBase).toBe(512);
    const bad = AgentConfig.safeParse({ doors: [], gpioBase: 'pi' });
    expect(bad.success).toBe(false);
    expect(bad.error?.issues[0]?.path).toEqual(['gpioBase']);
  });
});

describe('libgpiod tool output', () => {
  it('reads the version and chips of both tool generations', () => {
    expect(parseGpiodVersion('gpiomon (libgpiod) v1.6.3\nCopyright (C) 2017-2018 Bartosz Golaszewski')?.major).toBe(1);
    expect(parseGpiodVersion('gpiomon (libgpiod) v2.1.3')?.major).toBe(2);
    expect(parseGpiodetect('gpiochip0 [pinctrl-bcm2711] (58 lines)\ngpiochip1 [raspberrypi-exp-gpio] (8 lines)\n')).toEqual([
      { chip: 'gpiochip0', label: 'pinctrl-bcm2711', lines: 58 },
      { chip: 'gpiochip1', label: 'raspberrypi-exp-gpio', lines: 8 },
    ]);
  });

  it('asks each version for falling edges with kernel timestamps and holds outputs the way each one can', () => {
    expect(gpiomonArgs(1, 'gpiochip0', 17)).toEqual(['--falling-edge', '--line-buffered', '--format=%o %e %s %n', 'gpiochip0', '17']);
    expect(gpiomonArgs(2, 'gpiochip0', 17, 'pull-up')).toEqual(['--edges=falling', '--format=%o %e %S', '--bias=pull-up', '-c', 'gpiochip0', '17']);
    expect(gpiosetHoldArgs(1, 'gpiochip0', 22, 0)).toEqual(['--mode=signal', 'gpiochip0', '22=0']);
    expect(gpiosetHoldArgs(2, 'gpiochip0', 22, 1)).toEqual(['-c', 'gpiochip0', '22=1']);
  });

  it('parses recorded gpiomon lines of both versions into falling edges in nanoseconds', () => {
    expect(parseGpiomonLine(1, '17 0 1234 5678')).toEqual({ line: 17, falling: true, timestampNs: 1_234_000_005_678n });
    expect(parseGpiomonLine(1, '17 1 1234 5678')?.falling).toBe(false);
    expect(parseGpiomonLine(2, '27 2 1234.000005678')).toEqual({ line: 27, falling: true, timestampNs: 1_234_000_005_678n });
    expect(parseGpiomonLine(2, '27 1 1234.5')).toEqual({ line: 27, falling: false, timestampNs: 1_234_500_000_000n });
    expect(parseGpiomonLine(2, 'event: FALLING EDGE offset: 27')).toBeUndefined();
    expect(parseGpiomonLine(1, '')).toBeUndefined();
  });
});

describe('gpiod driver through stand-in tools', () => {
  it.each(['1.6.3', '2.1.3'] as const)('restarts a gpiomon that exits (line busy, device gone) and logs why (%s)', async (version) => {
    const tools = fakeGpiodTools(version);
    cleanups.push(tools.dispose);
    writeFileSync(join(tools.dir, 'mon-17.fail'), '');
    const log = createMemoryLogger();
    const driver = await createGpiodDriver({ log, gpiomon: tools.gpiomon, gpioset: tools.gpioset, gpiodetect: tools.gpiodetect, env: tools.env, restartMs: 50 });
    expect(driver.chip).toBe('gpiochip0');
    const edges: bigint[] = [];
    driver.openInput(17, (ns) => edges.push(ns));
    await waitFor(() => log.records.find((r) => r.msg === 'gpiomon exited; restarting it'), 'the exit to be logged');
    expect(log.records.find((r) => r.msg === 'gpiomon exited; restarting it')).toMatchObject({ line: 17, stderr: expect.stringMatching(/busy/) });
    unlinkSync(join(tools.dir, 'mon-17.fail'));
    tools.edge(17, 42n);
    await waitFor(() => edges.length === 1, 'an edge after the restart');
    expect(edges).toEqual([42n]);
    driver.close();
    await sleep(100);
  });

  it.each(['1.6.3', '2.1.3'] as const)('when the agent is killed with SIGKILL mid-unlock, the guard relocks the line (%s)', async (version) => {
    const tools = fakeGpiodTools(version);
    cleanups.push(tools.dispose);
    const child = spawn(process.execPath, ['--import', 'tsx', join(import.meta.dirname, 'support/gpiod-holder.ts'), tools.dir, version], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    await new Promise<void>((resolve) => child.stdout.on('data', () => resolve()));
    await waitFor(() => tools.levels(22).at(-1) === 1, 'the line unlocked by the child');
    child.kill('SIGKILL');
    await waitFor(() => tools.levels(22).at(-1) === 0, 'the guard to relock the line', 5000);
    // (A holder replaced before it ran may never have set the claim level.)
    expect(tools.levels(22).join('')).toMatch(/^0?10$/);
  });
});

describe('driver auto-detection', () => {
  it('prefers the character device when /dev/gpiochip* and the tools are there', async () => {
    const tools = fakeGpiodTools('1.6.3');
    cleanups.push(tools.dispose);
    const dev = mkdtempSync(join(tmpdir(), 'gymgate-dev-'));
    cleanups.push(() => rmSync(dev, { recursive: true, force: true }));
    writeFileSync(join(dev, 'gpiochip0'), '');
    const driver = await selectDriver('auto', {
      log: createMemoryLogger(),
      devDir: dev,
      sysfsRoot: join(dev, 'none'),
      gpiod: { gpiomon: tools.gpiomon, gpioset: tools.gpioset, gpiodetect: tools.gpiodetect, env: tools.env },
    });
    expect(driver.name).toBe('gpiod');
    driver.close();
  });

  it('falls back to sysfs when there is no character device, and to the simulation when there is neither', async () => {
    const tree = fakeSysfs();
    cleanups.push(tree.dispose);
    const empty = mkdtempSync(join(tmpdir(), 'gymgate-dev-'));
    cleanups.push(() => rmSync(empty, { recursive: true, force: true }));
    const sysfs = await selectDriver('auto', { log: createMemoryLogger(), devDir: empty, sysfsRoot: tree.root });
    expect(sysfs.name).toBe('onoff');
    sysfs.close();
    mkdirSync(join(empty, 'sys'));
    const log = createMemoryLogger();
    const sim = await selectDriver('auto', { log, devDir: empty, sysfsRoot: join(empty, 'sys') });
    expect(sim).toBeInstanceOf(SimulatedGpio);
    expect(log.records).toContainEqual(expect.objectContaining({ reason: expect.stringMatching(/gpiod: no .*gpiochip.*; onoff: no gpiochip/) }));
  });

  it('the config override wins: driver "gpiod" fails clearly without the tools', async () => {
    await expect(selectDriver('gpiod', { log: createMemoryLogger(), gpiod: { gpiomon: '/nonexistent/gpiomon' } })).rejects.toThrow(/gpiod package/);
  });
});

describe('gpiod outputs when closed mid-change', () => {
  it.each(['1.6.3', '2.1.3'] as const)('a relay stopped while unlocked ends at its locked level once settled (%s)', async (version) => {
    const tools = fakeGpiodTools(version);
    cleanups.push(tools.dispose);
    const driver = await createGpiodDriver({ log: createMemoryLogger(), gpiomon: tools.gpiomon, gpioset: tools.gpioset, chip: 'gpiochip0', env: tools.env });
    const out = driver.openOutput(22, 0);
    out.write(1);
    await waitFor(() => tools.levels(22).at(-1) === 1, 'unlocked');
    // Stop: lock, then close at once, as Relay.close() does, then wait for the guards.
    out.write(0);
    out.close();
    driver.close();
    await driver.settled();
    expect(tools.levels(22).at(-1)).toBe(0);
    expect(tools.calls().filter((c) => c.startsWith('gpioset') && c.includes('hold=1')).length).toBeGreaterThan(0);
  });
});

describe('gpiod inputs share one gpiomon', () => {
  it('watches both data lines of a reader from one gpiomon, so their edges arrive in one ordered stream', async () => {
    const tools = fakeGpiodTools('2.1.3');
    cleanups.push(tools.dispose);
    const driver = await createGpiodDriver({ log: createMemoryLogger(), gpiomon: tools.gpiomon, gpioset: tools.gpioset, chip: 'gpiochip0', env: tools.env });
    const edges: string[] = [];
    driver.openInput(17, () => edges.push('d0'));
    driver.openInput(27, () => edges.push('d1'));
    tools.edge(17, 1n);
    tools.edge(27, 2n);
    await waitFor(() => edges.length === 2, 'two edges');
    const monitors = tools.calls().filter((c) => c.startsWith('gpiomon'));
    expect(monitors).toHaveLength(1);
    expect(monitors[0]).toMatch(/--edges=falling .* -c gpiochip0 17 27$/);
    driver.close();
    await sleep(50);
  });
});
