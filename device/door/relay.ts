// The door strike relay. It is claimed at its inactive level (so the door stays locked while the
// agent starts), pulsed active for a grant, held active while the door is held open (unlocked mode
// or its unlock schedule), and forced inactive on stop. It is written only when its level changes.
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
  private holding = false;
  private level: Level;
  private readonly clock: () => number;
  private closed = false;

  constructor(options: RelayOptions) {
    this.line = options.line;
    this.activeLow = options.activeLow ?? false;
    this.clock = options.clock ?? Date.now;
    this.level = this.inactiveLevel;
    this.output = options.driver.openOutput(this.line, this.inactiveLevel);
  }

  private apply() {
    if (this.closed) return;
    const level = this.holding || this.timer !== undefined ? this.activeLevel : this.inactiveLevel;
    if (level === this.level) return;
    this.level = level;
    this.output.write(level);
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
    return this.holding || this.timer !== undefined;
  }

  /** Whether the relay is held active (door held open). */
  get held(): boolean {
    return this.holding;
  }

  /** Unlocks for ms; a grant during a pulse extends it to ms from now. */
  pulse(ms: number): void {
    if (this.closed) throw new Error('relay is closed');
    const until = this.clock() + ms;
    if (this.timer && until <= this.releaseAt) return;
    clearTimeout(this.timer);
    this.releaseAt = until;
    this.timer = setTimeout(() => this.release(), Math.max(0, ms));
    this.apply();
  }

  /** Holds the relay active (true) until released (false); a pulse in progress still runs out. */
  hold(on: boolean): void {
    if (this.closed) throw new Error('relay is closed');
    this.holding = on;
    this.apply();
  }

  private release() {
    this.timer = undefined;
    this.apply();
  }

  /** Locks now, whatever the relay was doing. */
  stop(): void {
    if (this.closed) return;
    clearTimeout(this.timer);
    this.timer = undefined;
    this.holding = false;
    // Written even when already inactive: stop is the fail-secure path.
    this.level = this.inactiveLevel;
    this.output.write(this.inactiveLevel);
  }

  close(): void {
    if (this.closed) return;
    this.stop();
    this.closed = true;
    this.output.close();
  }
}
