// Passkeys (WebAuthn) for staff: a signed-in person adds one, then signs in with it alone. The
// passkey proves possession and, with user verification required, the person's PIN or biometric,
// so a passkey sign-in counts as two factors. Checks are @simplewebauthn/server's (pure WebCrypto);
// this module keeps the challenges (each good once, for five minutes) and the public keys.
import {
  generateAuthenticationOptions,
  generateRegistrationOptions,
  verifyAuthenticationResponse,
  verifyRegistrationResponse,
  type AuthenticationResponseJSON,
  type RegistrationResponseJSON,
} from '@simplewebauthn/server';
import { decodeClientDataJSON, isoBase64URL } from '@simplewebauthn/server/helpers';
import { and, asc, eq, lte } from 'drizzle-orm';
import type { Context } from 'hono';
import type { z } from 'zod';
import type { PasskeyRegister, PasskeySignIn } from '../../core/contracts/staff.ts';
import type { AppEnv, Db, StaffSessionContext } from '../env.ts';
import { newId } from '../lib/ids.ts';
import { ApiProblem, notFound } from '../lib/problem.ts';
import { iso } from '../lib/time.ts';
import { clientAddress, hit, tooMany } from '../limits/index.ts';
import { auditAccount, membershipsOf, notLockedOut, openSession } from './accounts.ts';
import { requireSecondFactorSession } from './sessions.ts';
import { staffPasskeyChallenges, staffPasskeys, staffSessions, staffUsers } from './tables.ts';

const CHALLENGE_TTL_MS = 5 * 60_000;
/** ES256 and RS256: what passkeys use. Pinned, so verification never probes for algorithms the runtime lacks. */
const ALGORITHMS = [-7, -257];
const MAX_PASSKEYS = 20;

/**
 * Who the passkeys belong to: WEBAUTHN_ORIGIN where set (the address staff open, e.g.
 * https://gym.example), else the address this request came to. The rpID is its host name.
 */
export function relyingParty(c: Context<AppEnv>) {
  const url = new URL(c.req.url);
  // A proxy in front (wrangler dev's) may rewrite the URL; the Host header is what the browser opened.
  const origin = c.env.WEBAUTHN_ORIGIN ? new URL(c.env.WEBAUTHN_ORIGIN).origin : `${url.protocol}//${c.req.header('host') ?? url.host}`;
  return { origin, rpID: new URL(origin).hostname };
}

export const passkeyOut = (r: typeof staffPasskeys.$inferSelect) => ({ id: r.id, name: r.name, createdAt: iso(r.createdAt), lastUsedAt: r.lastUsedAt === null ? null : iso(r.lastUsedAt) });

const passkeyRefused = (reason: string) => new ApiProblem(401, 'passkey-refused', 'Passkey not accepted', `The passkey was not accepted: ${reason}.`, [{ field: 'response', reason }]);

async function storeChallenge(db: Db, challenge: string, purpose: 'register' | 'sign-in', userId: string | null, now: number) {
  // Old challenges go as new ones come: the table holds only the last few minutes'.
  await db.batch([
    db.delete(staffPasskeyChallenges).where(lte(staffPasskeyChallenges.expiresAt, now)),
    db.insert(staffPasskeyChallenges).values({ challenge, purpose, userId, expiresAt: now + CHALLENGE_TTL_MS }),
  ] as const);
}

/**
 * Uses up the challenge the browser signed (read from its client data): it is deleted whether or
 * not the rest checks out, so an answer can be tried once. Null when it is unknown, used, expired,
 * for the other purpose or (registering) another person's.
 */
async function takeChallenge(db: Db, response: { response: { clientDataJSON: string } }, purpose: 'register' | 'sign-in', userId: string | null, now: number): Promise<string | null> {
  let challenge: string;
  try {
    challenge = decodeClientDataJSON(response.response.clientDataJSON).challenge;
  } catch {
    return null;
  }
  if (typeof challenge !== 'string' || !challenge) return null;
  const [row] = await db.delete(staffPasskeyChallenges).where(eq(staffPasskeyChallenges.challenge, challenge)).returning();
  if (!row || row.purpose !== purpose || row.expiresAt <= now || (purpose === 'register' && row.userId !== userId)) return null;
  return challenge;
}

/** Options for navigator.credentials.create(): a discoverable passkey that verifies its user. */
export async function passkeyRegistrationOptions(c: Context<AppEnv>, staff: StaffSessionContext, now = Date.now()) {
  requireSecondFactorSession(staff);
  const db = c.var.db;
  const existing = await db.select({ credentialId: staffPasskeys.credentialId, transports: staffPasskeys.transports }).from(staffPasskeys).where(eq(staffPasskeys.userId, staff.user.id));
  const rp = relyingParty(c);
  const options = await generateRegistrationOptions({
    rpName: 'gymgate',
    rpID: rp.rpID,
    userName: staff.user.email,
    userDisplayName: staff.user.name,
    userID: new Uint8Array(new TextEncoder().encode(staff.user.id)),
    attestationType: 'none',
    excludeCredentials: existing.map((p) => ({ id: p.credentialId, transports: p.transports ?? [] })),
    authenticatorSelection: { residentKey: 'required', userVerification: 'required' },
    supportedAlgorithmIDs: ALGORITHMS,
  });
  await storeChallenge(db, options.challenge, 'register', staff.user.id, now);
  return options;
}

/** Checks the new passkey against its challenge and this site, and keeps its public key. */
export async function registerPasskey(c: Context<AppEnv>, staff: StaffSessionContext, body: z.infer<typeof PasskeyRegister>, now = Date.now()) {
  requireSecondFactorSession(staff);
  const db = c.var.db;
  const refuse = async (reason: string): Promise<never> => {
    await auditAccount(c, staff.user, [staff.session.organisationId], 'auth.passkey.register', 'refused', 401, { after: { reason } });
    throw passkeyRefused(reason);
  };
  const challenge = await takeChallenge(db, body.response, 'register', staff.user.id, now);
  if (!challenge) return refuse('its challenge is unknown, used or older than five minutes: start again');
  const count = await db.$count(staffPasskeys, eq(staffPasskeys.userId, staff.user.id));
  if (count >= MAX_PASSKEYS) throw new ApiProblem(409, 'conflict', 'Too many passkeys', `You have ${MAX_PASSKEYS} passkeys: remove one first.`, [{ field: 'response', reason: `at most ${MAX_PASSKEYS} passkeys` }]);
  const rp = relyingParty(c);
  let verified;
  try {
    verified = await verifyRegistrationResponse({
      response: body.response as unknown as RegistrationResponseJSON,
      expectedChallenge: challenge,
      expectedOrigin: rp.origin,
      expectedRPID: rp.rpID,
      requireUserVerification: true,
      supportedAlgorithmIDs: ALGORITHMS,
    });
  } catch (error) {
    return refuse(error instanceof Error ? error.message : String(error));
  }
  if (!verified.verified) return refuse('the authenticator’s answer did not verify');
  const credential = verified.registrationInfo.credential;
  const [row] = await db
    .insert(staffPasskeys)
    .values({
      id: newId('pky', now),
      userId: staff.user.id,
      credentialId: credential.id,
      publicKey: isoBase64URL.fromBuffer(credential.publicKey),
      counter: credential.counter,
      transports: credential.transports ?? null,
      name: body.name ?? `Passkey ${iso(now).slice(0, 10)}`,
      createdAt: now,
    })
    .onConflictDoNothing()
    .returning();
  if (!row) throw new ApiProblem(409, 'conflict', 'Passkey already added', 'This passkey is already added.', [{ field: 'response', reason: 'credential already registered' }]);
  // Adding a passkey took the person's PIN or biometric: this session now counts as two factors.
  await db.update(staffSessions).set({ mfa: true }).where(eq(staffSessions.id, staff.session.id));
  await auditAccount(c, staff.user, [staff.session.organisationId], 'auth.passkey.register', 'succeeded', 201, { after: { passkeyId: row.id, name: row.name } });
  return passkeyOut(row);
}

export async function listPasskeys(db: Db, userId: string) {
  const rows = await db.select().from(staffPasskeys).where(eq(staffPasskeys.userId, userId)).orderBy(asc(staffPasskeys.id));
  return rows.map(passkeyOut);
}

export async function removePasskey(c: Context<AppEnv>, staff: StaffSessionContext, id: string) {
  requireSecondFactorSession(staff);
  const [row] = await c.var.db.delete(staffPasskeys).where(and(eq(staffPasskeys.id, id), eq(staffPasskeys.userId, staff.user.id))).returning();
  if (!row) throw notFound('Passkey', id);
  await auditAccount(c, staff.user, [staff.session.organisationId], 'auth.passkey.remove', 'succeeded', 200, { before: { passkeyId: row.id, name: row.name } });
  return passkeyOut(row);
}

/** Options for navigator.credentials.get(): any passkey of this site (the browser offers the person's own). */
export async function passkeySignInOptions(c: Context<AppEnv>, now = Date.now()) {
  const ip = clientAddress((h) => c.req.header(h));
  const started = await hit(c.var.db, 'passkeyChallengesPerIp', ip, now);
  if (!started.allowed) throw tooMany('passkeyChallengesPerIp', started.retryAfterSeconds);
  const options = await generateAuthenticationOptions({ rpID: relyingParty(c).rpID, userVerification: 'required' });
  await storeChallenge(c.var.db, options.challenge, 'sign-in', null, now);
  return options;
}

/** Signs in with a passkey: its challenge, this site, its key and the person's verification; then a session as with a password. */
export async function signInWithPasskey(c: Context<AppEnv>, body: z.infer<typeof PasskeySignIn>, now = Date.now()) {
  const db = c.var.db;
  const ip = clientAddress((h) => c.req.header(h));
  await notLockedOut(db, [['signInFailuresPerIp', ip]]);
  const fail = async (reason: string, user?: { id: string; name: string }): Promise<never> => {
    await hit(db, 'signInFailuresPerIp', ip);
    if (user) await auditAccount(c, user, (await membershipsOf(db, user.id)).map((o) => o.id), 'auth.sign-in', 'refused', 401, { after: { method: 'passkey', reason } });
    throw passkeyRefused(reason);
  };
  const [found] = await db.select({ passkey: staffPasskeys, user: staffUsers }).from(staffPasskeys).innerJoin(staffUsers, eq(staffUsers.id, staffPasskeys.userId)).where(eq(staffPasskeys.credentialId, body.response.id));
  const challenge = await takeChallenge(db, body.response, 'sign-in', null, now);
  if (!found) return fail('this passkey is not known here (it may have been removed)');
  const { passkey, user } = found;
  if (!challenge) return fail('its challenge is unknown, used or older than five minutes: try again', user);
  const rp = relyingParty(c);
  let info;
  try {
    const result = await verifyAuthenticationResponse({
      response: body.response as unknown as AuthenticationResponseJSON,
      expectedChallenge: challenge,
      expectedOrigin: rp.origin,
      expectedRPID: rp.rpID,
      credential: { id: passkey.credentialId, publicKey: isoBase64URL.toBuffer(passkey.publicKey), counter: passkey.counter, transports: (passkey.transports ?? []) as never },
      requireUserVerification: true,
    });
    if (!result.verified) return fail('the signature did not verify', user);
    info = result.authenticationInfo;
  } catch (error) {
    return fail(error instanceof Error ? error.message : String(error), user);
  }
  // The verification refused a counter that went backwards (a cloned authenticator, where it keeps one).
  const moved = await db.update(staffPasskeys).set({ counter: info.newCounter, lastUsedAt: now }).where(eq(staffPasskeys.id, passkey.id)).returning({ id: staffPasskeys.id });
  if (moved.length === 0) return fail('this passkey was removed', user);
  return openSession(c, { id: user.id, name: user.name, email: user.email }, body.organisationId, 'passkey', now);
}
