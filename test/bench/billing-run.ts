// Runs the billing benchmark (billing.ts) in a process of its own, so that wrangler's and the
// local queue's log lines stay out of `npm run bench`'s output: prints the result as the last line.
// Argument: the options of measureBilling as JSON.
import { measureBilling } from './billing.ts';

const result = await measureBilling(JSON.parse(process.argv[2]!));
console.log(JSON.stringify(result));
