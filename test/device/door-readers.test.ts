// Readers at a running agent: card + PIN from the reader's keypad, a keyboard-wedge reader whose
// typed number keys the same member as the Wiegand card, and a door that ends frames on its format.
import { execFileSync } from 'node:child_process';
import { constants, rmSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { derivePinVerifier } from '../../core/entitlement.ts';
import { encodeWiegand } from '../../core/wiegand.ts';
import { nodePbkdf2 } from '../../device/door/pin.ts';
import { readAgentConfig, writeAgentConfig } from '../../device/config/files.ts';
import { typeEvents } from '../../device/input/keyboard-wedge.ts';
import { FakeWorker } from './support/fake-worker.ts';
import { provisionCli, runAgent, tempDir, type RunningAgent } from './support/agent-harness.ts';
import { sleep, waitFor } from './support/wait.ts';

let worker: FakeWorker;
const running: RunningAgent[] = [];
const cleanups: Array<() => Promise<void> | void> = [];
beforeEach(async () => {
  worker = new FakeWorker();
  await worker.start();
});
afterEach(async () => {
  for (const r of running.splice(0)) await r.agent.stop();
  for (const c of cleanups.splice(0).reverse()) await c();
  await worker.stop();
});

const key = (k: number) => [(k >> 3) & 1, (k >> 2) & 1, (k >> 1) & 1, k & 1];

/** An agent whose first door asks for a PIN after an H10301 card (door code 2468). */
async function pinDoor(timeoutSeconds: number) {
  const { dataDir } = await provisionCli(worker);
  const config = await readAgentConfig(dataDir);
  const door = config?.doors[0];
  if (!config || !door) throw new Error('no config');
  await writeAgentConfig(dataDir, {
    ...config,
    doors: config.doors.map((d, i) => (i === 0 ? { ...d, grantMs: 200, wiegand: { ...d.wiegand, format: 'H10301' as const }, pin: { required: true, timeoutSeconds, codes: ['2468'] } } : d)),
  });
  const r = await runAgent(dataDir);
  running.push(r);
  return { r, door };
}

describe('readers at a running agent', () => {
  it('card + PIN: the strike waits for the right PIN; a wrong or missing PIN refuses the card', async () => {
    const member = worker.addMember('wiegand:12:3456');
    const { r, door } = await pinDoor(1);
    const { d0, d1 } = door.wiegand;
    const decisions: Array<{ granted: boolean; reason: string; explanation: string; memberId: string | null }> = [];
    r.agent.onDecision((e) => decisions.push(e.decision));
    const pinEntry = async (digits: number[]) => {
      for (const k of digits) {
        await r.gpio.injectWiegand(d0, d1, key(k), { spacingMs: 1 });
        await sleep(40);
      }
    };

    await r.gpio.injectWiegand(d0, d1, encodeWiegand('H10301', 12, 3456), { spacingMs: 1 });
    await waitFor(() => r.log.records.some((x) => x.msg === 'card accepted; waiting for the PIN'), 'the PIN prompt');
    expect(r.gpio.writes(door.relay.line)).toHaveLength(1); // still locked
    await pinEntry([2, 4, 6, 8, 11]); // 2468#
    await waitFor(() => decisions.length === 1, 'the decision');
    expect(decisions[0]).toMatchObject({ granted: true, memberId: member });
    await waitFor(() => r.gpio.writes(door.relay.line).length === 3, 'pulse and relock');

    await r.gpio.injectWiegand(d0, d1, encodeWiegand('H10301', 12, 3456), { spacingMs: 1 });
    await sleep(40);
    await pinEntry([1, 1, 1, 1, 11]);
    await waitFor(() => decisions.length === 2, 'the wrong-PIN decision');
    expect(decisions[1]).toMatchObject({ granted: false, reason: 'pin_mismatch', memberId: member });
    expect(decisions[1]?.explanation).toMatch(/PIN does not match/);

    await r.gpio.injectWiegand(d0, d1, encodeWiegand('H10301', 12, 3456), { spacingMs: 1 });
    await waitFor(() => decisions.length === 3, 'the timeout decision', 3000);
    expect(decisions[2]).toMatchObject({ granted: false, reason: 'pin_mismatch' });
    expect(decisions[2]?.explanation).toMatch(/no PIN was entered in time/);
    expect(r.gpio.writes(door.relay.line)).toHaveLength(3); // only the one grant moved the relay
    await waitFor(() => worker.checkins.length === 3, 'three uploads');
    expect(worker.checkins.map((c) => c.reason)).toEqual(['granted', 'pin_mismatch', 'pin_mismatch']);
  });

  it("card + PIN: a member's own PIN from the cache opens, the door code does not, and a new PIN arrives by delta", async () => {
    const member = worker.addMember('wiegand:12:3456', 'active', { pinVerifier: await derivePinVerifier('1357', 'c2FsdC1vbmU', nodePbkdf2, 1000) });
    const { r, door } = await pinDoor(5);
    const { d0, d1 } = door.wiegand;
    const attempt = async (digits: number[]) => {
      const decision = r.agent.nextDecision(door.id, 4000);
      await r.gpio.injectWiegand(d0, d1, encodeWiegand('H10301', 12, 3456), { spacingMs: 1 });
      await waitFor(() => r.agent.doors()[0]?.pin?.pending ?? false, 'the PIN prompt');
      for (const k of digits) {
        await r.gpio.injectWiegand(d0, d1, key(k), { spacingMs: 1 });
        await sleep(40);
      }
      return (await decision).decision;
    };
    expect(await attempt([2, 4, 6, 8, 11])).toMatchObject({ granted: false, reason: 'pin_mismatch', memberId: member });
    expect(await attempt([1, 3, 5, 7, 11])).toMatchObject({ granted: true, memberId: member });

    const version = r.agent.cache?.version;
    worker.updateMember(member, { pinVerifier: await derivePinVerifier('9024', 'c2FsdC10d28', nodePbkdf2, 1000) });
    await r.agent.sync?.pull('test');
    expect(r.agent.cache?.version).toBeGreaterThan(version ?? 0);
    expect(r.agent.cache?.hashValue).toBe(worker.hash);
    expect(await attempt([1, 3, 5, 7, 11])).toMatchObject({ granted: false, reason: 'pin_mismatch' });
    expect(await attempt([9, 0, 2, 4, 11])).toMatchObject({ granted: true, memberId: member });
  });

  it('a keyboard-wedge reader typing the 26-bit payload in decimal opens for the same member as the Wiegand card', async () => {
    const member = worker.addMember('wiegand:12:3456');
    const { dataDir } = await provisionCli(worker);
    const dir = await tempDir();
    const device = join(dir, 'event-kbd');
    execFileSync('mkfifo', [device]);
    cleanups.push(async () => {
      const w = await open(device, constants.O_WRONLY | constants.O_NONBLOCK).catch(() => undefined);
      await w?.close();
      rmSync(dir, { recursive: true, force: true });
    });
    const config = await readAgentConfig(dataDir);
    if (!config) throw new Error('no config');
    await writeAgentConfig(dataDir, {
      ...config,
      doors: config.doors.map((d, i) => (i === 1 ? { ...d, grantMs: 200, keyboard: { device, encoding: 'decimal' as const, as: 'H10301' as const } } : d)),
    });
    const r = await runAgent(dataDir);
    running.push(r);
    const studio = config.doors[1];
    if (!studio) throw new Error('no door');
    const w = await open(device, 'w');
    cleanups.push(() => w.close());
    const decision = r.agent.nextDecision(studio.id, 3000);
    await w.write(typeEvents('0000789888'));
    expect((await decision).decision).toMatchObject({ granted: true, memberId: member });
    expect((await decision).credentialKey).toBe('wiegand:12:3456');
    const bad = r.agent.nextDecision(studio.id, 3000);
    await w.write(typeEvents('not-a-card'));
    expect((await bad).decision).toMatchObject({ granted: false, reason: 'bad_read' });
  });
});
