// Child process for the outbox test: appends events, reports, then kills itself with SIGKILL.
import { Outbox } from '../../../device/outbox/outbox.ts';
import { silentLogger } from '../../../device/log/logger.ts';

const [dir, count] = process.argv.slice(2) as [string, string];
const outbox = await Outbox.open(dir, { log: silentLogger });
for (let i = 0; i < Number(count); i++) {
  await outbox.append({
    id: crypto.randomUUID(),
    doorId: null,
    memberId: null,
    credentialKey: `wiegand:1:${i}`,
    granted: false,
    reason: 'unknown_credential',
    explanation: `event ${i}`,
    occurredAt: Date.now(),
    usesPass: false,
  });
}
process.stdout.write('appended\n', () => process.kill(process.pid, 'SIGKILL'));
