import { createRoute } from '@hono/zod-openapi';
import { EnrollmentCode, EnrollmentCodeCreate } from '../../../core/contracts/api.ts';
import { EnrollRequest, EnrollResponse } from '../../../core/contracts/wire.ts';
import { json, jsonBody, ownerAuth, problems } from '../../lib/openapi.ts';

export const createEnrollmentCode = createRoute({
  method: 'post', path: '/v1/enrollment-codes', 'x-permission': 'devices:write', tags: ['Devices'], security: ownerAuth,
  summary: 'Create a one-time, short-lived code a technician uses to provision a door device at a site',
  request: { body: jsonBody(EnrollmentCodeCreate) },
  responses: { 201: json(EnrollmentCode, 'The code (shown once)'), ...problems(400, 401) },
});

export const enrollDevice = createRoute({
  method: 'post', path: '/v1/enroll', 'x-permission': 'public', tags: ['Device protocol'],
  summary: 'Exchange an enrollment code for a device credential (used by `gymgate-agent provision`)',
  request: { body: jsonBody(EnrollRequest) },
  responses: {
    201: json(EnrollResponse, 'The device credential (shown once)'),
    ...problems(400, 409, 410),
  },
});
