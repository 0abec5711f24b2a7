// The door never unlocks because the agent starts, restarts, stops or dies: 100 agent processes
// on a recording simulated driver, each stopped with SIGTERM or killed with SIGKILL at a random
// moment (during start-up too), some after an in-place restart, for both relay polarities and
// both lock kinds. Every level ever written to a relay line must be that door's locked level.
import { spawn } from 'node:child_process';
import { cp, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readAgentConfig, writeAgentConfig } from '../../device/config/files.ts';
import { FakeWorker } from './support/fake-worker.ts';
import { provisionCli, tempDir } from './support/agent-harness.ts';
import { bundleChild } from './support/bundle-child.ts';

const CYCLES = 100;
const PARALLEL = 8;

let worker: FakeWorker;
let CHILD = '';
beforeAll(async () => {
  worker = new FakeWorker();
  await worker.start();
  CHILD = await bundleChild('agent-cycle');
});
afterAll(async () => {
  await worker.stop();
});

type Variant = { activeLow: boolean; lock: 'fail-secure' | 'fail-safe' };
const VARIANTS: Variant[] = [
  { activeLow: false, lock: 'fail-secure' },
  { activeLow: true, lock: 'fail-secure' },
  { activeLow: false, lock: 'fail-safe' },
  { activeLow: true, lock: 'fail-safe' },
];
const lockedLevel = (v: Variant) => ((v.lock === 'fail-secure') === v.activeLow ? 1 : 0);

describe('start, restart, stop and SIGKILL never unlock a door', () => {
  it(`${CYCLES} agent processes, none writes an unlock level`, { timeout: 110_000 }, async () => {
    worker.addMember('wiegand:12:3456');
    const { dataDir: template } = await provisionCli(worker);
    // The agent runs offline from its cache: the Worker is not needed (and is not reachable).
    const writes = join(await tempDir(), 'writes.log');
    const outcomes = { stop: 0, kill: 0, killedBeforeReady: 0, restarted: 0 };
    const relayLines = new Set<number>();
    const dirs: string[] = [];
    for (let slot = 0; slot < PARALLEL; slot++) {
      const dir = await tempDir();
      await cp(template, dir, { recursive: true });
      const variant = VARIANTS[slot % VARIANTS.length] as Variant;
      const config = await readAgentConfig(dir);
      if (!config) throw new Error('no config');
      await writeAgentConfig(dir, { ...config, doors: config.doors.map((d) => ({ ...d, relay: { ...d.relay, ...variant } })) });
      for (const d of config.doors) relayLines.add(d.relay.line);
      dirs.push(dir);
    }
    const perSlotLocked = dirs.map((_, slot) => lockedLevel(VARIANTS[slot % VARIANTS.length] as Variant));

    const cycle = (slot: number, n: number) =>
      new Promise<{ pid: number; slot: number }>((resolve, reject) => {
        const restart = n % 5 === 0 ? '1' : '0';
        const child = spawn(process.execPath, [CHILD, dirs[slot] as string, `${writes}.${slot}`, restart], {
          stdio: ['ignore', 'pipe', 'pipe'],
          // A bare environment (as under systemd): no NODE_OPTIONS loaders from the test runner.
          env: { PATH: process.env.PATH ?? '', MALLOC_ARENA_MAX: '1' },
        });
        let stderr = '';
        child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
        const kill = n % 2 === 1;
        const killEarly = kill && n % 4 === 1;
        let ready = false;
        if (killEarly) {
          // Somewhere in start-up: tsx loading, config, cache load, claiming the pins.
          setTimeout(() => child.kill('SIGKILL'), 30 + Math.random() * 300);
        }
        child.stdout.on('data', () => {
          if (ready) return;
          ready = true;
          if (restart === '1') outcomes.restarted++;
          if (killEarly) return;
          setTimeout(() => child.kill(kill ? 'SIGKILL' : 'SIGTERM'), Math.random() * 100);
        });
        child.on('exit', (code, signal) => {
          if (signal === 'SIGKILL') {
            outcomes.kill++;
            if (!ready) outcomes.killedBeforeReady++;
          } else if (code === 0) outcomes.stop++;
          else return reject(new Error(`agent exited ${code} ${signal}: ${stderr.slice(-800)}`));
          resolve({ pid: child.pid ?? 0, slot });
        });
      });

    let next = 0;
    await Promise.all(
      Array.from({ length: PARALLEL }, async (_, slot) => {
        while (next < CYCLES) {
          const n = next++;
          await cycle(slot, n);
        }
      }),
    );
    expect(outcomes.stop + outcomes.kill).toBe(CYCLES);
    expect(outcomes.kill).toBeGreaterThanOrEqual(40);
    expect(outcomes.stop).toBeGreaterThanOrEqual(40);

    let total = 0;
    for (let slot = 0; slot < PARALLEL; slot++) {
      const text = await readFile(`${writes}.${slot}`, 'utf8').catch(() => '');
      const lines = text.split('\n').filter(Boolean);
      total += lines.length;
      for (const entry of lines) {
        const [, , line, level] = entry.split(' ');
        if (!relayLines.has(Number(line))) continue;
        expect({ slot, entry, level: Number(level) }).toEqual({ slot, entry, level: perSlotLocked[slot] });
      }
    }
    // Every started agent claimed its relays, and every clean stop wrote the locked level again.
    expect(total).toBeGreaterThan(CYCLES);
    console.log(`start-stop: ${JSON.stringify(outcomes)}, ${total} relay writes recorded, none unlocked`);
  });
});
