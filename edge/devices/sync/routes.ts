import { createRoute } from '@hono/zod-openapi';
import { z } from 'zod';
import { CheckinBatch, CheckinBatchResult, CommandAck, DoorAlarmBatch, DeviceWhoami, EntitlementSnapshot, EntitlementUpdate, Heartbeat, HeartbeatReply } from '../../../core/contracts/wire.ts';
import { deviceAuth, json, jsonBody, problems } from '../../lib/openapi.ts';

const tags = ['Device protocol'];

export const whoami = createRoute({
  method: 'get', path: '/v1/device/whoami', 'x-permission': 'device', tags, security: deviceAuth,
  summary: 'Which device this token is, and the server time: a cheap check that reads no entitlements',
  responses: { 200: json(DeviceWhoami, 'The device'), ...problems(401) },
});

export const getSnapshot = createRoute({
  method: 'get', path: '/v1/device/snapshot', 'x-permission': 'device', tags, security: deviceAuth,
  summary: "The device's site entitlements in full",
  responses: { 200: json(EntitlementSnapshot, 'Snapshot at the current version'), ...problems(401) },
});

export const getEntitlements = createRoute({
  method: 'get', path: '/v1/device/entitlements', 'x-permission': 'device', tags, security: deviceAuth,
  summary: 'What changed since a version: a delta from the change log, `current`, or a full snapshot',
  request: { query: z.object({ since: z.coerce.number().int().min(0).optional() }) },
  responses: { 200: json(EntitlementUpdate, 'Delta, current or snapshot'), ...problems(400, 401) },
});

export const uploadCheckins = createRoute({
  method: 'post', path: '/v1/device/checkins', 'x-permission': 'device', tags, security: deviceAuth,
  summary: 'Upload check-in events from the door outbox (idempotent by the device’s event id; an id reused for another event is refused with 422)',
  request: { body: jsonBody(CheckinBatch) },
  responses: { 200: json(CheckinBatchResult, 'How many were new and how many were already known'), ...problems(400, 401, 422) },
});

export const uploadAlarms = createRoute({
  method: 'post', path: '/v1/device/alarms', 'x-permission': 'device', tags, security: deviceAuth,
  summary: 'Upload door sensor alarms (forced, held open, cleared) from the door outbox (idempotent by the device’s event id; an id reused for another event is refused with 422)',
  request: { body: jsonBody(DoorAlarmBatch) },
  responses: { 200: json(CheckinBatchResult, 'How many were new and how many were already known'), ...problems(400, 401, 422) },
});

export const postHeartbeat = createRoute({
  method: 'post', path: '/v1/device/heartbeat', 'x-permission': 'device', tags, security: deviceAuth,
  summary: "The door's health; the reply carries the server's time and the site's version and hash",
  request: { body: jsonBody(Heartbeat) },
  responses: { 200: json(HeartbeatReply, 'Server time and current entitlements'), ...problems(400, 401) },
});

export const ackCommand = createRoute({
  method: 'post', path: '/v1/device/commands/{id}/ack', 'x-permission': 'device', tags, security: deviceAuth,
  summary: 'Report the outcome of a signed command',
  request: { params: z.object({ id: z.uuid() }), body: jsonBody(CommandAck) },
  responses: { 200: json(z.object({ id: z.string(), status: z.string() }), 'Recorded'), ...problems(400, 401, 404) },
});
