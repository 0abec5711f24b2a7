// Child process for the start/stop/kill test: runs the agent on a simulated driver that appends
// every output write (claims included) to a file before it happens, so a SIGKILL loses nothing.
//   agent-cycle.ts <dataDir> <writesFile> <restart: 0|1>
// SIGTERM stops the agent cleanly; the test also kills it with SIGKILL at random moments.
import { appendFileSync } from 'node:fs';
import { Agent } from '../../../device/agent.ts';
import type { Level, OutputLine } from '../../../device/gpio/driver.ts';
import { SimulatedGpio } from '../../../device/gpio/simulated.ts';
import { silentLogger } from '../../../device/log/logger.ts';

const [dataDir, writesFile, restart] = process.argv.slice(2) as [string, string, string];

class RecordingGpio extends SimulatedGpio {
  override openOutput(line: number, initialLevel: Level): OutputLine {
    appendFileSync(writesFile, `${process.pid} claim ${line} ${initialLevel}\n`);
    const out = super.openOutput(line, initialLevel);
    return {
      ...out,
      write: (level) => {
        appendFileSync(writesFile, `${process.pid} write ${line} ${level}\n`);
        out.write(level);
      },
      read: () => out.read(),
      close: () => out.close(),
    };
  }
}

const agent = await Agent.start({
  dataDir,
  gpio: new RecordingGpio(),
  controlPort: 0,
  healthPort: null,
  log: silentLogger,
  pullIntervalSeconds: 3600,
  heartbeatSeconds: 3600,
  snapshotProcess: false,
});
process.once('SIGTERM', () => {
  void agent.stop().then(() => process.exit(0));
});
await agent.ready;
if (restart === '1') await agent.restart('test');
process.stdout.write('ready\n');
