// A processor that admits at most `limit` requests in any one-second window: an HTTP proxy on
// 127.0.0.1 in front of the fake Stripe API that answers the excess the way Stripe's rate limiter
// does (429, error code rate_limit, no Stripe-Should-Retry header, so the SDK does not retry it).
import { createServer, request, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';

export type RateLimiter = { url: string; admitted: number; rejected: number; firstAdmittedAt: number | null; close(): Promise<void> };

export async function startRateLimiter(upstream: string, limit: number): Promise<RateLimiter> {
  const target = new URL(upstream);
  // Admission times of the last second, oldest first (a ring of `limit` slots).
  const window = new Float64Array(limit).fill(-Infinity);
  let next = 0;
  const state = { admitted: 0, rejected: 0, first: null as number | null };
  const admit = (): boolean => {
    const now = performance.now();
    if (now - window[next]! < 1000) return false;
    window[next] = now;
    state.first ??= now;
    next = (next + 1) % limit;
    return true;
  };

  const server = createServer((req: IncomingMessage, res) => {
    if (!admit()) {
      state.rejected++;
      req.resume();
      res.writeHead(429, { 'content-type': 'application/json', 'request-id': `req_limited${state.rejected}` });
      res.end(JSON.stringify({ error: { type: 'invalid_request_error', code: 'rate_limit', message: 'Request rate limit exceeded. Try again in a moment.' } }));
      return;
    }
    state.admitted++;
    const forward = request(
      { host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    forward.on('error', () => res.destroy());
    req.pipe(forward);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    get admitted() {
      return state.admitted;
    },
    get rejected() {
      return state.rejected;
    },
    /** performance.now() of the first request let through. */
    get firstAdmittedAt() {
      return state.first;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
