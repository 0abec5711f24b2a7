// Shapes shared by the owner API and the device wire protocol.
import { z } from 'zod';

/** Languages members receive notices in. */
export const MEMBER_LOCALES = ['en', 'th'] as const;
export const MemberLocale = z.enum(MEMBER_LOCALES).meta({ id: 'MemberLocale', description: 'Language of notices: en or th' });
export type MemberLocale = z.infer<typeof MemberLocale>;

export const MEMBER_STATUSES = ['active', 'suspended'] as const;
export const MemberStatus = z.enum(MEMBER_STATUSES).meta({ id: 'MemberStatus' });
export type MemberStatus = z.infer<typeof MemberStatus>;

/** Prefixed random ids (`mem_…`, `site_…`), so a pasted id says what it is. */
export const resourceId = (prefix: string) =>
  z.string().regex(new RegExp(`^${prefix}_[0-9a-z]{10,40}$`), `must be a ${prefix}_… id`);

export const Timestamp = z.iso.datetime({ offset: true }).meta({
  description: 'RFC 3339 timestamp',
  example: '2026-11-25T08:30:00.000Z',
});

export const isIanaTimeZone = (tz: string): boolean => {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
    return tz.length > 0;
  } catch {
    return false;
  }
};

export const TimeZone = z
  .string()
  .refine(isIanaTimeZone, 'must be an IANA time zone such as Asia/Bangkok')
  .meta({ description: 'IANA time zone name', example: 'Asia/Bangkok' });

export const ProblemFieldError = z.object({
  field: z.string().meta({ description: 'Dotted path of the offending field', example: 'email' }),
  reason: z.string(),
});

/** RFC 9457 problem details; `errors` names each field that was rejected and why. */
export const Problem = z
  .object({
    type: z.string(),
    title: z.string(),
    status: z.number().int(),
    detail: z.string().optional(),
    errors: z.array(ProblemFieldError).optional(),
  })
  .meta({ id: 'Problem' });
export type Problem = z.infer<typeof Problem>;

/** Turns zod issues into problem field errors. */
export const fieldErrors = (error: z.ZodError, prefix = ''): Array<{ field: string; reason: string }> =>
  error.issues.map((issue) => ({
    field: [prefix, ...issue.path.map(String)].filter(Boolean).join('.') || '(body)',
    reason: issue.message,
  }));
