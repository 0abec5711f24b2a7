// Where subsystems that must not import each other are connected, once, at start: the one place
// the way back up is wired. Imports run down (dunning → billing → payments → core); billing tells
// dunning about payment outcomes through the port dunning registers here.
import { connectDunning } from './billing/index.ts';
import { dunningForBilling } from './dunning/index.ts';

let wired = false;

export function wireSubsystems(): void {
  if (wired) return;
  connectDunning(dunningForBilling);
  wired = true;
}
