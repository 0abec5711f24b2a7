// Maps the state of a payment intent after an off-session confirmation to a ChargeOutcome. Used by
// the Stripe adapter and the simulated processor so both report declines the same way.
import { AUTHENTICATION_REQUIRED, classifyDecline } from './declines.ts';
import type { ChargeOutcome } from './provider.ts';

export interface PaymentError {
  code?: string | null | undefined;
  declineCode?: string | null | undefined;
  message?: string | null | undefined;
  adviceCode?: string | null | undefined;
  networkAdviceCode?: string | null | undefined;
}

export interface IntentSnapshot {
  id: string;
  /** Stripe's payment intent status. */
  status: string;
  chargeId?: string | null | undefined;
  clientSecret?: string | null | undefined;
  /** The card error returned with the confirmation, or the intent's last_payment_error. */
  error?: PaymentError | null | undefined;
}

export function outcomeFromSnapshot(intent: IntentSnapshot): ChargeOutcome {
  const base = { paymentIntentId: intent.id, ...(intent.chargeId ? { chargeId: intent.chargeId } : {}) };
  const code = intent.error?.code || undefined;
  const declineCode = intent.error?.declineCode || undefined;
  const message = intent.error?.message || undefined;

  if (intent.status === 'succeeded') return { ...base, status: 'succeeded', hardDecline: false };
  // requires_capture only happens with manual capture, which gymgate does not use; money is held.
  if (intent.status === 'processing' || intent.status === 'requires_capture') return { ...base, status: 'processing', hardDecline: false };
  // Off-session confirmations that need 3-D Secure fail with authentication_required and leave the
  // intent in requires_payment_method; the member can authenticate the same intent on-session.
  const needsAuthentication = intent.status === 'requires_action' || code === AUTHENTICATION_REQUIRED || declineCode === AUTHENTICATION_REQUIRED;
  if (needsAuthentication && intent.status !== 'canceled') {
    return {
      ...base,
      status: 'requires_action',
      hardDecline: false,
      declineCode: declineCode ?? code ?? AUTHENTICATION_REQUIRED,
      ...(code ? { failureCode: code } : {}),
      ...(message ? { failureMessage: message } : {}),
      ...(intent.clientSecret ? { clientSecret: intent.clientSecret } : {}),
    };
  }
  const category = classifyDecline({ code, declineCode, adviceCode: intent.error?.adviceCode, networkAdviceCode: intent.error?.networkAdviceCode });
  const failureCode = code ?? (intent.status === 'canceled' ? 'canceled' : 'payment_failed');
  return {
    ...base,
    status: 'failed',
    declineCategory: category,
    hardDecline: category === 'hard',
    declineCode: declineCode ?? failureCode,
    failureCode,
    failureMessage: message ?? (intent.status === 'canceled' ? 'The payment was canceled.' : `The payment ended in status ${intent.status}.`),
  };
}
