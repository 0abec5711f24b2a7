// Every error leaves the API as RFC 9457 application/problem+json. Handlers throw ApiProblem;
// the app's error handler renders it, so no handler can forget the format.
import { HTTPException } from 'hono/http-exception';
import type { Problem } from '../../core/contracts/common.ts';

type FieldError = { field: string; reason: string };

export class ApiProblem extends Error {
  constructor(
    readonly status: number,
    readonly slug: string,
    readonly title: string,
    readonly detail?: string,
    readonly errors?: FieldError[],
    /** Headers the answer carries besides the content type (Retry-After on a 429). */
    readonly headers?: Record<string, string>,
  ) {
    super(detail ?? title);
  }

  toJSON(): Problem {
    return {
      type: `https://gymgate.dev/problems/${this.slug}`,
      title: this.title,
      status: this.status,
      ...(this.detail ? { detail: this.detail } : {}),
      ...(this.errors ? { errors: this.errors } : {}),
    };
  }
}

export const invalid = (errors: FieldError[], detail?: string) =>
  new ApiProblem(400, 'validation', 'Request is invalid', detail ?? errors.map((e) => `${e.field}: ${e.reason}`).join('; '), errors);

export const invalidField = (field: string, reason: string) => invalid([{ field, reason }]);

// Another organisation's resource is reported exactly like a missing one.
export const notFound = (what: string, id?: string) =>
  new ApiProblem(404, 'not-found', `${what} not found`, id ? `No ${what.toLowerCase()} with id ${id}` : undefined);

export const conflict = (field: string, reason: string) =>
  new ApiProblem(409, 'conflict', 'Conflicts with an existing resource', `${field}: ${reason}`, [{ field, reason }]);

/** 403: the caller is who they say, but may not do this; `field` names what stands in the way. */
export const forbidden = (detail: string, field: string, reason: string) => new ApiProblem(403, 'forbidden', 'Forbidden', detail, [{ field, reason }]);
export const unauthorized = (detail: string) => new ApiProblem(401, 'unauthorized', 'Unauthorized', detail);

export const renderProblem = (problem: ApiProblem): Response =>
  new Response(JSON.stringify(problem.toJSON()), {
    status: problem.status,
    headers: {
      'content-type': 'application/problem+json',
      ...(problem.status === 401 ? { 'www-authenticate': 'Bearer' } : {}),
      ...problem.headers,
    },
  });

export function toProblem(err: unknown): ApiProblem {
  if (err instanceof ApiProblem) return err;
  if (err instanceof HTTPException) {
    // Hono's validators raise this for a body that is not JSON at all.
    const field = err.status === 400 ? [{ field: '(body)', reason: err.message }] : undefined;
    return new ApiProblem(err.status, err.status === 400 ? 'validation' : 'http', err.message || 'Request failed', err.message, field);
  }
  return new ApiProblem(500, 'internal', 'Internal error', 'The request failed; nothing was changed.');
}
