// Fakes of the email and SMS provider APIs gymgate's notification transports call
// (edge/notifications/transports.ts), as Node HTTP servers on 127.0.0.1:
//
//   resend    POST /emails                                   Bearer re_…           JSON  → 200 { id }
//   sendgrid  POST /v3/mail/send                             Bearer SG.…           JSON  → 202, X-Message-Id
//   twilio    POST /2010-04-01/Accounts/{sid}/Messages.json  Basic sid:token       form  → 201 { sid: SM…, … }
//
// Each credential (API key, or Twilio account SID) is its own account with its own request log
// and faults, so test files that use fresh keys never see each other's traffic. Validation
// follows the providers' documented errors closely enough for the transports' error handling:
// 401 for a missing or malformed credential, 422 (Resend) / 400 (SendGrid, Twilio 21211) for an
// invalid message. Resend's Idempotency-Key replays the first response.
//
// Test-only endpoints, JSON, account named by `?account=`:
//   GET  /__fake/requests            the account's request log
//   POST /__fake/faults              { status, count?, body?, mode?: 'reset' } → the next `count`
//                                    sends answer `status` (or have their connection destroyed)
//   POST /__fake/hold                { ms } → sends wait this long before answering
import { randomBytes, randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export type ProviderKind = 'resend' | 'sendgrid' | 'twilio';

export type RecordedRequest = {
  method: string;
  path: string;
  authorization: string | null;
  contentType: string | null;
  idempotencyKey: string | null;
  /** Parsed JSON, or the form fields of a form-encoded body. */
  body: any;
  status: number;
  at: number;
};

type Fault = { status: number; count: number; body?: unknown; mode?: 'reset' };
type Account = { requests: RecordedRequest[]; faults: Fault[]; holdMs: number; idempotency: Map<string, { status: number; body: string }> };

const readBody = (req: IncomingMessage) =>
  new Promise<string>((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });

const send = (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) => {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(body === undefined ? '' : JSON.stringify(body));
};

function accountOf(kind: ProviderKind, req: IncomingMessage, path: string): string | null {
  const auth = req.headers.authorization ?? '';
  if (kind === 'twilio') {
    const m = /^\/2010-04-01\/Accounts\/([^/]+)\/Messages\.json$/.exec(path);
    return m?.[1] ? decodeURIComponent(m[1]) : null;
  }
  const m = /^Bearer (.+)$/.exec(auth);
  return m?.[1] ?? null;
}

/** The provider's own answer to a request that got past faults: [status, body, headers]. */
function answer(kind: ProviderKind, req: IncomingMessage, path: string, body: any, account: string): [number, unknown, Record<string, string>?] {
  const auth = req.headers.authorization ?? '';
  if (kind === 'resend') {
    if (path !== '/emails') return [404, { statusCode: 404, name: 'not_found', message: 'The requested endpoint does not exist.' }];
    if (!account.startsWith('re_')) return [401, { statusCode: 401, name: 'missing_api_key', message: 'Missing API key in the authorization header.' }];
    const to = Array.isArray(body?.to) ? body.to : [body?.to];
    if (!body?.from || !body?.subject || !(body?.text || body?.html)) return [422, { statusCode: 422, name: 'validation_error', message: 'Missing `from`, `subject` or content.' }];
    if (!to.every((t: unknown) => typeof t === 'string' && /^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(t))) {
      return [422, { statusCode: 422, name: 'validation_error', message: 'Invalid `to` field. The email address needs to follow the `email@example.com` or `Name <email@example.com>` format.' }];
    }
    return [200, { id: randomUUID() }];
  }
  if (kind === 'sendgrid') {
    if (path !== '/v3/mail/send') return [404, { errors: [{ message: 'Not found' }] }];
    if (!account.startsWith('SG.')) return [401, { errors: [{ message: 'The provided authorization grant is invalid, expired, or revoked', field: null, help: null }] }];
    const to = body?.personalizations?.[0]?.to?.[0]?.email;
    if (!body?.from?.email || !body?.subject || !Array.isArray(body?.content) || body.content.length === 0) {
      return [400, { errors: [{ message: 'The from, subject and content fields are required.', field: 'from', help: null }] }];
    }
    if (typeof to !== 'string' || !/^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(to)) {
      return [400, { errors: [{ message: 'Does not contain a valid address.', field: 'personalizations.0.to.0.email', help: null }] }];
    }
    return [202, undefined, { 'x-message-id': randomBytes(16).toString('base64url') }];
  }
  // twilio
  const basic = /^Basic (.+)$/.exec(auth);
  const [user, token] = basic?.[1] ? Buffer.from(basic[1], 'base64').toString('utf8').split(':') : [];
  if (!user || user !== account || !token) {
    return [401, { code: 20003, message: 'Authenticate', more_info: 'https://www.twilio.com/docs/errors/20003', status: 401 }];
  }
  if (!body?.Body || !(body?.From || body?.MessagingServiceSid)) {
    return [400, { code: 21602, message: 'Message body is required.', more_info: 'https://www.twilio.com/docs/errors/21602', status: 400 }];
  }
  if (typeof body.To !== 'string' || !/^\+[1-9]\d{6,14}$/.test(body.To)) {
    return [400, { code: 21211, message: `The 'To' number ${body.To} is not a valid phone number.`, more_info: 'https://www.twilio.com/docs/errors/21211', status: 400 }];
  }
  const sid = `SM${randomBytes(16).toString('hex')}`;
  return [
    201,
    { sid, account_sid: account, to: body.To, from: body.From ?? null, messaging_service_sid: body.MessagingServiceSid ?? null, body: body.Body, status: 'queued', num_segments: '1', api_version: '2010-04-01', uri: `/2010-04-01/Accounts/${account}/Messages/${sid}.json` },
  ];
}

export async function startFakeProvider(kind: ProviderKind) {
  const accounts = new Map<string, Account>();
  const accountFor = (key: string): Account => {
    let a = accounts.get(key);
    if (!a) accounts.set(key, (a = { requests: [], faults: [], holdMs: 0, idempotency: new Map() }));
    return a;
  };

  const server = createServer(async (req, res) => {
    try {
      const url = new URL(req.url ?? '/', 'http://fake');
      const raw = await readBody(req);
      if (url.pathname.startsWith('/__fake/')) {
        const key = url.searchParams.get('account');
        if (!key) return send(res, 400, { error: 'account query parameter required' });
        const account = accountFor(key);
        const body = raw ? JSON.parse(raw) : {};
        if (req.method === 'GET' && url.pathname === '/__fake/requests') return send(res, 200, account.requests);
        if (req.method === 'POST' && url.pathname === '/__fake/faults') {
          account.faults.push({ status: body.status ?? 500, count: body.count ?? 1, body: body.body, mode: body.mode });
          return send(res, 200, { ok: true });
        }
        if (req.method === 'POST' && url.pathname === '/__fake/hold') {
          account.holdMs = Number(body.ms ?? 0);
          return send(res, 200, { ok: true });
        }
        return send(res, 404, { error: 'no such fake endpoint' });
      }

      const key = accountOf(kind, req, url.pathname);
      const contentType = req.headers['content-type'] ?? null;
      let body: any = raw;
      if (contentType?.startsWith('application/json')) body = raw ? JSON.parse(raw) : null;
      else if (contentType?.startsWith('application/x-www-form-urlencoded')) body = Object.fromEntries(new URLSearchParams(raw));
      const record = (status: number): RecordedRequest => ({
        method: req.method ?? 'GET',
        path: url.pathname,
        authorization: req.headers.authorization ?? null,
        contentType,
        idempotencyKey: (req.headers['idempotency-key'] as string | undefined) ?? null,
        body,
        status,
        at: Date.now(),
      });
      if (!key) return send(res, 401, { message: 'no credentials' });
      const account = accountFor(key);
      if (account.holdMs > 0) await new Promise((r) => setTimeout(r, account.holdMs));

      const fault = account.faults[0];
      if (fault && req.method === 'POST') {
        if (--fault.count <= 0) account.faults.shift();
        account.requests.push(record(fault.mode === 'reset' ? 0 : fault.status));
        if (fault.mode === 'reset') {
          req.socket.destroy();
          return;
        }
        return send(res, fault.status, fault.body ?? { message: `injected ${fault.status}` });
      }

      const idem = record(0).idempotencyKey;
      if (kind === 'resend' && idem && account.idempotency.has(idem)) {
        const saved = account.idempotency.get(idem)!;
        account.requests.push({ ...record(saved.status) });
        res.writeHead(saved.status, { 'content-type': 'application/json', 'x-idempotent-replayed': 'true' });
        return res.end(saved.body);
      }
      if (req.method !== 'POST') return send(res, 405, { message: 'method not allowed' });
      const [status, out, headers] = answer(kind, req, url.pathname, body, key);
      account.requests.push(record(status));
      if (kind === 'resend' && idem && status < 300) account.idempotency.set(idem, { status, body: JSON.stringify(out) });
      return send(res, status, out, headers);
    } catch (err) {
      send(res, 500, { message: String(err) });
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
