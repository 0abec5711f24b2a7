import { ApiProblem } from '../lib/problem.ts';

/** A billing rule refused the request: 409 naming the field and the rule's reason. */
export const refused = (field: string, reason: string, detail: string) =>
  new ApiProblem(409, 'billing-refused', 'Refused by the billing rules', detail, [{ field, reason: `${reason}: ${detail}` }]);

/** The payment processor could not be reached or answered with an error. */
export const providerFailed = (detail: string) => new ApiProblem(502, 'payment-provider', 'The payment processor failed', detail);
