import type { FastifyInstance } from 'fastify';

/** The departments (code → name, in display order) and the servers (id, title) the log's filters and pages name. */
export async function logChoices(app: FastifyInstance) {
  const departments = await app.stores.departments.list();
  const servers: { id: number; title: string }[] = [];
  for await (const server of app.repositories.smtpServers.iterateServers()) servers.push({ id: server.id, title: server.title });
  return {
    departments: departments.map((d) => ({ code: d.code, name: d.name, active: d.active })),
    departmentNames: Object.fromEntries(departments.map((d) => [d.code, d.name])) as Record<string, string>,
    servers,
  };
}
