// `npm run cron -- daily|frequent`: runs one of the Worker's cron triggers now against the local
// gym (PORT, default 8787), as the schedule of `npm start` would.
import { runCron, type CronKind } from './schedule.ts';

const kind = process.argv[2] as CronKind | undefined;
if (kind !== 'daily' && kind !== 'frequent') {
  console.error('usage: npm run cron -- daily|frequent   (daily: billing, reminders, dunning; frequent: notices and dunning steps)');
  process.exit(2);
}
const url = process.env.GYMGATE_API ?? `http://127.0.0.1:${process.env.PORT ?? 8787}`;
runCron(url, kind).then(
  (line) => console.log(`[schedule] ${line}`),
  (error: unknown) => {
    console.error(`[schedule] ${(error as Error).message} (is npm start running at ${url}?)`);
    process.exit(1);
  },
);
