// Contracts of member accounts: signing in (public, x-permission "public") and the member's own
// data (x-permission "member": the member session cookie, nothing else).
import { createRoute } from '@hono/zod-openapi';
import { z } from 'zod';
import { MemberCodeVerify, MemberInvoice, MemberLinkUse, MemberSession, MemberSignInStart, MemberSignInStarted } from '../../core/contracts/member-accounts.ts';
import { json, jsonBody, problems } from '../lib/openapi.ts';

const tags = ['Member sign-in'];
const signedOut = { tags, 'x-permission': 'public', security: [] };
const signedIn = { tags, 'x-permission': 'member', security: [{ memberSession: [] }] };

export const startSignIn = createRoute({
  ...signedOut, method: 'post', path: '/v1/member-auth/start',
  summary: 'Send a member a sign-in link (email) or a 6-digit code (SMS)',
  request: { body: jsonBody(MemberSignInStart) },
  responses: { 202: json(MemberSignInStarted, 'Sent, if the gym has a member with that address'), ...problems(400) },
});

export const useLink = createRoute({
  ...signedOut, method: 'post', path: '/v1/member-auth/link',
  summary: 'Sign in with the token of an emailed link; sets the member session cookie',
  request: { body: jsonBody(MemberLinkUse) },
  responses: { 201: json(MemberSession, 'Signed in'), ...problems(400, 404, 410) },
});

export const verifyCode = createRoute({
  ...signedOut, method: 'post', path: '/v1/member-auth/verify',
  summary: 'Sign in with the SMS code; sets the member session cookie',
  request: { body: jsonBody(MemberCodeVerify) },
  responses: { 201: json(MemberSession, 'Signed in'), ...problems(400, 401) },
});

export const getMe = createRoute({
  ...signedIn, method: 'get', path: '/v1/me',
  summary: 'The signed-in member',
  responses: { 200: json(MemberSession, 'The member session'), ...problems(401) },
});

export const myInvoices = createRoute({
  ...signedIn, method: 'get', path: '/v1/me/invoices',
  summary: 'Invoices the member pays, newest first',
  responses: { 200: json(z.object({ data: z.array(MemberInvoice) }), 'Invoices'), ...problems(401) },
});

export const memberSignOut = createRoute({
  ...signedIn, method: 'post', path: '/v1/me/sign-out',
  summary: 'End the member session',
  responses: { 200: json(z.object({ id: z.string(), signedOut: z.literal(true) }), 'Signed out'), ...problems(401, 403) },
});
