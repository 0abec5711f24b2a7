// `gymgate-agent read-card`: what a reader actually sends. Opens a door's D0/D1 directly (the
// agent must be stopped: it holds the lines), waits for one frame and describes it: the raw bits,
// their count, the layout they fit, facility and card, whether each parity bit checks, and the
// credential key the agent would look up. Keypad bursts are shown as keys.
import { credentialKey } from '../../core/credential-key.ts';
import { decodeWiegand, WIEGAND_LAYOUTS } from '../../core/wiegand.ts';
import type { GpioDriver } from '../gpio/driver.ts';
import { bitsToHex, decodeKeypad } from '../wiegand/reader.ts';

export type FrameDescription = {
  bits: string;
  length: number;
  hex: string;
  /** The layout of that length, if core knows one. */
  format: string | null;
  facility: number | null;
  card: number | null;
  parity: 'ok' | 'bad' | 'n/a';
  detail: string;
  /** What the agent would look up: the Wiegand key when parity checks, else raw:<hex>. */
  credentialKey: string | null;
  keypadKey: string | null;
};

export function describeFrame(bitList: readonly number[]): FrameDescription {
  const bits = bitList.join('');
  const length = bitList.length;
  const hex = length > 0 ? bitsToHex(bitList) : '';
  const keypadKey = decodeKeypad(bitList) ?? null;
  const layout = WIEGAND_LAYOUTS.find((l) => l.length === length);
  const decoded = decodeWiegand(bitList);
  if (decoded.ok) {
    return {
      bits,
      length,
      hex,
      format: decoded.format,
      facility: decoded.facility,
      card: decoded.card,
      parity: 'ok',
      detail: `${decoded.format}: facility ${decoded.facility}, card ${decoded.card}, parity ok`,
      credentialKey: credentialKey({ kind: 'wiegand', facilityCode: decoded.facility, cardNumber: decoded.card }),
      keypadKey: null,
    };
  }
  if (layout) {
    // Show the fields even with bad parity: a wiring fault often flips or drops one bit.
    const field = ([start, width]: readonly [number, number]) => bitList.slice(start, start + width).reduce((v: number, b) => v * 2 + b, 0);
    return {
      bits,
      length,
      hex,
      format: layout.format,
      facility: field(layout.facility),
      card: field(layout.card),
      parity: 'bad',
      detail: `${decoded.detail} (fields shown as read; check D0/D1 wiring, grounding and cable length)`,
      credentialKey: null,
      keypadKey: null,
    };
  }
  return {
    bits,
    length,
    hex,
    format: keypadKey ? 'keypad' : null,
    facility: null,
    card: null,
    parity: 'n/a',
    detail: keypadKey
      ? `keypad key ${keypadKey}`
      : `${length}-bit frame: no known layout; configure wiegand.rawBits: ${length} for raw:${hex} keys`,
    credentialKey: keypadKey || length === 0 ? null : `raw:${hex}`,
    keypadKey,
  };
}

/** Waits for one frame on D0/D1 (ended by gapMs of silence) and describes it; undefined on timeout. */
export function readOneFrame(options: {
  driver: GpioDriver;
  d0: number;
  d1: number;
  timeoutMs: number;
  gapMs?: number;
}): Promise<(FrameDescription & { durationMs: number }) | undefined> {
  const { driver, d0, d1, timeoutMs, gapMs = 25 } = options;
  return new Promise((resolve, reject) => {
    const edges: Array<[bigint, 0 | 1]> = [];
    let gap: NodeJS.Timeout | undefined;
    const lines: Array<{ close(): void }> = [];
    const finish = (value: (FrameDescription & { durationMs: number }) | undefined) => {
      clearTimeout(gap);
      clearTimeout(overall);
      for (const l of lines) l.close();
      resolve(value);
    };
    const edge = (bit: 0 | 1) => (ns: bigint) => {
      edges.push([ns, bit]);
      clearTimeout(gap);
      gap = setTimeout(() => {
        edges.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
        const first = edges[0]?.[0] ?? 0n;
        const last = edges.at(-1)?.[0] ?? 0n;
        finish({ ...describeFrame(edges.map(([, b]) => b)), durationMs: Number(last - first) / 1e6 });
      }, gapMs);
    };
    const overall = setTimeout(() => finish(undefined), timeoutMs);
    try {
      lines.push(driver.openInput(d0, edge(0)));
      lines.push(driver.openInput(d1, edge(1)));
    } catch (error) {
      clearTimeout(overall);
      for (const l of lines) l.close();
      reject(error as Error);
    }
  });
}
