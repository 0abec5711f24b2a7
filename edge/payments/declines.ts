// Classification of declined card payments, shared by every provider.
//
// Card networks split declines into "never retry" codes, "retry later" codes and codes that mean
// the card data itself is unusable. Visa's "category 1" (issuer will never approve: pick-up card,
// lost, stolen, invalid or closed account, transaction not permitted, stop-payment and revocation
// orders) and Mastercard's merchant advice codes 03/21 ("do not try again", "payment cancellation")
// must not be retried: networks fine merchants who keep retrying them. Stripe reports these as the
// decline codes listed in HARD below and, when the issuer sends one, as `advice_code:
// do_not_try_again`.
//
// Deliberate choices:
// - `do_not_honor` is SOFT: it is the issuer's generic refusal (Visa category 2, "cannot approve
//   at this time"). It may be retried on the dunning schedule; the schedule's attempt cap keeps
//   retries within network limits.
// - `generic_decline`, `insufficient_funds`, `card_velocity_exceeded`, `processing_error`, … are
//   SOFT.
// - `expired_card`, wrong number/CVC/expiry, unsupported card or currency are CARD_UPDATE: the
//   same details will never work, but the member (or the account updater, which sends
//   `payment_method.automatically_updated`) can supply new ones, after which charging resumes.
// - `fraudulent` and `merchant_blacklist` (Stripe Radar or the gym's own block list) are HARD.
// - Unknown codes are SOFT: the capped retry schedule is the safe default.
// When the issuer's advice code and the decline code disagree, the stricter class wins.

import type { DeclineCategory } from './provider.ts';

export const HARD_DECLINE_CODES: ReadonlySet<string> = new Set([
  'pickup_card',
  'lost_card',
  'stolen_card',
  'restricted_card',
  'invalid_account',
  'transaction_not_allowed',
  'stop_payment_order',
  'revocation_of_authorization',
  'revocation_of_all_authorizations',
  'do_not_try_again',
  'fraudulent',
  'merchant_blacklist',
]);

export const CARD_UPDATE_CODES: ReadonlySet<string> = new Set([
  'expired_card',
  'incorrect_number',
  'invalid_number',
  'incorrect_cvc',
  'invalid_cvc',
  'invalid_expiry_month',
  'invalid_expiry_year',
  'invalid_expiry_date',
  'incorrect_zip',
  'card_not_supported',
  'currency_not_supported',
  'new_account_information_available',
]);

const SEVERITY: Record<DeclineCategory, number> = { soft: 0, card_update: 1, hard: 2 };

export interface DeclineSignals {
  /** Processor error code, e.g. `card_declined`, `expired_card`. */
  code?: string | null | undefined;
  /** Issuer decline code, e.g. `insufficient_funds`, `lost_card`. */
  declineCode?: string | null | undefined;
  /** Stripe's `advice_code`: `do_not_try_again`, `confirm_card_data`, `try_again_later`. */
  adviceCode?: string | null | undefined;
  /** Raw network advice, e.g. Mastercard merchant advice code `03`. */
  networkAdviceCode?: string | null | undefined;
}

function byCode(code: string | null | undefined): DeclineCategory {
  if (!code) return 'soft';
  if (HARD_DECLINE_CODES.has(code)) return 'hard';
  if (CARD_UPDATE_CODES.has(code)) return 'card_update';
  return 'soft';
}

function byAdvice(advice: string | null | undefined, networkAdvice: string | null | undefined): DeclineCategory {
  if (advice === 'do_not_try_again' || networkAdvice === '03' || networkAdvice === '21') return 'hard';
  if (advice === 'confirm_card_data' || networkAdvice === '01') return 'card_update';
  return 'soft';
}

export function classifyDecline(signals: DeclineSignals): DeclineCategory {
  const candidates: DeclineCategory[] = [byCode(signals.declineCode), byCode(signals.code), byAdvice(signals.adviceCode, signals.networkAdviceCode)];
  return candidates.reduce((worst, c) => (SEVERITY[c] > SEVERITY[worst] ? c : worst), 'soft');
}

/** Off-session charges that need the cardholder to authenticate (3-D Secure) report this code. */
export const AUTHENTICATION_REQUIRED = 'authentication_required';
