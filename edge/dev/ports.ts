// Before the local gym touches anything, each port it needs must be free: a Worker, broker or
// agent already answering there is somebody else's, and seeding it would write into their data.
import { execFileSync } from 'node:child_process';
import { createServer } from 'node:net';

export type PortNeed = { port: number; what: string; variable: string };

/** Whether `port` can be listened on at 127.0.0.1 (port 0 always can). */
export function portFree(port: number): Promise<boolean> {
  if (port === 0) return Promise.resolve(true);
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/** Who listens on `port`, as `ss` tells it (`node (pid 123)`), or null when it cannot tell. */
export function portHolder(port: number): string | null {
  try {
    const out = execFileSync('ss', ['-ltnpH', `sport = :${port}`], { encoding: 'utf8', timeout: 2000, stdio: ['ignore', 'pipe', 'ignore'] });
    const m = /users:\(\("([^"]+)",pid=(\d+)/.exec(out);
    return m ? `${m[1]} (pid ${m[2]})` : null;
  } catch {
    return null;
  }
}

/** The needs whose ports are taken, each with a sentence naming the port, its holder and the way out. */
export async function takenPorts(needs: PortNeed[]): Promise<string[]> {
  const out: string[] = [];
  for (const need of needs) {
    if (await portFree(need.port)) continue;
    const holder = portHolder(need.port);
    out.push(`port ${need.port} (${need.what}) is in use${holder ? ` by ${holder}` : ' by another process'}; stop it or set ${need.variable} to another port`);
  }
  return out;
}
