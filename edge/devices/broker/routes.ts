import { createRoute, z } from '@hono/zod-openapi';
import { BrokerAuthorizeRequest, BrokerAuthorizeResult, BrokerAuthRequest, BrokerAuthResult } from '../../../core/broker-acl.ts';
import { json, jsonBody, problems } from '../../lib/openapi.ts';

const tags = ['Broker'];
export const brokerAuth = [{ brokerSecret: [] }];

export const authenticateClient = createRoute({
  method: 'post', path: '/v1/broker/authenticate', 'x-permission': 'broker', tags, security: brokerAuth,
  summary: "For the MQTT broker (EMQX's HTTP authenticator, the embedded broker): checks a client's credentials and returns its topic rules",
  request: { body: jsonBody(BrokerAuthRequest) },
  responses: { 200: json(BrokerAuthResult, 'allow with the rules, or deny'), ...problems(400, 401) },
});

export const authorizeClient = createRoute({
  method: 'post', path: '/v1/broker/authorize', 'x-permission': 'broker', tags, security: brokerAuth,
  summary: "For the MQTT broker (EMQX's HTTP authorizer): may this client publish to, or subscribe to, this topic?",
  request: { body: jsonBody(BrokerAuthorizeRequest) },
  responses: { 200: json(BrokerAuthorizeResult, 'allow or deny'), ...problems(400, 401) },
});

const text = (description: string) => ({ description, content: { 'text/plain': { schema: z.string() } } });

export const mosquittoPasswordFile = createRoute({
  method: 'get', path: '/v1/broker/mosquitto/password-file', 'x-permission': 'broker', tags, security: brokerAuth,
  summary: "mosquitto's password_file: the publisher and every door that is not revoked (PBKDF2-SHA512 hashes)",
  responses: { 200: text('One `username:$7$…` line per identity'), ...problems(401) },
});

export const mosquittoAclFile = createRoute({
  method: 'get', path: '/v1/broker/mosquitto/acl-file', 'x-permission': 'broker', tags, security: brokerAuth,
  summary: "mosquitto's acl_file: each door reads its site's notices and its commands and writes its presence; the publisher writes notices and commands",
  responses: { 200: text('One `user` block per identity'), ...problems(401) },
});
