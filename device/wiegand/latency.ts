// Last bit → relay write: how long a card waits for the strike, measured on the simulated driver
// with the real reader and relay. Bench-able (test/bench can call it) and used by the reader tests
// to show what ending frames on the configured format saves over waiting for the inter-frame gap.
import { encodeWiegand, type WiegandFormat } from '../../core/wiegand.ts';
import { Relay } from '../door/relay.ts';
import type { GpioDriver, Level } from '../gpio/driver.ts';
import { SimulatedGpio } from '../gpio/simulated.ts';
import { WiegandReader } from './reader.ts';

export type LatencyReport = {
  mode: 'gap' | 'format';
  samples: number;
  /** Milliseconds from the last edge reaching the reader to the relay's output write. */
  minMs: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
};

const quantile = (sorted: number[], q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN;

export async function measureGrantLatency(options: {
  format?: WiegandFormat;
  /** End frames on the format (true) or only on the gap (false). Default true. */
  earlyEnd?: boolean;
  samples?: number;
  gapMs?: number;
  spacingMs?: number;
}): Promise<LatencyReport> {
  const { format = 'H10301', earlyEnd = true, samples = 20, gapMs = 25, spacingMs = 1 } = options;
  const sim = new SimulatedGpio();
  let wroteAtNs = 0n;
  let deliveredAtNs = 0n;
  // The relay's line, with the instant of each write taken from the same monotonic clock as edges.
  // The simulated player stamps edges on its nominal schedule (1 ms apart), and its timers run late
  // on a busy machine, so the last edge is timed from when it reached the reader, as a real line's
  // interrupt would, not from its stamp (which would count the player's lateness as the door's).
  const driver: GpioDriver = {
    name: 'latency',
    openInput: (line, cb) =>
      sim.openInput(line, (timestampNs) => {
        deliveredAtNs = process.hrtime.bigint();
        cb(timestampNs);
      }),
    openLevelInput: (line, cb) => sim.openLevelInput(line, cb),
    openOutput: (line, initial: Level) => {
      const out = sim.openOutput(line, initial);
      return {
        write: (level) => {
          wroteAtNs = process.hrtime.bigint();
          out.write(level);
        },
        read: () => out.read(),
        close: () => out.close(),
      };
    },
    close: () => sim.close(),
  };
  const relay = new Relay({ driver, line: 22 });
  const results: number[] = [];
  let pending: ((ms: number) => void) | undefined;
  const reader = new WiegandReader({
    driver,
    d0: 17,
    d1: 27,
    gapMs,
    mode: earlyEnd ? { kind: 'format', format } : { kind: 'auto' },
    onRead: (read) => {
      if (!read.ok) return;
      relay.pulse(5);
      pending?.(Number(wroteAtNs - deliveredAtNs) / 1e6);
    },
  });
  try {
    for (let i = 0; i < samples; i++) {
      const done = new Promise<number>((resolve) => (pending = resolve));
      await sim.injectWiegand(17, 27, encodeWiegand(format, 1, i + 1), { spacingMs });
      results.push(await done);
      await new Promise((resolve) => setTimeout(resolve, gapMs + 10));
    }
  } finally {
    reader.close();
    relay.close();
  }
  const sorted = [...results].sort((a, b) => a - b);
  return {
    mode: earlyEnd ? 'format' : 'gap',
    samples,
    minMs: sorted[0] ?? NaN,
    p50Ms: quantile(sorted, 0.5),
    p99Ms: quantile(sorted, 0.99),
    maxMs: sorted.at(-1) ?? NaN,
  };
}
