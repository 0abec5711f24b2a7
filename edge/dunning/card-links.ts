// Update-card links of member notices: /card/{token}, one member, expiring. Through it the member
// saves a new card (Stripe's SetupIntent, or a simulated test card); the card becomes the one
// billing charges, dunning retries an open invoice at once, and the link is used up. Tokens are
// made and stored as pay-now links' are (./pay-links.ts): only their SHA-256 is kept.
import { and, eq, isNull } from 'drizzle-orm';
import { cardUpdateLinks } from '../db/schema.ts';
import type { Db } from '../env.ts';
import { hashToken, isLinkToken, linkCheck, newLinkToken, type LinkCheck } from './pay-links.ts';

/** As long as the card reminder's lead time: a member told a month ahead can act all month. */
export const CARD_LINK_TTL_MS = 30 * 86_400_000;

export type CardLink = typeof cardUpdateLinks.$inferSelect;

export async function createCardLink(db: Db, link: { organisationId: string; memberId: string }, now: number, ttlMs = CARD_LINK_TTL_MS): Promise<string> {
  const { token, tokenHash } = await newLinkToken();
  await db.insert(cardUpdateLinks).values({ tokenHash, ...link, expiresAt: now + ttlMs, createdAt: now });
  return token;
}

/** The link a token names, used or expired alike (the return page still shows what became of it). */
export async function findCardLink(db: Db, token: string): Promise<CardLink | undefined> {
  if (!isLinkToken(token)) return undefined;
  const [link] = await db.select().from(cardUpdateLinks).where(eq(cardUpdateLinks.tokenHash, await hashToken(token)));
  return link;
}

export async function checkCardLink(db: Db, token: string, now: number): Promise<LinkCheck<CardLink>> {
  return linkCheck(await findCardLink(db, token), now);
}

/** Uses the link up once a card was saved through it. */
export async function markCardLinkUsed(db: Db, tokenHash: string, now: number): Promise<void> {
  await db
    .update(cardUpdateLinks)
    .set({ usedAt: now })
    .where(and(eq(cardUpdateLinks.tokenHash, tokenHash), isNull(cardUpdateLinks.usedAt)));
}

/** The processor's idempotency key of the one card setup a link starts (the same setup each time the page is opened). */
export const cardLinkSetupKey = (link: Pick<CardLink, 'tokenHash'>) => `gymgate-card-link-${link.tokenHash.slice(0, 32)}`;
