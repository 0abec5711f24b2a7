// Helpers for tests that run inside workerd and talk to the fake Stripe API started by
// test/edge/stripe-fake/global-setup.ts. Every test gets its own API key, which the fake treats as a separate
// account (objects, idempotency keys, request log and events).
import { inject } from 'vitest';
import { createStripeProvider, parseApiBase, type StripeProviderConfig } from '../../../edge/payments/stripe.ts';

export type RecordedRequest = {
  method: string;
  path: string;
  idempotencyKey: string | null;
  stripeVersion: string | null;
  params: Record<string, any>;
  status: number;
  replayed: boolean;
};

export function fakeStripeUrl(): string {
  return inject('stripeFakeUrl');
}

export function newTestKey(label = 'gymgate'): string {
  return `sk_test_${label.replace(/[^A-Za-z0-9]/g, '')}_${crypto.randomUUID().replace(/-/g, '')}`;
}

export function stripeProviderFor(secretKey: string, overrides: Partial<StripeProviderConfig> = {}) {
  return createStripeProvider({ secretKey, ...parseApiBase(fakeStripeUrl()), maxNetworkRetries: 0, ...overrides });
}

/** Calls one of the fake's test-only endpoints (/__fake/…) for the account of `secretKey`. */
export async function fakeControl<T = any>(secretKey: string, method: string, path: string, body?: unknown): Promise<T> {
  const res = await fetch(`${fakeStripeUrl()}/__fake${path}`, {
    method,
    headers: { authorization: `Bearer ${secretKey}`, 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const json = (await res.json()) as T;
  if (!res.ok) throw new Error(`fake control ${method} ${path}: ${res.status} ${JSON.stringify(json)}`);
  return json;
}

export const fakeRequests = (secretKey: string) => fakeControl<RecordedRequest[]>(secretKey, 'GET', '/requests');
export const fakeEvents = (secretKey: string) => fakeControl<any[]>(secretKey, 'GET', '/events');
export const injectFault = (
  secretKey: string,
  fault: { path: string; status: number; method?: string; count?: number; error?: Record<string, unknown>; headers?: Record<string, string>; mode?: 'reset' },
) => fakeControl(secretKey, 'POST', '/faults', fault);
