// How long a staff session lives, as data and one pure decision: a session ends when it is
// revoked (signed out, disabled, revoked from the list), when it has not been used for the idle
// time, or at its absolute end, whichever comes first. The edge keeps the rows (edge/staff/).

/** A front-desk shift with a long lunch: a session unused this long is over. */
export const SESSION_IDLE_MS = 12 * 3_600_000;
/** However busy, a session is over a week after sign-in: signing in again re-checks password and code. */
export const SESSION_ABSOLUTE_MS = 7 * 24 * 3_600_000;
/** A staff invitation link works once, for a week. */
export const INVITATION_TTL_MS = 7 * 24 * 3_600_000;
/** How finely the last use is kept, so a busy page does not write on every request. */
export const SESSION_TOUCH_MS = 60_000;

/** A member's phone or browser stays signed in longer: they sign in to pay and to show a pass. */
export const MEMBER_SESSION = { idleMs: 30 * 24 * 3_600_000, absoluteMs: 90 * 24 * 3_600_000 };
export const STAFF_SESSION = { idleMs: SESSION_IDLE_MS, absoluteMs: SESSION_ABSOLUTE_MS };
/** A member's emailed sign-in link works once, for 15 minutes; an SMS code once, for 10 minutes and 5 tries. */
export const MEMBER_LINK_TTL_MS = 15 * 60_000;
export const MEMBER_CODE_TTL_MS = 10 * 60_000;
export const MEMBER_CODE_ATTEMPTS = 5;

export type SessionTimes = { createdAt: number; lastSeenAt: number; revokedAt: number | null };

export type SessionVerdict = { live: true; expiresAt: number } | { live: false; reason: 'revoked' | 'idle' | 'expired' };

/** Whether a session is live at `now`, and when it ends if nothing else happens. */
export function sessionVerdict(s: SessionTimes, now: number, lifetime = STAFF_SESSION): SessionVerdict {
  if (s.revokedAt !== null && s.revokedAt <= now) return { live: false, reason: 'revoked' };
  const absoluteEnd = s.createdAt + lifetime.absoluteMs;
  if (now >= absoluteEnd) return { live: false, reason: 'expired' };
  const idleEnd = s.lastSeenAt + lifetime.idleMs;
  if (now >= idleEnd) return { live: false, reason: 'idle' };
  return { live: true, expiresAt: Math.min(absoluteEnd, idleEnd) };
}
