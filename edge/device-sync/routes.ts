import { createRoute } from '@hono/zod-openapi';
import { CheckinBatch, CheckinBatchResult, EntitlementSnapshot } from '../../core/contracts/wire.ts';
import { deviceAuth, json, jsonBody, problems } from '../lib/openapi.ts';

const tags = ['Device protocol'];

export const getSnapshot = createRoute({
  method: 'get', path: '/v1/device/snapshot', tags, security: deviceAuth,
  summary: "The device's site entitlements: doors, members' access status and their credentials",
  responses: { 200: json(EntitlementSnapshot, 'Snapshot at the current version'), ...problems(401) },
});

export const uploadCheckins = createRoute({
  method: 'post', path: '/v1/device/checkins', tags, security: deviceAuth,
  summary: 'Upload check-in events from the door outbox (idempotent by event id)',
  request: { body: jsonBody(CheckinBatch) },
  responses: { 200: json(CheckinBatchResult, 'How many were new and how many were already known'), ...problems(400, 401) },
});
