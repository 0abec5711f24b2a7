// `npm start` on a machine where a port it needs is taken: it names the port and what holds it,
// exits non-zero, and writes nothing (no state folder, no local D1, no seeding of someone else's server).
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { BIN, freePort, ROOT, startProcess } from '../../edge/dev/processes.ts';

describe('npm start and busy ports', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'gymgate-ports-'));
  const servers: Server[] = [];
  afterAll(() => {
    for (const s of servers) s.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const occupy = async () => {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    servers.push(server);
    return (server.address() as { port: number }).port;
  };

  it.each(['PORT', 'MQTT_PORT', 'AGENT_CONTROL_PORT', 'AGENT_HEALTH_PORT'])('refuses a taken %s before writing anything', async (variable) => {
    const state = path.join(dir, variable);
    const ports: Record<string, string> = {
      PORT: String(await freePort()),
      MQTT_PORT: String(await freePort()),
      AGENT_CONTROL_PORT: String(await freePort()),
      AGENT_HEALTH_PORT: String(await freePort()),
    };
    const busy = await occupy();
    ports[variable] = String(busy);
    const proc = startProcess(BIN('tsx'), [path.join(ROOT, 'edge/dev/start.ts')], { env: { ...ports, GYMGATE_STATE: state, MQTT_URL: '' } });
    const code = await proc.exited;
    expect(code).not.toBe(0);
    expect(proc.output()).toMatch(new RegExp(`port ${busy} \\(.+\\) is in use by .+; stop it or set ${variable} to another port`));
    expect(proc.output()).toContain('nothing was started or written');
    expect(existsSync(state)).toBe(false);
  });
});
