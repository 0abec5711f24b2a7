// The keyboard-wedge reader against a stand-in event device: a FIFO that the test writes
// struct input_event records into, unplugs (removes) and plugs back.
import { execFileSync, spawn } from 'node:child_process';
import { constants, mkdtempSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { encodeInputEvent, EV_KEY, GRAB_HELPER, inputEventSize, KEY_KPENTER, KeyboardWedgeReader, typeEvents } from '../../device/input/keyboard-wedge.ts';
import { createMemoryLogger } from '../../device/log/logger.ts';
import { sleep, waitFor } from './support/wait.ts';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function device() {
  const dir = mkdtempSync(join(tmpdir(), 'gymgate-input-'));
  const path = join(dir, 'event0');
  const make = () => execFileSync('mkfifo', [path]);
  make();
  cleanups.push(async () => {
    // Unblock an open still waiting for a writer, then remove the directory.
    const w = await open(path, constants.O_WRONLY | constants.O_NONBLOCK).catch(() => undefined);
    await w?.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return { path, make };
}

function reader(path: string, extra: Partial<ConstructorParameters<typeof KeyboardWedgeReader>[0]> = {}) {
  const log = createMemoryLogger();
  const inputs: string[] = [];
  const r = new KeyboardWedgeReader({ path, log, onInput: (t) => inputs.push(t), reopenMs: 30, ...extra });
  cleanups.push(() => r.close());
  return { r, log, inputs };
}

describe('keyboard-wedge reader', () => {
  it('reads keycodes up to Enter, ignoring releases and autorepeat (64-bit events)', async () => {
    const dev = device();
    const { inputs } = reader(dev.path, { eventSize: 24 });
    const w: FileHandle = await open(dev.path, 'w');
    cleanups.push(() => w.close());
    await w.write(typeEvents('0000789888', 24));
    // Autorepeat of '1' (value 2) must not add characters; keypad Enter ends the input.
    await w.write(Buffer.concat([
      encodeInputEvent({ type: EV_KEY, code: 2, value: 1 }, 24),
      encodeInputEvent({ type: EV_KEY, code: 2, value: 2 }, 24),
      encodeInputEvent({ type: EV_KEY, code: 2, value: 0 }, 24),
      encodeInputEvent({ type: EV_KEY, code: KEY_KPENTER, value: 1 }, 24),
    ]));
    await waitFor(() => inputs.length === 2, 'two inputs');
    expect(inputs).toEqual(['0000789888', '1']);
  });

  it('reads 16-byte events (32-bit ARM) and upper case and punctuation through shift', async () => {
    expect(inputEventSize('arm')).toBe(16);
    expect(inputEventSize('arm64')).toBe(24);
    const dev = device();
    const { inputs } = reader(dev.path, { eventSize: 16 });
    const w = await open(dev.path, 'w');
    cleanups.push(() => w.close());
    // Split the bytes mid-event: the reader must reassemble records across reads.
    const bytes = typeEvents('0C0D80:12', 16);
    await w.write(bytes.subarray(0, 37));
    await sleep(10);
    await w.write(bytes.subarray(37));
    await waitFor(() => inputs.length === 1, 'an input');
    expect(inputs).toEqual(['0C0D80:12']);
  });

  it('drops input that never gets an Enter, with a log line', async () => {
    const dev = device();
    const { inputs, log } = reader(dev.path, { inputTimeoutMs: 50 });
    const w = await open(dev.path, 'w');
    cleanups.push(() => w.close());
    const partial = typeEvents('123');
    await w.write(partial.subarray(0, partial.length - 2 * inputEventSize()));
    await waitFor(() => log.records.some((r) => r.msg === 'keyboard reader input without Enter dropped'), 'the drop');
    await w.write(typeEvents('42'));
    await waitFor(() => inputs.length === 1, 'the next input');
    expect(inputs).toEqual(['42']);
  });

  it('survives the device disappearing and coming back, logging the reason', async () => {
    const dev = device();
    const { inputs, log, r } = reader(dev.path);
    let w = await open(dev.path, 'w');
    await waitFor(() => r.isConnected, 'connected');
    await w.write(typeEvents('111'));
    await waitFor(() => inputs.length === 1, 'first input');
    await w.close();
    unlinkSync(dev.path); // unplugged
    await waitFor(() => log.records.find((x) => x.msg === 'keyboard reader disconnected; reopening it until it is back'), 'the disconnect log');
    await sleep(100); // a few failed reopen attempts (ENOENT)
    dev.make(); // plugged back
    w = await open(dev.path, 'w');
    cleanups.push(() => w.close());
    await waitFor(() => r.isConnected, 'reconnected');
    await w.write(typeEvents('222'));
    await waitFor(() => inputs.length === 2, 'input after the reconnect');
    expect(inputs).toEqual(['111', '222']);
    expect(log.records.filter((x) => x.msg === 'keyboard reader connected')).toHaveLength(2);
  });
});

// The grab: a helper process opens the device, grabs it (EVIOCGRAB) and streams its bytes. A
// stand-in python3 on PATH plays recorded streams (<device>.1, <device>.2, …), one per run, and
// exits as an unplugged device's helper does.
const FAKE_PYTHON = `#!/bin/sh
dev="$3"
n=$(cat "$dev.runs" 2>/dev/null || echo 0); n=$((n + 1)); echo "$n" > "$dev.runs"
if [ ! -f "$dev.$n" ]; then echo "ENOENT: No such file or directory" >&2; exit 1; fi
echo grabbed >&2
cat "$dev.$n"
echo "ENODEV: No such device" >&2
exit 1
`;

const hasPython = (() => {
  try {
    execFileSync('python3', ['-c', 'import fcntl, select'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

describe('keyboard-wedge reader, grabbed', () => {
  it('grabs through the helper, restarts it with a backoff after an unplug, logging the reason', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gymgate-grab-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    writeFileSync(join(dir, 'python3'), FAKE_PYTHON, { mode: 0o755 });
    const path = join(dir, 'event-kbd');
    writeFileSync(`${path}.1`, typeEvents('111'));
    writeFileSync(`${path}.2`, typeEvents('222'));
    const { inputs, log, r } = reader(path, { env: { ...process.env, PATH: `${dir}:${process.env.PATH}` }, reopenMs: 20, maxReopenMs: 80 });
    await waitFor(() => inputs.length === 2, 'both recorded inputs');
    expect(inputs).toEqual(['111', '222']);
    expect(r.mode).toBe('grab');
    const connected = log.records.filter((x) => x.msg === 'keyboard reader connected');
    expect(connected.map((x) => [x.mode, x.grabbed])).toEqual([['grab', true], ['grab', true]]);
    const lost = log.records.filter((x) => x.msg === 'keyboard reader disconnected; reopening it until it is back');
    expect(lost[0]).toMatchObject({ reason: 'ENODEV: No such device', retryInMs: 20 });
    // Unplugged for good: the attempts back off up to the cap.
    await waitFor(() => log.records.filter((x) => x.msg === 'keyboard reader not available yet').length >= 3, 'failed reopens');
    const retries = log.records.filter((x) => x.msg === 'keyboard reader not available yet').map((x) => x.retryInMs);
    expect(retries.slice(0, 3)).toEqual([40, 80, 80]);
    expect(log.records.find((x) => x.msg === 'keyboard reader not available yet')?.reason).toBe('ENOENT: No such file or directory');
  });

  it('reads the device directly, with a warning that it is not grabbed, where python3 is missing', async () => {
    const dev = device();
    const empty = mkdtempSync(join(tmpdir(), 'gymgate-nopython-'));
    cleanups.push(() => rmSync(empty, { recursive: true, force: true }));
    const { inputs, log, r } = reader(dev.path, { env: { PATH: empty } });
    const w = await open(dev.path, 'w');
    cleanups.push(() => w.close());
    await w.write(typeEvents('4242'));
    await waitFor(() => inputs.length === 1, 'the input');
    expect(inputs).toEqual(['4242']);
    expect(r.mode).toBe('direct');
    expect(r.grabbed).toBe(false);
    expect(log.records.some((x) => x.level === 'warn' && /not grabbed/.test(String(x.msg)))).toBe(true);
  });

  it.skipIf(!hasPython)('runs the real helper: a file that is no input device streams, reported as not grabbed', async () => {
    const dev = device();
    const { inputs, log, r } = reader(dev.path);
    const w = await open(dev.path, 'w');
    cleanups.push(() => w.close());
    await w.write(typeEvents('0000789888'));
    await waitFor(() => inputs.length === 1, 'the input');
    expect(r.mode).toBe('grab');
    expect(r.grabbed).toBe(false);
    const warn = log.records.find((x) => x.msg === 'keyboard reader is not grabbed; the console sees its keystrokes');
    expect(warn?.reason).toMatch(/^(ENOTTY|EINVAL): /);
  });

  it.skipIf(!hasPython)('the real helper exits when the agent goes away (its stdin closes), releasing the device', async () => {
    const dev = device();
    const child = spawn('python3', ['-c', GRAB_HELPER, dev.path], { stdio: ['pipe', 'pipe', 'pipe'] });
    const w = await open(dev.path, 'w');
    cleanups.push(() => w.close());
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    child.stdin.end();
    expect(await exited).toBe(0);
  });
});
