// The limits subsystem: D1 counters for what can be guessed or abused (core/rate-limits.ts says
// how much of what), the 429 problem, and the daily pruning of ended windows. Depends only on lib/.
export { allowed, clientAddress, hit, pruneRateCounters, tooMany, type Verdict } from './counter.ts';
export { limitFailures } from './middleware.ts';
