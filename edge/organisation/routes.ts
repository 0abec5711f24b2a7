import { createRoute } from '@hono/zod-openapi';
import { ApiKey, ApiKeyCreate, ApiKeyCreated, IdParam, Organisation, OrganisationUpdate, page } from '../../core/contracts/api.ts';
import { json, jsonBody, ownerAuth, problems } from '../lib/openapi.ts';

const tags = ['Organisation'];

export const getOrganisation = createRoute({
  method: 'get', path: '/v1/organisation', 'x-permission': 'organisation:read', tags, security: ownerAuth,
  summary: 'The organisation the API key belongs to',
  responses: { 200: json(Organisation, 'The organisation'), ...problems(401) },
});

export const updateOrganisation = createRoute({
  method: 'patch', path: '/v1/organisation', 'x-permission': 'organisation:write', tags, security: ownerAuth,
  summary: 'Rename the organisation, or require an authenticator app of every staff person',
  request: { body: jsonBody(OrganisationUpdate) },
  responses: { 200: json(Organisation, 'The updated organisation'), ...problems(400, 401) },
});

export const listApiKeys = createRoute({
  method: 'get', path: '/v1/api-keys', 'x-permission': 'api_keys:manage', tags, security: ownerAuth,
  summary: 'API keys of the organisation (secrets are never shown again)',
  responses: { 200: json(page(ApiKey), 'API keys'), ...problems(401) },
});

export const createApiKey = createRoute({
  method: 'post', path: '/v1/api-keys', 'x-permission': 'api_keys:manage', tags, security: ownerAuth,
  summary: 'Create an API key; the secret is in this response only',
  request: { body: jsonBody(ApiKeyCreate) },
  responses: { 201: json(ApiKeyCreated, 'The new key with its secret'), ...problems(400, 401) },
});

export const revokeApiKey = createRoute({
  method: 'delete', path: '/v1/api-keys/{id}', 'x-permission': 'api_keys:manage', tags, security: ownerAuth,
  summary: 'Revoke an API key',
  request: { params: IdParam },
  responses: { 200: json(ApiKey, 'The revoked key'), ...problems(401, 404) },
});
