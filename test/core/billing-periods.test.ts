import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  addDays,
  addMonths,
  BILLING_INTERVALS,
  CalendarDate,
  daysBetween,
  fromDayNumber,
  nextPeriod,
  periodBoundary,
  periodContaining,
  periodDays,
  toDayNumber,
} from '../../core/billing/periods.ts';
import { prorateChange, type PlanPrice } from '../../core/billing/proration.ts';
import { computeDraftInvoice } from '../../core/billing/invoice.ts';
import type { TaxRate } from '../../core/billing/tax.ts';

const VAT7: TaxRate = { name: 'VAT 7%', basisPoints: 700, mode: 'inclusive' };
const BASIC: PlanPrice = { planId: 'plan_basic', name: 'Basic', unitAmount: 129000, quantity: 1, taxRate: VAT7 };
const PREMIUM: PlanPrice = { planId: 'plan_premium', name: 'Premium', unitAmount: 199000, quantity: 1, taxRate: VAT7 };
const MARCH = { start: '2026-03-01', end: '2026-04-01' };

describe('calendar dates', () => {
  it('validates YYYY-MM-DD', () => {
    expect(CalendarDate.safeParse('2028-02-29').success).toBe(true);
    expect(CalendarDate.safeParse('2026-02-29').success).toBe(false);
    expect(CalendarDate.safeParse('2026-13-01').success).toBe(false);
    expect(CalendarDate.safeParse('2026-1-01').success).toBe(false);
  });

  it('counts days and months', () => {
    expect(daysBetween('2026-03-15', '2026-04-01')).toBe(17);
    expect(addDays('2026-12-30', 3)).toBe('2027-01-02');
    expect(addMonths('2026-01-31', 1)).toBe('2026-02-28');
    expect(addMonths('2026-03-31', -1)).toBe('2026-02-28');
    expect(addMonths('2026-11-30', 3)).toBe('2027-02-28');
    expect(fromDayNumber(toDayNumber('2026-06-15'))).toBe('2026-06-15');
  });
});

describe('billing periods', () => {
  it('clamps month ends from the original anchor day: 31 Jan → 28 Feb → 31 Mar → 30 Apr', () => {
    const anchor = '2026-01-31';
    expect(nextPeriod(anchor, anchor, 'monthly')).toEqual({ start: '2026-02-28', end: '2026-03-31' });
    expect(nextPeriod(anchor, '2026-02-28', 'monthly')).toEqual({ start: '2026-03-31', end: '2026-04-30' });
    expect(nextPeriod(anchor, '2026-03-31', 'monthly')).toEqual({ start: '2026-04-30', end: '2026-05-31' });
    expect(periodBoundary(anchor, 'monthly', 25)).toBe('2028-02-29'); // leap year
    expect(periodBoundary(anchor, 'monthly', 26)).toBe('2028-03-31');
  });

  it('finds the period containing a date, with day counts', () => {
    const p = periodContaining('2026-01-31', '2026-03-15', 'monthly');
    expect(p).toEqual({ start: '2026-02-28', end: '2026-03-31' });
    expect(periodDays(p)).toBe(31);
    expect(periodContaining('2026-01-31', '2026-03-31', 'monthly')).toEqual({ start: '2026-03-31', end: '2026-04-30' });
    expect(periodContaining('2026-01-31', '2026-01-15', 'monthly')).toEqual({ start: '2025-12-31', end: '2026-01-31' });
  });

  it('runs weekly, four-weekly and yearly periods (29 Feb anchors clamp in common years)', () => {
    expect(periodContaining('2026-03-02', '2026-03-10', 'weekly')).toEqual({ start: '2026-03-09', end: '2026-03-16' });
    expect(nextPeriod('2026-03-02', '2026-03-02', 'four_weekly')).toEqual({ start: '2026-03-30', end: '2026-04-27' });
    expect(nextPeriod('2024-02-29', '2024-02-29', 'yearly')).toEqual({ start: '2025-02-28', end: '2026-02-28' });
    expect(periodBoundary('2024-02-29', 'yearly', 4)).toBe('2028-02-29');
    expect(periodContaining('2024-02-29', '2026-02-27', 'yearly')).toEqual({ start: '2025-02-28', end: '2026-02-28' });
  });

  it('tiles time: periods are contiguous and contain their dates', () => {
    const date = fc.integer({ min: toDayNumber('2000-01-01'), max: toDayNumber('2100-12-31') }).map(fromDayNumber);
    fc.assert(
      fc.property(date, date, fc.constantFrom(...BILLING_INTERVALS), (anchor, day, interval) => {
        const p = periodContaining(anchor, day, interval);
        expect(p.start <= day && day < p.end).toBe(true);
        const next = nextPeriod(anchor, p.start, interval);
        expect(next.start).toBe(p.end);
        expect(nextPeriod(anchor, day, interval)).toEqual(next);
        const days = periodDays(p);
        const expected = { weekly: [7, 7], four_weekly: [28, 28], monthly: [28, 31], yearly: [365, 366] }[interval];
        expect(days).toBeGreaterThanOrEqual(expected[0]!);
        expect(days).toBeLessThanOrEqual(expected[1]!);
      }),
    );
  });
});

describe('proration by whole days', () => {
  it('upgrade mid-period: credits unused Basic, charges remaining Premium, invoiced now', () => {
    const r = prorateChange({ period: MARCH, changeDate: '2026-03-15', from: BASIC, to: PREMIUM });
    expect(r).toMatchObject({ ok: true, direction: 'upgrade', settlement: 'invoice_now', netGross: 38387, fraction: { days: 17, periodDays: 31 } });
    if (!r.ok) return;
    // 129000 × 17 / 31 = 70741.94 → 70742; 199000 × 17 / 31 = 109129.03 → 109129
    expect(r.lines.map((l) => [l.side, l.amount, l.description])).toEqual([
      ['credit_unused', -70742, 'Unused time on Basic (17 of 31 days from 2026-03-15)'],
      ['charge_remaining', 109129, 'Remaining time on Premium (17 of 31 days from 2026-03-15)'],
    ]);
    const inv = computeDraftInvoice({ currency: 'THB', period: null, plan: null, prorations: r.lines });
    expect(inv.ok).toBe(true);
    if (!inv.ok) return;
    expect(inv.invoice.lines.map((l) => [l.net, l.tax, l.total])).toEqual([
      [-66114, -4628, -70742],
      [101990, 7139, 109129],
    ]);
    expect(inv.invoice).toMatchObject({ subtotal: 35876, tax: 2511, total: 38387, amountDue: 38387 });
  });

  it('downgrade mid-period: the net credit carries to the next invoice', () => {
    const r = prorateChange({ period: MARCH, changeDate: '2026-03-15', from: PREMIUM, to: BASIC });
    expect(r).toMatchObject({ ok: true, direction: 'downgrade', settlement: 'next_invoice', netGross: -38387 });
    if (!r.ok) return;
    const april = computeDraftInvoice({ currency: 'THB', period: { start: '2026-04-01', end: '2026-05-01' }, plan: BASIC, prorations: r.lines });
    expect(april.ok && april.invoice).toMatchObject({ subtotal: 84685, tax: 5928, total: 90613, amountDue: 90613 });
  });

  it('a change on the first day swaps the full prices; on another day of a 28-day February, by 28ths', () => {
    const r = prorateChange({ period: MARCH, changeDate: '2026-03-01', from: BASIC, to: PREMIUM });
    expect(r.ok && r.lines.map((l) => l.amount)).toEqual([-129000, 199000]);
    const feb = prorateChange({ period: { start: '2026-02-01', end: '2026-03-01' }, changeDate: '2026-02-27', from: BASIC, to: PREMIUM });
    expect(feb.ok && feb.lines.map((l) => [l.amount, l.fraction])).toEqual([
      [-9214, { days: 2, periodDays: 28 }], // 9214.29
      [14214, { days: 2, periodDays: 28 }], // 14214.29
    ]);
  });

  it('refuses a change date outside the period', () => {
    expect(prorateChange({ period: MARCH, changeDate: '2026-04-01', from: BASIC, to: PREMIUM })).toMatchObject({ ok: false, reason: 'outside_period' });
  });
});
