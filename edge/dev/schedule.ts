// The local gym's clock for the Worker's cron triggers. `wrangler dev` never fires them by itself,
// so without this there is no billing run, no dunning step and no notice delivery locally. It
// drives both schedules of wrangler.toml through wrangler's scheduled route: the five-minute one
// on its interval (faster with GYMGATE_CRON_SECONDS), the daily one at 03:17 UTC, or at start
// when the last daily run is older than the most recent 03:17.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { DAILY_CRON, FREQUENT_CRON } from '../maintenance/crons.ts';

export type CronKind = 'frequent' | 'daily';
export const CRONS: Record<CronKind, string> = { frequent: FREQUENT_CRON, daily: DAILY_CRON };

const DAY = 86_400_000;
/** The daily cron's time of day, 03:17 UTC, in ms after midnight. */
const DAILY_AT = (3 * 60 + 17) * 60_000;

/** The most recent 03:17 UTC at or before `now`. */
export const lastDailySlot = (now: number) => {
  const today = Math.floor(now / DAY) * DAY + DAILY_AT;
  return today <= now ? today : today - DAY;
};

/** Runs one cron now through the Worker's scheduled route; resolves with a one-line summary. */
export async function runCron(workerUrl: string, kind: CronKind): Promise<string> {
  const started = Date.now();
  const res = await fetch(`${workerUrl}/cdn-cgi/handler/scheduled?cron=${encodeURIComponent(CRONS[kind])}`);
  const body = (await res.text()).trim().slice(0, 120);
  if (!res.ok) throw new Error(`${kind} run (${CRONS[kind]}) failed: HTTP ${res.status} ${body}`);
  return `${kind === 'daily' ? 'daily run (billing, reminders, dunning, pruning)' : 'five-minute run (notices, dunning steps)'} done in ${Date.now() - started} ms`;
}

export type ScheduleOptions = {
  workerUrl: string;
  /** Seconds between five-minute runs (default 300). */
  frequentSeconds?: number;
  /** Remembers the last daily run across restarts; without it the daily run happens at start. */
  stateFile?: string;
  log: (line: string) => void;
  now?: () => number;
};

export class LocalSchedule {
  private frequentTimer: NodeJS.Timeout | undefined;
  private dailyTimer: NodeJS.Timeout | undefined;
  private running: Promise<void> = Promise.resolve();
  private stopped = false;

  constructor(private readonly options: ScheduleOptions) {}

  private get now() {
    return (this.options.now ?? Date.now)();
  }

  private lastDaily(): number {
    const file = this.options.stateFile;
    if (!file || !existsSync(file)) return 0;
    try {
      return Number((JSON.parse(readFileSync(file, 'utf8')) as { lastDailyAt?: unknown }).lastDailyAt) || 0;
    } catch {
      return 0;
    }
  }

  /** Runs `kind` after whatever run is in progress (runs never overlap); logs one line either way. */
  run(kind: CronKind): Promise<void> {
    const next = this.running.then(async () => {
      if (this.stopped) return;
      try {
        this.options.log(await runCron(this.options.workerUrl, kind));
        if (kind === 'daily' && this.options.stateFile) writeFileSync(this.options.stateFile, JSON.stringify({ lastDailyAt: this.now }));
      } catch (error) {
        this.options.log(`${(error as Error).message}; the next run tries again`);
      }
    });
    this.running = next;
    return next;
  }

  start(): void {
    if (this.lastDaily() < lastDailySlot(this.now)) void this.run('daily');
    void this.run('frequent');
    this.frequentTimer = setInterval(() => void this.run('frequent'), (this.options.frequentSeconds ?? 300) * 1000);
    this.scheduleDaily();
  }

  private scheduleDaily() {
    const wait = lastDailySlot(this.now) + DAY - this.now;
    this.dailyTimer = setTimeout(() => {
      void this.run('daily');
      this.scheduleDaily();
    }, wait);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.frequentTimer);
    clearTimeout(this.dailyTimer);
    await this.running;
  }
}
