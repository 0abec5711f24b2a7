import { describe, expect, it } from 'vitest';
import { RATE_LIMITS, verdict, windowOf } from '../../core/rate-limits.ts';

describe('rate limits', () => {
  const limit = { limit: 3, windowSeconds: 60, what: 'tries' };

  it('puts every moment in one fixed window, aligned to its size', () => {
    const at = Date.parse('2026-12-07T10:00:42.500Z');
    expect(windowOf(limit, at)).toEqual({ startsAt: Date.parse('2026-12-07T10:00:00Z'), endsAt: Date.parse('2026-12-07T10:01:00Z') });
    expect(windowOf(limit, Date.parse('2026-12-07T10:01:00Z')).startsAt).toBe(Date.parse('2026-12-07T10:01:00Z'));
  });

  it('allows up to the limit and then says how long to wait, at least a second', () => {
    const at = Date.parse('2026-12-07T10:00:42.500Z');
    expect([1, 2, 3].map((hits) => verdict(limit, hits, at).allowed)).toEqual([true, true, true]);
    expect(verdict(limit, 4, at)).toEqual({ allowed: false, retryAfterSeconds: 18 });
    expect(verdict(limit, 4, Date.parse('2026-12-07T10:00:59.999Z'))).toEqual({ allowed: false, retryAfterSeconds: 1 });
  });

  it('keeps every limit usable: a positive count, a window of at least 10 s, and words for the refusal', () => {
    for (const [name, l] of Object.entries(RATE_LIMITS)) {
      expect(l.limit, name).toBeGreaterThan(0);
      expect(l.windowSeconds, name).toBeGreaterThanOrEqual(10);
      expect(l.what.length, name).toBeGreaterThan(5);
    }
  });
});
