// Member sign-in: a member of a gym signs in to their own data with a link sent to their email or
// a 6-digit code sent by SMS (both through the notification outbox), and holds a member session
// that reaches only /v1/me/*: never a staff route, as a staff session never reaches /v1/me.
import { z } from 'zod';
import { MemberId, OrganisationId, phone } from './api.ts';
import { resourceId, Timestamp } from './common.ts';

export const MemberSessionId = resourceId('msn');

export const MemberSignInStart = z
  .object({
    organisationId: OrganisationId,
    email: z.email('must be an email address').max(320).optional().meta({ description: 'Sends a sign-in link to this address' }),
    phone: phone.optional().meta({ description: 'Sends a 6-digit code by SMS to this number' }),
  })
  .refine((b) => (b.email === undefined) !== (b.phone === undefined), { message: 'give either email or phone', path: ['email'] })
  .meta({ id: 'MemberSignInStart' });

export const MemberSignInStarted = z
  .object({
    channel: z.enum(['email', 'sms']),
    expiresAt: Timestamp.meta({ description: 'When the link or code stops working' }),
  })
  .meta({
    id: 'MemberSignInStarted',
    description: 'Answered the same whether or not the gym has a member with that address, so it says nothing about who is a member',
  });

export const MemberCodeVerify = z
  .object({ organisationId: OrganisationId, phone, code: z.string().trim().regex(/^\d{6}$/, 'must be the 6-digit code from the SMS') })
  .meta({ id: 'MemberCodeVerify' });

export const MemberLinkUse = z.object({ token: z.string().min(1).max(200) }).meta({ id: 'MemberLinkUse' });

export const MemberSession = z
  .object({
    id: MemberSessionId,
    member: z.object({ id: MemberId, name: z.string(), email: z.string().nullable(), phone: z.string().nullable() }),
    organisation: z.object({ id: OrganisationId, name: z.string() }),
    csrfToken: z.string().meta({ description: 'Send as X-CSRF-Token with writes made with the member session cookie' }),
    expiresAt: Timestamp,
  })
  .meta({ id: 'MemberSession' });

export const MemberInvoice = z
  .object({
    id: z.string(),
    number: z.string().nullable(),
    status: z.enum(['open', 'paid', 'void', 'uncollectible']),
    currency: z.string(),
    total: z.number().int(),
    amountRemaining: z.number().int(),
    periodStart: z.string().nullable(),
    periodEnd: z.string().nullable(),
    issuedAt: Timestamp.nullable(),
  })
  .meta({ id: 'MemberInvoice', description: 'An invoice the member pays: their own membership, and their family members’ on a subscription they pay for' });
