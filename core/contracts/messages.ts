// Plain reasons for zod's own messages ("Invalid input: expected string, received undefined"
// becomes "required"), for the field errors people read in API problems and on pages. Messages a
// schema sets itself always win; this only replaces zod's defaults.
import { z } from 'zod';

const KIND: Record<string, string> = {
  string: 'a string',
  number: 'a number',
  int: 'a whole number',
  bigint: 'a whole number',
  boolean: 'true or false',
  object: 'an object',
  array: 'a list',
  date: 'a date',
  null: 'null',
};

const FORMAT: Record<string, string> = {
  email: 'an email address',
  url: 'a URL',
  uuid: 'a UUID',
  datetime: 'a date and time such as 2026-12-07T10:00:00+07:00',
  date: 'a date such as 2026-12-07',
  time: 'a time such as 10:00',
  e164: 'a phone number in international form such as +66812345678',
};

const shown = (v: unknown) => (typeof v === 'string' ? v : JSON.stringify(v));

/** A plain reason for one of zod's issues, or undefined to keep zod's. */
export function plainMessage(issue: z.core.$ZodRawIssue): string | undefined {
  switch (issue.code) {
    case 'invalid_type':
      if (issue.input === undefined) return 'required';
      return `must be ${KIND[issue.expected] ?? issue.expected}`;
    case 'invalid_value':
      return issue.values.length === 1 ? `must be ${shown(issue.values[0])}` : `must be one of: ${issue.values.map(shown).join(', ')}`;
    case 'too_small': {
      const min = Number(issue.minimum);
      if (issue.origin === 'string') return min <= 1 ? 'must not be empty' : `must be at least ${min} characters`;
      if (issue.origin === 'array' || issue.origin === 'set') return `must have at least ${min} item${min === 1 ? '' : 's'}`;
      return issue.inclusive === false ? `must be more than ${min}` : `must be at least ${min}`;
    }
    case 'too_big': {
      const max = Number(issue.maximum);
      if (issue.origin === 'string') return `must be at most ${max} characters`;
      if (issue.origin === 'array' || issue.origin === 'set') return `must have at most ${max} items`;
      return issue.inclusive === false ? `must be less than ${max}` : `must be at most ${max}`;
    }
    case 'invalid_format':
      return FORMAT[issue.format] ? `must be ${FORMAT[issue.format]}` : 'has the wrong format';
    case 'not_multiple_of':
      return `must be a multiple of ${shown(issue.divisor)}`;
    case 'unrecognized_keys':
      return `unknown field${issue.keys.length === 1 ? '' : 's'}: ${issue.keys.join(', ')}`;
    default:
      return undefined;
  }
}

/** Makes plainMessage zod's default for this process (the Worker calls it once). */
export const usePlainMessages = () => z.config({ customError: (issue) => plainMessage(issue) });
