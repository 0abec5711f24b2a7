// The door's lock relay. "Active" means unlocked throughout: it is claimed at its locked level (so
// the door stays locked while the agent starts), pulsed to unlocked for a grant, held unlocked
// while the door is held open (unlocked mode or its unlock schedule), and driven locked on stop.
// It is written only when its level changes.
//
// Which level locks depends on the wiring and the lock:
//   activeLow   the relay board energises on a low level (most opto-isolated boards) or a high one.
//   fail-secure (default; electric strike, locked without power, on the relay's NO contact):
//               energised = unlocked. A stop, a crash or a power cut leaves the relay de-energised:
//               locked.
//   fail-safe   (maglock, unlocked without power as fire codes ask, powered through the NO contact):
//               energised = locked. The agent claims the line energised and de-energises it to
//               unlock; a stop or a crash leaves it energised (sysfs keeps the level; the gpiod
//               driver's guard sets it again), so the door stays locked while the controller has
//               power. A power cut unlocks it, by design of the lock.
import type { GpioDriver, Level, OutputLine } from '../gpio/driver.ts';

export type LockKind = 'fail-secure' | 'fail-safe';

export type RelayOptions = {
  driver: GpioDriver;
  line: number;
  /** True when the relay energises on a low level. */
  activeLow?: boolean;
  /** Whether energising the relay unlocks (fail-secure, default) or locks (fail-safe). */
  lock?: LockKind;
  clock?: () => number;
};

export class Relay {
  readonly line: number;
  readonly activeLow: boolean;
  readonly lock: LockKind;
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
    this.lock = options.lock ?? 'fail-secure';
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

  /** The level that energises the relay coil. */
  get energisedLevel(): Level {
    return this.activeLow ? 0 : 1;
  }

  /** The level that unlocks the door. */
  get activeLevel(): Level {
    return this.lock === 'fail-secure' ? this.energisedLevel : ((1 - this.energisedLevel) as Level);
  }

  /** The level that locks the door. */
  get inactiveLevel(): Level {
    return (1 - this.activeLevel) as Level;
  }

  /** Whether a level on this line unlocks the door. */
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

  /** Whether a grant pulse is running (as opposed to a hold). */
  get pulsing(): boolean {
    return this.timer !== undefined;
  }

  /** Ends a grant pulse now (the door was opened and closed again); a hold stays. */
  endPulse(): void {
    if (this.closed || this.timer === undefined) return;
    clearTimeout(this.timer);
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
