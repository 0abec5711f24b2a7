// Cron expressions of wrangler.toml's [triggers], named for the handler that dispatches on them.
/** Every five minutes: member notices go out, dunning steps whose time has come run. */
export const FREQUENT_CRON = '*/5 * * * *';
/** Daily at 03:17 UTC: change-log pruning, the billing run, dunning. */
export const DAILY_CRON = '17 3 * * *';
