import { createRoute } from '@hono/zod-openapi';
import { Device, IdParam, listQuery, page, SiteId } from '../../core/contracts/api.ts';
import { json, ownerAuth, problems } from '../lib/openapi.ts';

const tags = ['Devices'];

export const listDevices = createRoute({
  method: 'get', path: '/v1/devices', tags, security: ownerAuth, summary: 'List door devices',
  request: { query: listQuery.extend({ siteId: SiteId.optional() }) },
  responses: { 200: json(page(Device), 'Devices'), ...problems(400, 401) },
});
export const getDevice = createRoute({
  method: 'get', path: '/v1/devices/{id}', tags, security: ownerAuth, summary: 'Get a door device',
  request: { params: IdParam },
  responses: { 200: json(Device, 'The device'), ...problems(401, 404) },
});
export const revokeDevice = createRoute({
  method: 'delete', path: '/v1/devices/{id}', tags, security: ownerAuth,
  summary: 'Revoke a device; its token stops working at once',
  request: { params: IdParam },
  responses: { 200: json(Device, 'The revoked device'), ...problems(401, 404) },
});
