// One door: its Wiegand reader, its strike relay and where it sits in the site (id, name, slot).
// Reads are handed to the agent, which decides and calls unlock() on a grant.
import type { CardRead } from '../../core/access.ts';
import { credentialKey } from '../../core/credential-key.ts';
import type { DoorWiring } from '../config/schema.ts';
import type { GpioDriver } from '../gpio/driver.ts';
import { WiegandReader, type WiegandRead } from '../wiegand/reader.ts';
import { Relay } from './relay.ts';

export type DoorRead =
  | { source: 'wiegand'; read: WiegandRead }
  | { source: 'raw'; rawId: string; credentialKey: string };

/** The read as core's access rule sees it. */
export function cardRead(read: DoorRead): CardRead {
  if (read.source === 'raw') return { ok: true, credentialKey: read.credentialKey };
  return read.read.ok ? { ok: true, credentialKey: read.read.credentialKey } : { ok: false, detail: read.read.detail };
}

export type DoorOptions = {
  wiring: DoorWiring;
  /** 1-based position in config.json, used by `tap --door N`. */
  slot: number;
  driver: GpioDriver;
  gapMs?: number;
  onRead: (door: Door, read: DoorRead) => void;
};

export class Door {
  readonly id: string;
  readonly slot: number;
  readonly wiring: DoorWiring;
  readonly relay: Relay;
  private readonly reader: WiegandReader;
  private readonly onRead: DoorOptions['onRead'];

  constructor(options: DoorOptions) {
    this.id = options.wiring.id;
    this.slot = options.slot;
    this.wiring = options.wiring;
    this.onRead = options.onRead;
    // Claim the relay first, at its inactive level, so the door is locked before reads can arrive.
    this.relay = new Relay({ driver: options.driver, line: options.wiring.relay.line, activeLow: options.wiring.relay.activeLow });
    try {
      this.reader = new WiegandReader({
        driver: options.driver,
        d0: options.wiring.wiegand.d0,
        d1: options.wiring.wiegand.d1,
        gapMs: options.gapMs,
        onRead: (read) => options.onRead(this, { source: 'wiegand', read }),
      });
    } catch (error) {
      this.relay.close();
      throw error;
    }
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
    this.relay.pulse(this.wiring.grantMs ?? defaultMs);
  }

  close(): void {
    this.reader.close();
    this.relay.close();
  }
}
