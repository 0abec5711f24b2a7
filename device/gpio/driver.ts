// The seam between the door logic and the pins: a Wiegand reader needs falling edges on two input
// lines, a relay needs one output line. Line numbers are the board's GPIO numbers (BCM on a Pi).

export type Level = 0 | 1;

export type InputLine = { close(): void };

/** An input whose level matters (door contact, exit button): its level now and every change. */
export type LevelInput = { read(): Level; close(): void };

export type OutputLine = {
  write(level: Level): void;
  read(): Level;
  close(): void;
};

export interface GpioDriver {
  readonly name: string;
  /** Calls onFallingEdge for every high-to-low transition, with a monotonic timestamp in nanoseconds. */
  openInput(line: number, onFallingEdge: (timestampNs: bigint) => void): InputLine;
  /**
   * Watches both edges of an input: onChange gets the new level with a monotonic timestamp (ns).
   * Raw and undebounced; DoorSensor debounces.
   */
  openLevelInput(line: number, onChange: (level: Level, timestampNs: bigint) => void): LevelInput;
  /** Claims an output line already driven at initialLevel, so claiming never glitches it. */
  openOutput(line: number, initialLevel: Level): OutputLine;
  /** Releases every line still open. */
  close(): void;
  /** Resolves when lines released by close() have settled (drivers whose outputs are held by helper processes). */
  settled?(): Promise<void>;
}

/**
 * `onoff`: sysfs GPIO (/sys/class/gpio), edges through epoll. `gpiod`: the GPIO character device
 * through Debian's libgpiod tools (gpiomon/gpioset, 1.6 or 2.x), with kernel edge timestamps.
 * `simulated`: the software twin. `auto`: gpiod, then onoff, then simulated, whichever works.
 */
export const DRIVER_NAMES = ['simulated', 'onoff', 'gpiod', 'auto'] as const;
export type DriverName = (typeof DRIVER_NAMES)[number];
