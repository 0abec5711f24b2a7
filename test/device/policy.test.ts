// The access rule as the running agent applies it: held-open doors, door modes, the offline limit,
// the door clock, anti-passback, daily limits and pass entries.
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DEFAULT_PROFILE, type AccessProfile } from '../../core/entitlement.ts';
import { provisionCli, setGrantMs } from './support/agent-harness.ts';
import { relayActivity, scenario, scheduleAround } from './support/scenario.ts';
import { sleep, waitFor } from './support/wait.ts';

const ctx = scenario();
const HOUR = 3_600_000;

describe('held-open doors', () => {
  it('holds the relay during the unlock schedule, grants anyone, and relocks when the schedule ends', async () => {
    const { worker } = ctx;
    worker.setSchedules({ staffed: scheduleAround(-5, 10) });
    worker.setDoor(worker.doors[0]!.id, { unlockSchedule: 'staffed' });
    const { dataDir } = await provisionCli(worker);
    const r = await ctx.start(dataDir, { pullIntervalSeconds: 600 });
    await waitFor(() => relayActivity(r, 1).at(-1) === 1, 'the relay to be held');
    expect(relayActivity(r, 2)).toEqual([0]);
    const status = await r.status();
    expect(status.doors[0]).toMatchObject({ heldOpen: true, relayActive: true, mode: 'normal' });
    expect(r.log.records.some((x) => x.msg === 'door held open' && x.by === 'schedule')).toBe(true);
    const anyone = await r.tap({ facility: 9, card: 9 });
    expect(anyone.decision).toMatchObject({ granted: true, reason: 'granted', explanation: 'The door is unlocked on its schedule.' });
    await sleep(300);
    expect(relayActivity(r, 1)).toEqual([0, 1]); // the grant did not toggle the held relay

    worker.setSchedules({ staffed: scheduleAround(60, 120) });
    await r.agent.sync?.pull('test');
    await waitFor(() => relayActivity(r, 1).at(-1) === 0, 'the relay to relock');
    expect(relayActivity(r, 1)).toEqual([0, 1, 0]);
    expect((await r.tap({ facility: 9, card: 9 })).decision.reason).toBe('unknown_credential');
  });

  it('holds a door in unlocked mode, ignores the schedule while the clock is unsynced, and relocks on normal mode', async () => {
    const { worker } = ctx;
    worker.setSchedules({ staffed: scheduleAround(-5, 10) });
    worker.setDoor(worker.doors[0]!.id, { unlockSchedule: 'staffed' });
    worker.setDoor(worker.doors[1]!.id, { mode: 'unlocked' });
    const { dataDir } = await provisionCli(worker);
    await worker.stop();
    // A Pi that booted with its clock a day behind the last sync: schedules cannot be trusted.
    const r = await ctx.start(dataDir, { clock: () => Date.now() - 24 * HOUR });
    expect((await r.status()).clockSynced).toBe(false);
    await waitFor(() => relayActivity(r, 2).at(-1) === 1, 'the unlocked door to be held');
    await sleep(1200);
    expect(relayActivity(r, 1)).toEqual([0]);

    await worker.start();
    await r.agent.sync?.pull('test');
    expect((await r.status()).clockSynced).toBe(true);
    await waitFor(() => relayActivity(r, 1).at(-1) === 1, 'the scheduled door to be held once synced');
    worker.setDoor(worker.doors[1]!.id, { mode: 'normal' });
    await r.agent.sync?.pull('test');
    await waitFor(() => relayActivity(r, 2).at(-1) === 0, 'the unlocked door to relock');
    expect(relayActivity(r, 2)).toEqual([0, 1, 0]);
  });
});

describe('door modes and offline policy', () => {
  it('in lockdown refuses members and staff without lockdown access, and lets lockdown staff in', async () => {
    const { worker } = ctx;
    const staff: AccessProfile = { ...DEFAULT_PROFILE, id: 'prof_staff0000000', staff: true, lockdownAccess: false };
    const security: AccessProfile = { ...DEFAULT_PROFILE, id: 'prof_security0000', staff: true, lockdownAccess: true };
    worker.setProfiles([DEFAULT_PROFILE, staff, security]);
    const member = worker.addMember('wiegand:1:1');
    worker.addMember('wiegand:1:2', 'active', { profileId: staff.id });
    const guard = worker.addMember('wiegand:1:3', 'active', { profileId: security.id });
    worker.setDoors({ mode: 'lockdown' });
    const { dataDir } = await provisionCli(worker);
    const r = await ctx.start(dataDir);
    expect((await r.tap({ facility: 1, card: 1 })).decision).toMatchObject({ granted: false, reason: 'lockdown', memberId: member });
    expect((await r.tap({ facility: 1, card: 2 })).decision.reason).toBe('lockdown');
    expect((await r.tap({ facility: 1, card: 3 })).decision).toMatchObject({ granted: true, memberId: guard, explanation: 'Staff credential.' });

    worker.setDoors({ mode: 'locked' });
    await r.agent.sync?.pull('test');
    expect((await r.tap({ facility: 1, card: 1 })).decision.reason).toBe('door_locked');
    expect((await r.tap({ facility: 1, card: 2 })).decision.granted).toBe(true);
  });

  it('denies with offline_expired once the cache is older than the door allows, and recovers on sync', async () => {
    const { worker } = ctx;
    worker.setDoors({ maxOfflineSeconds: 60 });
    const member = worker.addMember('wiegand:2:2');
    // Provisioned two minutes ago (by the server clock), then the Worker went away.
    worker.now = () => Date.now() - 120_000;
    const { dataDir } = await provisionCli(worker);
    await worker.stop();
    const r = await ctx.start(dataDir);
    const status = await r.status();
    expect(status.clockSynced).toBe(true);
    expect(status.cacheAgeMs).toBeGreaterThanOrEqual(119_000);
    const denied = await r.tap({ facility: 2, card: 2 });
    expect(denied.decision).toMatchObject({ granted: false, reason: 'offline_expired', memberId: member });

    worker.now = Date.now;
    await worker.start();
    await r.agent.sync?.pull('test');
    expect((await r.status()).cacheAgeMs).toBeLessThan(5000);
    expect((await r.tap({ facility: 2, card: 2 })).decision.granted).toBe(true);
  });

  it('with a clock it cannot trust, refuses time-limited access but lets an open-ended member in', async () => {
    const { worker } = ctx;
    const open = worker.addMember('wiegand:3:1');
    const limited = worker.addMember('wiegand:3:2', 'active', { validUntil: Date.now() + 30 * 24 * HOUR });
    const { dataDir } = await provisionCli(worker);
    await worker.stop();
    // Years behind: the local clock is behind the last sync, so it is not synchronised.
    const r = await ctx.start(dataDir, { clock: () => Date.now() - 3 * 365 * 24 * HOUR });
    expect(await r.status()).toMatchObject({ clockSynced: false, clockOffsetMs: null });
    expect((await r.tap({ facility: 3, card: 1 })).decision).toMatchObject({ granted: true, memberId: open });
    expect((await r.tap({ facility: 3, card: 2 })).decision).toMatchObject({ granted: false, reason: 'clock_not_synced', memberId: limited });

    // The first sync teaches the door the server's time; decisions use the corrected clock.
    await worker.start();
    await r.agent.sync?.pull('test');
    const synced = await r.status();
    expect(synced.clockSynced).toBe(true);
    expect(Math.abs((synced.clockOffsetMs ?? 0) - 3 * 365 * 24 * HOUR)).toBeLessThan(2000);
    expect((await r.tap({ facility: 3, card: 2 })).decision).toMatchObject({ granted: true, memberId: limited });
    await waitFor(() => worker.checkins.length === 3, 'the check-ins');
    // Check-ins carry the corrected time.
    expect(Math.abs((worker.checkins.at(-1)?.occurredAt ?? 0) - Date.now())).toBeLessThan(5000);
  });

  it('logs clock jumps with their size, and distrusts a clock that went back before the last sync until it syncs again', async () => {
    const { worker } = ctx;
    const limited = worker.addMember('wiegand:4:1', 'active', { validUntil: Date.now() + 30 * 24 * HOUR });
    const { dataDir } = await provisionCli(worker);
    let jump = 0;
    const r = await ctx.start(dataDir, { clock: () => Date.now() + jump, clockCheckMs: 50, heartbeatSeconds: 600 });
    await r.agent.sync?.pull('test');
    expect((await r.status()).clockSynced).toBe(true);

    jump = 90_000;
    const forward = await waitFor(() => r.log.records.find((x) => x.msg === 'clock jumped'), 'a forward jump');
    expect(forward).toMatchObject({ level: 'warn', direction: 'forward' });
    expect(Math.abs((forward.jumpMs as number) - 90_000)).toBeLessThan(1000);
    // The learned offset absorbs the jump: the corrected clock stays on the server's time.
    expect(Math.abs(r.agent.clock.now() - Date.now())).toBeLessThan(1000);
    expect((await r.status()).clockSynced).toBe(true);

    await worker.stop();
    jump = -HOUR;
    const backward = await waitFor(() => r.log.records.find((x) => x.msg === 'clock jumped' && x.direction === 'backward'), 'a backward jump');
    expect(Math.abs((backward.jumpMs as number) + HOUR + 90_000)).toBeLessThan(1000);
    expect(backward.behindLastSync).toBe(true);
    expect((await r.status()).clockSynced).toBe(false);
    expect((await r.tap({ facility: 4, card: 1 })).decision).toMatchObject({ granted: false, reason: 'clock_not_synced', memberId: limited });

    await worker.start();
    await r.agent.sync?.pull('test');
    expect((await r.status()).clockSynced).toBe(true);
    expect((await r.tap({ facility: 4, card: 1 })).decision.granted).toBe(true);
  });
});

describe('tap history', () => {
  it('applies anti-passback per door and the daily limit per site', async () => {
    const { worker } = ctx;
    const twice: AccessProfile = { ...DEFAULT_PROFILE, id: 'prof_twiceaday000', maxEntriesPerDay: 2 };
    worker.setProfiles([DEFAULT_PROFILE, twice]);
    worker.setDoor(worker.doors[0]!.id, { antiPassbackSeconds: 600 });
    const member = worker.addMember('wiegand:5:1', 'active', { profileId: twice.id });
    const { dataDir } = await provisionCli(worker);
    await setGrantMs(dataDir, 100);
    const r = await ctx.start(dataDir);
    expect((await r.tap({ door: 1, facility: 5, card: 1 })).decision).toMatchObject({ granted: true, memberId: member });
    const again = await r.tap({ door: 1, facility: 5, card: 1 });
    expect(again.decision).toMatchObject({ granted: false, reason: 'anti_passback', memberId: member });
    expect((await r.tap({ door: 2, facility: 5, card: 1 })).decision.granted).toBe(true);
    expect((await r.tap({ door: 2, facility: 5, card: 1 })).decision).toMatchObject({ granted: false, reason: 'daily_limit_reached' });
    await waitFor(() => worker.checkins.length === 4, 'the check-ins');
    expect(worker.checkins.map((e) => e.reason)).toEqual(['granted', 'anti_passback', 'granted', 'daily_limit_reached']);
  });

  it('counts pass entries down locally until the Worker sends a new count', async () => {
    const { worker } = ctx;
    const guest = worker.addMember('wiegand:6:1', 'active', { entriesLeft: 2 });
    const { dataDir } = await provisionCli(worker);
    await setGrantMs(dataDir, 100);
    const r = await ctx.start(dataDir, { pullIntervalSeconds: 600 });
    const first = await r.tap({ facility: 6, card: 1 });
    expect(first.decision).toMatchObject({ granted: true, usesPass: true, explanation: 'Pass entry (1 left after this one).' });
    expect((await r.tap({ facility: 6, card: 1 })).decision).toMatchObject({ granted: true, usesPass: true, explanation: 'Pass entry (0 left after this one).' });
    expect((await r.tap({ facility: 6, card: 1 })).decision).toMatchObject({ granted: false, reason: 'pass_used_up', usesPass: false });
    await waitFor(() => worker.checkins.length === 3, 'the check-ins');
    expect(worker.checkins.map((e) => e.usesPass)).toEqual([true, true, false]);

    // An unrelated change does not restore the entries; the Worker's new count does.
    worker.addMember('wiegand:6:2');
    await r.agent.sync?.pull('test');
    expect((await r.tap({ facility: 6, card: 1 })).decision.reason).toBe('pass_used_up');
    worker.updateMember(guest, { entriesLeft: 5 });
    await r.agent.sync?.pull('test');
    expect((await r.tap({ facility: 6, card: 1 })).decision).toMatchObject({ granted: true, explanation: 'Pass entry (4 left after this one).' });
  });
});

describe('grant time', () => {
  it("pulses for the door's grantSeconds unless config.json sets grantMs", async () => {
    const { worker } = ctx;
    worker.setDoor(worker.doors[0]!.id, { grantSeconds: 1 });
    worker.addMember('wiegand:7:1');
    const { dataDir } = await provisionCli(worker);
    const config = JSON.parse(await readFile(join(dataDir, 'config.json'), 'utf8'));
    expect(config.doors[0].grantMs).toBeUndefined();
    config.doors[1].grantMs = 200;
    await writeFile(join(dataDir, 'config.json'), JSON.stringify(config));
    const r = await ctx.start(dataDir);
    await r.tap({ door: 1, facility: 7, card: 1 });
    await r.tap({ door: 2, facility: 7, card: 1 });
    await waitFor(() => relayActivity(r, 1).length === 3 && relayActivity(r, 2).length === 3, 'both relays to relock', 3000);
    const span = (slot: number) => {
      const w = r.gpio.writes(r.agent.doors()[slot - 1]!.relay.line);
      return (w[2]?.at ?? 0) - (w[1]?.at ?? 0);
    };
    expect(span(1)).toBeGreaterThanOrEqual(990);
    expect(span(2)).toBeGreaterThanOrEqual(190);
    expect(span(2)).toBeLessThan(800);
  });
});
