import type { FastifyInstance, FastifyRequest } from 'fastify';
import { formatDateTime, isIsoMoment, type MessageKey, type Params } from '../i18n/index.js';

export interface AuditFilters {
  user: string;
  action: string;
  q: string;
  page: number;
}

export const auditPerPage = 50;

function text(raw: unknown): string {
  if (Array.isArray(raw)) raw = raw[raw.length - 1];
  return typeof raw === 'string' ? raw.trim().slice(0, 200) : '';
}

export function auditFiltersFrom(query: Record<string, unknown>): AuditFilters {
  const user = text(query.user);
  const page = Number(text(query.page));
  return {
    user: /^(\d{1,15})$/.test(user) ? user : '',
    action: text(query.action),
    q: text(query.q),
    page: Number.isInteger(page) && page > 0 ? page : 1,
  };
}

/** The audit page's own URL for these filters: plain links, so it works without JavaScript. */
export function auditUrl(filters: AuditFilters, change: Partial<AuditFilters> = {}): string {
  const next = { ...filters, ...change };
  const params = new URLSearchParams();
  if (next.user) params.set('user', next.user);
  if (next.action) params.set('action', next.action);
  if (next.q) params.set('q', next.q);
  if (next.page > 1) params.set('page', String(next.page));
  const query = params.toString();
  return query ? `/audit?${query}` : '/audit';
}

/** Codes a field's value may hold, and where their words are. */
const valueLabels: Record<string, (code: string) => string> = {
  role: (code) => `account.role.${code}`,
  security: (code) => `security.${code}`,
  authentication: (code) => `authentication.${code}`,
  usage: (code) => `usage.${code}`,
  result: (code) => `audit.value.result.${code}`,
  combination: (code) => `audit.value.combination.${code}`,
};

/** Markers older entries hold in place of a secret, written in French in the data. */
const secretMarkers: Record<string, MessageKey> = { modifié: 'audit.value.changed', effacé: 'audit.value.cleared' };

/** A stored value in the reader's words: codes translated, lists of codes one by one, moments as dates. */
function displayWith(request: FastifyRequest, departmentNames: Map<string, string>) {
  const word = (key: string, fallback: string) => {
    const label = request.t(key as MessageKey);
    return label === key ? fallback : label;
  };
  return (field: string, value: unknown): string => {
    if (value === null || value === undefined || value === '') return '';
    if (typeof value === 'boolean') return request.t(value ? 'audit.yes' : 'audit.no');
    if (typeof value === 'object' && typeof (value as { key?: unknown }).key === 'string') {
      const message = value as { key: string; params?: Params };
      return request.t(message.key as MessageKey, message.params);
    }
    if (typeof value !== 'string') return JSON.stringify(value);
    if (secretMarkers[value]) return request.t(secretMarkers[value]);
    if (isIsoMoment(value)) return formatDateTime(request.locale, new Date(value));
    if (field === 'departments') return value.split(',').map((code) => departmentNames.get(code) ?? code).join(', ');
    const label = valueLabels[field];
    if (label) return value.split(',').map((code) => word(label(code), code)).join(', ');
    return value;
  };
}

/** A changed field's label: the audit's own, else the servers' column or form label, else the field name. */
function fieldLabelWith(request: FastifyRequest) {
  return (field: string): string => {
    for (const key of [`audit.field.${field}`, `column.${field}`, `form.${field}`]) {
      const label = request.t(key as MessageKey);
      if (label !== key) return label;
    }
    return field;
  };
}

/** Who did what, newest first; admins only (the default access). */
export async function auditRoutes(app: FastifyInstance) {
  const { audit, users, smtpServers } = app.repositories;

  function actionLabel(request: FastifyRequest, action: string): string {
    const key = `audit.action.${action}` as MessageKey;
    const label = request.t(key);
    return label === key ? action : label;
  }

  app.get('/audit', async (request, reply) => {
    const filters = auditFiltersFrom(request.query as Record<string, unknown>);
    const result = await audit.list({
      userId: filters.user ? Number(filters.user) : undefined,
      action: filters.action || undefined,
      text: filters.q || undefined,
      page: filters.page,
      perPage: auditPerPage,
    });
    return reply.page('audit/index', {
      title: request.t('audit.title'),
      filters: { ...filters, page: result.page },
      result,
      users: await users.listUsers(),
      actions: await audit.distinctActions(),
      actionLabel: (action: string) => actionLabel(request, action),
      targetLabel: (type: string | null) => {
        if (!type) return '';
        const key = `audit.target.${type}` as MessageKey;
        const label = request.t(key);
        return label === key ? type : label;
      },
      display: displayWith(request, new Map((await smtpServers.listDepartments()).map((d) => [d.code, d.name]))),
      fieldLabel: fieldLabelWith(request),
      auditUrl,
    });
  });
}
