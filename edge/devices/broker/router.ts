// The broker's side door into the Worker: a broker that asks over HTTP (EMQX, the embedded aedes
// broker of local runs) authenticates and authorises clients here; mosquitto reads files rendered
// here (synced by `npm run broker:mosquitto`). Guarded by BROKER_AUTH_SECRET, not by API keys.
import { OpenAPIHono } from '@hono/zod-openapi';
import { createMiddleware } from 'hono/factory';
import { authorize, describeIdentity } from '../../../core/broker-acl.ts';
import type { AppEnv } from '../../env.ts';
import { ApiProblem, unauthorized } from '../../lib/problem.ts';
import { allBrokerClients, authenticateBrokerClient, brokerClientNamed } from './identity.ts';
import { mosquittoAclFile as renderAcl, mosquittoPasswordFile as renderPasswords } from './mosquitto-files.ts';
import { authenticateClient, authorizeClient, mosquittoAclFile, mosquittoPasswordFile } from './routes.ts';

const sha256 = async (text: string) => new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(text)));

/** Bearer BROKER_AUTH_SECRET, compared as digests so the comparison takes the same time for any input. */
export const requireBrokerSecret = createMiddleware<AppEnv>(async (c, next) => {
  const secret = c.env.BROKER_AUTH_SECRET;
  if (!secret) throw new ApiProblem(404, 'broker-hooks-off', 'Broker hooks are not configured', 'Set the BROKER_AUTH_SECRET secret to let a broker authenticate doors here.');
  const given = /^Bearer\s+(\S+)$/i.exec(c.req.header('authorization') ?? '')?.[1] ?? '';
  const [a, b] = await Promise.all([sha256(given), sha256(secret)]);
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= (a[i] as number) ^ (b[i] as number);
  if (diff !== 0) throw unauthorized('Send BROKER_AUTH_SECRET as `Authorization: Bearer <secret>`.');
  await next();
});

export const brokerRouter = new OpenAPIHono<AppEnv>()
  .openapi(authenticateClient, async (c) => {
    const { username, password, clientid } = c.req.valid('json');
    const client = await authenticateBrokerClient(c.env, c.var.db, username, password);
    if (!client) {
      console.warn(JSON.stringify({ msg: 'broker client refused', username, clientId: clientid ?? null, reason: 'unknown user, wrong password or revoked device' }));
      return c.json({ result: 'deny' as const, is_superuser: false }, 200);
    }
    return c.json({ result: 'allow' as const, is_superuser: false, acl: client.rules }, 200);
  })
  .openapi(authorizeClient, async (c) => {
    const { username, topic, action } = c.req.valid('json');
    const client = await brokerClientNamed(c.env, c.var.db, username);
    const decision = client ? authorize(client.rules, action, topic, describeIdentity(client)) : { allowed: false, reason: `${username} is not a broker identity` };
    if (!decision.allowed) console.warn(JSON.stringify({ msg: 'broker action refused', username, action, topic, reason: decision.reason }));
    return c.json({ result: decision.allowed ? ('allow' as const) : ('deny' as const) }, 200);
  })
  .openapi(mosquittoPasswordFile, async (c) => {
    const clients = await allBrokerClients(c.env, c.var.db);
    return c.text(renderPasswords(clients.map((x) => ({ username: x.username, hash: x.hash }))), 200);
  })
  .openapi(mosquittoAclFile, async (c) => {
    const clients = await allBrokerClients(c.env, c.var.db);
    return c.text(renderAcl(clients.map((x) => ({ username: x.username, rules: x.rules }))), 200);
  });
