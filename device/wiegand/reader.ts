// Wiegand reader on two GPIO inputs: each falling edge on D0 is a 0 bit, on D1 a 1 bit. A frame
// ends when no edge has arrived for the inter-frame gap (25 ms by default); it is then decoded
// with core's decoder. A frame that cannot be decoded becomes a failed read, never an exception.
import { credentialKey } from '../../core/credential-key.ts';
import { decodeWiegand, type WiegandFormat } from '../../core/wiegand.ts';
import type { GpioDriver, InputLine } from '../gpio/driver.ts';

export const DEFAULT_GAP_MS = 25;
export const DEFAULT_MAX_BITS = 64;

export type WiegandRead =
  | {
      ok: true;
      credentialKey: string;
      format: WiegandFormat;
      facility: number;
      card: number;
      bits: string;
      /** Time from the first to the last edge of the frame, ms. */
      durationMs: number;
    }
  | { ok: false; detail: string; bits: string; durationMs: number };

export type WiegandReaderOptions = {
  driver: GpioDriver;
  d0: number;
  d1: number;
  onRead: (read: WiegandRead) => void;
  /** Silence that ends a frame, ms. Default 25. */
  gapMs?: number;
  /** Frames longer than this are discarded as runaway (noise on the lines). Default 64. */
  maxBits?: number;
};

export class WiegandReader {
  private readonly lines: InputLine[] = [];
  private bits: number[] = [];
  private count = 0;
  private firstNs = 0n;
  private lastNs = 0n;
  private timer: NodeJS.Timeout | undefined;
  private readonly gapMs: number;
  private readonly maxBits: number;
  private closed = false;

  constructor(private readonly options: WiegandReaderOptions) {
    this.gapMs = options.gapMs ?? DEFAULT_GAP_MS;
    this.maxBits = options.maxBits ?? DEFAULT_MAX_BITS;
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
    if (this.count === 0) this.firstNs = timestampNs;
    this.lastNs = timestampNs;
    // Keep counting past the limit (for the log) but stop storing bits.
    if (this.count < this.maxBits) this.bits.push(bit);
    this.count++;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.endFrame(), this.gapMs);
  }

  private endFrame() {
    this.timer = undefined;
    const bits = this.bits;
    const count = this.count;
    const durationMs = Number(this.lastNs - this.firstNs) / 1e6;
    this.bits = [];
    this.count = 0;
    if (count === 0) return;
    const text = bits.join('');
    if (count > this.maxBits) {
      this.emit({ ok: false, detail: `frame of ${count} bits is longer than ${this.maxBits} bits (line noise?)`, bits: text, durationMs });
      return;
    }
    const decoded = decodeWiegand(bits);
    if (!decoded.ok) {
      this.emit({ ok: false, detail: decoded.detail, bits: text, durationMs });
      return;
    }
    this.emit({
      ok: true,
      credentialKey: credentialKey({ kind: 'wiegand', facilityCode: decoded.facility, cardNumber: decoded.card }),
      format: decoded.format,
      facility: decoded.facility,
      card: decoded.card,
      bits: text,
      durationMs,
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
    this.bits = [];
    this.count = 0;
    for (const line of this.lines.splice(0)) line.close();
  }
}
