// Wiegand reader on two GPIO inputs: each falling edge on D0 is a 0 bit, on D1 a 1 bit.
//
// A frame ends when no edge has arrived for the inter-frame gap (25 ms by default), or when an
// edge's timestamp is more than the gap after the frame's last one (edges delivered late, in one
// burst, still split where the wire was quiet). When the door's reader format is configured, a
// frame also ends as soon as it has that format's bit count and its parity checks, which saves
// the gap (about 25 ms) between the last bit and the strike.
// Bits are put in the order of their edge timestamps, so drivers that deliver D0 and D1 through
// separate streams (one gpiomon per line) still give the frame in wire order.
//
// Modes: `auto` decodes any known layout (26, 34, 35, 37 bits); `format` expects one layout (and
// ends early); `raw` takes frames of a configured length as `raw:<hex of the bits>` for readers
// with layouts core does not know. Keypads that send one key per burst (4-bit, or 8-bit with the
// complement nibble first) are reported through onKey when it is given.
//
// Nothing here throws at the caller or moves a relay: noise (1-3 bits), short and overlong frames,
// bad parity, and a chattering (stuck) line become failed reads with a reason.
import { credentialKey } from '../../core/credential-key.ts';
import { decodeWiegand, WIEGAND_LAYOUTS, type WiegandFormat } from '../../core/wiegand.ts';
import type { GpioDriver, InputLine } from '../gpio/driver.ts';

export const DEFAULT_GAP_MS = 25;
export const DEFAULT_MAX_BITS = 64;
/** The longest a burst of edges may last before the line is taken as stuck/chattering, ms. */
export const DEFAULT_MAX_FRAME_MS = 500;

export type WiegandMode = { kind: 'auto' } | { kind: 'format'; format: WiegandFormat } | { kind: 'raw'; bits: number };

export type KeypadKey = '0' | '1' | '2' | '3' | '4' | '5' | '6' | '7' | '8' | '9' | '*' | '#';

export type WiegandFailure = 'noise' | 'bad_length' | 'bad_parity' | 'overlong' | 'stuck_line' | 'bad_key' | 'bad_bits';

export type WiegandRead =
  | {
      ok: true;
      credentialKey: string;
      /** The decoded layout, or 'raw' in raw mode. */
      format: WiegandFormat | 'raw';
      /** Facility code and card number; null in raw mode. */
      facility: number | null;
      card: number | null;
      bits: string;
      /** Time from the first to the last edge of the frame, ms. */
      durationMs: number;
      /** What ended the frame: the configured format matching, or the inter-frame gap. */
      endedBy: 'format' | 'gap';
      /** Timestamp of the last edge (driver clock, ns), for latency measurements. */
      lastEdgeNs: bigint;
    }
  | { ok: false; reason: WiegandFailure; detail: string; bits: string; durationMs: number };

export type KeypadPress = { key: KeypadKey; bits: string; lastEdgeNs: bigint };

export type WiegandReaderOptions = {
  driver: GpioDriver;
  d0: number;
  d1: number;
  onRead: (read: WiegandRead) => void;
  /** Keypad bursts (4 or 8 bits); without it they are failed reads. */
  onKey?: (press: KeypadPress) => void;
  mode?: WiegandMode;
  /** Silence that ends a frame, ms. Default 25. */
  gapMs?: number;
  /** Frames longer than this are discarded as runaway (noise on the lines). Default 64. */
  maxBits?: number;
  /** A burst longer than this is a stuck or chattering line. Default 500 ms. */
  maxFrameMs?: number;
};

const layoutByFormat = new Map(WIEGAND_LAYOUTS.map((l) => [l.format, l]));

/** The key of a 4-bit burst (value 0-9, 10 = '*', 11 = '#'), or of an 8-bit one (complement nibble first). */
export function decodeKeypad(bits: readonly number[]): KeypadKey | undefined {
  const nibble = (from: number) => bits.slice(from, from + 4).reduce((v: number, b) => v * 2 + b, 0);
  let value: number;
  if (bits.length === 4) value = nibble(0);
  else if (bits.length === 8) {
    value = nibble(4);
    if (nibble(0) !== (~value & 0xf)) return undefined;
  } else return undefined;
  if (value <= 9) return String(value) as KeypadKey;
  if (value === 10) return '*';
  if (value === 11) return '#';
  return undefined;
}

/** Hex of a bit string, left-padded to whole nibbles: 26 bits give 7 hex digits. */
export function bitsToHex(bits: readonly number[]): string {
  let hex = '';
  const pad = (4 - (bits.length % 4)) % 4;
  const padded = [...new Array<number>(pad).fill(0), ...bits];
  for (let i = 0; i < padded.length; i += 4) {
    hex += padded
      .slice(i, i + 4)
      .reduce((v, b) => v * 2 + b, 0)
      .toString(16)
      .toUpperCase();
  }
  return hex;
}

export class WiegandReader {
  private readonly lines: InputLine[] = [];
  private bits: number[] = [];
  private stamps: bigint[] = [];
  private count = 0;
  private firstNs = 0n;
  private lastNs = 0n;
  private timer: NodeJS.Timeout | undefined;
  private readonly gapMs: number;
  private readonly gapNs: bigint;
  private readonly maxBits: number;
  private readonly maxFrameNs: bigint;
  private readonly mode: WiegandMode;
  private readonly formatLength: number | undefined;
  /** Set after a stuck/chattering burst: edges are ignored until the line is quiet for a gap. */
  private muted = false;
  private closed = false;

  constructor(private readonly options: WiegandReaderOptions) {
    this.gapMs = options.gapMs ?? DEFAULT_GAP_MS;
    this.gapNs = BigInt(Math.round(this.gapMs * 1e6));
    this.maxBits = options.maxBits ?? DEFAULT_MAX_BITS;
    this.maxFrameNs = BigInt(Math.round((options.maxFrameMs ?? DEFAULT_MAX_FRAME_MS) * 1e6));
    this.mode = options.mode ?? { kind: 'auto' };
    if (this.mode.kind === 'format') {
      const layout = layoutByFormat.get(this.mode.format);
      if (!layout) throw new RangeError(`unknown Wiegand format ${this.mode.format}`);
      this.formatLength = layout.length;
    }
    if (this.mode.kind === 'raw' && (!Number.isInteger(this.mode.bits) || this.mode.bits < 1 || this.mode.bits > this.maxBits)) {
      throw new RangeError(`raw frame length must be 1..${this.maxBits} bits, got ${this.mode.bits}`);
    }
    if (options.d0 === options.d1) throw new RangeError('D0 and D1 must be different GPIO lines');
    this.lines.push(options.driver.openInput(options.d0, (ns) => this.edge(0, ns)));
    try {
      this.lines.push(options.driver.openInput(options.d1, (ns) => this.edge(1, ns)));
    } catch (error) {
      this.close();
      throw error;
    }
  }

  private edge(bit: 0 | 1, timestampNs: bigint) {
    if (this.closed) return;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.endFrame('gap'), this.gapMs);
    if (this.muted) return;
    // The edges' own timestamps say where a frame ended, whenever they are delivered: after a
    // stalled event loop, two taps' edges arrive in one burst, and the timer alone would join
    // them into one bad read.
    if (this.count > 0 && timestampNs - this.lastNs > this.gapNs) this.endFrame('gap', { keepTimer: true });
    if (this.count === 0) this.firstNs = timestampNs;
    if (timestampNs > this.lastNs || this.count === 0) this.lastNs = timestampNs;
    // Keep counting past the limit (for the log) but stop storing bits.
    if (this.count < this.maxBits) {
      this.bits.push(bit);
      this.stamps.push(timestampNs);
    }
    this.count++;
    if (this.lastNs - this.firstNs > this.maxFrameNs) {
      const durationMs = Number(this.lastNs - this.firstNs) / 1e6;
      const count = this.count;
      const text = this.ordered().join('');
      this.reset();
      this.muted = true;
      this.emit({
        ok: false,
        reason: 'stuck_line',
        detail: `edges kept arriving for ${Math.round(durationMs)} ms (${count} bits): a data line is stuck or chattering; ignoring it until it is quiet`,
        bits: text,
        durationMs,
      });
      return;
    }
    if (this.formatLength !== undefined && this.count === this.formatLength) {
      // Early end: the frame has the configured length; if its parity checks, it is complete.
      const decoded = decodeWiegand(this.ordered());
      if (decoded.ok) this.endFrame('format');
    }
  }

  /** The stored bits in edge-timestamp order (stable for equal stamps). */
  private ordered(): number[] {
    const n = this.bits.length;
    let sorted = true;
    for (let i = 1; i < n; i++) {
      if ((this.stamps[i] ?? 0n) < (this.stamps[i - 1] ?? 0n)) {
        sorted = false;
        break;
      }
    }
    if (sorted) return this.bits;
    const index = Array.from({ length: n }, (_, i) => i);
    index.sort((a, b) => {
      const d = (this.stamps[a] ?? 0n) - (this.stamps[b] ?? 0n);
      return d < 0n ? -1 : d > 0n ? 1 : a - b;
    });
    return index.map((i) => this.bits[i] ?? 0);
  }

  private reset() {
    this.bits = [];
    this.stamps = [];
    this.count = 0;
  }

  private endFrame(endedBy: 'format' | 'gap', options: { keepTimer?: boolean } = {}) {
    if (endedBy === 'gap' && !options.keepTimer) {
      this.timer = undefined;
      if (this.muted) {
        this.muted = false;
        return;
      }
    }
    const bits = this.ordered();
    const count = this.count;
    const lastEdgeNs = this.lastNs;
    const durationMs = Number(this.lastNs - this.firstNs) / 1e6;
    this.reset();
    if (count === 0) return;
    const text = bits.join('');
    const fail = (reason: WiegandFailure, detail: string) => this.emit({ ok: false, reason, detail, bits: text, durationMs });
    if (count > this.maxBits) return fail('overlong', `frame of ${count} bits is longer than ${this.maxBits} bits (line noise?)`);
    if (count === 4 || count === 8) {
      if (this.options.onKey) {
        const key = decodeKeypad(bits);
        if (key === undefined) return fail('bad_key', `${count}-bit keypad burst ${text} is not a key`);
        try {
          this.options.onKey({ key, bits: text, lastEdgeNs });
        } catch {
          // The listener owns its errors.
        }
        return;
      }
    }
    if (this.mode.kind === 'raw') {
      if (count !== this.mode.bits) return fail('bad_length', `${count}-bit frame; this reader is configured for raw ${this.mode.bits}-bit frames`);
      const hex = bitsToHex(bits);
      return this.emit({
        ok: true,
        credentialKey: credentialKey({ kind: 'raw', rawId: hex }),
        format: 'raw',
        facility: null,
        card: null,
        bits: text,
        durationMs,
        endedBy,
        lastEdgeNs,
      });
    }
    if (count < 4) return fail('noise', `${count}-bit burst is too short for a card (noise on the lines?)`);
    const decoded = decodeWiegand(bits);
    if (!decoded.ok) return fail(decoded.reason, decoded.detail);
    if (this.mode.kind === 'format' && decoded.format !== this.mode.format) {
      return fail('bad_length', `${decoded.format} frame, but this door's reader is configured for ${this.mode.format}`);
    }
    this.emit({
      ok: true,
      credentialKey: credentialKey({ kind: 'wiegand', facilityCode: decoded.facility, cardNumber: decoded.card }),
      format: decoded.format,
      facility: decoded.facility,
      card: decoded.card,
      bits: text,
      durationMs,
      endedBy,
      lastEdgeNs,
    });
  }

  private emit(read: WiegandRead) {
    try {
      this.options.onRead(read);
    } catch {
      // The listener owns its errors; a failing listener must not stop the reader.
    }
  }

  /** True while a frame is being received. */
  get busy(): boolean {
    return this.count > 0;
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    this.reset();
    for (const line of this.lines.splice(0)) line.close();
  }
}
