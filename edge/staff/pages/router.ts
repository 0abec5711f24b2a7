// The staff pages: accepting an invitation (/staff/invitation?token=…, the link in the email),
// signing in (/staff/sign-in), and the signed-in page (/staff) with the authenticator set-up and
// signing out. Plain forms posting to the Worker, no script; the same rules as /v1/auth/* (the
// pages call the same functions), refusals said in the person's language.
import { Hono } from 'hono';
import { html } from 'hono/html';
import type { Context } from 'hono';
import type { AppEnv } from '../../env.ts';
import { ApiProblem } from '../../lib/problem.ts';
import { acceptStaffInvitation, confirmTotpFor, endSession, invitationByToken, pendingTotpSecret, signInStaff, startTotpFor } from '../accounts.ts';
import { listPasskeys, removePasskey } from '../passkeys.ts';
import { roleNames } from '../roles.ts';
import { PASSKEY_CLIENT } from './passkey-client.ts';
import { csrfTokenOf, resolveSession } from '../sessions.ts';
import { totpUri } from '../totp.ts';
import type { StaffCopy } from './copy.ts';
import { errorLine, staffPage, staffView, type StaffView } from './html.ts';

/** A refusal in the person's language: what the problem was about, never the API's English. */
function said(t: StaffCopy, error: unknown): string {
  if (!(error instanceof ApiProblem)) {
    console.error(JSON.stringify({ msg: 'staff page failed', error: String(error) }));
    return t.errors.other!;
  }
  if (error.slug === 'validation') {
    const first = error.errors?.[0];
    if (first?.field === 'password') return t.errors[first.reason.includes('at most') ? 'password-long' : 'password-short']!;
    if (first?.field === 'email') return t.errors['email-invalid']!;
  }
  if (error.slug === 'forbidden' && error.errors?.[0]?.field === 'origin') return t.errors.csrf!;
  return t.errors[error.slug] ?? t.errors.other!;
}

const statusOf = (error: unknown) => (error instanceof ApiProblem && [400, 401, 403, 404, 410, 429].includes(error.status) ? (error.status as 400 | 401 | 403 | 404 | 410 | 429) : 400);
/** Role names in the page's language; custom roles by their own name (`custom`: id → name). */
const roleList = (v: StaffView, roles: string[], custom: ReadonlyMap<string, string>) => roles.map((r) => v.t.roleNames[r] ?? custom.get(r) ?? r).join(', ');

async function form(c: Context<AppEnv>): Promise<Record<string, string>> {
  const body = await c.req.parseBody();
  return Object.fromEntries(Object.entries(body).flatMap(([k, v]) => (typeof v === 'string' ? [[k, v]] : [])));
}

async function invitationPage(c: Context<AppEnv>, token: string, error: unknown = null) {
  const v = staffView(c);
  const found = await invitationByToken(c.var.db, token);
  if ('problem' in found) return staffPage(c, v, v.t.problemTitle, errorLine(said(v.t, found.problem)), statusOf(found.problem));
  const { invitation, gymName, hasAccount } = found;
  const t = v.t.invitation;
  return staffPage(
    c,
    v,
    t.title(gymName),
    html`<p>${t.invited(invitation.name, invitation.email)}</p><p>${t.roles(roleList(v, invitation.roles, await roleNames(c.var.db, invitation.organisationId, invitation.roles)))}</p>${errorLine(error ? said(v.t, error) : null)}
<form method="post" action="/staff/invitation"><input type="hidden" name="token" value="${token}">
<label for="password">${hasAccount ? t.existingPassword : t.newPassword}</label><p class="hint" id="password-hint">${hasAccount ? t.existingHint : t.passwordHint}</p>
<input id="password" name="password" type="password" required ${hasAccount ? '' : html`minlength="10"`} maxlength="200" autocomplete="${hasAccount ? 'current-password' : 'new-password'}" aria-describedby="password-hint">
<button>${t.accept}</button></form>`,
    error ? statusOf(error) : 200,
  );
}

function signInPage(c: Context<AppEnv>, values: { email?: string; error?: unknown; notice?: string } = {}) {
  const v = staffView(c);
  const t = v.t.signIn;
  const message = values.error ? said(v.t, values.error) : (values.notice ?? null);
  return staffPage(
    c,
    v,
    t.title,
    html`${errorLine(message)}${passkeyButton(v, 'passkey-sign-in', v.t.passkeys.signIn)}<p>${v.t.passkeys.or}</p><form method="post" action="/staff/sign-in">
<label for="email">${t.email}</label><input id="email" name="email" type="email" required autocomplete="username" value="${values.email ?? ''}">
<label for="password">${t.password}</label><input id="password" name="password" type="password" required autocomplete="current-password">
<label for="code">${t.code}</label><p class="hint" id="code-hint">${t.codeHint}</p>
<input id="code" name="code" inputmode="numeric" autocomplete="one-time-code" maxlength="20" aria-describedby="code-hint">
<button>${t.submit}</button></form>`,
    values.error ? statusOf(values.error) : 200,
    PASSKEY_SCRIPT,
  );
}

/** The signed-in person, or null (their session ended: the page sends them to sign in). */
async function signedIn(c: Context<AppEnv>) {
  try {
    return await resolveSession(c);
  } catch (error) {
    if (error instanceof ApiProblem && (error.status === 401 || error.slug === 'csrf' || error.errors?.[0]?.field === 'origin')) return null;
    throw error;
  }
}

const toSignIn = (c: Context<AppEnv>) => c.redirect('/staff/sign-in?ended=1', 303);

const PASSKEY_SCRIPT = '/staff/passkeys.js';

/** A passkey button: hidden until the script finds the browser can use passkeys; its words for the script. */
function passkeyButton(v: StaffView, id: string, label: string, csrf = '') {
  const p = v.t.passkeys;
  return html`<button type="button" id="${id}" hidden data-csrf="${csrf}" data-working="${p.working}" data-cancelled="${p.cancelled}" data-refused="${p.refused}" data-limited="${p.limited}" data-unsupported="${p.unsupported}">${label}</button>
<p id="passkey-status" class="hint" role="status"></p>`;
}

/** Day and month in the page's language. */
const dayOf = (v: StaffView, ms: string) => new Date(ms).toLocaleDateString(v.t.locale === 'th' ? 'th-TH' : 'en-GB', { day: 'numeric', month: 'short', year: 'numeric', timeZone: 'UTC' });

export const staffPagesRouter = new Hono<AppEnv>()
  .get('/staff/invitation', (c) => invitationPage(c, c.req.query('token') ?? ''))
  .post('/staff/invitation', async (c) => {
    const { token = '', password = '' } = await form(c);
    try {
      const accepted = await acceptStaffInvitation(c, token, password);
      const v = staffView(c);
      return staffPage(c, v, v.t.invitation.accepted, html`<p>${v.t.invitation.acceptedText(accepted.gymName)}</p><p><a href="/staff/sign-in">${v.t.signIn.submit}</a></p>`);
    } catch (error) {
      return invitationPage(c, token, error);
    }
  })
  .get('/staff/sign-in', (c) => signInPage(c, c.req.query('ended') ? { notice: staffView(c).t.signIn.ended } : {}))
  .post('/staff/sign-in', async (c) => {
    const { email = '', password = '', code = '' } = await form(c);
    try {
      await signInStaff(c, { email, password, ...(code.trim() ? { code } : {}) });
      return c.redirect('/staff', 303);
    } catch (error) {
      return signInPage(c, { email, error });
    }
  })
  .get('/staff', async (c) => {
    const staff = await signedIn(c);
    if (!staff) return toSignIn(c);
    const v = staffView(c);
    const t = v.t.home;
    const csrf = await csrfTokenOf(staff.token);
    const gym = staff.organisationName;
    const p = v.t.passkeys;
    const passkeys = await listPasskeys(c.var.db, staff.user.id);
    return staffPage(
      c,
      v,
      t.title(gym),
      html`<p class="who">${t.signedInAs(staff.user.name, staff.user.email)}</p><p class="roles">${t.roles(roleList(v, staff.member.roles, await roleNames(c.var.db, staff.session.organisationId, staff.member.roles)))}</p>
${c.req.query('passkey') === 'added' ? html`<p class="hint" role="status">${p.addedNotice}</p>` : ''}
<p class="mfa" data-mfa="${staff.totp ? 'on' : 'off'}">${staff.totp ? t.mfaOn : t.mfaOff}</p>${staff.mfaSetupRequired ? errorLine(t.mfaRequired(gym)) : ''}
${staff.totp ? '' : html`<form method="post" action="/staff/totp"><input type="hidden" name="_csrf" value="${csrf}"><button>${t.setUpMfa}</button></form>`}
<section aria-labelledby="passkeys-heading"><h2 id="passkeys-heading">${p.heading}</h2><p>${p.about}</p>
${passkeys.length === 0 ? html`<p class="passkeys-none">${p.none}</p>` : html`<ul class="passkeys">${passkeys.map((k) => html`<li><span class="passkey-name">${k.name}</span>, ${p.added(dayOf(v, k.createdAt))}${k.lastUsedAt ? html`, ${p.lastUsed(dayOf(v, k.lastUsedAt))}` : ''}
<form method="post" action="/staff/passkeys/remove"><input type="hidden" name="_csrf" value="${csrf}"><input type="hidden" name="id" value="${k.id}"><button>${p.remove(k.name)}</button></form></li>`)}</ul>`}
<label for="passkey-name">${p.name}</label><input id="passkey-name" maxlength="60" autocomplete="off">
${passkeyButton(v, 'passkey-add', p.add, csrf)}</section>
<form method="post" action="/staff/sign-out"><input type="hidden" name="_csrf" value="${csrf}"><button>${t.signOut}</button></form>`,
      200,
      PASSKEY_SCRIPT,
    );
  })
  .get(PASSKEY_SCRIPT, (c) => {
    c.header('cache-control', 'no-cache');
    c.header('x-content-type-options', 'nosniff');
    return c.body(PASSKEY_CLIENT, 200, { 'content-type': 'text/javascript; charset=utf-8' });
  })
  .post('/staff/passkeys/remove', async (c) => {
    const staff = await signedIn(c);
    if (!staff) return toSignIn(c);
    const { id = '' } = await form(c);
    try {
      await removePasskey(c, staff, id);
    } catch (error) {
      if (!(error instanceof ApiProblem && (error.status === 404 || error.status === 403))) throw error;
    }
    return c.redirect('/staff', 303);
  })
  .post('/staff/totp', async (c) => {
    const staff = await signedIn(c);
    if (!staff) return toSignIn(c);
    let secret: string;
    try {
      ({ secret } = await startTotpFor(c.var.db, staff));
    } catch (error) {
      if (error instanceof ApiProblem && error.status === 403) return c.redirect('/staff', 303);
      throw error;
    }
    return totpPage(c, staff.user.email, secret, await csrfTokenOf(staff.token));
  })
  .post('/staff/totp/confirm', async (c) => {
    const staff = await signedIn(c);
    if (!staff) return toSignIn(c);
    const { code = '' } = await form(c);
    const v = staffView(c);
    try {
      const { recoveryCodes } = await confirmTotpFor(c, staff, code);
      return staffPage(c, v, v.t.totp.done, html`<p>${v.t.totp.recovery}</p><ul class="codes">${recoveryCodes.map((r) => html`<li><code>${r}</code></li>`)}</ul><p><a href="/staff">${v.t.totp.back}</a></p>`);
    } catch (error) {
      const secret = await pendingTotpSecret(c.var.db, staff.user.id);
      if (!secret) return c.redirect('/staff', 303);
      return totpPage(c, staff.user.email, secret, await csrfTokenOf(staff.token), error);
    }
  })
  .post('/staff/sign-out', async (c) => {
    const staff = await signedIn(c);
    if (staff) await endSession(c, staff);
    return c.redirect('/staff/sign-in', 303);
  });

function totpPage(c: Context<AppEnv>, email: string, secret: string, csrf: string, error: unknown = null) {
  const v = staffView(c);
  const t = v.t.totp;
  return staffPage(
    c,
    v,
    t.title,
    html`<p>${t.scan}</p><p>${t.key}: <code class="totp-secret">${secret}</code></p><p><a href="${totpUri(secret, email)}">${t.link}</a></p>${errorLine(error ? said(v.t, error) : null)}
<form method="post" action="/staff/totp/confirm"><input type="hidden" name="_csrf" value="${csrf}">
<label for="code">${t.code}</label><input id="code" name="code" inputmode="numeric" pattern="[0-9]{6}" required autocomplete="one-time-code" maxlength="6">
<button>${t.confirm}</button></form>`,
    error ? statusOf(error) : 200,
  );
}
