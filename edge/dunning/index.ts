// The dunning subsystem: what happens after a failed payment (engine.ts: cases, steps, policies),
// reminders before a charge (reminders.ts), notices to the payer (notices.ts), and the pay-now and
// update-card links and pages. It calls billing and payments; billing reaches it back only
// through the port dunning fills (dunningForBilling), connected in edge/wiring.ts.
export { dunningForBilling } from './engine.ts';
export { runDunning } from './run.ts';
export { enqueueReminders } from './reminders.ts';
export { cardPageRouter, dunningRouter, payPageRouter } from './router.ts';
export { limitLinkPages } from './page-limits.ts';
