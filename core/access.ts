// The access decision: one pure function used by the door agent on every tap and by the Worker
// when staff ask why a tap was denied, so both give the same answer in the same words.
import type { MemberStatus } from './contracts/common.ts';

export const ACCESS_REASONS = [
  'granted',
  'bad_read',
  'unknown_door',
  'unknown_credential',
  'member_suspended',
] as const;
export type AccessReason = (typeof ACCESS_REASONS)[number];

/** What the door's cache knows about the member a credential belongs to. */
export type MemberEntitlement = { memberId: string; status: MemberStatus };

export type DoorEntitlement = { doorId: string; siteId: string };

export type CardRead =
  | { ok: true; credentialKey: string }
  | { ok: false; detail: string };

export type AccessInput = {
  read: CardRead;
  /** The door as the cache knows it; undefined when the door is not in this site's snapshot. */
  door: DoorEntitlement | undefined;
  /** The cache entry for the credential; undefined when no member holds it. */
  member: MemberEntitlement | undefined;
  /** Decision time, epoch milliseconds; taken as an argument so the rule never reads a clock. */
  at: number;
};

export type AccessDecision = {
  granted: boolean;
  reason: AccessReason;
  explanation: string;
  memberId: string | null;
};

const deny = (reason: AccessReason, explanation: string, memberId: string | null = null): AccessDecision => ({
  granted: false,
  reason,
  explanation,
  memberId,
});

export function decideAccess(input: AccessInput): AccessDecision {
  const { read, door, member } = input;
  if (!read.ok) return deny('bad_read', `The card could not be read: ${read.detail}.`);
  if (!door) return deny('unknown_door', 'This door is not part of the site the reader is enrolled at.');
  if (!member) {
    return deny('unknown_credential', `Credential ${read.credentialKey} is not registered to any member.`);
  }
  switch (member.status) {
    case 'suspended':
      return deny('member_suspended', 'The membership is suspended.', member.memberId);
    case 'active':
      return { granted: true, reason: 'granted', explanation: 'Active membership.', memberId: member.memberId };
  }
}
