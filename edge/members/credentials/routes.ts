import { createRoute } from '@hono/zod-openapi';
import { z } from 'zod';
import { Credential, CredentialCreate, CredentialListQuery, IdParam, page } from '../../../core/contracts/api.ts';
import { json, jsonBody, ownerAuth, problems } from '../../lib/openapi.ts';

const tags = ['Credentials'];

export const listCredentials = createRoute({
  method: 'get', path: '/v1/credentials', tags, security: ownerAuth, summary: 'List credentials, optionally of one member',
  request: { query: CredentialListQuery },
  responses: { 200: json(page(Credential), 'Credentials'), ...problems(400, 401) },
});
export const createCredential = createRoute({
  method: 'post', path: '/v1/credentials', tags, security: ownerAuth,
  summary: 'Issue a card to a member (Wiegand facility code + card number, or the raw card id)',
  request: { body: jsonBody(CredentialCreate) },
  responses: { 201: json(Credential, 'The new credential'), ...problems(400, 401, 409) },
});
export const getCredential = createRoute({
  method: 'get', path: '/v1/credentials/{id}', tags, security: ownerAuth, summary: 'Get a credential',
  request: { params: IdParam },
  responses: { 200: json(Credential, 'The credential'), ...problems(401, 404) },
});
export const deleteCredential = createRoute({
  method: 'delete', path: '/v1/credentials/{id}', tags, security: ownerAuth,
  summary: 'Withdraw a card; doors stop accepting it at once',
  request: { params: IdParam },
  responses: { 200: json(z.object({ id: z.string(), deleted: z.literal(true) }), 'Deleted'), ...problems(401, 404) },
});
