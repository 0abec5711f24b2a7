// The seam between the door logic and the pins: a Wiegand reader needs falling edges on two input
// lines, a relay needs one output line. Line numbers are the board's GPIO numbers (BCM on a Pi).

export type Level = 0 | 1;

export type InputLine = { close(): void };

export type OutputLine = {
  write(level: Level): void;
  read(): Level;
  close(): void;
};

export interface GpioDriver {
  readonly name: string;
  /** Calls onFallingEdge for every high-to-low transition, with a monotonic timestamp in nanoseconds. */
  openInput(line: number, onFallingEdge: (timestampNs: bigint) => void): InputLine;
  /** Claims an output line already driven at initialLevel, so claiming never glitches it. */
  openOutput(line: number, initialLevel: Level): OutputLine;
  /** Releases every line still open. */
  close(): void;
}

export const DRIVER_NAMES = ['simulated', 'onoff', 'auto'] as const;
export type DriverName = (typeof DRIVER_NAMES)[number];
