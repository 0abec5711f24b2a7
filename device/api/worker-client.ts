// HTTP calls from the door to the gymgate Worker: enrollment, entitlement snapshots and updates,
// heartbeats, command acknowledgements and check-in uploads. Refusals arrive as RFC 9457
// problem+json and surface as ApiError.
import {
  CheckinBatchResult,
  EnrollResponse,
  HeartbeatReply,
  isDeviceRevoked,
  type CheckinUpload,
  type CommandAck,
  type DoorAlarmUpload,
  type Heartbeat,
} from '../../core/contracts/wire.ts';
import type { z } from 'zod';
import { USER_AGENT } from '../version.ts';

export type FetchLike = (input: string, init?: RequestInit) => Promise<Response>;

export type Problem = {
  type?: string;
  title?: string;
  status?: number;
  detail?: string;
  errors?: Array<{ field: string; reason: string }>;
};

/** The Worker answered, but not with success. */
export class ApiError extends Error {
  override name = 'ApiError';
  constructor(
    readonly status: number,
    readonly problem: Problem | undefined,
    readonly body: string,
  ) {
    super(ApiError.describe(status, problem, body));
  }

  static describe(status: number, problem: Problem | undefined, body: string): string {
    if (!problem) return `HTTP ${status}${body ? `: ${body.slice(0, 200)}` : ''}`;
    const fields = problem.errors?.map((e) => `${e.field}: ${e.reason}`).join('; ');
    return [`${problem.title ?? `HTTP ${status}`} (${status})`, problem.detail, fields].filter(Boolean).join(' — ');
  }
}

/** The Worker could not be reached (DNS, refused connection, timeout, broken response). */
export class NetworkError extends Error {
  override name = 'NetworkError';
}

export type BatchResult = z.infer<typeof CheckinBatchResult>;

export const joinUrl = (api: string, path: string) => `${api.replace(/\/+$/, '')}${path}`;

async function request(fetchFn: FetchLike, url: string, init: RequestInit, timeoutMs: number, signal?: AbortSignal) {
  const { response, bytes, sentAt, receivedAt } = await requestBytes(fetchFn, url, init, timeoutMs, signal);
  return { response, body: new TextDecoder().decode(bytes), sentAt, receivedAt };
}

/** Times are the local wall clock when the request left and when the response headers arrived. */
export type Timed<T> = T & { sentAt: number; receivedAt: number };

async function requestBytes(
  fetchFn: FetchLike,
  url: string,
  init: RequestInit,
  timeoutMs: number,
  signal?: AbortSignal,
  wall: () => number = Date.now,
) {
  let response: Response;
  let bytes: Uint8Array;
  const timeout = AbortSignal.timeout(timeoutMs);
  const sentAt = wall();
  let receivedAt = sentAt;
  try {
    response = await fetchFn(url, { ...init, signal: signal ? AbortSignal.any([timeout, signal]) : timeout });
    receivedAt = wall();
    bytes = new Uint8Array(await response.arrayBuffer());
  } catch (error) {
    const cause = (error as Error & { cause?: { code?: string; message?: string } }).cause;
    const reason = cause?.code ?? cause?.message ?? (error as Error).message;
    throw new NetworkError(`cannot reach ${url}: ${reason}`);
  }
  if (!response.ok) {
    const body = new TextDecoder().decode(bytes);
    let problem: Problem | undefined;
    if (/json/.test(response.headers.get('content-type') ?? '')) {
      try {
        const value = JSON.parse(body) as unknown;
        if (value && typeof value === 'object') problem = value as Problem;
      } catch {
        // not JSON after all; the body is kept as text
      }
    }
    throw new ApiError(response.status, problem, body);
  }
  return { response, bytes, sentAt, receivedAt };
}

const parseJson = (body: string, what: string): unknown => {
  try {
    return JSON.parse(body);
  } catch {
    throw new NetworkError(`${what} response is not JSON`);
  }
};

export async function enroll(options: {
  api: string;
  code: string;
  name?: string;
  agentVersion?: string;
  fetch?: FetchLike;
  timeoutMs?: number;
}): Promise<EnrollResponse> {
  const { body } = await request(
    options.fetch ?? fetch,
    joinUrl(options.api, '/v1/enroll'),
    {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json', 'user-agent': USER_AGENT },
      body: JSON.stringify({ code: options.code, name: options.name, agentVersion: options.agentVersion }),
    },
    options.timeoutMs ?? 15_000,
  );
  const parsed = EnrollResponse.safeParse(parseJson(body, 'enrollment'));
  if (!parsed.success) throw new NetworkError(`enrollment response is malformed: ${parsed.error.issues[0]?.message}`);
  return parsed.data;
}

export type WorkerClientOptions = {
  api: string;
  deviceToken: string;
  /** The entitlement version the door holds, sent as X-Entitlement-Version. */
  entitlementVersion?: () => number | undefined;
  fetch?: FetchLike;
  timeoutMs?: number;
  /** Large snapshots may take a while on a slow uplink. Default 120 s. */
  snapshotTimeoutMs?: number;
  /** The local wall clock, for request timing (clock offset). */
  wall?: () => number;
  /** Called when the Worker answers that this device was revoked (before the call's ApiError is thrown). */
  onRevoked?: (problem: Problem) => void;
};

export class WorkerClient {
  private readonly fetchFn: FetchLike;
  private readonly timeoutMs: number;

  constructor(private readonly options: WorkerClientOptions) {
    this.fetchFn = options.fetch ?? fetch;
    this.timeoutMs = options.timeoutMs ?? 15_000;
  }

  private headers(extra: Record<string, string> = {}): Record<string, string> {
    const headers: Record<string, string> = {
      authorization: `Bearer ${this.options.deviceToken}`,
      accept: 'application/json',
      'user-agent': USER_AGENT,
      ...extra,
    };
    const version = this.options.entitlementVersion?.();
    if (version !== undefined) headers['x-entitlement-version'] = String(version);
    return headers;
  }

  /** Every call passes through here: a revocation, whichever call hears it, reaches onRevoked. */
  private async watched<T>(call: Promise<T>): Promise<T> {
    try {
      return await call;
    } catch (error) {
      if (error instanceof ApiError && error.status === 401 && isDeviceRevoked(error.problem?.type)) this.options.onRevoked?.(error.problem!);
      throw error;
    }
  }

  private get(path: string, timeoutMs: number, signal?: AbortSignal): Promise<Timed<{ bytes: Uint8Array }>> {
    return this.watched(requestBytes(this.fetchFn, joinUrl(this.options.api, path), { method: 'GET', headers: this.headers() }, timeoutMs, signal, this.options.wall));
  }

  private async post(path: string, body: unknown, signal?: AbortSignal): Promise<Timed<{ body: string }>> {
    const { bytes, sentAt, receivedAt } = await this.watched(
      requestBytes(
        this.fetchFn,
        joinUrl(this.options.api, path),
        { method: 'POST', headers: this.headers({ 'content-type': 'application/json' }), body: JSON.stringify(body) },
        this.timeoutMs,
        signal,
        this.options.wall,
      ),
    );
    return { body: new TextDecoder().decode(bytes), sentAt, receivedAt };
  }

  /** The site's full snapshot, as the body bytes (parsed by the snapshot builder, saved as is). */
  fetchSnapshot(signal?: AbortSignal): Promise<Timed<{ bytes: Uint8Array }>> {
    return this.get('/v1/device/snapshot', this.options.snapshotTimeoutMs ?? 120_000, signal);
  }

  /** `GET /v1/device/entitlements?since=N`: an EntitlementUpdate (delta, current or snapshot), as bytes. */
  fetchEntitlements(since: number, signal?: AbortSignal): Promise<Timed<{ bytes: Uint8Array }>> {
    return this.get(`/v1/device/entitlements?since=${since}`, this.options.snapshotTimeoutMs ?? 120_000, signal);
  }

  async heartbeat(body: Heartbeat, signal?: AbortSignal): Promise<Timed<{ reply: z.infer<typeof HeartbeatReply> }>> {
    const { body: text, sentAt, receivedAt } = await this.post('/v1/device/heartbeat', body, signal);
    const parsed = HeartbeatReply.safeParse(parseJson(text, 'heartbeat'));
    if (!parsed.success) throw new NetworkError(`heartbeat response is malformed: ${parsed.error.issues[0]?.message}`);
    return { reply: parsed.data, sentAt, receivedAt };
  }

  async ackCommand(commandId: string, ack: CommandAck, signal?: AbortSignal): Promise<void> {
    await this.post(`/v1/device/commands/${encodeURIComponent(commandId)}/ack`, ack, signal);
  }

  uploadCheckins(events: readonly CheckinUpload[], signal?: AbortSignal): Promise<BatchResult> {
    return this.uploadBatch('/v1/device/checkins', 'check-in upload', events, signal);
  }

  uploadAlarms(events: readonly DoorAlarmUpload[], signal?: AbortSignal): Promise<BatchResult> {
    return this.uploadBatch('/v1/device/alarms', 'door alarm upload', events, signal);
  }

  private async uploadBatch(path: string, what: string, events: readonly unknown[], signal?: AbortSignal): Promise<BatchResult> {
    const { body } = await request(
      this.fetchFn,
      joinUrl(this.options.api, path),
      {
        method: 'POST',
        headers: this.headers({ 'content-type': 'application/json' }),
        body: JSON.stringify({ events }),
      },
      this.timeoutMs,
      signal,
    );
    const parsed = CheckinBatchResult.safeParse(parseJson(body, what));
    // The events were accepted (2xx) even if the summary is odd; report what can be read.
    return parsed.success ? parsed.data : { accepted: events.length, duplicates: 0 };
  }
}
