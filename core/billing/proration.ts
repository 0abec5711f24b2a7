// A plan change in the middle of a paid period. The member gets back the unused whole days of the
// old price and pays for the same days at the new price:
//   credit = −round(oldAmount × daysLeft / periodDays)
//   charge =  round(newAmount × daysLeft / periodDays)
// each rounded on its own, half away from zero to the minor unit (tax is then computed per line,
// see tax.ts). daysLeft counts from the change date (inclusive) to the period end (exclusive):
// the change day itself is charged at the new price.
//
// An upgrade (the lines add up to more than zero) is invoiced now; a downgrade's net credit is
// carried to the next invoice as pending lines (and, if it exceeds that invoice, to the member's
// credit balance).
import { z } from 'zod';
import { assertMinorUnits, mulDivRound } from './money.ts';
import { CalendarDate, daysBetween, inPeriod, Period, periodDays } from './periods.ts';
import { refuse, type Outcome } from './result.ts';
import { lineTax, TaxRate } from './tax.ts';

export const PlanPrice = z
  .object({
    planId: z.string().min(1),
    name: z.string().min(1).max(200),
    /** Price per period per unit, in minor units, as priced (gross if the tax is inclusive). */
    unitAmount: z.number().int().min(0),
    quantity: z.number().int().min(1).max(1000),
    taxRate: TaxRate.nullable(),
  })
  .meta({ id: 'PlanPrice' });
export type PlanPrice = z.infer<typeof PlanPrice>;

export const planAmount = (price: PlanPrice): number => assertMinorUnits(price.unitAmount * price.quantity, 'plan amount');

export const DayFraction = z
  .object({ days: z.number().int().min(0), periodDays: z.number().int().min(1) })
  .meta({ id: 'DayFraction', description: 'days / periodDays of the period were prorated' });
export type DayFraction = z.infer<typeof DayFraction>;

export const ProrationLine = z
  .object({
    kind: z.literal('proration'),
    side: z.enum(['credit_unused', 'charge_remaining']),
    planId: z.string(),
    description: z.string(),
    /** Signed: negative for the credit of unused time. */
    amount: z.number().int(),
    taxRate: TaxRate.nullable(),
    period: Period,
    fraction: DayFraction,
  })
  .meta({ id: 'ProrationLine' });
export type ProrationLine = z.infer<typeof ProrationLine>;

export type ProrationResult = {
  lines: ProrationLine[];
  fraction: DayFraction;
  /** Sum of the lines including tax: positive for an upgrade, negative for a downgrade. */
  netGross: number;
  direction: 'upgrade' | 'downgrade' | 'same_price';
  /** Upgrades are invoiced at once; downgrade credits wait for the next invoice. */
  settlement: 'invoice_now' | 'next_invoice';
};

export type ProrationRefusal = 'outside_period';

export type ProrationInput = {
  /** The current, paid period of the subscription. */
  period: Period;
  /** First day on the new plan. */
  changeDate: CalendarDate;
  from: PlanPrice;
  to: PlanPrice;
};

export function prorateChange(input: ProrationInput): Outcome<ProrationResult, ProrationRefusal> {
  const { period, changeDate, from, to } = input;
  if (!inPeriod(period, changeDate)) {
    return refuse('outside_period', `${changeDate} is not within the period ${period.start} to ${period.end}`);
  }
  const total = periodDays(period);
  const days = daysBetween(changeDate, period.end);
  const fraction: DayFraction = { days, periodDays: total };
  const span: Period = { start: changeDate, end: period.end };
  const qty = (p: PlanPrice) => (p.quantity > 1 ? ` × ${p.quantity}` : '');

  const credit = 0 - mulDivRound(planAmount(from), days, total);
  const charge = mulDivRound(planAmount(to), days, total);
  const lines: ProrationLine[] = [];
  if (credit !== 0) {
    lines.push({
      kind: 'proration',
      side: 'credit_unused',
      planId: from.planId,
      description: `Unused time on ${from.name}${qty(from)} (${days} of ${total} days from ${changeDate})`,
      amount: credit,
      taxRate: from.taxRate,
      period: span,
      fraction,
    });
  }
  if (charge !== 0) {
    lines.push({
      kind: 'proration',
      side: 'charge_remaining',
      planId: to.planId,
      description: `Remaining time on ${to.name}${qty(to)} (${days} of ${total} days from ${changeDate})`,
      amount: charge,
      taxRate: to.taxRate,
      period: span,
      fraction,
    });
  }
  const netGross = lines.reduce((sum, l) => sum + lineTax(l.amount, l.taxRate).gross, 0);
  const direction = netGross > 0 ? 'upgrade' : netGross < 0 ? 'downgrade' : 'same_price';
  return { ok: true, lines, fraction, netGross, direction, settlement: direction === 'upgrade' ? 'invoice_now' : 'next_invoice' };
}
