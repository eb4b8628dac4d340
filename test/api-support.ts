import type { FastifyInstance } from 'fastify';
import { systemActor } from '../src/audit/repository.js';

/** A token made through the service, as the tokens page makes it; its secret. */
export async function tokenFor(app: FastifyInstance, scope: { name?: string; departments?: string[] } = {}): Promise<string> {
  const departments = scope.departments ?? [];
  const { secret } = await app.repositories.apiTokens.create(
    { name: scope.name ?? 'ERP', allDepartments: departments.length === 0, departments },
    systemActor,
  );
  return secret;
}

export const validMessage = {
  department: 'vente',
  to: 'Client <client@exemple.fr>',
  subject: 'Devis 2025-001',
  text: 'Bonjour, voici votre devis.',
};

export function apiRequest(app: FastifyInstance, token: string | null, method: 'GET' | 'POST', url: string, body?: unknown, headers: Record<string, string> = {}) {
  return app.inject({
    method,
    url,
    headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
    ...(body === undefined ? {} : { payload: typeof body === 'string' ? body : JSON.stringify(body) }),
  });
}

/** Deactivates a department the way an admin does, through the departments service. */
export async function deactivateDepartment(app: FastifyInstance, code: string): Promise<void> {
  await app.repositories.departments.setDepartmentActive(code, false, systemActor);
}

/** The problem+json body of an answer; throws when the answer is anything else. */
export function problem(res: { statusCode: number; headers: Record<string, unknown>; body: string }) {
  const contentType = String(res.headers['content-type']);
  if (!contentType.startsWith('application/problem+json')) throw new Error(`not a problem (${res.statusCode} ${contentType}): ${res.body.slice(0, 200)}`);
  return JSON.parse(res.body) as { type: string; title: string; status: number; detail: string; field?: string; reason?: string; department?: string };
}
