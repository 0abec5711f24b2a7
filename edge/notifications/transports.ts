// Transports hand one rendered message to a provider's HTTP API and return the provider's
// message id. Keys are secrets (`wrangler secret put`); every provider has a *_API_BASE override
// so tests can point it at a local fake.
//
// A failure is a TransportError: `permanent` when the provider refused the message itself (an
// invalid address or number, 400/422) so that retrying cannot help; anything else (network
// failure, timeout, 5xx, 429, an auth or configuration error an operator can fix) is retried.
import type { Env } from '../env.ts';

export type OutgoingMessage = {
  /** Outbox id: sent as the provider's idempotency key where it has one, and as a tag. */
  id: string;
  to: string;
  subject?: string;
  text: string;
  html?: string;
};

export type SendResult = { providerMessageId: string };
export type Transport = { name: string; send(message: OutgoingMessage): Promise<SendResult> };
export type Transports = { email: Transport; sms: Transport };

export class TransportError extends Error {
  constructor(
    message: string,
    readonly permanent = false,
    readonly status?: number,
  ) {
    super(message);
    this.name = 'TransportError';
  }
}

const TIMEOUT_MS = 15_000;

async function post(url: string, init: RequestInit, provider: string): Promise<Response> {
  let res: Response;
  try {
    res = await fetch(url, { ...init, method: 'POST', signal: AbortSignal.timeout(TIMEOUT_MS) });
  } catch (err) {
    throw new TransportError(`${provider}: network error: ${String((err as Error).message ?? err)}`);
  }
  if (res.ok) return res;
  const body = (await res.text().catch(() => '')).slice(0, 500);
  const permanent = res.status === 400 || res.status === 422;
  throw new TransportError(`${provider}: HTTP ${res.status}${body ? `: ${body}` : ''}`, permanent, res.status);
}

const trimBase = (base: string | undefined, fallback: string) => (base && base.trim() ? base.trim() : fallback).replace(/\/+$/, '');

/** "Gym Name <billing@gym.example>" or a bare address → { email, name? }. */
export function parseAddress(from: string): { email: string; name?: string } {
  const m = /^\s*(.*?)\s*<([^>]+)>\s*$/.exec(from);
  if (m && m[2]) return m[1] ? { email: m[2].trim(), name: m[1].replace(/^"|"$/g, '') } : { email: m[2].trim() };
  return { email: from.trim() };
}

function missing(provider: string, names: string[]): Transport {
  return {
    name: provider,
    send: async () => {
      throw new TransportError(`${provider}: not configured: set ${names.join(', ')}`);
    },
  };
}

export type ResendConfig = { apiKey: string; from: string; apiBase?: string };
export function resendTransport(cfg: ResendConfig): Transport {
  const base = trimBase(cfg.apiBase, 'https://api.resend.com');
  return {
    name: 'resend',
    async send(m) {
      const res = await post(
        `${base}/emails`,
        {
          headers: { authorization: `Bearer ${cfg.apiKey}`, 'content-type': 'application/json', 'idempotency-key': m.id },
          body: JSON.stringify({
            from: cfg.from,
            to: [m.to],
            subject: m.subject ?? '',
            text: m.text,
            ...(m.html ? { html: m.html } : {}),
            tags: [{ name: 'gymgate_message_id', value: m.id.replace(/[^A-Za-z0-9_-]/g, '_') }],
          }),
        },
        'resend',
      );
      const json = (await res.json().catch(() => ({}))) as { id?: string };
      if (!json.id) throw new TransportError('resend: response without an id');
      return { providerMessageId: json.id };
    },
  };
}

export type SendGridConfig = { apiKey: string; from: string; apiBase?: string };
export function sendGridTransport(cfg: SendGridConfig): Transport {
  const base = trimBase(cfg.apiBase, 'https://api.sendgrid.com');
  return {
    name: 'sendgrid',
    async send(m) {
      const res = await post(
        `${base}/v3/mail/send`,
        {
          headers: { authorization: `Bearer ${cfg.apiKey}`, 'content-type': 'application/json' },
          body: JSON.stringify({
            personalizations: [{ to: [{ email: m.to }] }],
            from: parseAddress(cfg.from),
            subject: m.subject ?? '',
            content: [{ type: 'text/plain', value: m.text }, ...(m.html ? [{ type: 'text/html', value: m.html }] : [])],
            custom_args: { gymgate_message_id: m.id },
          }),
        },
        'sendgrid',
      );
      // 202 Accepted, empty body; the id is in X-Message-Id.
      return { providerMessageId: res.headers.get('x-message-id') ?? `sendgrid:${m.id}` };
    },
  };
}

export type TwilioConfig = { accountSid: string; authToken: string; from: string; apiBase?: string };
export function twilioTransport(cfg: TwilioConfig): Transport {
  const base = trimBase(cfg.apiBase, 'https://api.twilio.com');
  return {
    name: 'twilio',
    async send(m) {
      const form = new URLSearchParams({ To: m.to, Body: m.text });
      // A Messaging Service SID (MG…) picks the sender itself; otherwise From is a number or sender id.
      if (/^MG[0-9a-f]{32}$/i.test(cfg.from)) form.set('MessagingServiceSid', cfg.from);
      else form.set('From', cfg.from);
      const res = await post(
        `${base}/2010-04-01/Accounts/${encodeURIComponent(cfg.accountSid)}/Messages.json`,
        {
          headers: {
            authorization: `Basic ${btoa(`${cfg.accountSid}:${cfg.authToken}`)}`,
            'content-type': 'application/x-www-form-urlencoded',
          },
          body: form.toString(),
        },
        'twilio',
      );
      const json = (await res.json().catch(() => ({}))) as { sid?: string };
      if (!json.sid) throw new TransportError('twilio: response without a sid');
      return { providerMessageId: json.sid };
    },
  };
}

export type NotificationEnv = Pick<
  Env,
  | 'EMAIL_PROVIDER'
  | 'EMAIL_FROM'
  | 'RESEND_API_KEY'
  | 'RESEND_API_BASE'
  | 'SENDGRID_API_KEY'
  | 'SENDGRID_API_BASE'
  | 'SMS_PROVIDER'
  | 'TWILIO_ACCOUNT_SID'
  | 'TWILIO_AUTH_TOKEN'
  | 'TWILIO_FROM'
  | 'TWILIO_API_BASE'
>;

/**
 * The transports the environment asks for. A missing key does not throw here: the transport
 * fails each send with a retryable "not configured" error, so messages wait in the outbox until
 * the secret is set. Unknown provider names are treated the same way.
 */
export function transportsFromEnv(env: NotificationEnv, dev: { email: Transport; sms: Transport }): Transports {
  const emailProvider = (env.EMAIL_PROVIDER ?? 'dev').toLowerCase();
  const smsProvider = (env.SMS_PROVIDER ?? 'dev').toLowerCase();
  const from = env.EMAIL_FROM;

  let email: Transport;
  if (emailProvider === 'dev') email = dev.email;
  else if (emailProvider === 'resend')
    email = env.RESEND_API_KEY && from ? resendTransport({ apiKey: env.RESEND_API_KEY, from, apiBase: env.RESEND_API_BASE }) : missing('resend', ['RESEND_API_KEY', 'EMAIL_FROM']);
  else if (emailProvider === 'sendgrid')
    email =
      env.SENDGRID_API_KEY && from
        ? sendGridTransport({ apiKey: env.SENDGRID_API_KEY, from, apiBase: env.SENDGRID_API_BASE })
        : missing('sendgrid', ['SENDGRID_API_KEY', 'EMAIL_FROM']);
  else email = missing(emailProvider, ['EMAIL_PROVIDER to resend, sendgrid or dev']);

  let sms: Transport;
  if (smsProvider === 'dev') sms = dev.sms;
  else if (smsProvider === 'twilio')
    sms =
      env.TWILIO_ACCOUNT_SID && env.TWILIO_AUTH_TOKEN && env.TWILIO_FROM
        ? twilioTransport({ accountSid: env.TWILIO_ACCOUNT_SID, authToken: env.TWILIO_AUTH_TOKEN, from: env.TWILIO_FROM, apiBase: env.TWILIO_API_BASE })
        : missing('twilio', ['TWILIO_ACCOUNT_SID', 'TWILIO_AUTH_TOKEN', 'TWILIO_FROM']);
  else sms = missing(smsProvider, ['SMS_PROVIDER to twilio or dev']);

  return { email, sms };
}
