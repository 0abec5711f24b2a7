// Sales tax / VAT on one invoice line.
//
// Rounding rule (stated once, used everywhere): tax is computed per line, on the line amount
// (quantity × unit amount), and rounded half away from zero to the currency's minor unit. Invoice
// tax is the sum of the line taxes; it is never recomputed on the invoice subtotal.
//   inclusive (prices include tax, e.g. Thai VAT on a posted price):
//     tax = round(gross × rate / (1 + rate)),  net = gross − tax
//   exclusive (tax added on top, e.g. US sales tax):
//     tax = round(net × rate),                 gross = net + tax
// with rate = basisPoints / 10 000, evaluated exactly in integers:
//   inclusive: round(gross × bp / (10 000 + bp)); exclusive: round(net × bp / 10 000).
// Example: THB 1,990.00 inclusive 7 % → tax 130.19 (199000 × 700 / 10700 = 13018.69… → 13019),
// net 1,859.81. Negative lines (credits) round symmetrically: tax(−x) = −tax(x).
import { z } from 'zod';
import { assertMinorUnits, mulDivRound } from './money.ts';

export const TAX_MODES = ['inclusive', 'exclusive'] as const;
export const TaxMode = z.enum(TAX_MODES).meta({
  id: 'TaxMode',
  description: 'inclusive: the price already contains the tax; exclusive: the tax is added on top',
});
export type TaxMode = z.infer<typeof TaxMode>;

export const TaxRate = z
  .object({
    /** Short label printed on receipts, e.g. "VAT 7%". */
    name: z.string().min(1).max(60),
    /** 7 % = 700. */
    basisPoints: z.number().int().min(0).max(10_000),
    mode: TaxMode,
  })
  .meta({ id: 'TaxRate', description: 'A tax rate in basis points (7 % = 700), inclusive or exclusive of the price' });
export type TaxRate = z.infer<typeof TaxRate>;

export type LineTax = {
  /** Amount before tax. */
  net: number;
  tax: number;
  /** Amount including tax: what the member pays for the line. */
  gross: number;
};

/**
 * Splits a line amount into net, tax and gross. `amount` is the line amount as priced: the gross
 * for an inclusive rate, the net for an exclusive one; with no rate it is all net.
 */
export function lineTax(priced: number, rate: TaxRate | null): LineTax {
  const amount = assertMinorUnits(priced, 'line amount') + 0; // no −0

  if (rate === null || rate.basisPoints === 0) return { net: amount, tax: 0, gross: amount };
  if (rate.mode === 'inclusive') {
    const tax = mulDivRound(amount, rate.basisPoints, 10_000 + rate.basisPoints);
    return { net: amount - tax, tax, gross: amount };
  }
  const tax = mulDivRound(amount, rate.basisPoints, 10_000);
  return { net: amount, tax, gross: assertMinorUnits(amount + tax, 'gross') };
}

export const formatBasisPoints = (basisPoints: number): string => {
  const whole = Math.trunc(basisPoints / 100);
  const rest = basisPoints % 100;
  return rest === 0 ? `${whole}%` : `${whole}.${String(rest).padStart(2, '0').replace(/0$/, '')}%`;
};
