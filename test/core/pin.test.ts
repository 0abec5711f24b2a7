import { pbkdf2Sync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { canonicalMember } from '../../core/entitlement-hash.ts';
import { derivePinVerifier, PIN_VERIFIER, pinMatches, type MemberAccess, type Pbkdf2 } from '../../core/entitlement.ts';

const pbkdf2: Pbkdf2 = async (pin, salt, iterations) => pbkdf2Sync(pin, salt, iterations, 32, 'sha256').toString('base64url');

describe('member PIN verifiers', () => {
  it('match only the PIN they were derived from, and never contain it', async () => {
    const verifier = await derivePinVerifier('2468', 'c2FsdHNhbHQ', pbkdf2, 1000);
    expect(verifier).toMatch(PIN_VERIFIER);
    expect(verifier).not.toContain('2468');
    expect(await pinMatches('2468', verifier, pbkdf2)).toBe(true);
    expect(await pinMatches('2469', verifier, pbkdf2)).toBe(false);
    expect(await pinMatches('24680', verifier, pbkdf2)).toBe(false);
    // Another salt gives another verifier for the same PIN.
    expect(await derivePinVerifier('2468', 'b3RoZXJzYWx0', pbkdf2, 1000)).not.toBe(verifier);
  });

  it('refuse malformed verifiers and PINs that are not 4 to 8 digits', async () => {
    const verifier = await derivePinVerifier('1234', 'c2FsdHNhbHQ', pbkdf2, 1000);
    expect(await pinMatches('1234', verifier.replace('pbkdf2-sha256', 'md5'), pbkdf2)).toBe(false);
    expect(await pinMatches('1234', '', pbkdf2)).toBe(false);
    expect(await pinMatches('12a4', verifier, pbkdf2)).toBe(false);
    expect(await pinMatches('123', verifier, pbkdf2)).toBe(false);
  });

  it('enter the content hash only when set, so members without a PIN hash as before', () => {
    const m: MemberAccess = { id: 'mem_0123456789', status: 'active', suspension: null, profile: 0, validFrom: null, validUntil: null, entriesLeft: null, bookings: [] };
    expect(canonicalMember(m, 'default')).toBe('["mem_0123456789","active",null,"default",null,null,null,[]]');
    expect(canonicalMember({ ...m, pinVerifier: 'pbkdf2-sha256$1$abcdefgh$x' }, 'default')).not.toBe(canonicalMember(m, 'default'));
  });
});
