// One door: its Wiegand reader, its strike relay and where it sits in the site (id, name, slot).
// Reads are handed to the agent, which decides and calls unlock() on a grant.
import type { CardRead } from '../../core/access.ts';
import { normaliseWedgeInput, type Normalised } from '../../core/card-normalise.ts';
import { credentialKey } from '../../core/credential-key.ts';
import type { DoorWiring } from '../config/schema.ts';
import type { GpioDriver } from '../gpio/driver.ts';
import { KeyboardWedgeReader } from '../input/keyboard-wedge.ts';
import { silentLogger, type Logger } from '../log/logger.ts';
import { WiegandReader, type KeypadPress, type WiegandMode, type WiegandRead } from '../wiegand/reader.ts';
import { DoorMonitor, type DoorAlarm } from './monitor.ts';
import { codeListVerifier, PinGate, type PinVerifier } from './pin.ts';
import { ReaderFeedback } from './reader-feedback.ts';
import { Relay } from './relay.ts';

export type DoorRead =
  | { source: 'wiegand'; read: WiegandRead }
  | { source: 'raw'; rawId: string; credentialKey: string }
  | { source: 'keyboard'; text: string; result: Normalised };

/** The read as core's access rule sees it. */
export function cardRead(read: DoorRead): CardRead {
  if (read.source === 'raw') return { ok: true, credentialKey: read.credentialKey };
  if (read.source === 'keyboard') {
    return read.result.ok ? { ok: true, credentialKey: read.result.credentialKey } : { ok: false, detail: `keyboard reader: ${read.result.detail}` };
  }
  return read.read.ok ? { ok: true, credentialKey: read.read.credentialKey } : { ok: false, detail: read.read.detail };
}

/** The reader mode a door's wiring asks for. */
export function wiegandMode(wiring: DoorWiring): WiegandMode {
  if (wiring.wiegand.rawBits !== undefined) return { kind: 'raw', bits: wiring.wiegand.rawBits };
  if (wiring.wiegand.format !== undefined) return { kind: 'format', format: wiring.wiegand.format };
  return { kind: 'auto' };
}

export type DoorOptions = {
  wiring: DoorWiring;
  /** 1-based position in config.json, used by `tap --door N`. */
  slot: number;
  driver: GpioDriver;
  gapMs?: number;
  onRead: (door: Door, read: DoorRead) => void;
  log?: Logger;
  /** Checks PINs at card + PIN doors; default: the door's configured codes. */
  pinVerifier?: PinVerifier;
  /** Door sensor alarms (door_forced, door_held_open). */
  onAlarm?: (door: Door, alarm: DoorAlarm) => void;
  onExitRequest?: (door: Door) => void;
  /** Grant time when config.json sets no grantMs (the door's grantSeconds from the Worker), ms. */
  defaultGrantMs?: () => number;
  /** The agent's corrected clock, so alarm times agree with check-in times. */
  clock?: () => number;
};

export class Door {
  readonly id: string;
  readonly slot: number;
  readonly wiring: DoorWiring;
  readonly relay: Relay;
  /** The reader's LED and beeper, when wired. */
  readonly feedback: ReaderFeedback | undefined;
  private readonly reader: WiegandReader;
  readonly keyboard: KeyboardWedgeReader | undefined;
  readonly monitor: DoorMonitor | undefined;
  /** Present at card + PIN doors. */
  readonly pin: PinGate | undefined;
  private readonly onRead: DoorOptions['onRead'];

  constructor(private readonly options: DoorOptions) {
    this.id = options.wiring.id;
    this.slot = options.slot;
    this.wiring = options.wiring;
    this.onRead = options.onRead;
    // Claim the relay first, at its inactive level, so the door is locked before reads can arrive.
    this.relay = new Relay({
      driver: options.driver,
      line: options.wiring.relay.line,
      activeLow: options.wiring.relay.activeLow,
      lock: options.wiring.relay.lock,
    });
    const { ledLine, ledActiveLow, beeperLine, beeperActiveLow } = options.wiring.wiegand;
    try {
      this.feedback =
        ledLine !== undefined || beeperLine !== undefined
          ? new ReaderFeedback({
              driver: options.driver,
              led: ledLine !== undefined ? { line: ledLine, activeLow: ledActiveLow ?? true } : undefined,
              beeper: beeperLine !== undefined ? { line: beeperLine, activeLow: beeperActiveLow ?? true } : undefined,
            })
          : undefined;
    } catch (error) {
      this.relay.close();
      throw error;
    }
    const pin = options.wiring.pin;
    this.pin =
      pin?.required === true
        ? new PinGate({ doorId: this.id, timeoutMs: pin.timeoutSeconds * 1000, verify: options.pinVerifier ?? codeListVerifier(pin.codes) })
        : undefined;
    try {
      this.reader = new WiegandReader({
        driver: options.driver,
        d0: options.wiring.wiegand.d0,
        d1: options.wiring.wiegand.d1,
        gapMs: options.gapMs,
        mode: wiegandMode(options.wiring),
        onRead: (read) => options.onRead(this, { source: 'wiegand', read }),
        // Keypad bursts only mean something at a card + PIN door; elsewhere they are failed reads.
        ...(this.pin ? { onKey: (press: KeypadPress) => this.keypad(press) } : {}),
      });
    } catch (error) {
      this.feedback?.close();
      this.relay.close();
      throw error;
    }
    const { doorSensor, exitButton } = options.wiring;
    if (doorSensor || exitButton) {
      try {
        this.monitor = new DoorMonitor({
          driver: options.driver,
          relay: this.relay,
          sensor: doorSensor,
          exitButton,
          grantMs: () => this.wiring.grantMs ?? options.defaultGrantMs?.() ?? 5000,
          onAlarm: (alarm) => options.onAlarm?.(this, alarm),
          onExitRequest: () => options.onExitRequest?.(this),
          clock: options.clock,
        });
      } catch (error) {
        this.reader.close();
        this.feedback?.close();
        this.relay.close();
        throw error;
      }
    }
    const keyboard = options.wiring.keyboard;
    if (keyboard) {
      this.keyboard = new KeyboardWedgeReader({
        path: keyboard.device,
        grab: keyboard.grab,
        log: options.log ?? silentLogger,
        onInput: (text) =>
          options.onRead(this, { source: 'keyboard', text, result: normaliseWedgeInput(text, { encoding: keyboard.encoding, as: keyboard.as, rawBits: keyboard.rawBits }) }),
      });
    }
  }

  private keypad(press: KeypadPress) {
    if (!this.pin?.key(press.key)) this.log?.debug('keypad key with no card waiting for a PIN; ignored', { door: this.id });
  }

  private get log(): Logger | undefined {
    return this.options.log;
  }

  get name(): string {
    return this.wiring.name;
  }

  /** A read from a reader that reports card ids directly (e.g. a USB or OSDP reader). */
  rawRead(rawId: string): void {
    this.onRead(this, { source: 'raw', rawId, credentialKey: credentialKey({ kind: 'raw', rawId }) });
  }

  /** Releases the strike for ms: config.json's grantMs when set, else the given default. */
  unlock(defaultMs: number): void {
    this.relay.pulse(this.grantMs(defaultMs));
  }

  private grantMs(defaultMs: number): number {
    return this.wiring.grantMs ?? defaultMs;
  }

  /** Tells the person at the reader: LED for the grant time and one beep, or two beeps. */
  signal(granted: boolean, defaultGrantMs: number): void {
    if (granted) this.feedback?.granted(this.grantMs(defaultGrantMs));
    else this.feedback?.denied();
  }

  close(): void {
    this.monitor?.close();
    this.pin?.close();
    this.keyboard?.close();
    this.reader.close();
    this.feedback?.close();
    this.relay.close();
  }
}
