// The API's JSON schemas: they validate the requests (unknown fields refused) and describe the API (/api/openapi.json).
import { problemContentType } from './problem.js';

const statuses = ['queued', 'sending', 'retry', 'sent', 'failed', 'cancelled'];

const addressList = {
  type: ['string', 'array'],
  items: { type: 'string', maxLength: 998 },
  maxItems: 100,
  maxLength: 10_000,
  description: 'One address (`Name <a@b.fr>`), several separated by commas, or an array of them.',
} as const;

export const messageBodySchema = {
  type: 'object',
  additionalProperties: false,
  required: ['department', 'to', 'subject'],
  properties: {
    department: { type: 'string', minLength: 1, maxLength: 64, description: 'The department’s code: achat, vente, production, or one added later.' },
    to: addressList,
    cc: addressList,
    bcc: addressList,
    replyTo: { type: 'string', maxLength: 998 },
    subject: { type: 'string', minLength: 1, maxLength: 998 },
    text: { type: 'string', description: 'The plain-text body; text or html is required.' },
    html: { type: 'string', description: 'The HTML body; text or html is required.' },
    attachments: {
      type: 'array',
      maxItems: 100,
      description: 'At most 10 MB in all, decoded.',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['filename', 'contentType', 'contentBase64'],
        properties: {
          filename: { type: 'string', minLength: 1, maxLength: 255 },
          contentType: { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]*/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]*$', maxLength: 255 },
          contentBase64: { type: 'string' },
        },
      },
    },
  },
} as const;

export const problemSchema = {
  $id: 'Problem',
  type: 'object',
  description: 'RFC 9457 problem details.',
  required: ['type', 'title', 'status', 'detail'],
  properties: {
    type: { type: 'string', format: 'uri' },
    title: { type: 'string' },
    status: { type: 'integer' },
    detail: { type: 'string' },
    field: { type: 'string', description: 'The field to correct (400, 413).' },
    reason: { type: 'string', description: 'What is wrong with it.' },
    department: { type: 'string', description: 'The department’s code (403, 422).' },
  },
} as const;

const problem = (description: string) => ({ description, content: { [problemContentType]: { schema: { $ref: 'Problem#' } } } });

const serverRef = {
  type: ['object', 'null'],
  properties: { id: { type: ['integer', 'null'] }, title: { type: 'string' } },
} as const;

const summaryProperties = {
  id: { type: 'string' },
  status: { type: 'string', enum: statuses },
  department: { type: 'string' },
  to: { type: 'array', items: { type: 'string' } },
  subject: { type: 'string' },
  messageId: { type: 'string', description: 'The Message-ID header, kept across attempts and servers.' },
  acceptedAt: { type: 'string', format: 'date-time' },
  nextAttemptAt: { type: ['string', 'null'], format: 'date-time' },
  attemptCount: { type: 'integer' },
  lastReply: { type: ['string', 'null'] },
  server: { ...serverRef, description: 'The server that delivered it (status sent), or was last tried.' },
} as const;

const summarySchema = { type: 'object', properties: summaryProperties } as const;

const detailSchema = {
  type: 'object',
  properties: {
    ...summaryProperties,
    cc: { type: 'array', items: { type: 'string' } },
    bcc: { type: 'array', items: { type: 'string' } },
    replyTo: { type: ['string', 'null'] },
    pendingRecipients: {
      type: ['array', 'null'],
      items: { type: 'string' },
      description: 'The recipients the next attempt goes to when not all of them (some refused one by one); null: all of to, cc and bcc.',
    },
    attempts: {
      type: 'array',
      items: {
        type: 'object',
        properties: {
          at: { type: 'string', format: 'date-time' },
          server: serverRef,
          outcome: { type: 'string', enum: ['sent', 'failover', 'deferred', 'failed'] },
          reply: { type: ['string', 'null'], description: 'The SMTP reply or the connection error.' },
          durationMs: { type: 'integer' },
        },
      },
    },
  },
} as const;

const common = {
  401: problem('No token, an unknown or a revoked one.'),
  429: problem('Too many requests for this token; see Retry-After.'),
};

const json = (schema: unknown, description: string) => ({ description, content: { 'application/json': { schema } } });

export const postMessageSchema = {
  summary: 'Queue a message for a department',
  description:
    'Stores the message in the outbox and answers 202 once it is committed; the department’s servers send it. ' +
    'An `Idempotency-Key` header makes a retried call return the first answer instead of queuing the message twice.',
  headers: {
    type: 'object',
    properties: { 'idempotency-key': { type: 'string', minLength: 1, maxLength: 255, pattern: '^[\\x21-\\x7e]+$', description: 'Any string of printable ASCII, unique per message.' } },
  },
  body: messageBodySchema,
  response: {
    202: json({ type: 'object', required: ['id', 'status'], properties: { id: { type: 'string' }, status: { type: 'string', enum: statuses } } }, 'Accepted: stored in the outbox.'),
    400: problem('A field is missing, unknown or invalid (`field`, `reason`), or the body is not JSON.'),
    ...common,
    403: problem('The token may not send for this department.'),
    413: problem('The body or the attachments are too large.'),
    415: problem('The body is not application/json.'),
    422: problem('Unknown or inactive department (`department`), or an Idempotency-Key reused with another body.'),
  },
} as const;

export const getMessageSchema = {
  summary: 'A message, its status and each attempt',
  params: { type: 'object', properties: { id: { type: 'string', maxLength: 100 } }, required: ['id'] },
  response: { 200: json(detailSchema, 'The message.'), ...common, 404: problem('No such message for this token.') },
} as const;

export const listMessagesSchema = {
  summary: 'The messages of the departments this token may use, newest first',
  querystring: {
    type: 'object',
    additionalProperties: false,
    properties: {
      status: { type: 'string', enum: statuses },
      department: { type: 'string', maxLength: 64 },
      since: { type: 'string', format: 'date-time', description: 'Accepted at or after this moment.' },
      page: { type: 'integer', minimum: 1, default: 1 },
      perPage: { type: 'integer', minimum: 1, maximum: 200, default: 50 },
    },
  },
  response: {
    200: json(
      {
        type: 'object',
        properties: {
          messages: { type: 'array', items: summarySchema },
          total: { type: 'integer' },
          page: { type: 'integer' },
          pages: { type: 'integer' },
          perPage: { type: 'integer' },
        },
      },
      'One page of messages.',
    ),
    400: problem('An unknown parameter or an invalid value (`field`, `reason`).'),
    ...common,
    403: problem('The token may not use this department.'),
  },
} as const;
