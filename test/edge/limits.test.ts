// Abuse limits: wrong enrollment codes, unknown keys and tokens, and guessed pay-now and
// update-card links are counted per address in D1; a busy door is counted per device. Over the
// limit the caller gets a 429 that says what was too many and when to try again, never a 5xx,
// and nothing is changed.
import { env } from 'cloudflare:test';
import { drizzle } from 'drizzle-orm/d1';
import { describe, expect, it } from 'vitest';
import { RATE_LIMITS, windowOf, type RateLimitName } from '../../core/rate-limits.ts';
import { pruneRateCounters } from '../../edge/limits/index.ts';
import { call, enrollDevice, gym, requestPage } from './helpers.ts';

const from = (ip: string) => ({ 'cf-connecting-ip': ip });

/** Waits out a window about to end, so what a test counts falls in one window. */
async function awayFromWindowEnd(name: RateLimitName, marginMs = 15_000) {
  const w = windowOf(RATE_LIMITS[name], Date.now());
  if (w.endsAt - Date.now() < marginMs) await new Promise((r) => setTimeout(r, w.endsAt - Date.now() + 10));
}

/** Sets a counter as if `hits` had already been counted in the current window. */
async function alreadyCounted(name: RateLimitName, subject: string, hits: number) {
  const limit = RATE_LIMITS[name];
  await awayFromWindowEnd(name, 3000);
  const w = windowOf(limit, Date.now());
  await env.DB.prepare('insert into rate_counters (key, hits, window_ends_at) values (?, ?, ?)').bind(`${name}:${subject}:${w.startsAt}`, hits, w.endsAt).run();
}

describe('rate limits', () => {
  it('refuses an address after 10 wrong enrollment codes, even with a right one, and lets other addresses enroll', async () => {
    const g = await gym();
    await awayFromWindowEnd('enrollFailuresPerIp');
    for (let i = 0; i < RATE_LIMITS.enrollFailuresPerIp.limit; i++) {
      const wrong = await call('POST', '/v1/enroll', { body: { code: `WRNG-${1000 + i}` }, headers: from('198.51.100.9') });
      expect(wrong.status).toBeGreaterThanOrEqual(400);
      expect(wrong.status).toBeLessThan(500);
      expect(wrong.status).not.toBe(429);
    }
    const code = (await call('POST', '/v1/enrollment-codes', { token: g.apiKey, body: { siteId: g.site.id } })).body.code as string;
    const locked = await call('POST', '/v1/enroll', { body: { code }, headers: from('198.51.100.9') });
    expect(locked.status).toBe(429);
    expect(locked.contentType).toContain('application/problem+json');
    expect(locked.body).toMatchObject({ type: 'https://gymgate.dev/problems/rate-limited', title: 'Too many requests' });
    expect(locked.body.detail).toMatch(/^Too many failed enrollment attempts from this address: try again in \d+ (minutes?|seconds)\.$/);
    // Nothing was enrolled, and the code still works from another address.
    expect((await call('GET', '/v1/devices', { token: g.apiKey })).body.data).toEqual([]);
    const elsewhere = await call('POST', '/v1/enroll', { body: { code, name: 'Front Pi' }, headers: from('203.0.113.50') });
    expect(elsewhere.status).toBe(201);
  });

  it('refuses an address that keeps sending unknown keys, with Retry-After, while a valid key from it still works', async () => {
    const g = await gym();
    await awayFromWindowEnd('bearerFailuresPerIp');
    for (let i = 0; i < RATE_LIMITS.bearerFailuresPerIp.limit; i++) {
      expect((await call('GET', '/v1/members', { token: `gg_live_guess${i}`, headers: from('192.0.2.77') })).status).toBe(401);
    }
    const res = await call('GET', '/v1/members', { token: 'gg_live_guess_more', headers: from('192.0.2.77') });
    expect(res.status).toBe(429);
    expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(Number(res.headers.get('retry-after'))).toBeLessThanOrEqual(RATE_LIMITS.bearerFailuresPerIp.windowSeconds);
    expect(res.body.detail).toMatch(/unknown or revoked key from this address/);
    // Unknown device tokens count against the same address.
    expect((await call('GET', '/v1/device/whoami', { token: 'ggd_guess', headers: from('192.0.2.77') })).status).toBe(429);
    // A caller holding a valid key is never locked out by what others behind its address sent.
    expect((await call('GET', '/v1/members', { token: g.apiKey, headers: from('192.0.2.77') })).status).toBe(200);
    expect((await call('GET', '/v1/members', { token: 'gg_live_other', headers: from('192.0.2.78') })).status).toBe(401);
  });

  it('slows a door that floods the Worker, and no other door', async () => {
    const g = await gym();
    const busy = await enrollDevice(g.apiKey, g.site.id);
    const calm = await enrollDevice(g.apiKey, g.site.id);
    await alreadyCounted('deviceRequests', busy.deviceId, RATE_LIMITS.deviceRequests.limit);
    const refused = await call('GET', '/v1/device/whoami', { token: busy.deviceToken });
    expect(refused.status).toBe(429);
    expect(refused.body.detail).toMatch(/^Too many requests from this device: try again in \d+ (seconds|minute)\.$/);
    expect((await call('GET', '/v1/device/whoami', { token: calm.deviceToken })).status).toBe(200);
  });

  it('answers a flooded or guessed pay-now link with a page in the member’s language, and counts unknown links per address', async () => {
    await alreadyCounted('memberLinkRequests', 'pl_flooded', RATE_LIMITS.memberLinkRequests.limit);
    const flooded = await requestPage('GET', '/pay/pl_flooded', { headers: { 'accept-language': 'th-TH,th;q=0.9' } });
    expect(flooded.status).toBe(429);
    expect(flooded.contentType).toContain('text/html');
    expect(flooded.body).toContain('โปรดรอสักครู่');
    expect(Number(flooded.headers.get('retry-after'))).toBeGreaterThan(0);

    await awayFromWindowEnd('memberLinkFailuresPerIp');
    for (let i = 0; i < RATE_LIMITS.memberLinkFailuresPerIp.limit; i++) {
      expect((await requestPage('GET', `/card/cl_guess${i}`, { headers: from('198.51.100.20') })).status).toBe(404);
    }
    const locked = await requestPage('GET', '/pay/pl_guess_more', { headers: { ...from('198.51.100.20'), 'accept-language': 'en' } });
    expect(locked.status).toBe(429);
    expect(locked.body).toContain('Please wait a moment');
    expect((await requestPage('GET', '/pay/pl_guess_more', { headers: from('198.51.100.21') })).status).toBe(404);
  });

  it('prunes counters whose window has ended, and only those', async () => {
    const now = Date.now();
    await env.DB.prepare('insert into rate_counters (key, hits, window_ends_at) values (?, 5, ?), (?, 5, ?)').bind('old', now - 1000, 'current', now + 60_000).run();
    expect(await pruneRateCounters(drizzle(env.DB), now)).toBeGreaterThanOrEqual(1);
    const left = await env.DB.prepare("select key from rate_counters where key in ('old', 'current')").all<{ key: string }>();
    expect(left.results.map((r) => r.key)).toEqual(['current']);
  });
});
