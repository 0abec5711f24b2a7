import { createRoute } from '@hono/zod-openapi';
import { AccessExplainRequest, AccessExplanation } from '../../core/contracts/api.ts';
import { json, jsonBody, ownerAuth, problems } from '../lib/openapi.ts';

export const explainAccess = createRoute({
  method: 'post', path: '/v1/access/explain', 'x-permission': 'access:explain', tags: ['Access'], security: ownerAuth,
  summary: 'Why would this card be granted or denied at this door? The same rule the door runs, on the cloud state',
  request: { body: jsonBody(AccessExplainRequest) },
  responses: { 200: json(AccessExplanation, 'The decision and its explanation'), ...problems(400, 401, 404) },
});
