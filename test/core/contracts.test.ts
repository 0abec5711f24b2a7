import { describe, expect, it } from 'vitest';
import { fieldErrors } from '../../core/contracts/common.ts';
import { CredentialCreate, MemberCreate, SiteCreate } from '../../core/contracts/api.ts';
import { credentialKey, parseCredentialKey } from '../../core/credential-key.ts';

describe('API contracts', () => {
  it('names the field and the reason for a bad member', () => {
    const r = MemberCreate.safeParse({ name: '', email: 'not-an-email' });
    expect(r.success).toBe(false);
    if (!r.success) {
      const errors = fieldErrors(r.error);
      expect(errors).toContainEqual({ field: 'name', reason: 'must not be empty' });
      expect(errors).toContainEqual({ field: 'email', reason: 'must be an email address' });
    }
  });

  it('accepts IANA time zones and refuses others', () => {
    expect(SiteCreate.safeParse({ name: 'Sukhumvit', timezone: 'Asia/Bangkok' }).success).toBe(true);
    const bad = SiteCreate.safeParse({ name: 'Sukhumvit', timezone: 'Mars/Olympus' });
    expect(bad.success).toBe(false);
    if (!bad.success) expect(fieldErrors(bad.error)[0]?.field).toBe('timezone');
  });

  it('keeps Wiegand numbers inside what the formats can carry', () => {
    const r = CredentialCreate.safeParse({ kind: 'wiegand', memberId: 'mem_0123456789', facilityCode: 70000, cardNumber: 1 });
    expect(r.success).toBe(false);
    if (!r.success) expect(fieldErrors(r.error)[0]?.field).toBe('facilityCode');
  });
});

describe('credential keys', () => {
  it('round-trips and normalises raw ids', () => {
    expect(credentialKey({ kind: 'wiegand', facilityCode: 12, cardNumber: 345 })).toBe('wiegand:12:345');
    expect(credentialKey({ kind: 'raw', rawId: ' 04:a2:3b:c1 ' })).toBe('raw:04A23BC1');
    expect(parseCredentialKey('raw:04A23BC1')).toEqual({ kind: 'raw', rawId: '04A23BC1' });
    expect(parseCredentialKey('wiegand:70000:1')).toBeNull();
    expect(parseCredentialKey('nonsense')).toBeNull();
  });
});
