// `npm run bench [-- --json] [-- --quick] [-- --repeat=N]`: runs every figure N times (default 3)
// and prints a table of min / median / max with the worst run (what a figure is judged by), or with
// --json one JSON object per figure: {"figure", "unit", "better", "runs", "min", "median", "max",
// "worst", "baseline": {min, median, max}}. Every figure is measured next to a baseline in the same
// run, since these machines are shared and absolute numbers drift.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { measureGrantLatency } from '../../device/wiegand/latency.ts';
import type { BillingBench } from './billing.ts';
import { measureCheckinIngest } from './checkin-ingest.ts';
import { measurePropagation } from './propagation.ts';
import { measureWireSize } from './wire-size.ts';

const json = process.argv.includes('--json');
const quick = process.argv.includes('--quick');
// `--only=propagation,wire`: just those groups (cache, wiegand, propagation, wire, checkins, billing).
const only = process.argv.find((a) => a.startsWith('--only='))?.slice('--only='.length).split(',');
const repeat = Math.max(1, Number(process.argv.find((a) => a.startsWith('--repeat='))?.slice('--repeat='.length) ?? 3));
const want = (group: string) => !only || only.includes(group);
const root = path.resolve(import.meta.dirname, '../..');

type Figure = { figure: string; value: number; unit: string; baseline: number | null; baselineName: string };
/** The figures of the run under way; each run starts a new list. */
let figures: Figure[] = [];
const round = (v: number) => Math.round(v * 100) / 100;
const emit = (f: Figure) => {
  figures.push(f);
};

type Probe = { p50: number; p99: number; rssBytesPerCredential: number; heapBytesPerCredential: number; rssBase: number; granted: number };
const probe = (n: number, layout: 'agent' | 'compact' | 'map' | 'sqlite', snapshotFile = ''): Probe => {
  const out = execFileSync(
    process.execPath,
    ['--expose-gc', '--import', 'tsx', path.join(root, 'test/bench/cache-probe.ts'), String(n), layout, String(quick ? 50_000 : 200_000), snapshotFile],
    // The agent runs with one malloc arena (device/systemd/gymgate-agent.service); so does its probe.
    { cwd: root, encoding: 'utf8', maxBuffer: 1 << 20, env: { ...process.env, ...(layout === 'agent' ? { MALLOC_ARENA_MAX: '1' } : {}) } },
  );
  return JSON.parse(out.trim().split('\n').pop()!);
};

/** The daily billing run on local D1 through the Worker's scheduled and queue handlers (billing.ts), in its own process. */
function runBilling(): BillingBench {
  const billingOptions = { sizes: quick ? [1_000, 10_000] : [1_000, 10_000, 100_000], windowSeconds: quick ? 30 : 150, inlineSize: 200 };
  const billingOut = execFileSync(process.execPath, ['--import', 'tsx', path.join(root, 'test/bench/billing-run.ts'), JSON.stringify(billingOptions)], {
    cwd: root,
    encoding: 'utf8',
    maxBuffer: 64 << 20,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, WRANGLER_SEND_METRICS: 'false' },
    timeout: 10 * 60_000,
  });
  return JSON.parse(billingOut.trim().split('\n').pop()!) as BillingBench;
}

/** One run of every figure wanted: its figures, and the notes for the table's footer. */
async function measureOnce(): Promise<{ figures: Figure[]; notes: string }> {
  figures = [];
  const sizes = !want('cache') ? [] : quick ? [10_000, 100_000] : [10_000, 100_000, 1_000_000];
  for (const n of sizes) {
    const label = n >= 1_000_000 ? `${n / 1_000_000}M` : `${n / 1000}k`;
    // The agent gets its snapshot as bytes from the network: written by another process, read as bytes.
    const snapshotFile = path.join(mkdtempSync(path.join(tmpdir(), 'gymgate-snapshot-')), 'snapshot.json');
    execFileSync(process.execPath, ['--import', 'tsx', path.join(root, 'test/bench/write-snapshot.ts'), String(n), snapshotFile], { cwd: root });
    const agent = probe(n, 'agent', snapshotFile);
    rmSync(path.dirname(snapshotFile), { recursive: true, force: true });
    const compact = probe(n, 'compact');
    const map = probe(n, 'map');
    const sqlite = probe(n, 'sqlite');
    if (new Set([agent.granted, compact.granted, map.granted, sqlite.granted]).size !== 1) {
      throw new Error(`layouts disagree on ${n} credentials: ${agent.granted} / ${compact.granted} / ${map.granted} / ${sqlite.granted} grants`);
    }
    emit({ figure: `door_decision_p50_${label}`, value: compact.p50, unit: 'µs', baseline: sqlite.p50, baselineName: 'SQLite lookup per tap' });
    emit({ figure: `door_decision_p99_${label}`, value: compact.p99, unit: 'µs', baseline: sqlite.p99, baselineName: 'SQLite lookup per tap' });
    emit({ figure: `agent_heap_per_credential_${label}`, value: compact.heapBytesPerCredential, unit: 'B', baseline: map.heapBytesPerCredential, baselineName: 'Map of objects' });
    emit({ figure: `cache_rss_per_credential_${label}`, value: compact.rssBytesPerCredential, unit: 'B', baseline: map.rssBytesPerCredential, baselineName: 'Map of objects' });
    emit({ figure: `agent_rss_per_credential_${label}`, value: agent.rssBytesPerCredential, unit: 'B', baseline: map.rssBytesPerCredential, baselineName: 'Map of objects' });
    emit({ figure: `agent_rss_${label}`, value: (agent.rssBase + agent.rssBytesPerCredential * n) / 2 ** 20, unit: 'MiB', baseline: agent.rssBase / 2 ** 20, baselineName: 'agent before cache' });
  }

  // Last Wiegand bit → relay write, through the real reader and relay on the simulated driver:
  // ending the frame as soon as the configured format's length and parity match, against waiting
  // for the 25 ms inter-frame gap. 300 frames, so the p99 is not just the slowest one.
  if (want('wiegand')) {
    const early = await measureGrantLatency({ format: 'H10301', earlyEnd: true, samples: quick ? 50 : 300 });
    const gap = await measureGrantLatency({ format: 'H10301', earlyEnd: false, samples: quick ? 50 : 300 });
    emit({ figure: 'wiegand_last_bit_to_relay_p50', value: early.p50Ms, unit: 'ms', baseline: gap.p50Ms, baselineName: 'frame ended by the 25 ms gap' });
    emit({ figure: 'wiegand_last_bit_to_relay_p99', value: early.p99Ms, unit: 'ms', baseline: gap.p99Ms, baselineName: 'frame ended by the 25 ms gap' });
  }

  // 500 changes: a p99 of 200 is the second-slowest change, one scheduling hiccup of the machine away.
  const propagation = want('propagation') ? await measurePropagation(quick ? 40 : 500, quick ? 10 : 40) : null;
  if (propagation) {
    emit({ figure: 'propagation_p50', value: propagation.mqtt.p50, unit: 'ms', baseline: propagation.poll.p50, baselineName: '1 s periodic pull, no broker' });
    emit({ figure: 'propagation_p99', value: propagation.mqtt.p99, unit: 'ms', baseline: propagation.poll.p99, baselineName: '1 s periodic pull, no broker' });
  }

  if (want('wire')) {
    const wire = await measureWireSize(quick ? 10_000 : 100_000);
    const wireLabel = wire.members >= 1000 ? `${wire.members / 1000}k` : String(wire.members);
    emit({ figure: `wire_bytes_one_change_notice_${wireLabel}`, value: wire.noticeBytes, unit: 'B', baseline: wire.snapshotBytes, baselineName: 'full snapshot' });
    emit({ figure: `wire_bytes_one_change_delta_${wireLabel}`, value: wire.deltaBytes, unit: 'B', baseline: wire.snapshotBytes, baselineName: 'full snapshot' });
  }

  // P7: check-in events through the device upload endpoint into local D1, four doors uploading at
  // once in the agent's batches of 200, against the same events one per request.
  const checkins = want('checkins') ? await measureCheckinIngest({ doors: 4, eventsPerDoor: quick ? 2_000 : 10_000, oneByOnePerDoor: quick ? 100 : 250 }) : null;
  if (checkins) {
    emit({ figure: 'checkin_ingest_events_per_s', value: checkins.batched.perSecond, unit: '/s', baseline: checkins.oneByOne.perSecond, baselineName: 'one event per request' });
  }

  const billing = want('billing') ? runBilling() : null;
  if (billing) {
    for (const run of billing.queued) {
      emit({ figure: `billing_run_invoices_per_s_${run.subscriptions / 1000}k`, value: run.perSecond, unit: '/s', baseline: billing.inline.perSecond, baselineName: 'one by one, in line' });
    }
    emit({ figure: 'billing_rate_limited_payments_per_s', value: billing.limited.perSecond, unit: '/s', baseline: billing.limited.limit, baselineName: 'processor limit N' });
  }
  const notes =
    (propagation
      ? `\npropagation = API call to the agent holding the new version, through wrangler dev, an aedes broker with per-door identities and the agent, the delta signed inline (${propagation.mqtt.samples.length} changes; baseline ${propagation.poll.samples.length}).`
      : '') +
    (checkins
      ? `\ncheck-in ingest = ${checkins.batched.events} events from ${checkins.doors} doors at once in batches of 200 over ${round(checkins.batched.seconds)} s, each door sending one batch twice (${checkins.batched.duplicates} duplicates found); baseline ${checkins.oneByOne.events} events one per request.`
      : '') +
    (billing
      ? `\nbilling = paid invoices of the day over the time from the cron to the last one (at most ${quick ? 30 : 150} s; ${billing.queued.map((r) => `${r.paid}/${r.subscriptions}`).join(', ')} paid,` +
        ` the first after ${billing.queued.map((r) => (r.firstPaidSeconds === null ? '–' : `${round(r.firstPaidSeconds)} s`)).join(', ')});` +
        ` rate-limited: ${billing.limited.paid} payments from the first admitted charge, ${billing.limited.rejected} requests refused with 429.`
      : '');
  return { figures, notes };
}

const runs: Array<{ figures: Figure[]; notes: string }> = [];
for (let i = 0; i < repeat; i++) {
  if (!json) console.error(`bench: run ${i + 1} of ${repeat}…`);
  runs.push(await measureOnce());
}

/** Lower is better for times and sizes; higher for rates. */
const betterOf = (unit: string): 'lower' | 'higher' => (unit === '/s' ? 'higher' : 'lower');
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
const spread = (xs: number[]) => ({ min: round(Math.min(...xs)), median: round(median(xs)), max: round(Math.max(...xs)) });
const names = [...new Set(runs.flatMap((r) => r.figures.map((f) => f.figure)))];
const summary = names.map((name) => {
  const all = runs.flatMap((r) => r.figures.filter((f) => f.figure === name));
  const first = all[0]!;
  const values = spread(all.map((f) => f.value));
  const baselines = all.flatMap((f) => (f.baseline === null ? [] : [f.baseline]));
  const better = betterOf(first.unit);
  return {
    figure: name,
    unit: first.unit,
    better,
    runs: all.length,
    ...values,
    worst: better === 'lower' ? values.max : values.min,
    baseline: baselines.length ? spread(baselines) : null,
    baselineName: first.baselineName,
  };
});

if (json) for (const { baselineName: _, ...f } of summary) console.log(JSON.stringify(f));
if (!json) {
  const rows = summary.map((f) => [
    f.figure,
    `${f.worst} ${f.unit}`,
    `${f.min} / ${f.median} / ${f.max}`,
    f.baseline === null ? '' : `${f.baseline.median} ${f.unit} (${f.baselineName}; ${f.baseline.min}–${f.baseline.max})`,
  ]);
  const heads = ['figure', `worst of ${repeat}`, 'min / median / max', 'baseline, median (range)'];
  const widths = heads.map((h, c) => Math.max(...rows.map((r) => r[c]!.length), h.length));
  const line = (r: string[]) => r.map((cell, c) => cell.padEnd(widths[c]!)).join('  ');
  console.log(line(heads));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const r of rows) console.log(line(r));
  console.log(
    `\nnode ${process.version}, ${process.platform}/${process.arch}, ${repeat} run${repeat === 1 ? '' : 's'}; worst = the highest time or size, the lowest rate. Decision = Wiegand decode + lookup + access rule, timed per tap with hrtime;` +
      runs[runs.length - 1]!.notes,
  );
}
