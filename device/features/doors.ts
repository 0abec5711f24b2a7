// The doors feature: the wired doors (readers, relays, sensors, PIN pads), the decision at each tap
// (core's rule through the Decider, against the entitlement cache), the strike, the hold-open of
// doors that are unlocked by mode or schedule, and door alarms. Every decision and alarm is
// handed to `record` (the outbox) and logged as one JSON line.
import { randomUUID } from 'node:crypto';
import type { AccessDecision, CardRead, DeciderState, PinEntry } from '../../core/access.ts';
import type { CheckinUpload, DoorAlarmUpload } from '../../core/contracts/wire.ts';
import { pinMatches } from '../../core/entitlement.ts';
import type { AccessReason } from '../../core/reasons.ts';
import type { Decider } from '../access/decider.ts';
import type { EntitlementCache } from '../cache/entitlement-cache.ts';
import type { DoorClock } from '../clock/door-clock.ts';
import type { AgentConfig, DoorWiring } from '../config/schema.ts';
import { cardRead, Door, type DoorRead } from '../door/door.ts';
import type { DoorAlarm } from '../door/monitor.ts';
import { codeListVerifier, nodePbkdf2, type PinVerifier } from '../door/pin.ts';
import type { GpioDriver } from '../gpio/driver.ts';
import type { Logger } from '../log/logger.ts';
import type { DecisionEvent } from '../sim/control-server.ts';
import type { Feature } from './feature.ts';

export type DoorStatus = {
  id: string;
  name: string;
  slot: number;
  /** The mode in force, with local overrides; null when the door is not in the snapshot. */
  mode: string | null;
  heldOpen: boolean;
  relayActive: boolean;
  /** Debounced door position; null without a door sensor. */
  doorOpen: boolean | null;
  /** The keyboard-wedge reader: grab (through the python3 helper) or direct; null without one. */
  keyboard: { mode: string; connected: boolean; grabbed: boolean } | null;
  alarms: { doorForced: number; doorHeldOpen: number; last: DoorAlarm | null };
};

/** Alarms per door since the process started (kept across soft restarts). */
export type AlarmCounts = Map<string, { door_forced: number; door_held_open: number; last: DoorAlarm | null }>;

/** Denials that a fresher member list might turn into a grant: they trigger a pull. */
export const PULL_ON_DENIAL = new Set<AccessReason>([
  'unknown_credential',
  'member_suspended',
  'payment_overdue',
  'membership_frozen',
  'membership_ended',
  'membership_cancelled',
  'membership_expired',
  'membership_not_started',
  'pass_used_up',
  'door_not_included',
  'wrong_site',
  'offline_expired',
  'clock_not_synced',
  // The member may have just changed their PIN.
  'pin_mismatch',
]);

export type DoorsOptions = {
  config: AgentConfig | undefined;
  gpio: GpioDriver;
  clock: DoorClock;
  log: Logger;
  decider: Decider;
  alarmCounts: AlarmCounts;
  /** The entitlement cache decisions are taken against. */
  cache: () => EntitlementCache | undefined;
  /** True once the Worker said this door was revoked: every tap is refused. */
  revoked: () => boolean;
  /** True once the agent is stopping: no strike moves and nothing more is recorded. */
  stopping: () => boolean;
  /** Stores a decision or alarm for the Worker (the outbox). */
  record: (event: CheckinUpload | DoorAlarmUpload) => void;
  /** A denial a fresher member list might reverse: ask for a pull. */
  denied: (reason: AccessReason) => void;
  /** Every decision, for the control endpoint's listeners. */
  decided: (event: DecisionEvent) => void;
  /** Overrides the PIN check (tests); default the member's verifier from the cache, else the door's codes. */
  pinVerifier?: PinVerifier;
  /** How often held-open doors are re-evaluated, ms. */
  holdCheckMs?: number;
};

export class DoorsFeature implements Feature {
  readonly name = 'doors';
  private wired: Door[] = [];
  private holdTimer: NodeJS.Timeout | undefined;
  private running = false;

  constructor(private readonly o: DoorsOptions) {}

  get doors(): readonly Door[] {
    return this.wired;
  }

  start(): void {
    this.wired = this.o.config ? this.wire(this.o.config) : [];
    this.running = true;
    this.holdTimer = setInterval(() => {
      this.evaluateHolds();
      this.o.decider.prune(this.o.clock.now());
    }, this.o.holdCheckMs ?? 1000);
  }

  /** Wires the doors of a configuration written after start (the first snapshot's default wiring). */
  rewire(config: AgentConfig): void {
    for (const door of this.wired) door.close();
    this.wired = this.wire(config);
  }

  /** Relocks every relay and releases the doors' pins. */
  async stop(): Promise<void> {
    this.running = false;
    clearInterval(this.holdTimer);
    for (const door of this.wired) door.close();
  }

  private wire(config: AgentConfig): Door[] {
    const { gpio, log, clock } = this.o;
    return config.doors.map(
      (wiring, i) =>
        new Door({
          wiring,
          slot: i + 1,
          driver: gpio,
          gapMs: config.wiegandGapMs,
          onRead: (door, read) => this.handleRead(door, read),
          log: log.child({ door: wiring.id }),
          pinVerifier: this.pinVerifierFor(wiring),
          defaultGrantMs: () => (this.o.cache()?.door(wiring.id)?.grantSeconds ?? 5) * 1000,
          onAlarm: (door, alarm) => this.alarm(door, alarm),
          clock: () => clock.now(),
          onExitRequest: (door) => log.info('request to exit: door unlocked', { door: door.id, event: 'request_to_exit' }),
        }),
    );
  }

  private pinVerifierFor(wiring: DoorWiring): PinVerifier {
    if (this.o.pinVerifier) return this.o.pinVerifier;
    const doorCodes = codeListVerifier(wiring.pin?.codes ?? []);
    return (check) => {
      const verifier = check.memberId ? this.o.cache()?.member(check.memberId)?.member.pinVerifier : undefined;
      // The member's own PIN wins; the door's code serves members who have none.
      return verifier ? pinMatches(check.pin, verifier, nodePbkdf2) : doorCodes(check);
    };
  }

  /** Warns about wired doors missing from the site's snapshot and site doors without wiring. */
  check(cache: EntitlementCache): void {
    const { log } = this.o;
    for (const door of this.wired) {
      if (!cache.door(door.id)) log.warn('a wired door is not in the site snapshot; taps there are denied', { door: door.id });
    }
    const wired = new Set(this.wired.map((d) => d.id));
    for (const door of cache.doors) {
      if (!wired.has(door.id)) log.warn('a site door has no wiring in config.json', { door: door.id, name: door.name });
    }
  }

  /** Door alarms are logged (one JSON line with `event`), counted in status and recorded for the Worker. */
  private alarm(door: Door, alarm: DoorAlarm): void {
    const { alarmCounts, log } = this.o;
    let counts = alarmCounts.get(door.id);
    if (!counts) alarmCounts.set(door.id, (counts = { door_forced: 0, door_held_open: 0, last: null }));
    if (alarm.type !== 'door_held_open_cleared') counts[alarm.type]++;
    counts.last = alarm;
    const event: DoorAlarmUpload = {
      kind: 'door_alarm',
      id: randomUUID(),
      doorId: door.id,
      type: alarm.type,
      occurredAt: alarm.at,
      openForMs: alarm.openForMs === undefined ? null : Math.round(alarm.openForMs),
    };
    const fields = { door: door.id, slot: door.slot, event: alarm.type, eventId: event.id, at: new Date(alarm.at).toISOString(), ...(alarm.openForMs !== undefined ? { openForMs: alarm.openForMs } : {}) };
    if (alarm.type === 'door_held_open_cleared') log.info('door closed after being held open', fields);
    else log.warn(alarm.type === 'door_forced' ? 'door forced open' : 'door held open too long', fields);
    this.o.record(event);
  }

  state(): DeciderState {
    return { clockSynced: this.o.clock.synced, cacheAgeMs: this.o.clock.cacheAgeMs(), revoked: this.o.revoked() };
  }

  /** Holds the relay of every door that is held open (unlocked mode or unlock schedule); relocks the rest. */
  evaluateHolds(): void {
    if (!this.running || this.o.stopping()) return;
    const { decider, log } = this.o;
    const cache = this.o.cache();
    const at = this.o.clock.now();
    const state = this.state();
    for (const door of this.wired) {
      const held = cache ? decider.heldOpen(cache, door.id, at, state) : false;
      if (held === door.relay.held) continue;
      door.relay.hold(held);
      const mode = cache ? (decider.door(cache, door.id)?.mode ?? null) : null;
      log.info(held ? 'door held open' : 'door relocked after being held open', {
        door: door.id,
        mode,
        ...(held ? { by: mode === 'unlocked' ? 'mode' : 'schedule' } : {}),
      });
    }
  }

  private handleRead(door: Door, read: DoorRead): void {
    const { decider, log } = this.o;
    const at = this.o.clock.now();
    const cache = this.o.cache();
    const card = cardRead(read);
    const pin = door.pin;
    const { heldOpen, commit: _deferred, ...decision } = decider.decide({ cache, doorId: door.id, read: card, at, state: this.state(), defer: pin !== undefined });
    if (pin && decision.granted && !heldOpen && card.ok) {
      // Card + PIN: the strike waits for the PIN; the decision is recorded once it is known.
      log.info('card accepted; waiting for the PIN', { door: door.id, credentialKey: card.credentialKey, memberId: decision.memberId });
      void pin.await(card.credentialKey, decision.memberId).then((outcome) => {
        if (this.o.stopping() && !outcome.ok && outcome.why === 'closed') return;
        const entry: PinEntry = outcome.ok ? 'match' : outcome.why === 'wrong_pin' ? 'mismatch' : 'missing';
        if (!outcome.ok) log.info('PIN refused', { door: door.id, memberId: decision.memberId, why: outcome.why });
        // The PIN is part of core's decision: decide again for the tap's time, now with the PIN.
        // Without defer, a grant is remembered (anti-passback, daily limit, pass use) right here.
        const { heldOpen: held, commit: _committed, ...final } = decider.decide({ cache: this.o.cache(), doorId: door.id, read: card, at, state: this.state(), pin: entry });
        this.finishRead(door, read, card, final, held, at);
      });
      return;
    }
    this.finishRead(door, read, card, decision, heldOpen, at);
  }

  private finishRead(door: Door, read: DoorRead, card: CardRead, decision: AccessDecision, heldOpen: boolean, at: number): void {
    const cache = this.o.cache();
    const stopping = this.o.stopping();
    const grantMs = (cache?.door(door.id)?.grantSeconds ?? 5) * 1000;
    // A door held open is already unlocked; a pulse would only outlast the hold.
    if (decision.granted && !heldOpen && !stopping) door.unlock(grantMs);
    if (!stopping) door.signal(decision.granted, grantMs);
    const credentialKey = card.ok ? card.credentialKey : null;
    const event: CheckinUpload = {
      id: randomUUID(),
      doorId: door.id,
      memberId: decision.memberId,
      credentialKey,
      granted: decision.granted,
      reason: decision.reason,
      explanation: decision.explanation.slice(0, 500),
      occurredAt: at,
      usesPass: decision.usesPass,
    };
    const bits = read.source === 'wiegand' ? read.read.bits : undefined;
    const typed = read.source === 'keyboard' ? read.text : undefined;
    this.o.log.info('access decision', {
      door: door.id,
      slot: door.slot,
      granted: decision.granted,
      reason: decision.reason,
      explanation: decision.explanation,
      credentialKey,
      memberId: decision.memberId,
      usesPass: decision.usesPass,
      eventId: event.id,
      entitlementVersion: cache?.version ?? null,
      ...(card.ok ? {} : { bits, typed }),
      ...(read.source === 'wiegand' && read.read.ok ? { format: read.read.format, endedBy: read.read.endedBy } : {}),
    });
    this.o.record(event);
    if (!decision.granted && PULL_ON_DENIAL.has(decision.reason)) this.o.denied(decision.reason);
    this.o.decided({ door: door.id, slot: door.slot, credentialKey, decision: decision as AccessDecision, ...(bits ? { bits } : {}) });
  }

  /** Each wired door as status reports it: mode in force, hold, relay, sensor, reader and alarms. */
  summary(): DoorStatus[] {
    const { decider, alarmCounts } = this.o;
    const cache = this.o.cache();
    const at = this.o.clock.now();
    const state = this.state();
    return this.wired.map((d) => {
      const policy = cache ? decider.door(cache, d.id) : undefined;
      const counts = alarmCounts.get(d.id);
      return {
        id: d.id,
        name: policy?.name ?? d.name,
        slot: d.slot,
        mode: policy?.mode ?? null,
        heldOpen: cache ? decider.heldOpen(cache, d.id, at, state) : false,
        relayActive: d.relay.active,
        doorOpen: d.monitor?.doorOpen ?? null,
        keyboard: d.keyboard ? { mode: d.keyboard.mode, connected: d.keyboard.isConnected, grabbed: d.keyboard.grabbed } : null,
        alarms: { doorForced: counts?.door_forced ?? 0, doorHeldOpen: counts?.door_held_open ?? 0, last: counts?.last ?? null },
      };
    });
  }
}
