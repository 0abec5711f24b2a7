import { createRoute } from '@hono/zod-openapi';
import { Checkin, CheckinListQuery, page } from '../../core/contracts/api.ts';
import { json, ownerAuth, problems } from '../lib/openapi.ts';

export const listCheckins = createRoute({
  method: 'get', path: '/v1/checkins', tags: ['Check-ins'], security: ownerAuth,
  summary: 'Check-in events, newest first, filtered by member, site, door, outcome and time',
  request: { query: CheckinListQuery },
  responses: { 200: json(page(Checkin), 'Check-ins'), ...problems(400, 401) },
});
