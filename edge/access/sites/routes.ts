import { createRoute } from '@hono/zod-openapi';
import { IdParam, listQuery, page, Site, SiteCreate, SiteUpdate } from '../../../core/contracts/api.ts';
import { json, jsonBody, ownerAuth, problems } from '../../lib/openapi.ts';

const tags = ['Sites'];

export const listSites = createRoute({
  method: 'get', path: '/v1/sites', tags, security: ownerAuth, summary: 'List sites',
  request: { query: listQuery },
  responses: { 200: json(page(Site), 'Sites'), ...problems(400, 401) },
});
export const createSite = createRoute({
  method: 'post', path: '/v1/sites', tags, security: ownerAuth, summary: 'Create a site',
  request: { body: jsonBody(SiteCreate) },
  responses: { 201: json(Site, 'The new site'), ...problems(400, 401) },
});
export const getSite = createRoute({
  method: 'get', path: '/v1/sites/{id}', tags, security: ownerAuth, summary: 'Get a site',
  request: { params: IdParam },
  responses: { 200: json(Site, 'The site'), ...problems(401, 404) },
});
export const updateSite = createRoute({
  method: 'patch', path: '/v1/sites/{id}', tags, security: ownerAuth, summary: 'Rename a site or change its time zone',
  request: { params: IdParam, body: jsonBody(SiteUpdate) },
  responses: { 200: json(Site, 'The updated site'), ...problems(400, 401, 404) },
});
