// The reader's own LED and beeper. Wiegand readers have an LED input (green while driven) and a
// beeper input that the controller pulls to their active level, usually low. Both lines are
// claimed at their idle level, so a starting agent neither lights nor beeps. A grant lights the
// LED for the grant time and beeps once; a refusal beeps twice.
import type { GpioDriver, Level, OutputLine } from '../gpio/driver.ts';

export type FeedbackLine = { line: number; activeLow: boolean };

export type ReaderFeedbackOptions = {
  driver: GpioDriver;
  led?: FeedbackLine | undefined;
  beeper?: FeedbackLine | undefined;
  /** One beep's length and the silence between two beeps, ms. */
  beepMs?: number;
};

class Signal {
  private readonly output: OutputLine;
  private readonly active: Level;
  private on = false;

  constructor(driver: GpioDriver, wiring: FeedbackLine) {
    this.active = wiring.activeLow ? 0 : 1;
    this.output = driver.openOutput(wiring.line, (1 - this.active) as Level);
  }

  set(on: boolean) {
    if (on === this.on) return;
    this.on = on;
    this.output.write(on ? this.active : ((1 - this.active) as Level));
  }

  close() {
    this.set(false);
    this.output.close();
  }
}

export class ReaderFeedback {
  private readonly led: Signal | undefined;
  private readonly beeper: Signal | undefined;
  private ledTimer: NodeJS.Timeout | undefined;
  private readonly beepTimers = new Set<NodeJS.Timeout>();
  private readonly beepMs: number;
  private closed = false;

  constructor(options: ReaderFeedbackOptions) {
    this.beepMs = options.beepMs ?? 100;
    this.led = options.led ? new Signal(options.driver, options.led) : undefined;
    try {
      this.beeper = options.beeper ? new Signal(options.driver, options.beeper) : undefined;
    } catch (error) {
      this.led?.close();
      throw error;
    }
  }

  /** LED on for ms (a new grant restarts it), one beep. */
  granted(ms: number): void {
    if (this.closed) return;
    if (this.led) {
      clearTimeout(this.ledTimer);
      this.led.set(true);
      this.ledTimer = setTimeout(() => {
        this.ledTimer = undefined;
        this.led?.set(false);
      }, ms);
    }
    this.beep(1);
  }

  /** Two short beeps. */
  denied(): void {
    if (this.closed) return;
    this.beep(2);
  }

  private beep(count: number) {
    const beeper = this.beeper;
    if (!beeper) return;
    // A new pattern replaces one still sounding.
    for (const t of this.beepTimers) clearTimeout(t);
    this.beepTimers.clear();
    const at = (ms: number, on: boolean) => {
      const t = setTimeout(() => {
        this.beepTimers.delete(t);
        beeper.set(on);
      }, ms);
      this.beepTimers.add(t);
    };
    beeper.set(true);
    for (let i = 0; i < count; i++) {
      if (i > 0) at(2 * i * this.beepMs, true);
      at((2 * i + 1) * this.beepMs, false);
    }
  }

  /** Back to idle, lines released. */
  close(): void {
    this.closed = true;
    clearTimeout(this.ledTimer);
    for (const t of this.beepTimers) clearTimeout(t);
    this.beepTimers.clear();
    this.led?.close();
    this.beeper?.close();
  }
}
