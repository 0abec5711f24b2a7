import { createRoute } from '@hono/zod-openapi';
import { AccessProfile, AccessProfileCreate, AccessProfileUpdate, IdParam, listQuery, page } from '../../../core/contracts/api.ts';
import { json, jsonBody, ownerAuth, problems } from '../../lib/openapi.ts';

const tags = ['Access profiles'];

export const listProfiles = createRoute({
  method: 'get', path: '/v1/access-profiles', tags, security: ownerAuth, summary: 'List access profiles (what plans grant)',
  request: { query: listQuery },
  responses: { 200: json(page(AccessProfile), 'Access profiles'), ...problems(400, 401) },
});
export const createProfile = createRoute({
  method: 'post', path: '/v1/access-profiles', tags, security: ownerAuth,
  summary: 'Create an access profile: sites, door groups, schedule (24/7, staffed hours, off-peak windows), daily cap, staff flags',
  request: { body: jsonBody(AccessProfileCreate) },
  responses: { 201: json(AccessProfile, 'The new profile'), ...problems(400, 401) },
});
export const getProfile = createRoute({
  method: 'get', path: '/v1/access-profiles/{id}', tags, security: ownerAuth, summary: 'Get an access profile',
  request: { params: IdParam },
  responses: { 200: json(AccessProfile, 'The profile'), ...problems(401, 404) },
});
export const updateProfile = createRoute({
  method: 'patch', path: '/v1/access-profiles/{id}', tags, security: ownerAuth, summary: 'Change an access profile; every door learns at once',
  request: { params: IdParam, body: jsonBody(AccessProfileUpdate) },
  responses: { 200: json(AccessProfile, 'The updated profile'), ...problems(400, 401, 404) },
});
