// USB keyboard-wedge card readers, and QR/barcode scanners that type like keyboards, read from a
// Linux input event device (/dev/input/event*, better its stable /dev/input/by-id/...-event-kbd
// link). The device delivers `struct input_event`: a timeval (16 bytes on 64-bit, 8 on 32-bit
// ARM), then u16 type, u16 code, s32 value. Only EV_KEY presses are used (value 1; 0 release and
// 2 autorepeat are ignored), by keycode, not by character, so the keyboard layout set on the
// console does not matter. Enter (KEY_ENTER or KEY_KPENTER) ends an input.
//
// A reader that is unplugged (read error or end of file) is logged with the reason and reopened
// with a backoff (reopenMs doubling up to maxReopenMs) until it is back; partial input (no Enter
// within inputTimeoutMs) and overlong input are logged and dropped. Nothing here throws at the
// caller.
//
// Grabbing: the device must be grabbed (EVIOCGRAB) so the console never sees the digits. Node has
// no ioctl, so a small python3 helper (GRAB_HELPER) opens the device, grabs it and streams the raw
// input_event bytes on its stdout; the agent supervises it as a child process and parses the same
// bytes. Without python3 the device file is read directly, with a warning that it is not grabbed.
import { spawn } from 'node:child_process';
import { createReadStream } from 'node:fs';
import type { Logger } from '../log/logger.ts';

export const EV_KEY = 1;
export const KEY_ENTER = 28;
export const KEY_KPENTER = 96;
const KEY_LEFTSHIFT = 42;
const KEY_RIGHTSHIFT = 54;

/** Keycodes (linux/input-event-codes.h) to the character they type on a US layout, unshifted. */
export const KEYCODE_CHARS: ReadonlyMap<number, string> = new Map<number, string>([
  [2, '1'], [3, '2'], [4, '3'], [5, '4'], [6, '5'], [7, '6'], [8, '7'], [9, '8'], [10, '9'], [11, '0'],
  [12, '-'], [51, ','], [52, '.'], [53, '/'], [39, ';'], [57, ' '],
  [16, 'q'], [17, 'w'], [18, 'e'], [19, 'r'], [20, 't'], [21, 'y'], [22, 'u'], [23, 'i'], [24, 'o'], [25, 'p'],
  [30, 'a'], [31, 's'], [32, 'd'], [33, 'f'], [34, 'g'], [35, 'h'], [36, 'j'], [37, 'k'], [38, 'l'],
  [44, 'z'], [45, 'x'], [46, 'c'], [47, 'v'], [48, 'b'], [49, 'n'], [50, 'm'],
  // Keypad digits.
  [82, '0'], [79, '1'], [80, '2'], [81, '3'], [75, '4'], [76, '5'], [77, '6'], [71, '7'], [72, '8'], [73, '9'],
]);
const SHIFTED: Record<string, string> = { ';': ':', '-': '_' };

/** Size of struct input_event on this machine: 24 bytes with a 64-bit time_t/long, 16 on 32-bit ARM. */
export const inputEventSize = (arch: string = process.arch): 16 | 24 => (['arm', 'ia32', 'mips', 'mipsel', 'ppc'].includes(arch) ? 16 : 24);

export type InputEvent = { type: number; code: number; value: number };

/** Encodes one input_event (tests and the stand-in device). */
export function encodeInputEvent(event: InputEvent, size: 16 | 24 = inputEventSize()): Buffer {
  const b = Buffer.alloc(size);
  const off = size - 8;
  b.writeUInt16LE(event.type, off);
  b.writeUInt16LE(event.code, off + 2);
  b.writeInt32LE(event.value, off + 4);
  return b;
}

/** The events that type a string and Enter (press and release per key, with shift for upper case). */
export function typeEvents(text: string, size: 16 | 24 = inputEventSize()): Buffer {
  const codes = new Map([...KEYCODE_CHARS].filter(([code]) => code < 71 || code > 82).map(([code, ch]) => [ch, code]));
  const out: Buffer[] = [];
  const key = (code: number, value: number) => out.push(encodeInputEvent({ type: EV_KEY, code, value }, size));
  for (const ch of text) {
    const lower = ch.toLowerCase();
    const shifted = Object.entries(SHIFTED).find(([, v]) => v === ch)?.[0];
    const code = codes.get(shifted ?? lower);
    if (code === undefined) throw new RangeError(`cannot type ${JSON.stringify(ch)}`);
    const shift = shifted !== undefined || ch !== lower;
    if (shift) key(KEY_LEFTSHIFT, 1);
    key(code, 1);
    key(code, 0);
    if (shift) key(KEY_LEFTSHIFT, 0);
    out.push(encodeInputEvent({ type: 0, code: 0, value: 0 }, size)); // EV_SYN
  }
  key(KEY_ENTER, 1);
  key(KEY_ENTER, 0);
  return Buffer.concat(out);
}

/**
 * Run as `python3 -c GRAB_HELPER <device>`. Reports on stderr: `grabbed`, or `not-grabbed <why>`
 * for a file that is no input device (ENOTTY/EINVAL: still streamed), else `<ERRNO>: <message>`
 * before exiting. Exits when its stdin closes, so a killed agent never leaves the device grabbed.
 */
export const GRAB_HELPER = `
import errno, fcntl, os, select, sys
def fail(e):
    sys.stderr.write("%s: %s\\n" % (errno.errorcode.get(e.errno, "EIO"), e.strerror)); sys.stderr.flush(); sys.exit(1)
try:
    fd = os.open(sys.argv[1], os.O_RDONLY)
except OSError as e:
    fail(e)
try:
    fcntl.ioctl(fd, 0x40044590, 1)  # EVIOCGRAB
    sys.stderr.write("grabbed\\n")
except OSError as e:
    if e.errno not in (errno.ENOTTY, errno.EINVAL):
        fail(e)
    sys.stderr.write("not-grabbed %s: %s\\n" % (errno.errorcode.get(e.errno), e.strerror))
sys.stderr.flush()
out = sys.stdout.buffer
while True:
    ready = select.select([fd, 0], [], [])[0]
    if 0 in ready and not os.read(0, 512):
        sys.exit(0)
    if fd in ready:
        try:
            data = os.read(fd, 4096)
        except OSError as e:
            fail(e)
        if not data:
            sys.stderr.write("EOF: end of file (device removed?)\\n"); sys.stderr.flush(); sys.exit(1)
        out.write(data); out.flush()
`;

/** How the device is read: through the grabbing helper, or directly (not grabbed). */
export type WedgeMode = 'grab' | 'direct';

export type KeyboardWedgeOptions = {
  path: string;
  log: Logger;
  onInput: (text: string) => void;
  /** struct input_event size; default for this machine's architecture. */
  eventSize?: 16 | 24;
  /** First delay before reopening a device that is gone, ms; doubles per failure. Default 1000. */
  reopenMs?: number;
  /** Longest delay between reopen attempts, ms. Default 10000. */
  maxReopenMs?: number;
  /** 'auto' (default): grab through python3 when it runs, else read directly; 'off': read directly. */
  grab?: 'auto' | 'off';
  /** Environment of the helper (PATH finds python3). */
  env?: NodeJS.ProcessEnv;
  /** Input without Enter for this long is dropped, ms. Default 1000. */
  inputTimeoutMs?: number;
  /** Longest input accepted, characters. Default 64. */
  maxLength?: number;
};

/** One open attempt: the direct stream or the helper process. */
type Source = { stop(): void };

export class KeyboardWedgeReader {
  private source: Source | undefined;
  private pending = Buffer.alloc(0);
  private text = '';
  private shift = false;
  private overlong = false;
  private inputTimer: NodeJS.Timeout | undefined;
  private reopenTimer: NodeJS.Timeout | undefined;
  private closed = false;
  private connected = false;
  private grabbedNow = false;
  private failures = 0;
  private readonly size: 16 | 24;
  /** 'grab' until python3 turns out to be missing (or grab: 'off'). */
  mode: WedgeMode;

  constructor(private readonly options: KeyboardWedgeOptions) {
    this.size = options.eventSize ?? inputEventSize();
    this.mode = options.grab === 'off' ? 'direct' : 'grab';
    this.open();
  }

  get isConnected(): boolean {
    return this.connected;
  }

  /** Whether the open device is grabbed (the console does not see its keys). */
  get grabbed(): boolean {
    return this.connected && this.grabbedNow;
  }

  private open() {
    if (this.closed) return;
    if (this.mode === 'grab') this.openHelper();
    else this.openDirect();
  }

  private up(grabbed: boolean, why?: string) {
    if (this.closed) return;
    this.connected = true;
    this.grabbedNow = grabbed;
    this.failures = 0;
    this.options.log.info('keyboard reader connected', { path: this.options.path, eventSize: this.size, mode: this.mode, grabbed });
    if (!grabbed && why) this.options.log.warn('keyboard reader is not grabbed; the console sees its keystrokes', { path: this.options.path, reason: why });
  }

  private openDirect() {
    const stream = createReadStream(this.options.path, { highWaterMark: this.size * 64 });
    const source: Source = { stop: () => stream.destroy() };
    this.source = source;
    stream.on('open', () => (this.closed ? stream.destroy() : this.up(false)));
    stream.on('data', (chunk) => this.data(chunk as Buffer));
    stream.on('error', (error: NodeJS.ErrnoException) => this.lost(source, `${error.code ?? 'error'}: ${error.message}`));
    stream.on('end', () => this.lost(source, 'end of file (device removed?)'));
  }

  private openHelper() {
    const child = spawn('python3', ['-c', GRAB_HELPER, this.options.path], { stdio: ['pipe', 'pipe', 'pipe'], env: this.options.env ?? process.env });
    const source: Source = { stop: () => child.kill() };
    this.source = source;
    let missing = false;
    let reason = '';
    let partial = '';
    child.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') missing = true;
      else reason = `${error.code ?? 'error'}: ${error.message}`;
    });
    child.stdin.on('error', () => undefined);
    child.stdout.on('data', (chunk: Buffer) => {
      if (this.source === source) this.data(chunk);
    });
    child.stderr.setEncoding('utf8').on('data', (text: string) => {
      const lines = (partial + text).split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines) {
        if (this.source !== source) return;
        if (line === 'grabbed') this.up(true);
        else if (line.startsWith('not-grabbed ')) this.up(false, line.slice('not-grabbed '.length));
        else if (line.trim()) reason = line.trim().slice(0, 200);
      }
    });
    child.on('close', (code, signal) => {
      if (this.source !== source || this.closed) return;
      if (missing) {
        this.source = undefined;
        this.mode = 'direct';
        this.options.log.warn('python3 is not available to grab the keyboard reader; reading the device directly, not grabbed: the console sees its keystrokes', { path: this.options.path });
        return this.open();
      }
      this.lost(source, reason || `grab helper exited (${signal ?? `code ${code}`})`);
    });
  }

  private lost(source: Source, why: string) {
    if (this.source !== source) return;
    this.source = undefined;
    source.stop();
    if (this.closed) return;
    const wasConnected = this.connected;
    this.connected = false;
    this.reset();
    const retryInMs = Math.min((this.options.reopenMs ?? 1000) * 2 ** this.failures, this.options.maxReopenMs ?? 10_000);
    this.failures++;
    if (wasConnected) this.options.log.warn('keyboard reader disconnected; reopening it until it is back', { path: this.options.path, reason: why, retryInMs });
    else this.options.log.debug('keyboard reader not available yet', { path: this.options.path, reason: why, retryInMs });
    this.reopenTimer = setTimeout(() => this.open(), retryInMs);
  }

  private data(chunk: Buffer) {
    let buffer = this.pending.length ? Buffer.concat([this.pending, chunk]) : chunk;
    const off = this.size - 8;
    while (buffer.length >= this.size) {
      const type = buffer.readUInt16LE(off);
      const code = buffer.readUInt16LE(off + 2);
      const value = buffer.readInt32LE(off + 4);
      buffer = buffer.subarray(this.size);
      if (type === EV_KEY) this.key(code, value);
    }
    this.pending = Buffer.from(buffer);
  }

  private key(code: number, value: number) {
    if (code === KEY_LEFTSHIFT || code === KEY_RIGHTSHIFT) {
      if (value !== 2) this.shift = value === 1;
      return;
    }
    if (value !== 1) return; // Releases and autorepeat.
    if (code === KEY_ENTER || code === KEY_KPENTER) return this.finish();
    const ch = KEYCODE_CHARS.get(code);
    if (ch === undefined) {
      this.options.log.debug('keyboard reader sent a key it has no character for', { code });
      return;
    }
    const typed = this.shift ? (SHIFTED[ch] ?? ch.toUpperCase()) : ch;
    if (this.text.length >= (this.options.maxLength ?? 64)) this.overlong = true;
    else this.text += typed;
    clearTimeout(this.inputTimer);
    this.inputTimer = setTimeout(() => {
      this.options.log.warn('keyboard reader input without Enter dropped', { path: this.options.path, length: this.text.length });
      this.reset();
    }, this.options.inputTimeoutMs ?? 1000);
  }

  private finish() {
    const text = this.text;
    const overlong = this.overlong;
    this.reset();
    if (overlong) {
      this.options.log.warn('keyboard reader input longer than the limit dropped', { path: this.options.path, maxLength: this.options.maxLength ?? 64 });
      return;
    }
    if (text === '') return;
    try {
      this.options.onInput(text);
    } catch (error) {
      this.options.log.error('keyboard input handler failed', { error });
    }
  }

  private reset() {
    clearTimeout(this.inputTimer);
    this.inputTimer = undefined;
    this.text = '';
    this.overlong = false;
    this.shift = false;
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.reopenTimer);
    this.reset();
    this.source?.stop();
    this.source = undefined;
    this.connected = false;
  }
}
