import { createRoute } from '@hono/zod-openapi';
import { z } from 'zod';
import { Door, DoorCreate, DoorUpdate, IdParam, listQuery, page, SiteId } from '../../../core/contracts/api.ts';
import { json, jsonBody, ownerAuth, problems } from '../../lib/openapi.ts';

const tags = ['Doors'];

export const listDoors = createRoute({
  method: 'get', path: '/v1/doors', tags, security: ownerAuth, summary: 'List doors, optionally of one site',
  request: { query: listQuery.extend({ siteId: SiteId.optional() }) },
  responses: { 200: json(page(Door), 'Doors'), ...problems(400, 401) },
});
export const createDoor = createRoute({
  method: 'post', path: '/v1/doors', tags, security: ownerAuth, summary: 'Add a door to a site',
  request: { body: jsonBody(DoorCreate) },
  responses: { 201: json(Door, 'The new door'), ...problems(400, 401, 404) },
});
export const getDoor = createRoute({
  method: 'get', path: '/v1/doors/{id}', tags, security: ownerAuth, summary: 'Get a door',
  request: { params: IdParam },
  responses: { 200: json(Door, 'The door'), ...problems(401, 404) },
});
export const updateDoor = createRoute({
  method: 'patch', path: '/v1/doors/{id}', tags, security: ownerAuth, summary: 'Rename a door',
  request: { params: IdParam, body: jsonBody(DoorUpdate) },
  responses: { 200: json(Door, 'The updated door'), ...problems(400, 401, 404) },
});
export const deleteDoor = createRoute({
  method: 'delete', path: '/v1/doors/{id}', tags, security: ownerAuth, summary: 'Remove a door (its readers then deny)',
  request: { params: IdParam },
  responses: { 200: json(z.object({ id: z.string(), deleted: z.literal(true) }), 'Deleted'), ...problems(401, 404) },
});
