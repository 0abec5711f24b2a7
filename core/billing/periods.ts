// Billing periods on calendar dates. Dates are 'YYYY-MM-DD' in the organisation's time zone (the
// caller converts instants); a period runs from `start` (inclusive) to `end` (exclusive), so its
// length in days is end − start and consecutive periods share a boundary.
//
// Monthly and yearly boundaries are counted from the subscription's anchor date and clamped to
// the month's last day, always from the anchor's own day: anchor 31 Jan → 28 Feb (29 in a leap
// year) → 31 Mar → 30 Apr → 31 May. Weekly and four-weekly periods are 7 and 28 days.
import { z } from 'zod';

const DAY_MS = 86_400_000;

const isCalendarDate = (s: string): boolean => {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(s);
  if (!m) return false;
  const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
  return mo >= 1 && mo <= 12 && d >= 1 && d <= daysInMonth(y, mo);
};

export const CalendarDate = z
  .string()
  .refine(isCalendarDate, 'must be a calendar date YYYY-MM-DD')
  .meta({ id: 'CalendarDate', description: "Date in the organisation's time zone", example: '2026-01-31' });
export type CalendarDate = string;

export const BILLING_INTERVALS = ['weekly', 'four_weekly', 'monthly', 'yearly'] as const;
export const BillingInterval = z.enum(BILLING_INTERVALS).meta({ id: 'BillingInterval' });
export type BillingInterval = z.infer<typeof BillingInterval>;

export const Period = z
  .object({ start: CalendarDate, end: CalendarDate })
  .refine((p) => p.start < p.end, { message: 'a period ends after it starts', path: ['end'] })
  .meta({ id: 'BillingPeriod', description: 'From start (inclusive) to end (exclusive)' });
export type Period = { start: CalendarDate; end: CalendarDate };

export function daysInMonth(year: number, month: number): number {
  return new Date(Date.UTC(year, month, 0)).getUTCDate();
}

function parts(date: CalendarDate): { y: number; m: number; d: number } {
  if (!isCalendarDate(date)) throw new RangeError(`not a calendar date: ${date}`);
  return { y: Number(date.slice(0, 4)), m: Number(date.slice(5, 7)), d: Number(date.slice(8, 10)) };
}

const format = (y: number, m: number, d: number): CalendarDate =>
  `${String(y).padStart(4, '0')}-${String(m).padStart(2, '0')}-${String(d).padStart(2, '0')}`;

/** Days since 1970-01-01. */
export function toDayNumber(date: CalendarDate): number {
  const { y, m, d } = parts(date);
  return Date.UTC(y, m - 1, d) / DAY_MS;
}

export function fromDayNumber(day: number): CalendarDate {
  const t = new Date(day * DAY_MS);
  return format(t.getUTCFullYear(), t.getUTCMonth() + 1, t.getUTCDate());
}

export const addDays = (date: CalendarDate, days: number): CalendarDate => fromDayNumber(toDayNumber(date) + days);

/** Whole days from `from` to `to` (negative when `to` is earlier). */
export const daysBetween = (from: CalendarDate, to: CalendarDate): number => toDayNumber(to) - toDayNumber(from);

export const periodDays = (period: Period): number => daysBetween(period.start, period.end);

export const minDate = (a: CalendarDate, b: CalendarDate): CalendarDate => (a <= b ? a : b);
export const maxDate = (a: CalendarDate, b: CalendarDate): CalendarDate => (a >= b ? a : b);

/**
 * `months` calendar months after `date`, on `anchorDay` (default: the date's own day) clamped to
 * the last day of the target month.
 */
export function addMonths(date: CalendarDate, months: number, anchorDay?: number): CalendarDate {
  const { y, m, d } = parts(date);
  const index = y * 12 + (m - 1) + months;
  const year = Math.floor(index / 12);
  const month = index - year * 12 + 1;
  return format(year, month, Math.min(anchorDay ?? d, daysInMonth(year, month)));
}

/** Start of the `index`-th period counted from the anchor (index 0 starts on the anchor). */
export function periodBoundary(anchorDate: CalendarDate, interval: BillingInterval, index: number): CalendarDate {
  if (!Number.isSafeInteger(index)) throw new RangeError('period index must be an integer');
  switch (interval) {
    case 'weekly':
      return addDays(anchorDate, 7 * index);
    case 'four_weekly':
      return addDays(anchorDate, 28 * index);
    case 'monthly':
      return addMonths(anchorDate, index);
    case 'yearly':
      return addMonths(anchorDate, 12 * index);
  }
}

/** Index of the period containing `date` (negative before the anchor). */
export function periodIndex(anchorDate: CalendarDate, interval: BillingInterval, date: CalendarDate): number {
  switch (interval) {
    case 'weekly':
      return Math.floor(daysBetween(anchorDate, date) / 7);
    case 'four_weekly':
      return Math.floor(daysBetween(anchorDate, date) / 28);
    case 'monthly':
    case 'yearly': {
      const a = parts(anchorDate);
      const t = parts(date);
      const months = (t.y - a.y) * 12 + (t.m - a.m);
      const step = interval === 'monthly' ? 1 : 12;
      let index = Math.floor(months / step);
      // Clamping only ever moves a boundary earlier within its month, so at most one step back
      // or forward is needed.
      while (periodBoundary(anchorDate, interval, index) > date) index -= 1;
      while (periodBoundary(anchorDate, interval, index + 1) <= date) index += 1;
      return index;
    }
  }
}

export const periodAt = (anchorDate: CalendarDate, interval: BillingInterval, index: number): Period => ({
  start: periodBoundary(anchorDate, interval, index),
  end: periodBoundary(anchorDate, interval, index + 1),
});

/** The billing period that contains `date`. */
export const periodContaining = (anchorDate: CalendarDate, date: CalendarDate, interval: BillingInterval): Period =>
  periodAt(anchorDate, interval, periodIndex(anchorDate, interval, date));

/**
 * The period that follows the one starting at (or containing) `periodStart`:
 * nextPeriod('2026-01-31', '2026-01-31', 'monthly') → 2026-02-28 … 2026-03-31;
 * nextPeriod('2026-01-31', '2026-02-28', 'monthly') → 2026-03-31 … 2026-04-30.
 */
export const nextPeriod = (anchorDate: CalendarDate, periodStart: CalendarDate, interval: BillingInterval): Period =>
  periodAt(anchorDate, interval, periodIndex(anchorDate, interval, periodStart) + 1);

export const inPeriod = (period: Period, date: CalendarDate): boolean => period.start <= date && date < period.end;
