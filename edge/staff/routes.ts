// Contracts of the staff subsystem. The owner API side (/v1/staff, /v1/staff-invitations) needs
// staff:manage, which only owners hold; /v1/auth/* is the people's own side: signing in with an
// invitation or a password, and their own session, sessions and authenticator.
import { createRoute } from '@hono/zod-openapi';
import { z } from 'zod';
import {
  CurrentSession,
  InvitationAccept,
  InvitationAccepted,
  Passkey,
  PasskeyOptions,
  PasskeyRegister,
  PasskeySignIn,
  RecoveryCodes,
  SignIn,
  StaffInvitation,
  StaffInvitationCreate,
  StaffInvitationCreated,
  StaffMember,
  StaffMemberUpdate,
  StaffSession,
  SwitchOrganisation,
  TotpConfirm,
  TotpSetup,
} from '../../core/contracts/staff.ts';
import { IdParam } from '../../core/contracts/api.ts';
import { json, jsonBody, ownerAuth, problems, sessionAuth } from '../lib/openapi.ts';
import { ownerResource } from '../lib/resource-routes.ts';

const staff = ownerResource({ path: '/v1/staff', tags: ['Staff'], item: StaffMember, one: 'staff member', many: 'Staff members', permissions: { read: 'staff:manage', write: 'staff:manage' } });
export const listStaff = staff.list('The people on the staff, with their roles, sites and whether they are disabled');
export const getStaffMember = staff.get('One person on the staff');
export const updateStaffMember = staff.update('Change roles or sites, or disable (ending their sessions here at once) or enable', StaffMemberUpdate, 403);

const invitations = ownerResource({
  path: '/v1/staff-invitations',
  tags: ['Staff'],
  item: StaffInvitation,
  one: 'invitation',
  many: 'Invitations',
  permissions: { read: 'staff:manage', write: 'staff:manage' },
});
export const listInvitations = invitations.list('Invitations sent, newest first');
export const createInvitation = createRoute({
  method: 'post', path: '/v1/staff-invitations', 'x-permission': 'staff:manage', tags: ['Staff'], security: ownerAuth,
  summary: 'Invite someone to the staff by email: a link that works once, for 7 days',
  request: { body: jsonBody(StaffInvitationCreate) },
  responses: { 201: json(StaffInvitationCreated, 'The invitation, with its link shown this once'), ...problems(400, 401, 409) },
});
export const revokeInvitation = invitations.bareAction('revoke', 'Withdraw an invitation not yet accepted', 409);

const tags = ['Sign-in'];
const signedOut = { tags, 'x-permission': 'public', security: [] };
const signedIn = { tags, 'x-permission': 'session', security: sessionAuth };

export const acceptInvitation = createRoute({
  ...signedOut, method: 'post', path: '/v1/auth/invitations/accept',
  summary: 'Accept an invitation: choose a password (or give yours, if you already have an account) and join the organisation',
  request: { body: jsonBody(InvitationAccept) },
  responses: { 201: json(InvitationAccepted, 'Joined'), ...problems(400, 401, 404, 409, 410) },
});

export const signIn = createRoute({
  ...signedOut, method: 'post', path: '/v1/auth/sign-in',
  summary: 'Sign in with email, password and (once set up) an authenticator or recovery code; sets the session cookie',
  request: { body: jsonBody(SignIn) },
  responses: { 201: json(CurrentSession, 'Signed in: the session cookie is set'), ...problems(400, 401) },
});

export const getSession = createRoute({
  ...signedIn, method: 'get', path: '/v1/auth/session',
  summary: 'Who is signed in, where, with what permissions, and the CSRF token for writes',
  responses: { 200: json(CurrentSession, 'The current session'), ...problems(401) },
});

export const switchOrganisation = createRoute({
  ...signedIn, method: 'post', path: '/v1/auth/session/organisation',
  summary: 'Work in another organisation the person belongs to',
  request: { body: jsonBody(SwitchOrganisation) },
  responses: { 200: json(CurrentSession, 'The session, now in that organisation'), ...problems(400, 401) },
});

export const signOut = createRoute({
  ...signedIn, method: 'post', path: '/v1/auth/sign-out',
  summary: 'End this session',
  responses: { 200: json(z.object({ id: z.string(), signedOut: z.literal(true) }), 'Signed out'), ...problems(401) },
});

export const listSessions = createRoute({
  ...signedIn, method: 'get', path: '/v1/auth/sessions',
  summary: 'My live sessions, on every device',
  responses: { 200: json(z.object({ data: z.array(StaffSession) }), 'Live sessions'), ...problems(401) },
});

export const revokeSession = createRoute({
  ...signedIn, method: 'delete', path: '/v1/auth/sessions/{id}',
  summary: 'End one of my sessions (a phone left at the gym)',
  request: { params: IdParam },
  responses: { 200: json(StaffSession, 'The ended session'), ...problems(401, 404) },
});

export const startTotp = createRoute({
  ...signedIn, method: 'post', path: '/v1/auth/totp',
  summary: 'Start setting up an authenticator app: a new secret, confirmed by its first code',
  responses: { 200: json(TotpSetup, 'The secret and its otpauth:// URI'), ...problems(401) },
});

export const confirmTotp = createRoute({
  ...signedIn, method: 'post', path: '/v1/auth/totp/confirm',
  summary: 'Confirm the authenticator with its current code; from now on sign-in asks for a code. Answers the recovery codes once.',
  request: { body: jsonBody(TotpConfirm) },
  responses: { 200: json(RecoveryCodes, 'Authenticator on; recovery codes shown this once'), ...problems(400, 401, 409) },
});

export const passkeyRegistrationOptions = createRoute({
  ...signedIn, method: 'post', path: '/v1/auth/passkeys/registration-options',
  summary: 'Start adding a passkey: options for navigator.credentials.create(), good for five minutes',
  responses: { 200: json(PasskeyOptions, 'The creation options'), ...problems(401) },
});

export const addPasskey = createRoute({
  ...signedIn, method: 'post', path: '/v1/auth/passkeys',
  summary: 'Add the passkey the browser made; from now on it signs in on its own (it asks for the person’s PIN or biometric)',
  request: { body: jsonBody(PasskeyRegister) },
  responses: { 201: json(Passkey, 'Added'), ...problems(400, 401, 409) },
});

export const listPasskeys = createRoute({
  ...signedIn, method: 'get', path: '/v1/auth/passkeys',
  summary: 'My passkeys',
  responses: { 200: json(z.object({ data: z.array(Passkey) }), 'Passkeys'), ...problems(401) },
});

export const removePasskey = createRoute({
  ...signedIn, method: 'delete', path: '/v1/auth/passkeys/{id}',
  summary: 'Remove one of my passkeys (a lost phone): it signs in no more',
  request: { params: IdParam },
  responses: { 200: json(Passkey, 'Removed'), ...problems(401, 404) },
});

export const passkeySignInOptions = createRoute({
  ...signedOut, method: 'post', path: '/v1/auth/passkeys/sign-in-options',
  summary: 'Start signing in with a passkey: options for navigator.credentials.get(), good once for five minutes',
  responses: { 200: json(PasskeyOptions, 'The request options'), ...problems(400) },
});

export const passkeySignIn = createRoute({
  ...signedOut, method: 'post', path: '/v1/auth/passkeys/sign-in',
  summary: 'Sign in with a passkey (counts as two factors); sets the session cookie',
  request: { body: jsonBody(PasskeySignIn) },
  responses: { 201: json(CurrentSession, 'Signed in: the session cookie is set'), ...problems(400, 401, 403) },
});
