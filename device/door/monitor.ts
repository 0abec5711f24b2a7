// The door's position sensor and request-to-exit button.
//
// Door sensor: a level input, debounced (the level must stay put for debounceMs). Opening while
// the lock is locked, with no request to exit in the shunt window, raises `door_forced`. Staying
// open past heldOpenSeconds after an authorised opening raises `door_held_open` (not while the
// door is held open by its mode or schedule). Closing after an opening during a grant ends the
// grant pulse at once: the strike relocks as the door closes instead of running out its time.
//
// Request to exit: a button (or PIR) pulling an input low. A press unlocks for the grant time and
// shunts the forced-door alarm for that time plus shuntGraceMs. Presses within debounceMs of the
// previous one are contact bounce and ignored.
//
// Alarms are handed to onAlarm (the agent logs them with `event`, counts them in its status and
// uploads them through the outbox).
import type { GpioDriver, InputLine, Level, LevelInput } from '../gpio/driver.ts';
import type { Relay } from './relay.ts';
import type { DoorAlarmType } from '../../core/contracts/wire.ts';

export type DoorAlarm = { type: DoorAlarmType; at: number; openForMs?: number };

export type DoorSensorSettings = { line: number; openLevel: Level; debounceMs: number; heldOpenSeconds: number };
export type ExitButtonSettings = { line: number; debounceMs: number };

export type DoorMonitorOptions = {
  driver: GpioDriver;
  relay: Relay;
  sensor?: DoorSensorSettings;
  exitButton?: ExitButtonSettings;
  /** How long a request to exit unlocks, ms. */
  grantMs: () => number;
  onAlarm: (alarm: DoorAlarm) => void;
  onExitRequest?: () => void;
  /** Extra time after a request-to-exit unlock during which an opening is not forced. Default 2000. */
  shuntGraceMs?: number;
  clock?: () => number;
};

export class DoorMonitor {
  private sensorInput: LevelInput | undefined;
  private exitInput: InputLine | undefined;
  private debounce: NodeJS.Timeout | undefined;
  private heldTimer: NodeJS.Timeout | undefined;
  private stableOpen = false;
  private openedAt = 0;
  private openedDuringGrant = false;
  private heldAlarm = false;
  private shuntUntil = 0;
  private lastExitAt = -Infinity;
  private readonly clock: () => number;
  private closed = false;

  constructor(private readonly options: DoorMonitorOptions) {
    this.clock = options.clock ?? Date.now;
    const { sensor, exitButton, driver } = options;
    try {
      if (sensor) {
        this.sensorInput = driver.openLevelInput(sensor.line, () => this.sensorChanged());
        this.stableOpen = this.sensorInput.read() === sensor.openLevel;
        if (this.stableOpen) this.openedAt = this.clock();
      }
      if (exitButton) this.exitInput = driver.openInput(exitButton.line, () => this.exitPressed());
    } catch (error) {
      this.close();
      throw error;
    }
  }

  /** The debounced door position; undefined without a sensor. */
  get doorOpen(): boolean | undefined {
    return this.sensorInput ? this.stableOpen : undefined;
  }

  private sensorChanged() {
    if (this.closed) return;
    clearTimeout(this.debounce);
    this.debounce = setTimeout(() => this.settle(), this.options.sensor?.debounceMs ?? 50);
  }

  private settle() {
    const sensor = this.options.sensor;
    if (this.closed || !sensor || !this.sensorInput) return;
    const open = this.sensorInput.read() === sensor.openLevel;
    if (open === this.stableOpen) return;
    this.stableOpen = open;
    const now = this.clock();
    const relay = this.options.relay;
    if (open) {
      this.openedAt = now;
      this.openedDuringGrant = relay.pulsing;
      const authorised = relay.active || now <= this.shuntUntil;
      if (!authorised) {
        this.options.onAlarm({ type: 'door_forced', at: now });
        return;
      }
      clearTimeout(this.heldTimer);
      this.heldTimer = setTimeout(() => this.heldTooLong(), sensor.heldOpenSeconds * 1000);
      return;
    }
    clearTimeout(this.heldTimer);
    this.heldTimer = undefined;
    if (this.heldAlarm) {
      this.heldAlarm = false;
      this.options.onAlarm({ type: 'door_held_open_cleared', at: now, openForMs: this.openFor(now) });
    }
    // Relock as the door closes after someone went through on a grant.
    if (this.openedDuringGrant && relay.pulsing) relay.endPulse();
    this.openedDuringGrant = false;
  }

  private heldTooLong() {
    this.heldTimer = undefined;
    if (this.closed || !this.stableOpen) return;
    // Held open by mode or schedule: the door is meant to stand open.
    if (this.options.relay.held) return;
    this.heldAlarm = true;
    this.options.onAlarm({ type: 'door_held_open', at: this.clock(), openForMs: this.openFor(this.clock()) });
  }

  /**
   * How long a door that raised the held-open alarm has stood open. Timers run on the event loop's
   * millisecond clock and may fire a millisecond before the wall clock shows the hold time; the
   * alarm itself says the door stood open at least that long.
   */
  private openFor(now: number): number {
    return Math.max(now - this.openedAt, (this.options.sensor?.heldOpenSeconds ?? 0) * 1000);
  }

  private exitPressed() {
    if (this.closed) return;
    const now = this.clock();
    if (now - this.lastExitAt < (this.options.exitButton?.debounceMs ?? 200)) return;
    this.lastExitAt = now;
    const ms = this.options.grantMs();
    this.shuntUntil = now + ms + (this.options.shuntGraceMs ?? 2000);
    this.options.relay.pulse(ms);
    this.options.onExitRequest?.();
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.debounce);
    clearTimeout(this.heldTimer);
    this.sensorInput?.close();
    this.exitInput?.close();
    this.sensorInput = undefined;
    this.exitInput = undefined;
  }
}
