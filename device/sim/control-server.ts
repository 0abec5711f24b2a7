// Control endpoint of the SIMULATED driver: lets demos and tests tap cards at a door and watch its
// relay over HTTP on 127.0.0.1. It only ever drives the software twin of the pins.
//   POST /tap     play a card read into a door's reader and answer with the access decision
//   GET  /relay   a door's relay write history
//   GET  /status  the agent's status
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { z } from 'zod';
import type { AccessDecision } from '../../core/access.ts';
import { normaliseRawId } from '../../core/credential-key.ts';
import { encodeWiegand, parseBitString } from '../../core/wiegand.ts';
import type { Door } from '../door/door.ts';
import type { SimulatedGpio } from '../gpio/simulated.ts';
import type { Logger } from '../log/logger.ts';

export const CONTROL_HOST = '127.0.0.1';
export const DEFAULT_CONTROL_PORT = 7467;

export type DecisionEvent = {
  door: string;
  slot: number;
  credentialKey: string | null;
  decision: AccessDecision;
  /** The raw bits for a Wiegand read, for diagnostics. */
  bits?: string;
};

export interface ControlTarget {
  readonly driver: SimulatedGpio;
  doors(): readonly Door[];
  /** Resolves with the next decision taken at doorId. */
  nextDecision(doorId: string, timeoutMs: number): Promise<DecisionEvent>;
  status(): unknown;
  /** Moves the simulated door's clocks ahead. */
  advanceTime(ms: number): unknown;
}

const FORMATS = ['H10301', 'N10002', 'C1000', 'H10304'] as const;

export const TimeBody = z.object({
  advanceSeconds: z.number().int('must be a whole number of seconds').min(1).max(366 * 86_400),
});

export const TapBody = z
  .object({
    door: z.union([z.string().min(1).max(64), z.number().int().min(1)]).optional(),
    bits: z.string().regex(/^[01]{1,256}$/, 'must be a string of 0 and 1, at most 256 bits').optional(),
    facility: z.number().int('must be a whole number').min(0).optional(),
    card: z.number().int('must be a whole number').min(0).optional(),
    format: z.enum(FORMATS).default('H10301'),
    raw: z.string().regex(/^[0-9A-Fa-f:\- ]{1,200}$/, 'must be the card id in hex').optional(),
  })
  .strict();
export type TapBody = z.input<typeof TapBody>;

type FieldError = { field: string; reason: string };

class HttpProblem extends Error {
  constructor(
    readonly status: number,
    readonly title: string,
    detail: string,
    readonly errors?: FieldError[],
  ) {
    super(detail);
  }
}

const badRequest = (field: string, reason: string) =>
  new HttpProblem(400, 'Invalid request', `${field}: ${reason}`, [{ field, reason }]);

function send(res: ServerResponse, status: number, body: unknown, type = 'application/json') {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(text), 'cache-control': 'no-store' });
  res.end(text);
}

function sendProblem(res: ServerResponse, problem: HttpProblem) {
  send(
    res,
    problem.status,
    {
      type: 'about:blank',
      title: problem.title,
      status: problem.status,
      detail: problem.message,
      ...(problem.errors ? { errors: problem.errors } : {}),
    },
    'application/problem+json',
  );
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > 64 * 1024) throw new HttpProblem(413, 'Request too large', 'the body must be at most 64 KiB');
    chunks.push(chunk as Buffer);
  }
  const text = Buffer.concat(chunks).toString('utf8').trim();
  if (text === '') return {};
  try {
    return JSON.parse(text);
  } catch {
    throw badRequest('(body)', 'must be a JSON object');
  }
}

export function findDoor(doors: readonly Door[], ref: string | number | undefined, field = 'door'): Door {
  if (doors.length === 0) throw new HttpProblem(409, 'No doors', 'this agent has no doors configured yet');
  if (ref === undefined || ref === '') return doors[0] as Door;
  const slot = typeof ref === 'number' ? ref : /^\d+$/.test(ref) ? Number(ref) : undefined;
  const door = slot !== undefined ? doors.find((d) => d.slot === slot) : doors.find((d) => d.id === ref);
  if (!door) {
    const known = doors.map((d) => `${d.slot} (${d.id})`).join(', ');
    throw badRequest(field, `no door ${JSON.stringify(ref)} on this agent; doors are ${known}`);
  }
  return door;
}

/** Resolves the read a tap body asks for: Wiegand bits, or a raw id. */
export function tapFrame(body: z.output<typeof TapBody>): { bits: number[] } | { raw: string } {
  const given = [body.bits !== undefined, body.facility !== undefined || body.card !== undefined, body.raw !== undefined];
  if (given.filter(Boolean).length !== 1) {
    throw badRequest('(body)', 'give exactly one of bits, facility and card, or raw');
  }
  if (body.bits !== undefined) return { bits: parseBitString(body.bits) as number[] };
  if (body.raw !== undefined) {
    const id = normaliseRawId(body.raw);
    if (!/^[0-9A-Z]{1,64}$/.test(id)) throw badRequest('raw', 'must be at most 64 hex digits');
    return { raw: id };
  }
  if (body.facility === undefined) throw badRequest('facility', 'is required with card');
  if (body.card === undefined) throw badRequest('card', 'is required with facility');
  try {
    return { bits: encodeWiegand(body.format, body.facility, body.card) };
  } catch (error) {
    const message = (error as Error).message;
    throw badRequest(message.startsWith('facility') ? 'facility' : 'card', message);
  }
}

export type ControlServer = { url: string; port: number; close(): Promise<void> };

export async function startControlServer(options: {
  target: ControlTarget;
  log: Logger;
  port?: number;
  host?: string;
  /** Time between simulated Wiegand edges, ms. */
  spacingMs?: number;
  decisionTimeoutMs?: number;
}): Promise<ControlServer> {
  const { target, log, port = DEFAULT_CONTROL_PORT, host = CONTROL_HOST } = options;
  if (host !== CONTROL_HOST) {
    throw new Error(`the simulated driver's control endpoint only listens on ${CONTROL_HOST}, not ${host}`);
  }
  const spacingMs = options.spacingMs ?? 2;
  const decisionTimeoutMs = options.decisionTimeoutMs ?? 3000;
  const locks = new Map<string, Promise<unknown>>();
  const exclusive = <T>(doorId: string, task: () => Promise<T>): Promise<T> => {
    const run = (locks.get(doorId) ?? Promise.resolve()).then(task);
    locks.set(doorId, run.catch(() => undefined));
    return run;
  };

  const tap = async (req: IncomingMessage) => {
    const parsed = TapBody.safeParse(await readJson(req));
    if (!parsed.success) {
      const errors = parsed.error.issues.map((i) => ({ field: i.path.join('.') || '(body)', reason: i.message }));
      throw new HttpProblem(400, 'Invalid request', errors.map((e) => `${e.field}: ${e.reason}`).join('; '), errors);
    }
    const door = findDoor(target.doors(), parsed.data.door);
    const frame = tapFrame(parsed.data);
    const event = await exclusive(door.id, async () => {
      const decided = target.nextDecision(door.id, decisionTimeoutMs);
      decided.catch(() => undefined); // awaited below; this only keeps an early failure from going unhandled
      if ('raw' in frame) door.rawRead(frame.raw);
      else await target.driver.injectWiegand(door.wiring.wiegand.d0, door.wiring.wiegand.d1, frame.bits, { spacingMs });
      try {
        return await decided;
      } catch (error) {
        throw new HttpProblem(504, 'No decision', (error as Error).message);
      }
    });
    return { door: event.door, doorName: door.wiring.name, credentialKey: event.credentialKey, decision: event.decision };
  };

  const advanceTime = async (req: IncomingMessage) => {
    const parsed = TimeBody.safeParse(await readJson(req));
    if (!parsed.success) throw badRequest(parsed.error.issues[0]?.path.join('.') || '(body)', parsed.error.issues[0]?.message ?? 'invalid');
    return target.advanceTime(parsed.data.advanceSeconds * 1000);
  };

  const relay = (url: URL) => {
    const door = findDoor(target.doors(), url.searchParams.get('door') ?? undefined);
    const history = target.driver.writes(door.relay.line).map((w) => ({
      at: w.at,
      level: w.level,
      active: door.relay.isActiveLevel(w.level),
    }));
    return { door: door.id, line: door.relay.line, activeLow: door.relay.activeLow, history };
  };

  const routes: Record<string, Partial<Record<string, (req: IncomingMessage, url: URL) => Promise<unknown> | unknown>>> = {
    '/tap': { POST: tap },
    '/relay': { GET: (_req, url) => relay(url) },
    '/status': { GET: () => target.status() },
    '/time': { POST: advanceTime },
  };

  const server = createServer((req, res) => {
    void (async () => {
      try {
        const url = new URL(req.url ?? '/', `http://${CONTROL_HOST}`);
        // Only local clients that name the loopback address (defeats DNS rebinding from a browser).
        const hostname = (req.headers.host ?? '').replace(/:\d+$/, '');
        if (hostname !== CONTROL_HOST && hostname !== 'localhost') {
          throw new HttpProblem(403, 'Forbidden', 'the control endpoint answers requests for 127.0.0.1 only');
        }
        const route = routes[url.pathname];
        if (!route) throw new HttpProblem(404, 'Not found', `no route ${url.pathname}; try POST /tap, GET /relay, GET /status`);
        const handler = route[req.method ?? 'GET'];
        if (!handler) throw new HttpProblem(405, 'Method not allowed', `${req.method} is not allowed on ${url.pathname}`);
        send(res, 200, await handler(req, url));
      } catch (error) {
        if (error instanceof HttpProblem) sendProblem(res, error);
        else {
          log.error('control request failed', { url: req.url, error });
          sendProblem(res, new HttpProblem(500, 'Internal error', (error as Error).message));
        }
      }
    })();
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const actual = (server.address() as AddressInfo).port;
  return {
    url: `http://${CONTROL_HOST}:${actual}`,
    port: actual,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
