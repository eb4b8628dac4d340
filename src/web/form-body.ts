import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';

/** A request body read once: every field one string, except the fields its route declares as lists. */
export type FormFields = Readonly<Record<string, string | readonly string[]>>;

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Body fields that may repeat (checkboxes). Any other field sent twice, as an array or as an object is refused. */
    formLists?: readonly string[];
  }
  interface FastifyRequest {
    /** The body as typed fields; empty when the request had none. */
    form: FormFields;
  }
}

export class MalformedBodyError extends Error {
  readonly statusCode = 400;
  readonly code = 'RELAIS_MALFORMED_BODY';
  constructor(readonly field: string | null) {
    super(field === null ? 'the body is not a set of fields' : `field "${field}" must be sent once, as a single value`);
  }
}

function scalar(value: unknown): string | null {
  if (typeof value === 'string') return value;
  // A JSON body may say 587 or true where a form says "587" or "true".
  if ((typeof value === 'number' && Number.isFinite(value)) || typeof value === 'boolean') return String(value);
  return null;
}

/**
 * The one reading of a form (urlencoded: a repeated field arrives as an array) or JSON body. Brackets in a name
 * (`password[]`, `password[0]`) are refused too: they ask for an array where the route takes one value, and a
 * field left blank by them would read as "keep the stored password".
 */
export function readFormFields(body: unknown, lists: readonly string[] = []): FormFields {
  if (body === undefined || body === null) return {};
  if (typeof body !== 'object' || Array.isArray(body)) throw new MalformedBodyError(null);
  const fields: Record<string, string | readonly string[]> = Object.create(null);
  for (const [name, value] of Object.entries(body)) {
    if (/[[\]]/.test(name)) throw new MalformedBodyError(name);
    const one = scalar(value);
    if (one !== null) fields[name] = one;
    else if (Array.isArray(value) && lists.includes(name) && value.every((v) => typeof v === 'string')) fields[name] = [...value];
    else throw new MalformedBodyError(name);
  }
  return fields;
}

/** A field that holds one value: '' when absent. */
export function fieldText(fields: FormFields, name: string): string {
  const value = fields[name];
  return typeof value === 'string' ? value : '';
}

/** A field the route declared as a list: every value sent, none when absent or blank. */
export function fieldList(fields: FormFields, name: string): string[] {
  const value = fields[name];
  if (value === undefined) return [];
  if (typeof value === 'string') return value === '' ? [] : [value];
  return [...value];
}

/** Every body is checked before any handler (and the CSRF check) sees it; `request.body` is replaced by the fields. */
export const formBodyPlugin = fp(async function formBodyPlugin(app: FastifyInstance) {
  app.decorateRequest('form', null as unknown as FormFields);
  app.addHook('preValidation', async (request) => {
    // A route with a body schema (the API) is checked by that schema instead; form routes have none.
    if (request.routeOptions.schema?.body) return;
    const fields = readFormFields(request.body, request.routeOptions.config?.formLists);
    request.form = fields;
    if (request.body !== undefined) request.body = fields;
  });
});
