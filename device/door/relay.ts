// The door strike relay. It is claimed at its inactive level (so the door stays locked while the
// agent starts), pulsed active for a grant, and forced inactive on stop.
import type { GpioDriver, Level, OutputLine } from '../gpio/driver.ts';

export type RelayOptions = {
  driver: GpioDriver;
  line: number;
  /** True when the relay energises on a low level. */
  activeLow?: boolean;
  clock?: () => number;
};

export class Relay {
  readonly line: number;
  readonly activeLow: boolean;
  private readonly output: OutputLine;
  private timer: NodeJS.Timeout | undefined;
  private releaseAt = 0;
  private readonly clock: () => number;
  private closed = false;

  constructor(options: RelayOptions) {
    this.line = options.line;
    this.activeLow = options.activeLow ?? false;
    this.clock = options.clock ?? Date.now;
    this.output = options.driver.openOutput(this.line, this.inactiveLevel);
  }

  get activeLevel(): Level {
    return this.activeLow ? 0 : 1;
  }

  get inactiveLevel(): Level {
    return this.activeLow ? 1 : 0;
  }

  /** Whether a level on this line energises the relay. */
  isActiveLevel(level: Level): boolean {
    return level === this.activeLevel;
  }

  get active(): boolean {
    return this.timer !== undefined;
  }

  /** Unlocks for ms; a grant during a pulse extends it to ms from now. */
  pulse(ms: number): void {
    if (this.closed) throw new Error('relay is closed');
    const until = this.clock() + ms;
    if (this.timer && until <= this.releaseAt) return;
    if (!this.timer) this.output.write(this.activeLevel);
    clearTimeout(this.timer);
    this.releaseAt = until;
    this.timer = setTimeout(() => this.release(), Math.max(0, ms));
  }

  private release() {
    this.timer = undefined;
    if (!this.closed) this.output.write(this.inactiveLevel);
  }

  /** Locks now, whatever the relay was doing. */
  stop(): void {
    if (this.closed) return;
    clearTimeout(this.timer);
    this.timer = undefined;
    this.output.write(this.inactiveLevel);
  }

  close(): void {
    if (this.closed) return;
    this.stop();
    this.closed = true;
    this.output.close();
  }
}
