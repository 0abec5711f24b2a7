import { createRoute } from '@hono/zod-openapi';
import { Device, IdParam, listQuery, SiteId } from '../../core/contracts/api.ts';
import { json, ownerAuth, problems } from '../lib/openapi.ts';
import { ownerResource } from '../lib/resource-routes.ts';

const tags = ['Devices'];

const device = ownerResource({ path: '/v1/devices', tags, item: Device, one: 'device', many: 'Devices' , permissions: { read: 'devices:read', write: 'devices:write' } });

export const listDevices = device.list('List door devices', listQuery.extend({ siteId: SiteId.optional() }));
export const getDevice = device.get('Get a door device');
export const revokeDevice = createRoute({
  method: 'delete', path: '/v1/devices/{id}', 'x-permission': 'devices:write', tags, security: ownerAuth,
  summary: 'Revoke a device; its token stops working at once',
  request: { params: IdParam },
  responses: { 200: json(Device, 'The revoked device'), ...problems(401, 404) },
});
