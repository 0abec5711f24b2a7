// Stripe webhook signatures, verified with Web Crypto (Workers have no Node crypto): a delivery is
// acted on only if Stripe signed exactly this body, recently.
import Stripe from 'stripe';


export type WebhookFailureReason =
  /** No Stripe-Signature header. */
  | 'missing_signature'
  /** The header has no timestamp or no v1 signature. */
  | 'malformed_signature'
  /** No v1 signature matches the body and secret (tampered body, wrong secret). */
  | 'bad_signature'
  /** Correctly signed, but the timestamp is older than the tolerance (a replay). */
  | 'too_old'
  /** Correctly signed, but the body is not a Stripe event. */
  | 'malformed_payload'
  /** No webhook secret configured. */
  | 'configuration';

export class WebhookVerificationError extends Error {
  override readonly name = 'WebhookVerificationError';
  constructor(
    readonly reason: WebhookFailureReason,
    message: string,
  ) {
    super(message);
  }
}

export type WebhookVerification = { ok: true; event: Stripe.Event } | { ok: false; error: WebhookVerificationError };

export interface VerifyOptions {
  /** Maximum age of the signature timestamp, seconds; Stripe's default is 300. */
  toleranceSeconds?: number;
  /** Time of receipt in milliseconds (tests); defaults to the clock. */
  receivedAtMs?: number;
}

const cryptoProvider = Stripe.createSubtleCryptoProvider();

/**
 * Verifies a webhook delivery. `rawBody` must be the exact bytes received (read the request with
 * `await request.text()` before any JSON parsing); `secret` is the endpoint's signing secret
 * (STRIPE_WEBHOOK_SECRET, whsec_…).
 */
export async function verifyStripeWebhook(
  rawBody: string | Uint8Array,
  signatureHeader: string | null | undefined,
  secret: string | undefined,
  options: VerifyOptions = {},
): Promise<WebhookVerification> {
  const failure = (reason: WebhookFailureReason, message: string): WebhookVerification => ({ ok: false, error: new WebhookVerificationError(reason, message) });
  if (!secret) return failure('configuration', 'STRIPE_WEBHOOK_SECRET is not set');
  if (!signatureHeader) return failure('missing_signature', 'the Stripe-Signature header is missing');
  const parts = signatureHeader.split(',').map((p) => p.trim());
  if (!parts.some((p) => /^t=\d+$/.test(p)) || !parts.some((p) => /^v1=[0-9a-f]+$/i.test(p))) {
    return failure('malformed_signature', 'the Stripe-Signature header has no timestamp or no v1 signature');
  }
  let event: Stripe.Event;
  try {
    event = await Stripe.webhooks.constructEventAsync(rawBody, signatureHeader, secret, options.toleranceSeconds, cryptoProvider, options.receivedAtMs);
  } catch (error) {
    const type = (error as { type?: unknown } | null)?.type;
    const message = error instanceof Error ? error.message : String(error);
    if (type === 'StripeSignatureVerificationError') {
      if (message.includes('tolerance zone')) return failure('too_old', 'the signature timestamp is outside the tolerance window');
      if (message.includes('Unable to extract') || message.includes('expected scheme')) return failure('malformed_signature', 'the Stripe-Signature header cannot be read');
      return failure('bad_signature', 'no signature matches the payload');
    }
    return failure('malformed_payload', 'the signed payload is not valid JSON');
  }
  // A correctly signed body can still be `null`, a number or an array: only an event object goes on.
  const candidate = event as unknown as { id?: unknown; type?: unknown; created?: unknown; data?: { object?: unknown } } | null;
  if (candidate === null || typeof candidate !== 'object' || Array.isArray(candidate) || typeof candidate.id !== 'string' || typeof candidate.type !== 'string' || typeof candidate.created !== 'number' || typeof candidate.data?.object !== 'object' || candidate.data.object === null) {
    return failure('malformed_payload', 'the signed payload is not a Stripe event');
  }
  return { ok: true, event };
}
