import { describe, expect, it } from 'vitest';
import { ACCESS_CASES, AT, TIMEZONE, type AccessCase } from '../shared/access-cases.ts';
import { call, enrollDevice, newOrganisation } from './helpers.ts';

/** Builds the case's gym through the API, then asks the Worker why the card would pass or not. */
async function explain(c: AccessCase) {
  const { apiKey } = await newOrganisation(`Table: ${c.name}`);
  const post = async (path: string, body: unknown) => {
    const res = await call('POST', path, { token: apiKey, body });
    if (res.status !== 201) throw new Error(`${path} → ${res.status} ${JSON.stringify(res.body)}`);
    return res.body;
  };
  const site = await post('/v1/sites', { name: 'Sukhumvit', timezone: TIMEZONE, staffedHours: c.site?.staffedHours ?? null, closures: c.site?.closures ?? [] });
  const door = await post('/v1/doors', { siteId: site.id, name: 'Door', ...c.door });
  let accessProfileId: string | undefined;
  if (c.profile) {
    const elsewhere = c.profile.sites === 'elsewhere' ? await post('/v1/sites', { name: 'Elsewhere', timezone: TIMEZONE }) : null;
    accessProfileId = (
      await post('/v1/access-profiles', {
        name: 'Case profile',
        ...(elsewhere ? { sites: [elsewhere.id] } : {}),
        ...(c.profile.doorGroups ? { doorGroups: c.profile.doorGroups } : {}),
        ...(c.profile.schedule ? { schedule: c.profile.schedule } : {}),
        ...(c.profile.maxEntriesPerDay ? { maxEntriesPerDay: c.profile.maxEntriesPerDay } : {}),
        staff: c.profile.staff ?? false,
        lockdownAccess: c.profile.lockdownAccess ?? false,
      })
    ).id;
  }
  if (c.member !== null) {
    const m = c.member ?? {};
    const member = await post('/v1/members', {
      name: 'Case member',
      status: m.status ?? 'active',
      ...(m.suspension ? { suspension: m.suspension } : {}),
      ...(m.validFrom ? { validFrom: m.validFrom } : {}),
      ...(m.validUntil ? { validUntil: m.validUntil } : {}),
      ...(m.entriesLeft !== undefined ? { entriesLeft: m.entriesLeft } : {}),
      ...(accessProfileId ? { accessProfileId } : {}),
    });
    await post('/v1/credentials', { kind: 'wiegand', memberId: member.id, facilityCode: 12, cardNumber: 345 });
    for (const b of m.bookings ?? []) await post(`/v1/members/${member.id}/bookings`, b);
    if (c.grantsMinutesAgo?.length) {
      const device = await enrollDevice(apiKey, site.id);
      const at = Date.parse(c.at ?? AT);
      const events = c.grantsMinutesAgo.map((min) => ({
        id: crypto.randomUUID(), doorId: door.id, memberId: member.id, credentialKey: 'wiegand:12:345',
        granted: true, reason: 'granted', explanation: 'Active membership.', occurredAt: at - min * 60_000,
      }));
      await call('POST', '/v1/device/checkins', { token: device.deviceToken, body: { events } });
    }
  }
  const res = await call('POST', '/v1/access/explain', {
    token: apiKey,
    body: { doorId: door.id, credential: { kind: 'wiegand', facilityCode: 12, cardNumber: 345 }, at: c.at ?? AT },
  });
  expect(res.status).toBe(200);
  return res.body as { granted: boolean; reason: string; explanation: string };
}

describe('the access table against the Worker’s explanation endpoint', () => {
  for (const c of ACCESS_CASES.filter((x) => !x.doorOnly)) {
    it(`${c.name}: ${c.reason}`, async () => {
      const answer = await explain(c);
      expect(answer.reason).toBe(c.reason);
      expect(answer.granted).toBe(c.reason === 'granted');
    });
  }
});
