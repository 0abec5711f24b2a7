// Helpers for Worker tests that talk to the fake providers started by notify-fakes/global-setup.ts.
// Every test uses fresh credentials, which the fakes treat as separate accounts.
import { inject } from 'vitest';
import type { ProviderKind, RecordedRequest } from './server.ts';

export type { RecordedRequest };

export const fakeUrl = (kind: ProviderKind): string =>
  kind === 'resend' ? inject('resendFakeUrl') : kind === 'sendgrid' ? inject('sendgridFakeUrl') : inject('twilioFakeUrl');

const hex = () => crypto.randomUUID().replace(/-/g, '');
export const newResendKey = () => `re_test_${hex()}`;
export const newSendGridKey = () => `SG.test.${hex()}`;
export const newTwilioSid = () => `AC${hex()}`;

async function control<T>(kind: ProviderKind, account: string, method: string, path: string, body?: unknown): Promise<T> {
  const res = await fetch(`${fakeUrl(kind)}/__fake${path}?account=${encodeURIComponent(account)}`, {
    method,
    headers: { 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const json = (await res.json()) as T;
  if (!res.ok) throw new Error(`fake ${kind} ${method} ${path}: ${res.status} ${JSON.stringify(json)}`);
  return json;
}

/** Requests the fake received for `account` (API key, or Twilio account SID). */
export const requestsOf = (kind: ProviderKind, account: string) => control<RecordedRequest[]>(kind, account, 'GET', '/requests');
/** The next `count` sends answer `status`, or (mode 'reset') lose their connection. */
export const failNext = (kind: ProviderKind, account: string, fault: { status?: number; count?: number; body?: unknown; mode?: 'reset' }) =>
  control(kind, account, 'POST', '/faults', fault);
/** Sends wait `ms` before the fake answers. */
export const holdSends = (kind: ProviderKind, account: string, ms: number) => control(kind, account, 'POST', '/hold', { ms });
