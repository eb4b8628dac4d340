import multipart from '@fastify/multipart';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';

/** A request body read once: every field one string, except the fields its route declares as lists. */
export type FormFields = Readonly<Record<string, string | readonly string[]>>;

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Body fields that may repeat (checkboxes). Any other field sent twice, as an array or as an object is refused. */
    formLists?: readonly string[];
    /** File fields a multipart body may carry, each with the most bytes it may hold (the rest is not read). */
    formFiles?: Readonly<Record<string, { maxBytes: number }>>;
  }
  interface FastifyRequest {
    /** The body as typed fields; empty when the request had none. */
    form: FormFields;
    /** The files of a multipart body, by field; a file input left empty is absent. */
    formFiles: Readonly<Record<string, UploadedFile>>;
  }
}

/** A file as it came in a multipart body: its name and declared type are the browser's word, to be checked. */
export interface UploadedFile {
  filename: string;
  declaredType: string;
  /** At most the field's maxBytes. */
  bytes: Buffer;
  /** The file went past its field's maxBytes: what is beyond was not kept. */
  truncated: boolean;
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

/** The form's fields sent as multipart/form-data, under the same one-value rule, and its declared files. */
async function readMultipart(request: FastifyRequest, bodyLimit: number): Promise<{ fields: FormFields; files: Record<string, UploadedFile> }> {
  const config = request.routeOptions.config;
  const lists = config?.formLists ?? [];
  const declared = config?.formFiles ?? {};
  const maxBytes = Math.max(0, ...Object.values(declared).map((f) => f.maxBytes));
  const fields: Record<string, string | string[]> = Object.create(null);
  const files: Record<string, UploadedFile> = Object.create(null);
  let refused: MalformedBodyError | null = null;
  let fieldBytes = 0;
  const parts = request.parts({ limits: { fileSize: maxBytes, files: Object.keys(declared).length + 1, fields: 200, fieldSize: bodyLimit } });
  for await (const part of parts) {
    const name = part.fieldname;
    // Read to the end in every case, so the refusal is sent once the whole request has been received.
    if (part.type === 'file') {
      const chunks: Buffer[] = [];
      for await (const chunk of part.file) if (!refused) chunks.push(chunk as Buffer);
      const bytes = Buffer.concat(chunks);
      if (refused) continue;
      // A file input left empty is sent as an unnamed, empty part.
      if (part.filename === '' && bytes.length === 0 && !(name in files)) continue;
      if (!(name in declared) || name in files || name in fields || /[[\]]/.test(name)) refused = new MalformedBodyError(name);
      else files[name] = { filename: part.filename, declaredType: part.mimetype, bytes: bytes.subarray(0, declared[name]!.maxBytes), truncated: part.file.truncated || bytes.length > declared[name]!.maxBytes };
      continue;
    }
    if (refused) continue;
    const value = part.value;
    fieldBytes += Buffer.byteLength(name) + (typeof value === 'string' ? Buffer.byteLength(value) : 0);
    if (part.valueTruncated || fieldBytes > bodyLimit) throw Object.assign(new Error('request body is too large'), { statusCode: 413, code: 'FST_ERR_CTP_BODY_TOO_LARGE' });
    if (/[[\]]/.test(name) || typeof value !== 'string' || name in files) refused = new MalformedBodyError(name);
    else if (!(name in fields)) fields[name] = value;
    else if (lists.includes(name)) fields[name] = [fields[name]!, value].flat();
    else refused = new MalformedBodyError(name);
  }
  if (refused) throw refused;
  return { fields, files };
}

/** Every body is checked before any handler (and the CSRF check) sees it; `request.body` is replaced by the fields. */
export const formBodyPlugin = fp(async function formBodyPlugin(app: FastifyInstance, options: { bodyLimit: number }) {
  // A file past its limit is cut and marked truncated, not an error: the form comes back with the reason by the field.
  await app.register(multipart, { limits: { fieldSize: options.bodyLimit }, throwFileSizeLimit: false });
  app.decorateRequest('form', null as unknown as FormFields);
  app.decorateRequest('formFiles', null as unknown as Record<string, UploadedFile>);
  app.addHook('preValidation', async (request) => {
    request.formFiles = {};
    // A route with a body schema (the API) is checked by that schema instead; form routes have none.
    if (request.routeOptions.schema?.body) return;
    if (request.isMultipart()) {
      const { fields, files } = await readMultipart(request, options.bodyLimit);
      request.form = fields;
      request.formFiles = files;
      request.body = fields;
      return;
    }
    const fields = readFormFields(request.body, request.routeOptions.config?.formLists);
    request.form = fields;
    if (request.body !== undefined) request.body = fields;
  });
});
