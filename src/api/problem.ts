import type { FastifyReply } from 'fastify';

/** The kinds of failure the API reports; each is documented at /api/docs#problem-<kind>. */
export const problemTitles = {
  'invalid-request': 'The request is invalid',
  'malformed-json': 'The body is not valid JSON',
  unauthorized: 'A valid API token is required',
  'department-forbidden': 'This token may not use this department',
  'not-found': 'Not found',
  'method-not-allowed': 'Method not allowed',
  'too-large': 'The request is too large',
  'unsupported-media-type': 'The body must be application/json',
  'unknown-department': 'Unknown department',
  'inactive-department': 'Inactive department',
  'idempotency-conflict': 'This Idempotency-Key was used with another body',
  'rate-limited': 'Too many requests',
  unavailable: 'Relais cannot answer now',
  internal: 'Internal error',
} as const;

export type ProblemKind = keyof typeof problemTitles;

/** RFC 9457 problem details; `field` and `reason` say what to correct in a 400, `department` which code a 403/422 is about. */
export interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  field?: string;
  reason?: string;
  department?: string;
}

export const problemContentType = 'application/problem+json';

export function problemOf(baseUrl: string, kind: ProblemKind, status: number, detail: string, extra: Pick<Problem, 'field' | 'reason' | 'department'> = {}): Problem {
  return { type: `${baseUrl}/api/docs#problem-${kind}`, title: problemTitles[kind], status, detail, ...extra };
}

/** A refusal the handlers throw; the API's error handler turns it into a problem. */
export class ApiProblem extends Error {
  constructor(
    readonly kind: ProblemKind,
    readonly status: number,
    detail: string,
    readonly extra: Pick<Problem, 'field' | 'reason' | 'department'> = {},
  ) {
    super(detail);
  }
}

export function sendProblem(reply: FastifyReply, problem: Problem) {
  return reply.code(problem.status).type(problemContentType).header('Cache-Control', 'no-store').send(JSON.stringify(problem));
}
