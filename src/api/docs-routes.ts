import type { FastifyInstance } from 'fastify';
import { problemTitles } from './problem.js';

interface Schema {
  type?: string | string[];
  enum?: unknown[];
  items?: Schema;
  properties?: Record<string, Schema>;
  required?: string[];
  description?: string;
  format?: string;
  maxLength?: number;
  maximum?: number;
  default?: unknown;
}

export interface DocField {
  name: string;
  type: string;
  required: boolean;
  description: string;
}

export interface DocOperation {
  id: string;
  method: string;
  path: string;
  summary: string;
  description: string;
  parameters: DocField[];
  body: DocField[];
  responses: { status: string; description: string }[];
}

function typeOf(schema: Schema): string {
  const types = [schema.type ?? 'any'].flat();
  const words = types.map((t) => (t === 'array' && schema.items ? `array of ${typeOf(schema.items)}` : t));
  const base = words.join(' | ');
  if (schema.enum) return `${base}: ${schema.enum.join(', ')}`;
  return schema.format ? `${base} (${schema.format})` : base;
}

/** Every field of an object schema, nested objects (and arrays of them) flattened as `attachments[].filename`. */
function fieldsOf(schema: Schema | undefined, prefix = ''): DocField[] {
  if (!schema?.properties) return [];
  return Object.entries(schema.properties).flatMap(([name, property]) => {
    const field = { name: prefix + name, type: typeOf(property), required: (schema.required ?? []).includes(name), description: property.description ?? '' };
    const nested = property.items?.properties ? fieldsOf(property.items, `${prefix}${name}[].`) : fieldsOf(property, `${prefix}${name}.`);
    return [field, ...nested];
  });
}

/** The OpenAPI document as the documentation page shows it: one section per operation. */
export function operationsOf(document: Record<string, unknown>): DocOperation[] {
  const paths = (document.paths ?? {}) as Record<string, Record<string, Record<string, unknown>>>;
  return Object.entries(paths).flatMap(([path, methods]) =>
    Object.entries(methods).map(([method, operation]) => {
      const parameters = ((operation.parameters ?? []) as { name: string; in: string; required?: boolean; schema?: Schema; description?: string }[]).map((p) => ({
        name: `${p.name} (${p.in})`,
        type: p.schema ? typeOf(p.schema) : '',
        required: p.required === true,
        description: p.description ?? p.schema?.description ?? '',
      }));
      const content = (operation.requestBody as { content?: Record<string, { schema?: Schema }> } | undefined)?.content;
      const responses = Object.entries((operation.responses ?? {}) as Record<string, { description?: string }>).map(([status, r]) => ({ status, description: r.description ?? '' }));
      return {
        id: `${method}-${path}`.replace(/[^A-Za-z0-9]+/g, '-').replace(/-+$/, ''),
        method: method.toUpperCase(),
        path,
        summary: String(operation.summary ?? ''),
        description: String(operation.description ?? ''),
        parameters,
        body: fieldsOf(content?.['application/json']?.schema),
        responses,
      };
    }),
  );
}

/** A readable page of the API, rendered on the server from /api/openapi.json: it needs no JavaScript. */
export async function apiDocsRoutes(app: FastifyInstance) {
  app.get('/api/docs', { config: { access: 'public' } }, async (request, reply) => {
    const document = app.apiDescription();
    return reply.page('api/docs', {
      title: request.t('apiDocs.title'),
      operations: operationsOf(document),
      problems: Object.entries(problemTitles).map(([kind, title]) => ({ kind, title })),
      baseUrl: app.config.publicUrl,
      rateLimit: app.config.apiRateLimitPerMinute,
    });
  });
}
