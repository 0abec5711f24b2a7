// A processor that answers 429 (too many requests) is asked again within the same invocation:
// the invoice and its pending payment are already written, so each try is little more than the
// charge, with the same idempotency key, and waiting here costs no queue attempt. The wait is
// short (processors count their limits per second, so a slot frees within the second) and
// jittered, so waiting charges do not all come back in the same instant.
import { isPaymentProviderError } from '../payments/index.ts';

export const RATE_LIMITED_WAIT_MS = 100;
export const RATE_LIMITED_TRIES = 40;

export const isRateLimited = (error: unknown) => isPaymentProviderError(error) && error.kind === 'rate_limited';

export const rateLimitWait = () => new Promise((resolve) => setTimeout(resolve, RATE_LIMITED_WAIT_MS * (1 + Math.random())));

/** Runs `attempt` again while it fails with a 429, up to RATE_LIMITED_TRIES times; then the last 429 is thrown. */
export async function withRateLimitRetries<T>(attempt: () => Promise<T>): Promise<T> {
  for (let tries = 1; ; tries++) {
    try {
      return await attempt();
    } catch (error) {
      if (!isRateLimited(error) || tries >= RATE_LIMITED_TRIES) throw error;
      await rateLimitWait();
    }
  }
}
