import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  addMoney,
  CurrencyMismatchError,
  formatMoney,
  money,
  mulDivRound,
  parseMajorUnits,
  subMoney,
  toDecimalString,
} from '../../core/billing/money.ts';
import { formatBasisPoints, lineTax, type TaxRate } from '../../core/billing/tax.ts';

const VAT7: TaxRate = { name: 'VAT 7%', basisPoints: 700, mode: 'inclusive' };
const US_SALES: TaxRate = { name: 'Sales tax 8.25%', basisPoints: 825, mode: 'exclusive' };
const JCT_INCL: TaxRate = { name: '消費税 10%', basisPoints: 1000, mode: 'inclusive' };
const JCT_EXCL: TaxRate = { name: '消費税 10%', basisPoints: 1000, mode: 'exclusive' };

describe('money', () => {
  it('adds and subtracts within one currency and refuses to mix currencies', () => {
    expect(addMoney(money(199000, 'THB'), money(99000, 'THB'))).toEqual({ amount: 298000, currency: 'THB' });
    expect(subMoney(money(1990, 'JPY'), money(2000, 'JPY'))).toEqual({ amount: -10, currency: 'JPY' });
    expect(() => addMoney(money(100, 'THB'), money(100, 'USD'))).toThrow(CurrencyMismatchError);
    expect(() => money(1.5, 'USD')).toThrow(RangeError);
  });

  it('writes exact decimals with the currency’s exponent', () => {
    expect(toDecimalString(199000, 'THB')).toBe('1990.00');
    expect(toDecimalString(5, 'USD')).toBe('0.05');
    expect(toDecimalString(-550, 'EUR')).toBe('-5.50');
    expect(toDecimalString(1990, 'JPY')).toBe('1990');
    expect(toDecimalString(Number.MAX_SAFE_INTEGER, 'USD')).toBe('90071992547409.91');
  });

  it('formats receipts in the reader’s locale', () => {
    expect(formatMoney(199000, 'THB', 'th-TH')).toBe('฿1,990.00');
    expect(formatMoney(5411, 'USD', 'en-US')).toBe('$54.11');
    expect(formatMoney(1990, 'JPY', 'ja-JP')).toBe('￥1,990');
    expect(formatMoney(2500000, 'KRW', 'ko-KR')).toBe('₩2,500,000');
    expect(formatMoney(-550, 'EUR', 'en-GB')).toBe('-€5.50');
    // Exact beyond double precision of major units.
    expect(formatMoney(Number.MAX_SAFE_INTEGER, 'USD', 'en-US')).toBe('$90,071,992,547,409.91');
  });

  it('parses major-unit decimals into minor units without floating point', () => {
    expect(parseMajorUnits('1990.00', 'THB')).toEqual({ ok: true, money: { amount: 199000, currency: 'THB' } });
    expect(parseMajorUnits(' 1990.5 ', 'THB')).toEqual({ ok: true, money: { amount: 199050, currency: 'THB' } });
    expect(parseMajorUnits('0.07', 'USD')).toEqual({ ok: true, money: { amount: 7, currency: 'USD' } });
    expect(parseMajorUnits('-12.34', 'EUR')).toEqual({ ok: true, money: { amount: -1234, currency: 'EUR' } });
    expect(parseMajorUnits('1990', 'JPY')).toEqual({ ok: true, money: { amount: 1990, currency: 'JPY' } });
    expect(parseMajorUnits('-0.00', 'THB')).toEqual({ ok: true, money: { amount: 0, currency: 'THB' } });
  });

  it('refuses malformed amounts and too many decimals, with a reason', () => {
    expect(parseMajorUnits('1990.001', 'THB')).toMatchObject({ ok: false, reason: 'too_many_decimals', detail: 'THB has 2 decimal places, "1990.001" has 3' });
    expect(parseMajorUnits('1990.5', 'JPY')).toMatchObject({ ok: false, reason: 'too_many_decimals', detail: 'JPY has no minor unit: give a whole amount' });
    expect(parseMajorUnits('100.00', 'VND')).toMatchObject({ ok: false, reason: 'too_many_decimals' });
    expect(parseMajorUnits('1,990.00', 'THB')).toMatchObject({ ok: false, reason: 'not_a_number' });
    expect(parseMajorUnits('1e3', 'USD')).toMatchObject({ ok: false, reason: 'not_a_number' });
    expect(parseMajorUnits('.5', 'USD')).toMatchObject({ ok: false, reason: 'not_a_number' });
    expect(parseMajorUnits('฿100', 'THB')).toMatchObject({ ok: false, reason: 'not_a_number' });
    expect(parseMajorUnits('  ', 'THB')).toMatchObject({ ok: false, reason: 'empty' });
    expect(parseMajorUnits('90071992547409.92', 'USD')).toMatchObject({ ok: false, reason: 'too_large' });
  });

  it('round-trips every amount through text', () => {
    fc.assert(
      fc.property(fc.maxSafeInteger(), fc.constantFrom('THB', 'USD', 'JPY', 'KRW', 'GBP') , (amount, currency) => {
        const parsed = parseMajorUnits(toDecimalString(amount, currency), currency);
        expect(parsed).toEqual({ ok: true, money: { amount, currency } });
      }),
    );
  });

  it('rounds ratios half away from zero, exactly', () => {
    expect(mulDivRound(5, 1, 2)).toBe(3);
    expect(mulDivRound(-5, 1, 2)).toBe(-3);
    expect(mulDivRound(4, 1, 3)).toBe(1);
    expect(mulDivRound(-4, 1, 3)).toBe(-1);
    expect(mulDivRound(Number.MAX_SAFE_INTEGER, 700, 10_700)).toBe(589256026011093); // 589256026011092.87
  });
});

describe('tax per line, half away from zero', () => {
  it('THB 1,990.00 inclusive 7 % → tax 130.19, net 1,859.81', () => {
    expect(lineTax(199000, VAT7)).toEqual({ net: 185981, tax: 13019, gross: 199000 });
  });

  it('USD exclusive 8.25 % adds tax on top, halves rounding away from zero', () => {
    expect(lineTax(4999, US_SALES)).toEqual({ net: 4999, tax: 412, gross: 5411 }); // 412.4175
    expect(lineTax(1000, US_SALES)).toEqual({ net: 1000, tax: 83, gross: 1083 }); // 82.5 → 83
    expect(lineTax(-1000, US_SALES)).toEqual({ net: -1000, tax: -83, gross: -1083 }); // credits mirror
  });

  it('JPY is zero-decimal: tax rounds to the whole yen', () => {
    expect(lineTax(1990, JCT_INCL)).toEqual({ net: 1809, tax: 181, gross: 1990 }); // 180.909…
    expect(lineTax(1995, JCT_EXCL)).toEqual({ net: 1995, tax: 200, gross: 2195 }); // 199.5 → 200
  });

  it('no rate or 0 % is all net', () => {
    expect(lineTax(1000, null)).toEqual({ net: 1000, tax: 0, gross: 1000 });
    expect(lineTax(1000, { ...VAT7, basisPoints: 0 })).toEqual({ net: 1000, tax: 0, gross: 1000 });
  });

  it('names rates for receipts', () => {
    expect(formatBasisPoints(700)).toBe('7%');
    expect(formatBasisPoints(825)).toBe('8.25%');
    expect(formatBasisPoints(750)).toBe('7.5%');
  });

  it('keeps net + tax = gross, mirrors credits and stays within half a unit of the exact tax', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: -1e12, max: 1e12 }),
        fc.integer({ min: 0, max: 10_000 }),
        fc.constantFrom('inclusive' as const, 'exclusive' as const),
        (amount, basisPoints, mode) => {
          const rate: TaxRate = { name: 't', basisPoints, mode };
          const t = lineTax(amount, rate);
          expect(t.net + t.tax).toBe(t.gross);
          expect(lineTax(0 - amount, rate)).toEqual({ net: 0 - t.net, tax: 0 - t.tax, gross: 0 - t.gross });
          // |tax − exact| ≤ ½ unit, checked in integers: |2·tax·d − 2·base·bp| ≤ d.
          const base = BigInt(mode === 'inclusive' ? t.gross : t.net);
          const d = BigInt(mode === 'inclusive' ? 10_000 + basisPoints : 10_000);
          const diff = 2n * BigInt(t.tax) * d - 2n * base * BigInt(basisPoints);
          expect(diff <= d && diff >= -d).toBe(true);
        },
      ),
    );
  });
});
