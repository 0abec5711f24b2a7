// Shared pieces of route contracts, so every operation in /openapi.json documents its body and
// its problems the same way.
import type { z } from 'zod';
import { Problem } from '../../core/contracts/common.ts';

const PROBLEM_TEXT = {
  400: 'A field is missing or invalid; `errors` names it and the reason',
  401: 'Missing, unknown or revoked bearer token, or no live session',
  403: 'The API key or staff role lacks the permission the operation declares (`x-permission`), the thing is at a site the key or person is not limited to (`errors`: siteId), or a session write came without its CSRF token',
  404: 'Not found (or owned by another organisation)',
  409: 'Conflicts with existing state',
  410: 'No longer valid',
  422: 'Well-formed, but refused: `errors` names the item and why',
} as const;

export function problems<const C extends Array<keyof typeof PROBLEM_TEXT>>(...codes: C) {
  const out = {} as { [K in C[number]]: { description: string; content: { 'application/problem+json': { schema: typeof Problem } } } };
  for (const code of codes) {
    (out as Record<number, unknown>)[code] = {
      description: PROBLEM_TEXT[code],
      content: { 'application/problem+json': { schema: Problem } },
    };
  }
  return out;
}

export const jsonBody = <T extends z.ZodType>(schema: T) => ({
  required: true,
  content: { 'application/json': { schema } },
});

export const json = <T extends z.ZodType>(schema: T, description: string) => ({
  description,
  content: { 'application/json': { schema } },
});

/** The owner API: an organisation's API key, or a staff person's session cookie (with X-CSRF-Token on writes). */
export const ownerAuth: Array<Record<string, string[]>> = [{ ownerKey: [] }, { staffSession: [] }];
/** A staff person's own account and sessions: the session cookie only. */
export const sessionAuth: Array<Record<string, string[]>> = [{ staffSession: [] }];
export const deviceAuth = [{ deviceToken: [] }];
