import { createRoute } from '@hono/zod-openapi';
import { z } from 'zod';
import { Command, CommandCreate, IdParam } from '../../../core/contracts/api.ts';
import { json, jsonBody, ownerAuth, problems } from '../../lib/openapi.ts';

const tags = ['Door commands'];

export const sendCommand = createRoute({
  method: 'post', path: '/v1/devices/{id}/commands', 'x-permission': 'commands:send', tags, security: ownerAuth,
  summary: 'Send a signed command to a door device (unlock, set_mode, lockdown, release, sync_now, restart). set_mode, lockdown and release are also recorded on the doors (lockdown: every door of the device’s site until released)',
  request: { params: IdParam, body: jsonBody(CommandCreate) },
  responses: { 201: json(Command, 'The command and whether it reached the broker'), ...problems(400, 401, 404) },
});
export const getCommand = createRoute({
  method: 'get', path: '/v1/commands/{id}', 'x-permission': 'devices:read', tags, security: ownerAuth, summary: "A command's status",
  request: { params: z.object({ id: z.uuid() }) },
  responses: { 200: json(Command, 'The command'), ...problems(400, 401, 404) },
});
const LockdownResult = z.object({ siteId: z.string(), doors: z.number().int(), commands: z.array(Command) });
export const lockdownSite = createRoute({
  method: 'post', path: '/v1/sites/{id}/lockdown', 'x-permission': 'sites:lockdown', tags, security: ownerAuth,
  summary: "Lock down every door of a site (persisted as the doors' mode and pushed as signed commands)",
  request: { params: IdParam },
  responses: { 200: json(LockdownResult, 'Lockdown applied'), ...problems(401, 404) },
});
export const releaseSite = createRoute({
  method: 'post', path: '/v1/sites/{id}/release', 'x-permission': 'sites:lockdown', tags, security: ownerAuth,
  summary: 'End a lockdown: doors return to normal mode',
  request: { params: IdParam },
  responses: { 200: json(LockdownResult, 'Lockdown released'), ...problems(401, 404) },
});
