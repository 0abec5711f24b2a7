// What the door adds around core's decideAccess: local door-mode overrides from signed commands,
// the member's recent grants (anti-passback, daily limits) and pass entries used here but not yet
// reflected by the Worker. All in memory: after a restart the door relies on the Worker's data.
import { decideAccess, doorHeldOpen, revokedDecision, type AccessDecision, type CardRead, type DeciderState, type PinEntry, type TapHistory } from '../../core/access.ts';
import type { DoorMode, DoorPolicy, MemberAccess } from '../../core/entitlement.ts';
import { localTime } from '../../core/schedule.ts';
import type { EntitlementCache } from '../cache/entitlement-cache.ts';

type MemberHistory = { date: string; grants: number; lastAt: Map<string, number>; touched: number };
type PassUse = { serverEntries: number; used: number };

const DAY = 86_400_000;

export class Decider {
  /**
   * Door modes set by command, and a lockdown of every door by command, each with when the Worker
   * issued it. The Worker records the same modes in the doors' data before it sends the command,
   * so an override lasts until a release command or until the door holds data cut at or after
   * the command (that data carries the mode, or a later change of it); older data never lifts it.
   */
  private readonly modeOverrides = new Map<string, { mode: DoorMode; issuedAt: number }>();
  private lockdownIssuedAt: number | null = null;
  private readonly history = new Map<string, MemberHistory>();
  private readonly passUses = new Map<string, PassUse>();

  get lockdown(): boolean {
    return this.lockdownIssuedAt !== null;
  }

  /** `dataCutAt`: when the door's data was cut; data cut after the command already says what holds. */
  setMode(doorId: string, mode: DoorMode, issuedAt: number, dataCutAt: number | null): void {
    if (dataCutAt === null || issuedAt > dataCutAt) this.modeOverrides.set(doorId, { mode, issuedAt });
  }

  lockDown(issuedAt: number, dataCutAt: number | null): void {
    if (dataCutAt === null || issuedAt > dataCutAt) this.lockdownIssuedAt = issuedAt;
  }

  release(): void {
    this.modeOverrides.clear();
    this.lockdownIssuedAt = null;
  }

  /** Drops the overrides that data cut at `serverTime` already carries; true when any were dropped. */
  settle(serverTime: number): boolean {
    let dropped = false;
    if (this.lockdownIssuedAt !== null && this.lockdownIssuedAt <= serverTime) {
      this.lockdownIssuedAt = null;
      dropped = true;
    }
    for (const [doorId, override] of this.modeOverrides) {
      if (override.issuedAt <= serverTime) {
        this.modeOverrides.delete(doorId);
        dropped = true;
      }
    }
    return dropped;
  }

  get overrides(): { lockdown: boolean; modes: Record<string, DoorMode> } {
    return { lockdown: this.lockdown, modes: Object.fromEntries([...this.modeOverrides].map(([id, o]) => [id, o.mode])) };
  }

  /** The door's policy with local overrides applied. */
  door(cache: EntitlementCache, doorId: string): DoorPolicy | undefined {
    const door = cache.door(doorId);
    if (!door) return undefined;
    const mode = this.lockdown ? 'lockdown' : (this.modeOverrides.get(doorId)?.mode ?? door.mode);
    return mode === door.mode ? door : { ...door, mode };
  }

  heldOpen(cache: EntitlementCache, doorId: string, at: number, state: DeciderState): boolean {
    const door = this.door(cache, doorId);
    return door !== undefined && doorHeldOpen(door, cache.site, cache.schedules, at, state);
  }

  /** A member with the pass entries used at this door since the Worker last changed the count. */
  private withPassUse(member: MemberAccess): MemberAccess {
    const use = this.passUses.get(member.id);
    if (!use) return member;
    if (member.entriesLeft !== use.serverEntries) {
      // The Worker has spoken: its count replaces ours.
      this.passUses.delete(member.id);
      return member;
    }
    return { ...member, entriesLeft: Math.max(0, use.serverEntries - use.used) };
  }

  private tapHistory(memberId: string | undefined, doorId: string, date: string): TapHistory {
    const h = memberId === undefined ? undefined : this.history.get(memberId);
    if (!h) return { lastGrantAtDoor: null, grantsToday: 0 };
    return { lastGrantAtDoor: h.lastAt.get(doorId) ?? null, grantsToday: h.date === date ? h.grants : 0 };
  }

  /**
   * With defer (card + PIN doors), a grant is not remembered (anti-passback, daily limit, pass use)
   * until the returned commit() is called, once the PIN is right.
   */
  decide(input: {
    cache: EntitlementCache | undefined;
    doorId: string;
    read: CardRead;
    at: number;
    state: DeciderState;
    defer?: boolean;
    /** Card + PIN doors, once the PIN is known. */
    pin?: PinEntry;
  }): AccessDecision & { heldOpen: boolean; commit?: () => void } {
    const { cache, doorId, read, at, state } = input;
    // A revoked door has wiped its cache: no cache to decide from, and nothing to grant anyway.
    if (state.revoked) return { ...revokedDecision(), heldOpen: false };
    if (!read.ok) return { granted: false, reason: 'bad_read', explanation: `The card could not be read: ${read.detail}.`, memberId: null, usesPass: false, heldOpen: false };
    if (!cache) {
      return {
        granted: false,
        reason: 'offline_expired',
        explanation: 'This door has never synchronised its member list.',
        memberId: null,
        usesPass: false,
        heldOpen: false,
      };
    }
    const found = cache.lookup(read.credentialKey);
    const member = found ? this.withPassUse(found.member) : undefined;
    const door = this.door(cache, doorId);
    const date = localTime(at, cache.site.timezone).date;
    const decision = decideAccess({
      read,
      door,
      site: cache.site,
      member,
      profile: found?.profile,
      schedules: cache.schedules,
      at,
      state,
      history: this.tapHistory(member?.id, doorId, date),
      pin: input.pin,
    });
    const heldOpen = door !== undefined && doorHeldOpen(door, cache.site, cache.schedules, at, state);
    if (decision.granted && member && !heldOpen) {
      const commit = () => this.recordGrant(member, doorId, at, date, decision.usesPass);
      if (input.defer) return { ...decision, heldOpen, commit };
      commit();
    }
    return { ...decision, heldOpen };
  }

  private recordGrant(member: MemberAccess, doorId: string, at: number, date: string, usesPass: boolean) {
    let h = this.history.get(member.id);
    if (!h) this.history.set(member.id, (h = { date, grants: 0, lastAt: new Map(), touched: at }));
    if (h.date !== date) {
      h.date = date;
      h.grants = 0;
    }
    h.grants++;
    h.lastAt.set(doorId, at);
    h.touched = at;
    if (usesPass && member.entriesLeft !== null) {
      const use = this.passUses.get(member.id);
      if (use) use.used++;
      else this.passUses.set(member.id, { serverEntries: member.entriesLeft, used: 1 });
    }
  }

  private prunedAt = 0;

  /** Forgets grants older than a day (anti-passback and daily limits look back less than that); at most once a minute. */
  prune(now: number): void {
    if (now - this.prunedAt < 60_000) return;
    this.prunedAt = now;
    for (const [id, h] of this.history) if (now - h.touched > DAY + 3_600_000) this.history.delete(id);
  }
}
