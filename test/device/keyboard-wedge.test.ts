// The keyboard-wedge reader against a stand-in event device: a FIFO that the test writes
// struct input_event records into, unplugs (removes) and plugs back.
import { execFileSync } from 'node:child_process';
import { constants, mkdtempSync, rmSync, unlinkSync } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { encodeInputEvent, EV_KEY, inputEventSize, KEY_KPENTER, KeyboardWedgeReader, typeEvents } from '../../device/input/keyboard-wedge.ts';
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
