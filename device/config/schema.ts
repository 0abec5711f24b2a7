// The agent's two files in its data directory:
//   device.json  who the door is and how it reaches the Worker (holds the device token, mode 0600)
//   config.json  how the doors are wired to GPIO and how the agent behaves (edited by the installer)
import { z } from 'zod';
import { DeviceId, DoorId, OrganisationId, SiteId } from '../../core/contracts/api.ts';
import { MqttSettings } from '../../core/contracts/wire.ts';
import { DRIVER_NAMES } from '../gpio/driver.ts';

export const DEVICE_FILE = 'device.json';
export const CONFIG_FILE = 'config.json';

const httpUrl = z
  .string()
  .refine((s) => URL.canParse(s) && /^https?:$/.test(new URL(s).protocol), 'must be an http:// or https:// URL');
export const mqttUrl = z
  .string()
  .refine((s) => URL.canParse(s) && /^(mqtts?|wss?):$/.test(new URL(s).protocol), 'must be an mqtt://, mqtts://, ws:// or wss:// URL');

export const DeviceIdentity = z.object({
  deviceId: DeviceId,
  deviceToken: z.string().min(1),
  api: httpUrl,
  organisationId: OrganisationId,
  siteId: SiteId,
  topicPrefix: z.string().min(1),
  mqtt: MqttSettings.extend({ url: mqttUrl }).nullable(),
  name: z.string().optional(),
  provisionedAt: z.string().optional(),
  /** Ed25519 public key (raw, base64url) that signs door commands; null = commands are ignored. */
  commandPublicKey: z.string().nullable().default(null),
});
export type DeviceIdentity = z.infer<typeof DeviceIdentity>;

const gpioLine = z.number().int().min(0).max(4095);
export const MAX_DOORS = 4;

export const WIEGAND_FORMATS = ['H10301', 'N10002', 'C1000', 'H10304'] as const;

export const ReaderWiring = z
  .object({
    d0: gpioLine,
    d1: gpioLine,
    /** The reader's card format: frames end as soon as they have its length and parity (saves the ~25 ms gap). */
    format: z.enum(WIEGAND_FORMATS).optional(),
    /** Raw mode for readers core cannot decode: frames of exactly this many bits are keyed raw:<hex>. */
    rawBits: z.number().int().min(1).max(64).optional(),
    /** Output to the reader's LED input (green while active): lit for the grant time on a grant. */
    ledLine: gpioLine.optional(),
    /** The LED input is active low (most readers: pull to ground to light). Default true. */
    ledActiveLow: z.boolean().optional(),
    /** Output to the reader's beeper input: one beep on a grant, two on a refusal. */
    beeperLine: gpioLine.optional(),
    /** Default true, as for the LED. */
    beeperActiveLow: z.boolean().optional(),
  })
  .refine((w) => !(w.format && w.rawBits), { message: 'set either format or rawBits, not both', path: ['rawBits'] });

/** A USB keyboard-wedge card reader or QR/barcode scanner on an input event device. */
export const KeyboardReader = z.object({
  /** Prefer the stable /dev/input/by-id/...-event-kbd link over /dev/input/eventN. */
  device: z.string().regex(/^\//, 'must be an absolute path such as /dev/input/by-id/usb-…-event-kbd'),
  /** How the reader prints a card (see core/card-normalise.ts). */
  encoding: z.enum(['auto', 'decimal', 'hex', 'facility-card', 'text']).default('auto'),
  /** Which key family the printed number becomes, so it matches the site's Wiegand readers. */
  as: z.enum(['H10301', 'H10301-frame', 'N10002', 'raw']).default('H10301'),
  rawBits: z.number().int().min(1).max(128).optional(),
  /** auto (default): grab the device (EVIOCGRAB) through a python3 helper when python3 runs; off: read it directly. */
  grab: z.enum(['auto', 'off']).optional(),
});

export const PinSettings = z.object({
  /** Card + PIN: a granted card waits for a PIN on the reader's keypad (ended with #) before the strike releases. */
  required: z.boolean().default(true),
  /** How long the PIN may take after the card, seconds. */
  timeoutSeconds: z.number().min(1).max(60).default(10),
  /** PINs accepted at this door (a door code) from members who have no PIN of their own in the cache. */
  codes: z.array(z.string().regex(/^\d{4,8}$/, 'PINs are 4 to 8 digits')).default([]),
});

export const DoorWiring = z.object({
  id: DoorId,
  name: z.string(),
  /** Wiegand data lines: D0 pulses for a 0 bit, D1 for a 1 bit. */
  wiegand: ReaderWiring,
  relay: z.object({
    line: gpioLine,
    /** The relay board energises on a low level. */
    activeLow: z.boolean().default(false),
    /** fail-secure: energised = unlocked (strike); fail-safe: energised = locked (maglock). See door/relay.ts. */
    lock: z.enum(['fail-secure', 'fail-safe']).default('fail-secure'),
  }),
  /** Door position contact: raises door_forced / door_held_open and relocks the strike as the door closes. */
  doorSensor: z
    .object({
      line: gpioLine,
      /** The level the input reads when the door is open (1 for a contact to ground that opens, with a pull-up). */
      openLevel: z.union([z.literal(0), z.literal(1)]).default(1),
      debounceMs: z.number().int().min(0).max(2000).default(50),
      heldOpenSeconds: z.number().min(1).max(3600).default(30),
    })
    .optional(),
  /** Request-to-exit button (to ground, with a pull-up): unlocks for the grant time and shunts the forced alarm. */
  exitButton: z.object({ line: gpioLine, debounceMs: z.number().int().min(0).max(2000).default(200) }).optional(),
  /** How long a grant keeps the strike released, ms. Omit to use the door's grantSeconds from the Worker. */
  grantMs: z.number().int().min(100).max(60_000).optional(),
  keyboard: KeyboardReader.optional(),
  pin: PinSettings.optional(),
});
export type DoorWiring = z.infer<typeof DoorWiring>;

export const AgentConfig = z
  .object({
    driver: z.enum(DRIVER_NAMES).default('auto'),
    /**
     * Added to every line number for sysfs: Raspberry Pi kernels 6.6+ number GPIOs from the chip
     * base (512 on a Pi 4, 571 on a Pi 5). 'auto' reads it from /sys/class/gpio/gpiochip*.
     */
    gpioBase: z.union([z.literal('auto'), z.number().int().min(0)]).default('auto'),
    /** Chip for the gpiod driver (name, number or path); default: the Pi's header controller found by gpiodetect. */
    gpioChip: z.string().min(1).optional(),
    /** Silence that ends a Wiegand frame, ms. */
    wiegandGapMs: z.number().int().min(5).max(500).default(25),
    /** Backstop pull of entitlement changes, seconds. */
    pullIntervalSeconds: z.number().min(0.05).max(86_400).default(30),
    /** Heartbeat to the Worker, seconds. */
    heartbeatSeconds: z.number().min(0.05).max(3600).default(30),
    /** Port of the simulated driver's control endpoint on 127.0.0.1 (0 picks a free port). */
    controlPort: z.number().int().min(0).max(65_535).default(7467),
    /** Port of the loopback health endpoint (GET http://127.0.0.1:<port>/health); null turns it off. */
    healthPort: z.number().int().min(0).max(65_535).nullable().default(7468),
    /** Check-ins kept on disk while the Worker is unreachable; beyond it the oldest are dropped (and counted in the log). */
    outboxMaxEvents: z.number().int().min(100).max(5_000_000).default(500_000),
    /** Overrides the broker given at enrollment; omit to use that one. */
    mqtt: MqttSettings.extend({ url: mqttUrl }).optional(),
    /** A controller drives up to four doors. */
    doors: z.array(DoorWiring).max(MAX_DOORS, `a device drives at most ${MAX_DOORS} doors`),
  })
  .superRefine((config, ctx) => {
    const owner = new Map<number, string>();
    config.doors.forEach((door, i) => {
      const lines: Array<[string, number]> = [
        ['wiegand.d0', door.wiegand.d0],
        ['wiegand.d1', door.wiegand.d1],
        ['relay.line', door.relay.line],
        ...(door.wiegand.ledLine !== undefined ? [['wiegand.ledLine', door.wiegand.ledLine] as [string, number]] : []),
        ...(door.wiegand.beeperLine !== undefined ? [['wiegand.beeperLine', door.wiegand.beeperLine] as [string, number]] : []),
        ...(door.doorSensor ? [['doorSensor.line', door.doorSensor.line] as [string, number]] : []),
        ...(door.exitButton ? [['exitButton.line', door.exitButton.line] as [string, number]] : []),
      ];
      for (const [field, line] of lines) {
        const previous = owner.get(line);
        if (previous) {
          ctx.addIssue({
            code: 'custom',
            path: ['doors', i, ...field.split('.')],
            message: `GPIO line ${line} is already used by ${previous}`,
          });
        } else owner.set(line, `doors.${i}.${field}`);
      }
    });
    const ids = new Set<string>();
    config.doors.forEach((door, i) => {
      if (ids.has(door.id)) ctx.addIssue({ code: 'custom', path: ['doors', i, 'id'], message: `door ${door.id} is listed twice` });
      ids.add(door.id);
    });
  });
export type AgentConfig = z.infer<typeof AgentConfig>;
export type AgentConfigInput = z.input<typeof AgentConfig>;

/**
 * Default wiring for the n-th door (0-based): Raspberry Pi BCM lines that are free of I2C, SPI0's
 * chip selects and the UART, three per door. Doors beyond the header get lines counted from 100,
 * which the installer must edit to match the real wiring.
 */
const PI_TRIPLES: ReadonlyArray<[d0: number, d1: number, relay: number]> = [
  [17, 27, 22],
  [5, 6, 13],
  [19, 26, 21],
  [23, 24, 25],
  [12, 16, 20],
  [4, 18, 7],
];

export function defaultWiring(index: number): { d0: number; d1: number; relay: number } {
  const triple = PI_TRIPLES[index];
  if (triple) return { d0: triple[0], d1: triple[1], relay: triple[2] };
  const base = 100 + 3 * (index - PI_TRIPLES.length);
  return { d0: base, d1: base + 1, relay: base + 2 };
}

/**
 * Config for a site's doors. Doors already present in `previous` keep their wiring; new doors get
 * the first default lines not used yet.
 */
export function configForDoors(
  doors: ReadonlyArray<{ id: string; name: string }>,
  previous?: AgentConfig,
): AgentConfig {
  // One controller drives at most MAX_DOORS doors; the agent logs the site doors left unwired.
  doors = doors.slice(0, MAX_DOORS);
  const kept = new Map(previous?.doors.map((d) => [d.id, d]) ?? []);
  const used = new Set<number>();
  for (const door of doors) {
    const old = kept.get(door.id);
    if (old) [old.wiegand.d0, old.wiegand.d1, old.relay.line].forEach((l) => used.add(l));
  }
  let next = 0;
  const wired: DoorWiring[] = doors.map((door) => {
    const old = kept.get(door.id);
    if (old) return { ...old, name: door.name };
    let lines = defaultWiring(next++);
    while ([lines.d0, lines.d1, lines.relay].some((l) => used.has(l))) lines = defaultWiring(next++);
    [lines.d0, lines.d1, lines.relay].forEach((l) => used.add(l));
    return {
      id: door.id,
      name: door.name,
      wiegand: { d0: lines.d0, d1: lines.d1 },
      relay: { line: lines.relay, activeLow: false, lock: 'fail-secure' as const },
    };
  });
  const base = previous ?? AgentConfig.parse({ doors: [] });
  return AgentConfig.parse({ ...base, doors: wired });
}
