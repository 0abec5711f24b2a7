import { createRoute } from '@hono/zod-openapi';
import { Checkin, CheckinListQuery, DoorAlarm, DoorAlarmListQuery, IdParam, page } from '../../core/contracts/api.ts';
import { json, ownerAuth, problems } from '../lib/openapi.ts';
import { ownerResource } from '../lib/resource-routes.ts';

export const listCheckins = ownerResource({ path: '/v1/checkins', tags: ['Check-ins'], item: Checkin, one: 'check-in', many: 'Check-ins' , permissions: { read: 'checkins:read' } }).list(
  'Check-in events, newest first, filtered by member, site, door, outcome and time',
  CheckinListQuery,
);

export const listAlarms = ownerResource({ path: '/v1/alarms', tags: ['Door alarms'], item: DoorAlarm, one: 'alarm', many: 'Door alarms' , permissions: { read: 'alarms:read' } }).list(
  'Door alarms (forced, held open, cleared), newest first, filtered by site, door, type and time',
  DoorAlarmListQuery,
);

export const listDoorAlarms = createRoute({
  method: 'get', path: '/v1/doors/{id}/alarms', 'x-permission': 'alarms:read', tags: ['Door alarms'], security: ownerAuth,
  summary: "One door's alarms, newest first",
  request: { params: IdParam, query: DoorAlarmListQuery.omit({ siteId: true, doorId: true }) },
  responses: { 200: json(page(DoorAlarm), 'Door alarms'), ...problems(400, 401, 404) },
});
