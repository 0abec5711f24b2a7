// Checks an entitlement snapshot from the Worker (or a provisioning file) before the door trusts it.
import { z } from 'zod';
import { EntitlementSnapshot } from '../../core/contracts/wire.ts';
import { Booking, type MemberAccess } from '../../core/entitlement.ts';
import { STATUS_CODE, SUSPENSION_CODE, SnapshotError } from './cache-parts.ts';

// The header is checked with the wire schema; the (possibly million) members and credential pairs
// by plain loops with the same rules, several times faster than a schema walk.
const SnapshotHeader = EntitlementSnapshot.omit({ credentials: true, members: true }).extend({
  members: z.array(z.unknown()),
  credentials: z.array(z.unknown()),
});
const MEMBER_ID = /^mem_[0-9a-z]{10,40}$/;
const isTime = (v: unknown) => v === null || Number.isSafeInteger(v);

/** Parses and validates a snapshot from JSON text; also accepts `{kind: 'snapshot', snapshot}`. */
export function parseSnapshot(text: string): EntitlementSnapshot {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new SnapshotError(`snapshot is not JSON: ${(error as Error).message}`);
  }
  return validateSnapshot(unwrapSnapshot(value));
}

/** A snapshot, whether bare or wrapped in an EntitlementUpdate of kind snapshot. */
export function unwrapSnapshot(value: unknown): unknown {
  const v = value as { kind?: unknown; snapshot?: unknown } | null;
  return v && typeof v === 'object' && v.kind === 'snapshot' ? v.snapshot : value;
}

export function validateSnapshot(value: unknown): EntitlementSnapshot {
  const header = SnapshotHeader.safeParse(value);
  if (!header.success) {
    const issue = header.error.issues[0];
    throw new SnapshotError(`snapshot is malformed at ${issue?.path.join('.') || '(root)'}: ${issue?.message}`);
  }
  const profiles = header.data.profiles.length;
  header.data.members.forEach((member, i) => {
    const m = member as Partial<Record<keyof MemberAccess, unknown>> | null;
    const ok =
      typeof m === 'object' &&
      m !== null &&
      typeof m.id === 'string' &&
      MEMBER_ID.test(m.id) &&
      STATUS_CODE.has(m.status as string) &&
      SUSPENSION_CODE.has(m.suspension as string | null) &&
      Number.isInteger(m.profile) &&
      (m.profile as number) >= 0 &&
      (m.profile as number) < profiles &&
      isTime(m.validFrom) &&
      isTime(m.validUntil) &&
      (m.entriesLeft === null || (Number.isInteger(m.entriesLeft) && (m.entriesLeft as number) >= 0)) &&
      Array.isArray(m.bookings) &&
      (m.bookings.length === 0 || m.bookings.every((b) => Booking.safeParse(b).success)) &&
      (m.pinVerifier === undefined || (typeof m.pinVerifier === 'string' && m.pinVerifier.length <= 200));
    if (!ok) throw new SnapshotError(`snapshot member ${i} is not a valid MemberAccess (id mem_…, status, suspension, profile within the profile list, times, bookings)`);
  });
  const members = header.data.members.length;
  header.data.credentials.forEach((pair, i) => {
    if (
      !Array.isArray(pair) ||
      pair.length !== 2 ||
      typeof pair[0] !== 'string' ||
      !Number.isInteger(pair[1]) ||
      pair[1] < 0 ||
      pair[1] >= members
    ) {
      throw new SnapshotError(`snapshot credential ${i} is not a [key, member index] pair within the member list`);
    }
  });
  return value as EntitlementSnapshot;
}
