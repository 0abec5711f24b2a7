import { describe, expect, it } from 'vitest';
import { decideAccess } from '../../core/access.ts';

const door = { doorId: 'door_0123456789', siteId: 'site_0123456789' };
const read = { ok: true as const, credentialKey: 'wiegand:12:345' };
const at = Date.UTC(2026, 10, 25, 8);

describe('decideAccess', () => {
  it('grants an active member at a known door', () => {
    expect(decideAccess({ read, door, member: { memberId: 'mem_0123456789', status: 'active' }, at })).toEqual({
      granted: true,
      reason: 'granted',
      explanation: 'Active membership.',
      memberId: 'mem_0123456789',
    });
  });

  it('denies a suspended member and says so', () => {
    const d = decideAccess({ read, door, member: { memberId: 'mem_0123456789', status: 'suspended' }, at });
    expect(d).toMatchObject({ granted: false, reason: 'member_suspended', memberId: 'mem_0123456789' });
  });

  it('denies a credential nobody holds', () => {
    expect(decideAccess({ read, door, member: undefined, at })).toMatchObject({
      granted: false,
      reason: 'unknown_credential',
      memberId: null,
    });
  });

  it('denies a bad read before anything else, with the reader detail', () => {
    const d = decideAccess({ read: { ok: false, detail: 'H10301 parity bit 0 is 0, expected 1' }, door: undefined, member: undefined, at });
    expect(d.reason).toBe('bad_read');
    expect(d.explanation).toContain('parity bit 0');
  });

  it('denies at a door outside the snapshot even for an active member', () => {
    expect(decideAccess({ read, door: undefined, member: { memberId: 'mem_0123456789', status: 'active' }, at }).reason).toBe(
      'unknown_door',
    );
  });
});
