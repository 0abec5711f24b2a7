import { createExecutionContext, env, waitOnExecutionContext } from 'cloudflare:test';
import { createApp } from '../../edge/app.ts';
import { bootstrapOrganisation } from '../../edge/bootstrap/statements.ts';
import type { Env } from '../../edge/env.ts';

const app = createApp();

export type ApiResult<T = any> = { status: number; body: T; contentType: string | null; headers: Headers };

/** Calls the Worker's app with the test D1 and waits for work it left in waitUntil (MQTT publishes). */
export async function call<T = any>(
  method: string,
  path: string,
  options: { token?: string; body?: unknown; rawBody?: string; env?: Partial<Env>; headers?: Record<string, string> } = {},
): Promise<ApiResult<T>> {
  const headers: Record<string, string> = { ...options.headers };
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  if (options.body !== undefined || options.rawBody !== undefined) headers['content-type'] ??= 'application/json';
  const ctx = createExecutionContext();
  const res = await app.request(
    path,
    { method, headers, body: options.rawBody ?? (options.body === undefined ? undefined : JSON.stringify(options.body)) },
    { ...(env as unknown as Env), ...options.env },
    ctx,
  );
  await waitOnExecutionContext(ctx);
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null, contentType: res.headers.get('content-type'), headers: res.headers };
}

/** A request to one of the Worker's member pages (HTML, no API key), with an optional form body. */
export async function requestPage(method: 'GET' | 'POST', path: string, options: { form?: Record<string, string>; env?: Partial<Env>; headers?: Record<string, string> } = {}) {
  const ctx = createExecutionContext();
  const init: RequestInit = { method, ...(options.headers ? { headers: options.headers } : {}) };
  if (options.form) init.body = new URLSearchParams(options.form);
  const res = await app.request(path, init, { ...(env as unknown as Env), ...options.env }, ctx);
  await waitOnExecutionContext(ctx);
  return { status: res.status, contentType: res.headers.get('content-type'), headers: res.headers, body: await res.text() };
}

export async function newOrganisation(name = 'Test Gym') {
  const boot = await bootstrapOrganisation(name, Date.now());
  await env.DB.exec(boot.sql.replaceAll('\n', ' '));
  return boot;
}

/** An organisation with one site, two doors, an active member holding card 12:345. */
export async function gym() {
  const { apiKey, organisationId } = await newOrganisation();
  const site = (await call('POST', '/v1/sites', { token: apiKey, body: { name: 'Sukhumvit', timezone: 'Asia/Bangkok' } })).body;
  const front = (await call('POST', '/v1/doors', { token: apiKey, body: { siteId: site.id, name: 'Front door' } })).body;
  const studio = (await call('POST', '/v1/doors', { token: apiKey, body: { siteId: site.id, name: 'Studio' } })).body;
  const member = (await call('POST', '/v1/members', { token: apiKey, body: { name: 'Somchai P.', email: 'somchai@example.com' } })).body;
  const card = (
    await call('POST', '/v1/credentials', { token: apiKey, body: { kind: 'wiegand', memberId: member.id, facilityCode: 12, cardNumber: 345 } })
  ).body;
  return { apiKey, organisationId, site, front, studio, member, card };
}

export async function enrollDevice(apiKey: string, siteId: string, extraEnv: Partial<Env> = {}) {
  const code = (await call('POST', '/v1/enrollment-codes', { token: apiKey, body: { siteId } })).body.code as string;
  const enrolled = await call('POST', '/v1/enroll', { body: { code, name: 'Front Pi' }, env: extraEnv });
  return { code, ...enrolled.body } as { code: string; deviceId: string; deviceToken: string; topicPrefix: string; mqtt: unknown; commandPublicKey: string };
}

export const STAFF_PASSWORD = 'correct horse battery staple';

/** A staff person invited with `roles` (at `siteIds`, else every site) by `apiKey`'s organisation and signed in: their ids and the headers their web app sends. */
export async function staffSession(apiKey: string, roles: string[], siteIds?: string[]) {
  const email = `staff.${crypto.randomUUID()}@example.com`;
  const invitation = await call('POST', '/v1/staff-invitations', { token: apiKey, body: { email, name: `Staff (${roles.join(', ')})`, roles, ...(siteIds ? { siteIds } : {}) } });
  if (invitation.status !== 201) throw new Error(`invitation refused: ${JSON.stringify(invitation.body)}`);
  const token = new URL(invitation.body.acceptUrl).searchParams.get('token');
  const accepted = (await call('POST', '/v1/auth/invitations/accept', { body: { token, password: STAFF_PASSWORD } })).body;
  const signedIn = await call('POST', '/v1/auth/sign-in', { body: { email, password: STAFF_PASSWORD } });
  const cookie = /gg_session=[^;]*/.exec(signedIn.headers.get('set-cookie') ?? '')?.[0];
  if (!cookie) throw new Error(`sign-in refused: ${JSON.stringify(signedIn.body)}`);
  return {
    email,
    userId: accepted.userId as string,
    staffMemberId: accepted.staffMemberId as string,
    sessionId: signedIn.body.id as string,
    headers: { cookie, 'x-csrf-token': signedIn.body.csrfToken as string },
  };
}

/** A member signed in with the emailed link (read from the outbox): the headers their browser sends. */
export async function memberSession(organisationId: string, memberId: string) {
  const member = (await env.DB.prepare('SELECT email FROM members WHERE id = ?').bind(memberId).first<{ email: string }>())!;
  const started = await call('POST', '/v1/member-auth/start', { body: { organisationId, email: member.email } });
  if (started.status !== 202) throw new Error(`member sign-in refused: ${JSON.stringify(started.body)}`);
  const row = (await env.DB.prepare("SELECT payload FROM notification_messages WHERE template = 'member_sign_in' AND member_id = ? ORDER BY id DESC LIMIT 1").bind(memberId).first<{ payload: string }>())!;
  const token = new URL(JSON.parse(row.payload).signInUrl).searchParams.get('token');
  const signedIn = await call('POST', '/v1/member-auth/link', { body: { token } });
  const cookie = /gg_member=[^;]*/.exec(signedIn.headers.get('set-cookie') ?? '')?.[0];
  if (!cookie) throw new Error(`member link refused: ${JSON.stringify(signedIn.body)}`);
  return { cookie, 'x-csrf-token': signedIn.body.csrfToken as string };
}
