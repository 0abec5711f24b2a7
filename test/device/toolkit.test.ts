// The technician toolkit: read-card's frame description, doctor against a fake Pi (sysfs tree,
// /dev/gpiochip0, stand-in gpiomon/gpioget/timedatectl, the Worker test double), test-relay on
// the sysfs driver, and logs through a stand-in journalctl.
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { encodeWiegand } from '../../core/wiegand.ts';
import { runCli } from '../../device/cli.ts';
import { readAgentConfig, writeAgentConfig } from '../../device/config/files.ts';
import { SimulatedGpio } from '../../device/gpio/simulated.ts';
import { runDoctor, type CheckResult } from '../../device/tools/doctor.ts';
import { formatLogLine } from '../../device/tools/logs.ts';
import { describeFrame, readOneFrame } from '../../device/tools/read-card.ts';
import { FakeWorker } from './support/fake-worker.ts';
import { fakeGpiodTools, fakeSysfs } from './support/gpio-harness.ts';
import { provisionCli, runAgent, type RunningAgent } from './support/agent-harness.ts';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const cli = async (args: string[], env: NodeJS.ProcessEnv) => {
  const stdout: string[] = [];
  const stderr: string[] = [];
  const code = await runCli(args, { stdout: (l) => stdout.push(l), stderr: (l) => stderr.push(l), env });
  return { code, stdout: stdout.join('\n'), stderr: stderr.join('\n') };
};

describe('read-card', () => {
  it('describes a good frame, a frame with bad parity (fields as read), an unknown length and a keypad key', () => {
    expect(describeFrame(encodeWiegand('H10301', 12, 3456))).toMatchObject({ format: 'H10301', facility: 12, card: 3456, parity: 'ok', credentialKey: 'wiegand:12:3456' });
    const bad = encodeWiegand('N10002', 500, 600);
    bad[33] = bad[33] === 1 ? 0 : 1;
    expect(describeFrame(bad)).toMatchObject({ format: 'N10002', facility: 500, card: 600, parity: 'bad', credentialKey: null });
    const odd = Array.from({ length: 40 }, (_, i) => (i % 2) as 0 | 1);
    expect(describeFrame(odd)).toMatchObject({ format: null, parity: 'n/a', credentialKey: 'raw:5555555555' });
    expect(describeFrame(odd).detail).toMatch(/rawBits: 40/);
    expect(describeFrame([1, 0, 1, 1])).toMatchObject({ format: 'keypad', keypadKey: '#' });
  });

  it('waits for one frame on the door lines and reports it with its duration', async () => {
    const gpio = new SimulatedGpio();
    const reading = readOneFrame({ driver: gpio, d0: 17, d1: 27, timeoutMs: 2000 });
    await gpio.injectWiegand(17, 27, encodeWiegand('C1000', 4000, 1_000_000), { spacingMs: 1 });
    expect(await reading).toMatchObject({ format: 'C1000', facility: 4000, card: 1_000_000, parity: 'ok', durationMs: expect.any(Number) });
    expect(gpio.isInputOpen(17)).toBe(false);
    expect(await readOneFrame({ driver: gpio, d0: 17, d1: 27, timeoutMs: 50 })).toBeUndefined();
  });
});

describe('doctor, test-relay and logs on a fake Pi', () => {
  let worker: FakeWorker;
  let running: RunningAgent | undefined;
  beforeEach(async () => {
    worker = new FakeWorker();
    await worker.start();
  });
  afterEach(async () => {
    await running?.agent.stop();
    running = undefined;
    await worker.stop();
  });

  const fakePi = async () => {
    const { dataDir } = await provisionCli(worker);
    const tree = fakeSysfs({ base: 512 });
    const tools = fakeGpiodTools('1.6.3');
    const dev = mkdtempSync(join(tmpdir(), 'gymgate-dev-'));
    writeFileSync(join(dev, 'gpiochip0'), '');
    writeFileSync(join(tools.dir, 'timedatectl'), '#!/bin/sh\necho yes\n');
    chmodSync(join(tools.dir, 'timedatectl'), 0o755);
    cleanups.push(tree.dispose, tools.dispose, () => rmSync(dev, { recursive: true, force: true }));
    const env = { ...tools.env, PATH: `${tools.dir}:${process.env.PATH}`, GYMGATE_SYSFS_GPIO: tree.root, GYMGATE_DEV_DIR: dev };
    return { dataDir, tree, tools, dev, env };
  };
  const byCheck = (results: CheckResult[]) => Object.fromEntries(results.map((r) => [r.check, r]));

  it('doctor reports each check with a reason, and fails on a reader line low at idle', async () => {
    const pi = await fakePi();
    const config = await readAgentConfig(pi.dataDir);
    await writeAgentConfig(pi.dataDir, { ...config!, healthPort: 0 });
    const results = byCheck(await runDoctor({ dataDir: pi.dataDir, env: pi.env, sysfsRoot: pi.tree.root, devDir: pi.dev, timeoutMs: 2000 }));
    expect(results.identity?.status).toBe('ok');
    expect(results.config?.status).toBe('ok');
    expect(results['gpio-chardev']).toMatchObject({ status: 'ok', reason: expect.stringMatching(/v1\.6\.3/) });
    expect(results['gpio-sysfs']).toMatchObject({ status: 'ok', reason: expect.stringMatching(/chip base 512/) });
    expect(results['reader-1']).toMatchObject({ status: 'ok', reason: expect.stringMatching(/D0=1 D1=1/) });
    expect(results.clock?.status).toBe('ok');
    expect(results.api?.status).toBe('ok');
    expect(results.broker?.status).toBe('ok');
    expect(results.cache?.status).toBe('ok');
    expect(results.disk?.status).not.toBe('fail');
    expect(results.agent?.status).toBe('warn');

    // D1 of door 1 low at idle: a wiring fault.
    const door = config!.doors[0]!;
    writeFileSync(join(pi.tools.dir, `in-${door.wiegand.d1}`), '0\n');
    const cliRun = await cli(['doctor', '--data', pi.dataDir], pi.env);
    expect(cliRun.code).toBe(1);
    expect(cliRun.stdout).toMatch(/^FAIL\s+reader-1\s+.*D1=0.*low at idle/m);
    expect(cliRun.stdout).toMatch(/^OK\s+gpio-sysfs\s+chip base 512/m);
  });

  it('doctor on a machine without GPIO says so, names what is missing and suggests the fix', async () => {
    const pi = await fakePi();
    const config = await readAgentConfig(pi.dataDir);
    await writeAgentConfig(pi.dataDir, { ...config!, healthPort: 0 });
    const dev = mkdtempSync(join(tmpdir(), 'gymgate-nodev-'));
    const sys = mkdtempSync(join(tmpdir(), 'gymgate-nosys-'));
    cleanups.push(() => rmSync(dev, { recursive: true, force: true }), () => rmSync(sys, { recursive: true, force: true }));
    const env = { ...pi.env, GYMGATE_DEV_DIR: dev, GYMGATE_SYSFS_GPIO: sys };
    const gpioLine = (stdout: string) => stdout.split('\n').find((l) => /^\S+\s+gpio\s/.test(l)) ?? '';

    const run = await cli(['doctor', '--data', pi.dataDir], env);
    expect(run.code).toBe(1);
    const line = gpioLine(run.stdout);
    expect(line).toMatch(/^FAIL\s+gpio\s+no GPIO at all/);
    expect(line).toContain(`neither ${join(dev, 'gpiochip*')} nor GPIO chips under ${sys}`);
    expect(line).toContain('the agent would run on the simulated driver and move no relay');
    expect(line).toContain(`Fix on a Raspberry Pi: check that the kernel exposes ${join(dev, 'gpiochip*')}`);
    expect(line).toContain('sudo apt-get install gpiod');
    expect(line).toContain('add the service user to the gpio group (sudo usermod -a -G gpio gymgate');
    expect(line).toContain(`Fix on a development machine: set "driver": "simulated" in ${join(pi.dataDir, 'config.json')}`);
    expect(run.stdout).toMatch(/^WARN\s+gpio-chardev\s+no .*gpiochip\*/m);

    // The driver named in config.json changes what the missing GPIO means.
    await writeAgentConfig(pi.dataDir, { ...config!, healthPort: 0, driver: 'gpiod' });
    expect(gpioLine((await cli(['doctor', '--data', pi.dataDir], env)).stdout)).toMatch(/^FAIL\s+gpio\s+.*the gpiod driver set in config\.json cannot start\. Fix on a Raspberry Pi/);
    await writeAgentConfig(pi.dataDir, { ...config!, healthPort: 0, driver: 'simulated' });
    expect(gpioLine((await cli(['doctor', '--data', pi.dataDir], env)).stdout)).toMatch(/^WARN\s+gpio\s+no GPIO at all.*"driver": "simulated", so no relay moves/);
  });

  it('doctor sees a running agent through its health endpoint', async () => {
    const pi = await fakePi();
    running = await runAgent(pi.dataDir);
    const port = Number(new URL(running.agent.healthUrl ?? '').port);
    const config = await readAgentConfig(pi.dataDir);
    await writeAgentConfig(pi.dataDir, { ...config!, healthPort: port });
    const results = byCheck(await runDoctor({ dataDir: pi.dataDir, env: pi.env, sysfsRoot: pi.tree.root, devDir: pi.dev, timeoutMs: 2000 }));
    expect(results.agent).toMatchObject({ status: 'ok', reason: 'running and deciding' });
  });

  it('doctor reports whether a keyboard-wedge reader is grabbed (python3 helper) or read directly', async () => {
    const pi = await fakePi();
    const config = await readAgentConfig(pi.dataDir);
    const device = join(pi.dev, 'usb-reader-event-kbd');
    writeFileSync(device, '');
    await writeAgentConfig(pi.dataDir, { ...config!, healthPort: 0, doors: config!.doors.map((d, i) => (i === 0 ? { ...d, keyboard: { device, encoding: 'decimal' as const, as: 'H10301' as const } } : d)) });
    const python = join(pi.tools.dir, 'python3');
    const doctor = async () => byCheck(await runDoctor({ dataDir: pi.dataDir, env: pi.env, sysfsRoot: pi.tree.root, devDir: pi.dev, timeoutMs: 2000 }));
    writeFileSync(python, '#!/bin/sh\nexit 0\n', { mode: 0o755 });
    expect((await doctor())['keyboard-1']).toMatchObject({ status: 'ok', reason: expect.stringMatching(/mode grab: grabbed \(EVIOCGRAB\)/) });
    writeFileSync(python, '#!/bin/sh\nexit 127\n', { mode: 0o755 });
    expect((await doctor())['keyboard-1']).toMatchObject({ status: 'warn', reason: expect.stringMatching(/mode direct: python3 is missing.*not grabbed/) });
    rmSync(device);
    writeFileSync(python, '#!/bin/sh\nexit 0\n', { mode: 0o755 });
    expect((await doctor())['keyboard-1']).toMatchObject({ status: 'warn', reason: expect.stringMatching(/not present/) });
  });

  it('test-relay unlocks the door relay for the given time and locks it again (sysfs driver)', async () => {
    const pi = await fakePi();
    const config = await readAgentConfig(pi.dataDir);
    const line = config!.doors[0]!.relay.line;
    const run = await cli(['test-relay', '--data', pi.dataDir, '--door', '1', '--seconds', '0.1', '--driver', 'onoff'], pi.env);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/UNLOCKED \(level 1\) for 0\.1 s/);
    expect(readFileSync(join(pi.tree.root, `gpio${512 + line}`, 'direction'), 'utf8')).toBe('low');
    expect(readFileSync(join(pi.tree.root, `gpio${512 + line}`, 'value'), 'utf8')).toBe('0');
  });

  it('logs prints the journal as readable lines', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gymgate-journal-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const journalctl = join(dir, 'journalctl');
    writeFileSync(
      journalctl,
      `#!/bin/sh\necho "$*" > "${dir}/args"\necho '{"time":"2026-01-01T00:00:00.000Z","level":"warn","msg":"door forced open","door":"door_1","event":"door_forced"}'\necho 'plain text'\n`,
    );
    chmodSync(journalctl, 0o755);
    const run = await cli(['logs', '-n', '5'], { ...process.env, GYMGATE_JOURNALCTL: journalctl });
    expect(run.code).toBe(0);
    expect(run.stdout).toBe('2026-01-01T00:00:00.000Z WARN  door forced open  door=door_1 event=door_forced\nplain text');
    expect(readFileSync(join(dir, 'args'), 'utf8').trim()).toBe('-u gymgate-agent -o cat --no-pager -n 5');
    expect(formatLogLine('{"msg":"x","n":1}')).toBe(' ' + ''.padEnd(5) + ' x  n=1');
  });
});
