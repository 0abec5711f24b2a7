// Client side of the simulated driver's control endpoint, for the tap/relay/status commands.
import type { Problem } from '../api/worker-client.ts';

export const DEFAULT_CONTROL_URL = 'http://127.0.0.1:7467';

export class ControlUnreachableError extends Error {
  override name = 'ControlUnreachableError';
}

export class ControlRequestError extends Error {
  override name = 'ControlRequestError';
  constructor(
    readonly status: number,
    readonly problem: Problem | undefined,
  ) {
    const fields = problem?.errors?.map((e) => `${e.field}: ${e.reason}`).join('; ');
    super([problem?.title ?? `HTTP ${status}`, problem?.detail ?? fields].filter(Boolean).join(': '));
  }
}

export async function controlRequest<T>(
  base: string,
  method: 'GET' | 'POST',
  path: string,
  body?: unknown,
  timeoutMs = 10_000,
): Promise<T> {
  const url = `${base.replace(/\/+$/, '')}${path}`;
  let response: Response;
  let text: string;
  try {
    response = await fetch(url, {
      method,
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(timeoutMs),
    });
    text = await response.text();
  } catch (error) {
    const cause = (error as Error & { cause?: { code?: string; message?: string } }).cause;
    throw new ControlUnreachableError(
      `cannot reach the agent's control endpoint at ${base} (${cause?.code ?? cause?.message ?? (error as Error).message}); ` +
        'is `gymgate-agent run` running with the simulated driver?',
    );
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    value = undefined;
  }
  if (!response.ok) throw new ControlRequestError(response.status, value as Problem | undefined);
  return value as T;
}
