// SIMULATED GPIO: a software twin of the pins for demos and tests. No hardware is touched.
// It records every level written to an output line (with a wall-clock timestamp) and lets code
// inject falling edges on input lines, e.g. to play a Wiegand frame into a reader.
import type { GpioDriver, InputLine, Level, LevelInput, OutputLine } from './driver.ts';

export type OutputWrite = { at: number; level: Level };

export type InjectOptions = {
  /** Time between edges, ms. Wiegand readers send a bit every 1-2 ms. Default 2. */
  spacingMs?: number;
  /** Random extra delay added to each spacing, 0..jitterMs ms. Default 0. */
  jitterMs?: number;
};

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export class SimulatedGpio implements GpioDriver {
  readonly name = 'simulated';
  readonly simulated = true;
  private readonly inputs = new Map<number, (timestampNs: bigint) => void>();
  private readonly levelInputs = new Map<number, { level: Level; onChange: (level: Level, timestampNs: bigint) => void }>();
  private readonly outputs = new Map<number, Level>();
  private readonly histories = new Map<number, OutputWrite[]>();
  private readonly clock: () => number;
  private readonly monotonic: () => bigint;

  constructor(options: { clock?: () => number; monotonic?: () => bigint } = {}) {
    this.clock = options.clock ?? Date.now;
    this.monotonic = options.monotonic ?? process.hrtime.bigint;
  }

  private assertFree(line: number) {
    if (!Number.isInteger(line) || line < 0) throw new RangeError(`GPIO line ${line} is not a line number`);
    if (this.inputs.has(line) || this.outputs.has(line) || this.levelInputs.has(line)) throw new Error(`GPIO line ${line} is already in use`);
  }

  openInput(line: number, onFallingEdge: (timestampNs: bigint) => void): InputLine {
    this.assertFree(line);
    this.inputs.set(line, onFallingEdge);
    return {
      close: () => {
        if (this.inputs.get(line) === onFallingEdge) this.inputs.delete(line);
      },
    };
  }

  /** Level inputs start high (a contact to ground with a pull-up, open = 1) unless set before. */
  openLevelInput(line: number, onChange: (level: Level, timestampNs: bigint) => void): LevelInput {
    this.assertFree(line);
    const entry = { level: this.presetLevels.get(line) ?? (1 as Level), onChange };
    this.levelInputs.set(line, entry);
    return {
      read: () => entry.level,
      close: () => {
        if (this.levelInputs.get(line) === entry) this.levelInputs.delete(line);
      },
    };
  }

  private readonly presetLevels = new Map<number, Level>();

  /** Sets the level on a level input (a door contact opening, a button pressed); unopened lines keep it for the claim. */
  setInput(line: number, level: Level, timestampNs: bigint = this.monotonic()): void {
    const entry = this.levelInputs.get(line);
    if (!entry) {
      this.presetLevels.set(line, level);
      return;
    }
    if (entry.level === level) return;
    entry.level = level;
    entry.onChange(level, timestampNs);
  }

  isLevelInputOpen(line: number): boolean {
    return this.levelInputs.has(line);
  }

  openOutput(line: number, initialLevel: Level): OutputLine {
    this.assertFree(line);
    let open = true;
    const record = (level: Level) => {
      this.outputs.set(line, level);
      let history = this.histories.get(line);
      if (!history) this.histories.set(line, (history = []));
      history.push({ at: this.clock(), level });
    };
    record(initialLevel);
    return {
      write: (level) => {
        if (!open) throw new Error(`GPIO line ${line} is closed`);
        record(level);
      },
      read: () => {
        if (!open) throw new Error(`GPIO line ${line} is closed`);
        return this.outputs.get(line) ?? 0;
      },
      close: () => {
        open = false;
        this.outputs.delete(line);
      },
    };
  }

  close(): void {
    this.inputs.clear();
    this.levelInputs.clear();
    this.outputs.clear();
  }

  /** Every level written to an output line since the simulation started, including the claim. */
  writes(line: number): readonly OutputWrite[] {
    return this.histories.get(line) ?? [];
  }

  /** The current level of an open output line, or undefined when it is not claimed. */
  level(line: number): Level | undefined {
    return this.outputs.get(line);
  }

  isInputOpen(line: number): boolean {
    return this.inputs.has(line);
  }

  /** Injects one falling edge on an input line. */
  fallingEdge(line: number, timestampNs: bigint = this.monotonic()): void {
    const listener = this.inputs.get(line);
    if (!listener) throw new Error(`GPIO line ${line} is not open as an input`);
    listener(timestampNs);
  }

  /**
   * Plays a Wiegand frame: a 0 bit is a pulse on D0, a 1 bit a pulse on D1, one edge every spacingMs
   * (real timers, so the reader's own timers run as they would with a reader head). Each edge is
   * stamped as the reader head would have sent it, spacingMs after the one before, as the kernel
   * stamps real edges: a busy machine that wakes the player late must not split its frame.
   */
  async injectWiegand(d0: number, d1: number, bits: readonly number[], options: InjectOptions = {}): Promise<void> {
    const { spacingMs = 2, jitterMs = 0 } = options;
    const start = this.monotonic();
    let offsetNs = 0n;
    for (let i = 0; i < bits.length; i++) {
      if (i > 0) {
        const step = spacingMs + Math.random() * jitterMs;
        await sleep(step);
        offsetNs += BigInt(Math.round(step * 1e6));
      }
      this.fallingEdge(bits[i] === 1 ? d1 : d0, start + offsetNs);
    }
  }
}

export const isSimulated = (driver: GpioDriver): driver is SimulatedGpio =>
  driver instanceof SimulatedGpio;
