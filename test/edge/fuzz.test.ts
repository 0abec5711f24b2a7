// R5, schema-derived fuzz: every operation of the OpenAPI document is called with inputs drawn
// from its own schemas by fast-check (valid, nearly valid and wrong-typed values, unknown fields,
// ids real and made up), plus invalid JSON, a wrong content type, a huge string and deep nesting.
// Whatever comes in: no answer is a 5xx, and every 4xx is problem+json naming its type and title.
import { env } from 'cloudflare:test';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { call, enrollDevice, gym } from './helpers.ts';

type Schema = {
  $ref?: string;
  type?: string | string[];
  enum?: unknown[];
  const?: unknown;
  anyOf?: Schema[];
  oneOf?: Schema[];
  allOf?: Schema[];
  properties?: Record<string, Schema>;
  required?: string[];
  items?: Schema;
  minItems?: number;
  maxItems?: number;
  minimum?: number;
  maximum?: number;
  minLength?: number;
  maxLength?: number;
  pattern?: string;
  format?: string;
};
type Operation = {
  'x-permission'?: string;
  parameters?: Array<{ in: string; name: string; schema?: Schema }>;
  requestBody?: { content?: Record<string, { schema?: Schema }> };
};
type Doc = { paths: Record<string, Record<string, Operation>>; components: { schemas: Record<string, Schema> } };

/** The Worker as deployed: payments and Stripe's webhook secret set, so no route answers for missing configuration. */
const CONFIGURED = { PAYMENT_PROVIDER: 'simulated', STRIPE_WEBHOOK_SECRET: 'whsec_fuzz' };

/** Cases per operation: 50 in the suite; FUZZ_RUNS (a binding) raises it for a longer run. */
const RUNS = Number((env as unknown as { FUZZ_RUNS?: string }).FUZZ_RUNS ?? 50);

function arbitraries(doc: Doc, realIds: Map<string, string>) {
  const idOf = (pattern: string) => {
    const prefix = /^\^([a-z]+)_/.exec(pattern)?.[1];
    if (!prefix) return null;
    const real = realIds.get(prefix);
    const made = fc.stringMatching(/^[0-9a-z]{10,24}$/).map((s) => `${prefix}_${s}`);
    return real ? fc.oneof(fc.constant(real), made) : made;
  };
  const of = (schema: Schema | undefined, depth: number): fc.Arbitrary<unknown> => {
    if (!schema || depth > 6) return fc.anything({ maxDepth: 2 });
    if (schema.$ref) return of(doc.components.schemas[schema.$ref.split('/').pop()!], depth + 1);
    if (schema.const !== undefined) return fc.constant(schema.const);
    if (schema.enum) return fc.constantFrom(...schema.enum);
    const choices = schema.anyOf ?? schema.oneOf;
    if (choices) return fc.oneof(...choices.map((s) => of(s, depth + 1)));
    if (schema.allOf) return of(Object.assign({}, ...schema.allOf), depth + 1);
    const types = Array.isArray(schema.type) ? schema.type : schema.type ? [schema.type] : [];
    if (types.length > 1) return fc.oneof(...types.map((type) => of({ ...schema, type }, depth)));
    switch (types[0]) {
      case 'null':
        return fc.constant(null);
      case 'boolean':
        return fc.boolean();
      case 'integer':
        return fc.integer({ min: Math.max(schema.minimum ?? -1e9, -1e9), max: Math.min(schema.maximum ?? 1e9, 1e9) });
      case 'number':
        return fc.double({ noNaN: true, noDefaultInfinity: true, min: schema.minimum ?? -1e9, max: schema.maximum ?? 1e9 });
      case 'string': {
        if (schema.pattern) {
          const id = idOf(schema.pattern);
          if (id) return id;
        }
        if (schema.format === 'date-time') return fc.date({ min: new Date('2000-01-01'), max: new Date('2100-01-01'), noInvalidDate: true }).map((d) => d.toISOString());
        if (schema.format === 'date' || schema.pattern?.includes('\\d{4}-')) return fc.date({ min: new Date('2000-01-01'), max: new Date('2100-01-01'), noInvalidDate: true }).map((d) => d.toISOString().slice(0, 10));
        if (schema.format === 'uuid') return fc.uuid();
        return fc.string({ minLength: schema.minLength ?? 0, maxLength: Math.min(schema.maxLength ?? 40, 60) });
      }
      case 'array':
        return fc.array(of(schema.items, depth + 1), { minLength: schema.minItems ?? 0, maxLength: Math.min(schema.maxItems ?? 4, 4) });
      case 'object':
      default: {
        if (!schema.properties) return fc.dictionary(fc.string({ maxLength: 8 }), fc.anything({ maxDepth: 1 }), { maxKeys: 3 });
        const shape = Object.fromEntries(Object.entries(schema.properties).map(([k, s]) => [k, of(s, depth + 1)]));
        return fc.record(shape, { requiredKeys: schema.required ?? [] });
      }
    }
  };
  // Mostly shaped like the schema; sometimes a field of the wrong type or an unknown field.
  const nearly = (schema: Schema | undefined) =>
    fc.oneof(
      { weight: 6, arbitrary: of(schema, 0) },
      { weight: 2, arbitrary: of(schema, 0).chain((v) => (v && typeof v === 'object' && !Array.isArray(v) ? fc.record({ key: fc.constantFrom(...Object.keys(v), 'unknown'), value: fc.anything({ maxDepth: 2 }) }).map(({ key, value }) => ({ ...v, [key]: value })) : fc.constant(v))) },
      { weight: 1, arbitrary: fc.anything({ maxDepth: 3 }) },
    );
  return { of, nearly };
}

describe('R5 fuzz', () => {
  it(`answers every operation's drawn inputs without a 5xx, every 4xx as problem+json (${RUNS} cases per operation)`, async () => {
    const g = await gym();
    const door = await enrollDevice(g.apiKey, g.site.id);
    const doc = (await call('GET', '/openapi.json')).body as Doc;
    const realIds = new Map([
      ['site', g.site.id],
      ['door', g.front.id],
      ['mem', g.member.id],
      ['cred', g.card.id],
      ['dev', door.deviceId],
    ]);
    const { of, nearly } = arbitraries(doc, realIds);
    const failures: string[] = [];
    let calls = 0;
    const statuses = new Map<number, number>();
    const check = (label: string, res: { status: number; contentType: string | null; body: any }) => {
      calls++;
      statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
      if (res.status >= 500) failures.push(`${label}: ${res.status} ${JSON.stringify(res.body).slice(0, 300)}`);
      else if (res.status >= 400 && (!res.contentType?.includes('application/problem+json') || typeof res.body?.title !== 'string' || res.body?.status !== res.status)) {
        failures.push(`${label}: ${res.status} is not problem+json: ${res.contentType} ${JSON.stringify(res.body).slice(0, 200)}`);
      }
    };
    const ops = Object.entries(doc.paths).flatMap(([path, methods]) => Object.entries(methods).map(([method, op]) => ({ method: method.toUpperCase(), path, op })));
    for (const { method, path, op } of ops) {
      const token = op['x-permission'] === 'device' ? door.deviceToken : ['public', 'broker'].includes(op['x-permission'] ?? '') ? undefined : g.apiKey;
      const params = (op.parameters ?? []).filter((p) => p.in === 'path');
      const queries = (op.parameters ?? []).filter((p) => p.in === 'query');
      const bodySchema = op.requestBody?.content?.['application/json']?.schema;
      const input = fc.record({
        path: fc.tuple(...params.map((p) => of(p.schema, 0).map(String))),
        query: fc.tuple(...queries.map((q) => fc.option(nearly(q.schema).map((v) => (typeof v === 'object' ? JSON.stringify(v) : String(v))), { nil: undefined }))),
        body: bodySchema ? nearly(bodySchema) : fc.constant(undefined),
      });
      const samples = fc.sample(input, { numRuns: RUNS, seed: 20261207 + calls });
      for (const s of samples) {
        let concrete = path;
        params.forEach((p, i) => (concrete = concrete.replace(`{${p.name}}`, encodeURIComponent(s.path[i] ?? 'x'))));
        const query = queries.flatMap((q, i) => (s.query[i] === undefined ? [] : [`${q.name}=${encodeURIComponent(s.query[i]!)}`])).join('&');
        const url = concrete + (query ? `?${query}` : '');
        const withBody = method !== 'GET' && method !== 'DELETE' && bodySchema;
        check(`${method} ${url} ${JSON.stringify(s.body)?.slice(0, 200)}`, await call(method, url, { token, env: CONFIGURED, ...(withBody ? { body: s.body } : {}) }));
      }
      if (method === 'GET' || method === 'DELETE') continue;
      // The malformed bodies no schema draws.
      const target = path.replace(/\{[^}]+\}/g, g.member.id);
      const deep = `${'['.repeat(5000)}${']'.repeat(5000)}`;
      for (const [what, rawBody, contentType] of [
        ['invalid JSON', '{"name": ', 'application/json'],
        ['a wrong content type', 'name=x', 'text/plain'],
        ['a huge string', JSON.stringify({ name: 'x'.repeat(1_000_000), email: 'y'.repeat(100_000) }), 'application/json'],
        ['deep nesting', deep, 'application/json'],
        ['a JSON array', '[1,2,3]', 'application/json'],
      ] as const) {
        const ctxCall = await call(method, target, { token, env: CONFIGURED, rawBody, ...(contentType === 'application/json' ? {} : { headers: { 'content-type': contentType } }) });
        check(`${method} ${target} with ${what}`, ctxCall);
      }
    }
    console.log(`fuzz: ${ops.length} operations, ${RUNS} drawn cases each plus 5 malformed bodies per write = ${calls} calls (${[...statuses].sort(([x], [y]) => x - y).map(([s, n]) => `${s}×${n}`).join(' ')}), ${failures.length} failures (5xx or 4xx without problem+json)`);
    expect(failures.slice(0, 20)).toEqual([]);
  }, 600_000);
});
