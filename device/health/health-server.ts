// Loopback health endpoint for monitoring on the controller (and the technician's `doctor`):
// GET http://127.0.0.1:<healthPort>/health answers 200 when the agent is deciding (a cache is
// loaded and the doors are wired) and 503 otherwise, with the facts either way. It listens on
// 127.0.0.1 only; nothing on the network can reach it.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from '../log/logger.ts';

export type HealthReport = { ok: boolean; problems: string[] } & Record<string, unknown>;

export type HealthServer = { url: string; close(): Promise<void> };

export async function startHealthServer(options: { port: number; report: () => HealthReport; log: Logger }): Promise<HealthServer> {
  const server: Server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://localhost').pathname;
    if (req.method !== 'GET' || (path !== '/health' && path !== '/')) {
      res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":"not found"}');
      return;
    }
    let report: HealthReport;
    try {
      report = options.report();
    } catch (error) {
      report = { ok: false, problems: [`health check failed: ${(error as Error).message}`] };
    }
    res.writeHead(report.ok ? 200 : 503, { 'content-type': 'application/json', 'cache-control': 'no-store' }).end(JSON.stringify(report));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const url = `http://127.0.0.1:${port}`;
  options.log.info('health endpoint listening', { healthUrl: `${url}/health` });
  return {
    url,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
