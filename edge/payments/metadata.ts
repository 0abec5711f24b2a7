// Metadata that gymgate writes on the processor's objects. Keys carry a `gymgate_` prefix so they
// cannot clash with other integrations on the same Stripe account, and webhooks can tell gymgate's
// payment intents from foreign ones.

export const META = {
  organisationId: 'gymgate_organisation_id',
  invoiceId: 'gymgate_invoice_id',
  attempt: 'gymgate_attempt',
  memberId: 'gymgate_member_id',
  /** 'off_session' (saved card charged by billing) or 'pay_now' (member pays on a page). */
  flow: 'gymgate_flow',
} as const;

export type PaymentFlow = 'off_session' | 'pay_now';

export function paymentMetadata(flow: PaymentFlow, m: { invoiceId: string; organisationId: string; attempt?: number | undefined }): Record<string, string> {
  const out: Record<string, string> = {
    [META.organisationId]: m.organisationId,
    [META.invoiceId]: m.invoiceId,
    [META.flow]: flow,
  };
  if (m.attempt !== undefined) out[META.attempt] = String(m.attempt);
  return out;
}

export function ownerMetadata(m: { memberId?: string | undefined; organisationId?: string | undefined }): Record<string, string> {
  const out: Record<string, string> = {};
  if (m.memberId) out[META.memberId] = m.memberId;
  if (m.organisationId) out[META.organisationId] = m.organisationId;
  return out;
}

export type GymgatePaymentRef = { organisationId: string; invoiceId: string; attempt: number | null; flow: PaymentFlow | null };

/** The gymgate references on a payment intent or charge, or null when it is not gymgate's. */
export function readPaymentMetadata(metadata: Record<string, string> | null | undefined): GymgatePaymentRef | null {
  const organisationId = metadata?.[META.organisationId];
  const invoiceId = metadata?.[META.invoiceId];
  if (!organisationId || !invoiceId) return null;
  const attemptText = metadata[META.attempt];
  const attempt = attemptText !== undefined && /^\d+$/.test(attemptText) ? Number(attemptText) : null;
  const flowText = metadata[META.flow];
  const flow = flowText === 'off_session' || flowText === 'pay_now' ? flowText : null;
  return { organisationId, invoiceId, attempt, flow };
}
