// Member PINs for card + PIN doors: set through the owner API, hashed in the Worker, delivered to
// the doors only as a salted verifier inside the member's entitlement record (snapshot and delta),
// with the content hash both sides compute.
import { describe, expect, it } from 'vitest';
import { EntitlementSnapshot } from '../../core/contracts/wire.ts';
import { EntitlementHash } from '../../core/entitlement-hash.ts';
import { PIN_VERIFIER, pinMatches } from '../../core/entitlement.ts';
import { pbkdf2 } from '../../edge/members/router.ts';
import { call, enrollDevice, gym } from './helpers.ts';

describe('member PINs', () => {
  it('reach the doors as a salted verifier that matches the PIN, never as the PIN', async () => {
    const g = await gym();
    const device = await enrollDevice(g.apiKey, g.site.id);
    const before = EntitlementSnapshot.parse((await call('GET', '/v1/device/snapshot', { token: device.deviceToken })).body);
    expect(before.members[0]?.pinVerifier).toBeUndefined();

    const set = await call('PUT', `/v1/members/${g.member.id}/pin`, { token: g.apiKey, body: { pin: '80417' } });
    expect(set).toMatchObject({ status: 200, body: { memberId: g.member.id, pinSet: true } });
    const after = EntitlementSnapshot.parse((await call('GET', '/v1/device/snapshot', { token: device.deviceToken })).body);
    expect(after.version).toBeGreaterThan(before.version);
    const verifier = after.members[0]?.pinVerifier ?? '';
    expect(verifier).toMatch(PIN_VERIFIER);
    expect(verifier).not.toContain('80417');
    expect(await pinMatches('80417', verifier, pbkdf2)).toBe(true);
    expect(await pinMatches('80418', verifier, pbkdf2)).toBe(false);
    // The door recomputes the hash from the records, verifier included.
    expect(after.hash).toBe(EntitlementHash.of(after).value);
    expect(after.hash).not.toBe(before.hash);

    const delta = (await call('GET', `/v1/device/entitlements?since=${before.version}`, { token: device.deviceToken })).body;
    expect(delta.kind).toBe('delta');
    expect(delta.delta.members.upsert).toEqual([expect.objectContaining({ id: g.member.id, pinVerifier: verifier })]);
    expect(delta.delta.hash).toBe(after.hash);

    // Setting the same PIN again gives a new salt.
    await call('PUT', `/v1/members/${g.member.id}/pin`, { token: g.apiKey, body: { pin: '80417' } });
    const again = (await call('GET', '/v1/device/snapshot', { token: device.deviceToken })).body;
    expect(again.members[0].pinVerifier).not.toBe(verifier);

    const member = await call('GET', `/v1/members/${g.member.id}`, { token: g.apiKey });
    expect(JSON.stringify(member.body)).not.toMatch(/80417|pbkdf2/);

    const cleared = await call('DELETE', `/v1/members/${g.member.id}/pin`, { token: g.apiKey });
    expect(cleared.body).toEqual({ memberId: g.member.id, pinSet: false });
    const gone = EntitlementSnapshot.parse((await call('GET', '/v1/device/snapshot', { token: device.deviceToken })).body);
    expect(gone.members[0]?.pinVerifier).toBeUndefined();
    expect(gone.hash).toBe(before.hash);
  });

  it('refuses a PIN that is not 4 to 8 digits, naming the field', async () => {
    const g = await gym();
    for (const pin of ['123', '123456789', '12a4', 1234]) {
      const res = await call('PUT', `/v1/members/${g.member.id}/pin`, { token: g.apiKey, body: { pin } });
      expect(res.status).toBe(400);
      expect(res.contentType).toBe('application/problem+json');
      expect(res.body.errors[0].field).toBe('pin');
    }
  });

  it("answers 404 for another organisation's member", async () => {
    const a = await gym();
    const b = await gym();
    expect((await call('PUT', `/v1/members/${a.member.id}/pin`, { token: b.apiKey, body: { pin: '1234' } })).status).toBe(404);
    expect((await call('DELETE', `/v1/members/${a.member.id}/pin`, { token: b.apiKey })).status).toBe(404);
  });
});
