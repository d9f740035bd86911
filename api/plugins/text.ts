// Text that cannot be stored never gets in: a NUL (PostgreSQL's text and jsonb refuse it) or an unpaired surrogate
// (not a character; jsonb refuses its escape, UTF-8 cannot carry it) in any path parameter, query value or JSON body
// string, key or value, anywhere in it, answers 400 naming the field, before validation and before any handler. One
// place for every route; the OpenAPI document says so too: each free-text string a route takes gets the pattern
// of domain/text.ts, so a fuzzer reading the document knows such text is invalid. (Multipart fields are read by
// their routes, through the same domain rules; header values cannot hold either, Node's parser refuses them.)
import type { FastifyRequest, RouteOptions } from 'fastify';
import fp from 'fastify-plugin';
import { STORABLE_TEXT_PATTERN, storableTextProblem } from '../../domain/text';
import { invalidParams } from './errors';

type FieldError = { field: string; message: string };

/** `video.id`, `cameo_ids[2]`: the names the validation errors use. */
function child(path: string, key: string | number): string {
  return typeof key === 'number' ? `${path}[${key}]` : path === '' ? key : `${path}.${key}`;
}

/** Every string in `value` (keys too) that cannot be stored, named by its path. */
function collect(value: unknown, path: string, errors: FieldError[], depth = 0): void {
  if (errors.length >= 10 || depth > 32) return;
  if (typeof value === 'string') {
    const problem = storableTextProblem(value);
    if (problem) errors.push({ field: path || 'body', message: problem });
  } else if (Array.isArray(value)) {
    value.forEach((item, i) => collect(item, child(path, i), errors, depth + 1));
  } else if (value !== null && typeof value === 'object' && !Buffer.isBuffer(value)) {
    for (const [key, item] of Object.entries(value)) {
      const keyProblem = storableTextProblem(key);
      // A bad key cannot name itself legibly: its parent and what is wrong with it.
      if (keyProblem) errors.push({ field: path || 'body', message: `has a property name that ${keyProblem}` });
      else collect(item, child(path, key), errors, depth + 1);
    }
  }
}

/** The unstorable text of a request's parameters, query and JSON body, as field errors. */
export function unstorableText(request: Pick<FastifyRequest, 'params' | 'query' | 'body'>): FieldError[] {
  const errors: FieldError[] = [];
  collect(request.params, '', errors);
  collect(request.query, '', errors);
  collect(request.body, '', errors);
  return errors;
}

type JsonSchema = Record<string, unknown>;

/** A copy of `schema` where each string that is not otherwise constrained (pattern, enum, const, format) takes the pattern. */
export function withStorableText(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(withStorableText);
  if (schema === null || typeof schema !== 'object') return schema;
  const out: JsonSchema = {};
  for (const [key, value] of Object.entries(schema as JsonSchema)) {
    // Examples and defaults are data, not schemas.
    out[key] = key === 'examples' || key === 'default' || key === 'enum' || key === 'const' ? value : withStorableText(value);
  }
  const free = out.type === 'string' && out.pattern === undefined && out.enum === undefined && out.const === undefined && out.format === undefined;
  if (free) out.pattern = STORABLE_TEXT_PATTERN;
  return out;
}

export const textPlugin = fp(
  async (app) => {
    app.addHook('onRoute', (route: RouteOptions) => {
      const schema = route.schema;
      if (!schema || schema.hide) return;
      route.schema = {
        ...schema,
        ...(schema.params ? { params: withStorableText(schema.params) } : {}),
        ...(schema.querystring ? { querystring: withStorableText(schema.querystring) } : {}),
        ...(schema.headers ? { headers: withStorableText(schema.headers) } : {}),
        ...(schema.body ? { body: withStorableText(schema.body) } : {}),
      };
    });

    app.addHook('preValidation', async (request) => {
      const errors = unstorableText(request);
      if (errors.length === 0) return;
      throw invalidParams(errors);
    });
  },
  { name: 'reelforge-text', dependencies: ['reelforge-errors'] },
);
