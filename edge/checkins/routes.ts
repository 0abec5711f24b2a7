import { createRoute } from '@hono/zod-openapi';
import { Checkin, CheckinListQuery, DoorAlarm, DoorAlarmListQuery, IdParam, page } from '../../core/contracts/api.ts';
import { json, ownerAuth, problems } from '../lib/openapi.ts';

export const listCheckins = createRoute({
  method: 'get', path: '/v1/checkins', tags: ['Check-ins'], security: ownerAuth,
  summary: 'Check-in events, newest first, filtered by member, site, door, outcome and time',
  request: { query: CheckinListQuery },
  responses: { 200: json(page(Checkin), 'Check-ins'), ...problems(400, 401) },
});

export const listAlarms = createRoute({
  method: 'get', path: '/v1/alarms', tags: ['Door alarms'], security: ownerAuth,
  summary: 'Door alarms (forced, held open, cleared), newest first, filtered by site, door, type and time',
  request: { query: DoorAlarmListQuery },
  responses: { 200: json(page(DoorAlarm), 'Door alarms'), ...problems(400, 401) },
});

export const listDoorAlarms = createRoute({
  method: 'get', path: '/v1/doors/{id}/alarms', tags: ['Door alarms'], security: ownerAuth,
  summary: "One door's alarms, newest first",
  request: { params: IdParam, query: DoorAlarmListQuery.omit({ siteId: true, doorId: true }) },
  responses: { 200: json(page(DoorAlarm), 'Door alarms'), ...problems(400, 401, 404) },
});
