// The contracts of an owner API resource's usual operations (list, create, get, update, remove),
// built the same way for every resource: owner key, a page of items, problem+json for the
// failures each operation can have. A resource states its path, item schema and nouns once; each
// operation adds its summary and, where it has them, its own query, body and further problems.
// The OpenAPI document they give is the one the hand-written contracts gave, byte for byte.
import { createRoute } from '@hono/zod-openapi';
import { z } from 'zod';
import { IdParam, listQuery, page } from '../../core/contracts/api.ts';
import type { Permission } from '../../core/permissions.ts';
import { json, jsonBody, ownerAuth, problems } from './openapi.ts';

type Problem = Parameters<typeof problems>[number];
const sorted = <C extends Problem[]>(codes: C) => [...codes].sort((a, b) => a - b) as C;

export const Deleted = z.object({ id: z.string(), deleted: z.literal(true) });

export function ownerResource<const P extends string, Item extends z.ZodType>(spec: {
  path: P;
  tags: string[];
  item: Item;
  /** "site": "The new site", "The site", "The updated site". */
  one: string;
  /** "Sites": the list's description. */
  many: string;
  /** What reading (list, get) and changing (create, update, remove, actions) it needs. */
  permissions: { read: Permission; write?: Permission };
}) {
  const { path, tags, item, one, many, permissions } = spec;
  const base = { tags, security: ownerAuth };
  const read = { ...base, 'x-permission': permissions.read };
  const write = () => {
    if (!permissions.write) throw new Error(`${path}: a resource that is changed declares the permission changing it needs`);
    return { ...base, 'x-permission': permissions.write };
  };
  return {
    list: <Q extends z.ZodObject = typeof listQuery, const E extends Problem[] = []>(summary: string, query?: Q, ...extra: E) =>
      createRoute({
        ...read, method: 'get', path, summary,
        request: { query: (query ?? listQuery) as Q },
        responses: { 200: json(page(item), many), ...problems(...sorted([400, 401, ...extra] as [400, 401, ...E])) },
      }),
    create: <B extends z.ZodType, const E extends Problem[] = []>(summary: string, body: B, ...extra: E) =>
      createRoute({
        ...write(), method: 'post', path, summary,
        request: { body: jsonBody(body) },
        responses: { 201: json(item, `The new ${one}`), ...problems(...sorted([400, 401, ...extra] as [400, 401, ...E])) },
      }),
    get: (summary: string) =>
      createRoute({
        ...read, method: 'get', path: `${path}/{id}` as `${P}/{id}`, summary,
        request: { params: IdParam },
        responses: { 200: json(item, `The ${one}`), ...problems(401, 404) },
      }),
    update: <B extends z.ZodType, const E extends Problem[] = []>(summary: string, body: B, ...extra: E) =>
      createRoute({
        ...write(), method: 'patch', path: `${path}/{id}` as `${P}/{id}`, summary,
        request: { params: IdParam, body: jsonBody(body) },
        responses: { 200: json(item, `The updated ${one}`), ...problems(...sorted([400, 401, 404, ...extra] as [400, 401, 404, ...E])) },
      }),
    /** POST {path}/{id}/{name} with a body, answering the item. */
    action: <const N extends string, B extends z.ZodType, const E extends Problem[] = []>(name: N, summary: string, body: B, ...extra: E) =>
      createRoute({
        ...write(), method: 'post', path: `${path}/{id}/${name}` as `${P}/{id}/${N}`, summary,
        request: { params: IdParam, body: jsonBody(body) },
        responses: { 200: json(item, `The ${one}`), ...problems(...sorted([400, 401, 404, ...extra] as [400, 401, 404, ...E])) },
      }),
    /** POST {path}/{id}/{name} without a body, answering the item. */
    bareAction: <const N extends string, const E extends Problem[] = []>(name: N, summary: string, ...extra: E) =>
      createRoute({
        ...write(), method: 'post', path: `${path}/{id}/${name}` as `${P}/{id}/${N}`, summary,
        request: { params: IdParam },
        responses: { 200: json(item, `The ${one}`), ...problems(...sorted([401, 404, ...extra] as [401, 404, ...E])) },
      }),
    remove: (summary: string) =>
      createRoute({
        ...write(), method: 'delete', path: `${path}/{id}` as `${P}/{id}`, summary,
        request: { params: IdParam },
        responses: { 200: json(Deleted, 'Deleted'), ...problems(401, 404) },
      }),
  };
}
