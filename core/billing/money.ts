// Money as integer minor units of one ISO 4217 currency. Amounts never pass through floating
// point: arithmetic is on safe integers, rounding of ratios is done exactly with BigInt, and
// formatting hands Intl an exact decimal string.
import { z } from 'zod';

/** Minor-unit exponent per supported currency (2 = cents/satang, 0 = zero-decimal). */
export const CURRENCY_EXPONENTS = {
  THB: 2,
  USD: 2,
  EUR: 2,
  GBP: 2,
  SGD: 2,
  AUD: 2,
  JPY: 0,
  KRW: 0,
  VND: 0,
} as const;

export const CURRENCIES = Object.keys(CURRENCY_EXPONENTS) as Array<keyof typeof CURRENCY_EXPONENTS>;
export const Currency = z
  .enum(CURRENCIES as [keyof typeof CURRENCY_EXPONENTS, ...Array<keyof typeof CURRENCY_EXPONENTS>])
  .meta({ id: 'Currency', description: 'ISO 4217 currency code; JPY, KRW and VND have no minor unit' });
export type Currency = z.infer<typeof Currency>;

/** A signed amount in minor units (satang, cents; yen for JPY). Always a safe integer. */
export const MinorUnits = z
  .number()
  .int()
  .min(Number.MIN_SAFE_INTEGER)
  .max(Number.MAX_SAFE_INTEGER)
  .meta({ id: 'MinorUnits', description: 'Amount in the minor unit of the currency (THB 1,990.00 = 199000; JPY 1,990 = 1990)' });

export const Money = z.object({ amount: MinorUnits, currency: Currency }).meta({ id: 'Money' });
export type Money = z.infer<typeof Money>;

export const minorUnitExponent = (currency: Currency): number => CURRENCY_EXPONENTS[currency];

export const isCurrency = (code: string): code is Currency => Object.hasOwn(CURRENCY_EXPONENTS, code);

/** Throws unless `n` is a safe integer: every amount in billing is, so anything else is a bug. */
export function assertMinorUnits(n: number, what = 'amount'): number {
  if (!Number.isSafeInteger(n)) throw new RangeError(`${what} must be a safe integer number of minor units, got ${n}`);
  return n;
}

export const money = (amount: number, currency: Currency): Money => ({ amount: assertMinorUnits(amount), currency });

export class CurrencyMismatchError extends Error {
  constructor(
    readonly left: Currency,
    readonly right: Currency,
  ) {
    super(`cannot combine ${left} with ${right}`);
    this.name = 'CurrencyMismatchError';
  }
}

export function addMoney(a: Money, b: Money): Money {
  if (a.currency !== b.currency) throw new CurrencyMismatchError(a.currency, b.currency);
  return money(a.amount + b.amount, a.currency);
}

export function subMoney(a: Money, b: Money): Money {
  if (a.currency !== b.currency) throw new CurrencyMismatchError(a.currency, b.currency);
  return money(a.amount - b.amount, a.currency);
}

export function sumMoney(currency: Currency, items: readonly Money[]): Money {
  return items.reduce((acc, m) => addMoney(acc, m), money(0, currency));
}

/** Sum of plain minor-unit amounts, checked to stay a safe integer. */
export const sumMinor = (amounts: readonly number[]): number => amounts.reduce((a, b) => assertMinorUnits(a + b, 'sum'), 0);

/**
 * numerator / denominator rounded half away from zero, computed exactly (BigInt), for the
 * integer inputs billing uses: amount × basis points, amount × days.
 */
export function divRoundHalfAwayFromZero(numerator: bigint, denominator: bigint): bigint {
  if (denominator === 0n) throw new RangeError('division by zero');
  const negative = numerator < 0n !== denominator < 0n;
  const n = numerator < 0n ? -numerator : numerator;
  const d = denominator < 0n ? -denominator : denominator;
  const q = n / d;
  const r = n % d;
  const rounded = 2n * r >= d ? q + 1n : q;
  return negative ? -rounded : rounded;
}

/** round(amount × multiplier / divisor), half away from zero, exactly; all three are integers. */
export function mulDivRound(amount: number, multiplier: number, divisor: number): number {
  assertMinorUnits(amount);
  if (!Number.isSafeInteger(multiplier) || !Number.isSafeInteger(divisor)) throw new RangeError('multiplier and divisor must be integers');
  return assertMinorUnits(Number(divRoundHalfAwayFromZero(BigInt(amount) * BigInt(multiplier), BigInt(divisor))), 'rounded amount');
}

/** Exact plain decimal text of an amount in major units: 199000 THB → "1990.00", 1990 JPY → "1990". */
export function toDecimalString(amount: number, currency: Currency): string {
  assertMinorUnits(amount);
  const exponent = minorUnitExponent(currency);
  const sign = amount < 0 ? '-' : '';
  const digits = String(Math.abs(amount));
  if (exponent === 0) return sign + digits;
  const padded = digits.padStart(exponent + 1, '0');
  return `${sign}${padded.slice(0, -exponent)}.${padded.slice(-exponent)}`;
}

/**
 * Amount for a receipt in the reader's locale: formatMoney(199000, 'THB', 'th-TH') → "฿1,990.00",
 * formatMoney(1990, 'JPY', 'ja-JP') → "￥1,990". Exact for every safe integer amount.
 */
export function formatMoney(amount: number, currency: Currency, locale: string): string {
  const exponent = minorUnitExponent(currency);
  const format = new Intl.NumberFormat(locale, {
    style: 'currency',
    currency,
    minimumFractionDigits: exponent,
    maximumFractionDigits: exponent,
  });
  return format.format(toDecimalString(amount, currency) as `${number}`);
}

export const PARSE_REFUSALS = ['empty', 'not_a_number', 'too_many_decimals', 'too_large'] as const;
export type ParseRefusal = (typeof PARSE_REFUSALS)[number];
export type ParsedMoney = { ok: true; money: Money } | { ok: false; reason: ParseRefusal; detail: string };

/**
 * Parses a major-unit decimal as typed by staff ("1990", "1990.5", "-12.34") into minor units,
 * without floating point. Accepts digits with an optional sign and decimal point only (no
 * grouping separators, exponents or currency symbols), and refuses more decimals than the
 * currency has, even zeros ("100.00" JPY): a zero-decimal currency has no minor unit to give.
 */
export function parseMajorUnits(input: string, currency: Currency): ParsedMoney {
  const text = input.trim();
  if (text === '') return { ok: false, reason: 'empty', detail: 'no amount given' };
  const match = /^([+-]?)(\d+)(?:\.(\d+))?$/.exec(text);
  if (!match) {
    return { ok: false, reason: 'not_a_number', detail: `"${input}" is not a decimal amount such as 1990.00` };
  }
  const [, sign = '', whole = '', fraction = ''] = match;
  const exponent = minorUnitExponent(currency);
  if (fraction.length > exponent) {
    return {
      ok: false,
      reason: 'too_many_decimals',
      detail:
        exponent === 0
          ? `${currency} has no minor unit: give a whole amount`
          : `${currency} has ${exponent} decimal places, "${input}" has ${fraction.length}`,
    };
  }
  const minor = BigInt(whole + fraction.padEnd(exponent, '0')) * (sign === '-' ? -1n : 1n);
  if (minor > BigInt(Number.MAX_SAFE_INTEGER) || minor < BigInt(Number.MIN_SAFE_INTEGER)) {
    return { ok: false, reason: 'too_large', detail: `"${input}" is too large an amount` };
  }
  // Normalise -0 to 0.
  return { ok: true, money: { amount: Number(minor) || 0, currency } };
}
