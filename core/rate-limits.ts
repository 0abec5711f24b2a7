// How often a caller may try what can be guessed or abused, as data: each limit counts hits of one
// kind per subject (an IP address, a device, a link) in a fixed window, and refuses once the count
// is over. Pure: the edge keeps the counters (edge/limits/) and asks `verdict`.

export type RateLimit = {
  /** Hits allowed per window; the next is refused until the window ends. */
  limit: number;
  windowSeconds: number;
  /** What the refusal says was too many, e.g. "failed enrollment attempts". */
  what: string;
};

export const RATE_LIMITS = {
  /** Wrong, used or expired enrollment codes from one address: codes are short enough to guess at. */
  enrollFailuresPerIp: { limit: 10, windowSeconds: 600, what: 'failed enrollment attempts from this address' },
  /** Unknown or revoked API keys and device tokens from one address. */
  bearerFailuresPerIp: { limit: 30, windowSeconds: 600, what: 'requests with an unknown or revoked key from this address' },
  /**
   * Every request of one door. An agent beats and pulls a few times a minute; draining a backlog
   * after an outage (batches of 200 events) stays within 50 a second, 10,000 events a second.
   */
  deviceRequests: { limit: 3000, windowSeconds: 60, what: 'requests from this device' },
  /** Requests to one pay-now or update-card link (a member pays in a handful). */
  memberLinkRequests: { limit: 60, windowSeconds: 600, what: 'requests to this link' },
  /** Unknown, used or expired pay-now and update-card links from one address. */
  memberLinkFailuresPerIp: { limit: 20, windowSeconds: 600, what: 'unknown or expired links opened from this address' },
  /** Wrong passwords, authenticator codes and recovery codes from one address, whatever the account. */
  signInFailuresPerIp: { limit: 30, windowSeconds: 600, what: 'failed sign-ins from this address' },
  /**
   * Wrong passwords and codes for one account, from anywhere: a 6-digit code has a million values,
   * so ten tries a quarter hour keeps guessing one hopeless; the owner can still end the lockout by
   * waiting it out, and a right answer after it is refused until then.
   */
  signInFailuresPerAccount: { limit: 10, windowSeconds: 900, what: 'failed sign-ins for this account' },
  /** Member sign-in links and codes asked for from one address, whoever they are for. */
  memberSignInsPerIp: { limit: 20, windowSeconds: 600, what: 'sign-in requests from this address' },
  /** Member sign-in links and codes asked for one email or phone: each one is a message sent to them. */
  memberSignInsPerAddress: { limit: 5, windowSeconds: 900, what: 'sign-in requests for this address' },
  /** Unknown, used, revoked or expired staff invitation links from one address. */
  invitationFailuresPerIp: { limit: 20, windowSeconds: 600, what: 'unknown or expired invitation links from this address' },
  /** Passkey sign-ins started from one address: each keeps a challenge for five minutes. */
  passkeyChallengesPerIp: { limit: 60, windowSeconds: 600, what: 'passkey sign-ins started from this address' },
} as const satisfies Record<string, RateLimit>;
export type RateLimitName = keyof typeof RATE_LIMITS;

/** The fixed window `now` falls in: its start (part of the counter's key) and end. */
export function windowOf(limit: RateLimit, now: number): { startsAt: number; endsAt: number } {
  const size = limit.windowSeconds * 1000;
  const startsAt = Math.floor(now / size) * size;
  return { startsAt, endsAt: startsAt + size };
}

/** Whether `hits` (this one included) are allowed, and when a refused caller may try again. */
export function verdict(limit: RateLimit, hits: number, now: number): { allowed: true } | { allowed: false; retryAfterSeconds: number } {
  if (hits <= limit.limit) return { allowed: true };
  return { allowed: false, retryAfterSeconds: Math.max(1, Math.ceil((windowOf(limit, now).endsAt - now) / 1000)) };
}
