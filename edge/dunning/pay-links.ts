// Pay-now links of dunning notices: /pay/{token}, one invoice of one member, expiring. A link
// starts at most one payment (its idempotency key, payLinkKey) and counts as used once that
// payment succeeded, so a member who closes the tab can come back to the same payment.
// The token is 32 random bytes; only its SHA-256 is stored, so the table cannot be turned back
// into working links.
import { and, eq, isNull } from 'drizzle-orm';
import { dunningPayLinks } from '../db/schema.ts';
import type { Db } from '../env.ts';

export const PAY_LINK_TTL_MS = 14 * 86_400_000;

const hex = (bytes: ArrayBuffer | Uint8Array) => [...new Uint8Array(bytes)].map((b) => b.toString(16).padStart(2, '0')).join('');

export async function hashToken(token: string): Promise<string> {
  return hex(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(token)));
}

/** A new link token: 32 random bytes in hex (what the link carries) and its hash (what is stored). */
export async function newLinkToken(): Promise<{ token: string; tokenHash: string }> {
  const token = hex(crypto.getRandomValues(new Uint8Array(32)));
  return { token, tokenHash: await hashToken(token) };
}

/** Tokens are 64 hex digits; anything else is not looked up. */
export const isLinkToken = (token: string) => /^[0-9a-f]{64}$/.test(token);

export async function createPayLink(db: Db, link: { organisationId: string; memberId: string; invoiceId: string }, now: number, ttlMs = PAY_LINK_TTL_MS): Promise<string> {
  const { token, tokenHash } = await newLinkToken();
  await db.insert(dunningPayLinks).values({ tokenHash, ...link, expiresAt: now + ttlMs, createdAt: now });
  return token;
}

export type LinkCheck<L> = { ok: true; link: L } | { ok: false; reason: 'unknown' | 'expired' | 'used' };
export type PayLinkCheck = LinkCheck<PayLink>;

/** Whether a link (of any kind) can still be used: known, unused, unexpired. */
export function linkCheck<L extends { usedAt: number | null; expiresAt: number }>(link: L | undefined, now: number): LinkCheck<L> {
  if (!link) return { ok: false, reason: 'unknown' };
  if (link.usedAt !== null) return { ok: false, reason: 'used' };
  if (link.expiresAt <= now) return { ok: false, reason: 'expired' };
  return { ok: true, link };
}

export type PayLink = typeof dunningPayLinks.$inferSelect;

/** The link a token names, used or expired alike (the page after a payment still shows its outcome). */
export async function findPayLink(db: Db, token: string): Promise<PayLink | undefined> {
  if (!isLinkToken(token)) return undefined;
  const [link] = await db.select().from(dunningPayLinks).where(eq(dunningPayLinks.tokenHash, await hashToken(token)));
  return link;
}

/** The idempotency key of the one payment a link starts, at gymgate and at the processor. */
export const payLinkKey = (link: Pick<PayLink, 'invoiceId' | 'tokenHash'>) => `${link.invoiceId}:paynow:${link.tokenHash.slice(0, 16)}`;

export async function checkPayLink(db: Db, token: string, now: number): Promise<PayLinkCheck> {
  return linkCheck(await findPayLink(db, token), now);
}

/** Marks the link used once its payment succeeded (even if it expired meanwhile: the money came). */
export async function markPayLinkUsed(db: Db, tokenHash: string, now: number): Promise<void> {
  await db
    .update(dunningPayLinks)
    .set({ usedAt: now })
    .where(and(eq(dunningPayLinks.tokenHash, tokenHash), isNull(dunningPayLinks.usedAt)));
}
