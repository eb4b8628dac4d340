import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { FormErrors } from '../auth/validation.js';
import { actorOf } from '../web/actor.js';
import { redirectAfterPost } from '../web/replies.js';
import { summaryOf } from './mail.js';
import { webhookOrigin } from './service.js';
import { validateAlertServerForm, validateOptInForm, type AlertServerField, type OptInField } from './validation.js';

/** /alertes: the server alert mails go through and the latest alerts (admins); /account/alerts: one's own opt-in. */
export async function alertRoutes(app: FastifyInstance) {
  const { stores } = app;

  async function renderSettings(request: FastifyRequest, reply: FastifyReply, form: { values: { server: string }; errors: FormErrors<AlertServerField> }, status = 200) {
    const events = await stores.alerts.recent(20);
    return reply.page(
      'alerts/index',
      {
        title: request.t('alertSettings.title'),
        servers: (await stores.alerts.serverHealth()).map((s) => ({ id: s.id, title: s.title, active: s.active })),
        recipients: await stores.alerts.recipients(),
        events: events.map((event) => ({ ...event, summary: summaryOf(event, request.locale) })),
        intervalSeconds: app.config.alerts.intervalMs / 1000,
        webhook: webhookOrigin(app.config.alerts.webhookUrl),
        ...form,
      },
      status,
    );
  }

  app.get('/alertes', async (request, reply) => {
    const chosen = await stores.alerts.alertServerId();
    return renderSettings(request, reply, { values: { server: chosen === null ? 'auto' : String(chosen) }, errors: {} });
  });

  app.post('/alertes', async (request, reply) => {
    const servers = await stores.alerts.serverHealth();
    const result = validateAlertServerForm(request.form, servers.map((s) => s.id));
    if (!result.ok) return renderSettings(request, reply, { values: result.values, errors: result.errors }, 422);
    const before = await stores.alerts.alertServerId();
    const title = (id: number | null) => (id === null ? 'auto' : (servers.find((s) => s.id === id)?.title ?? String(id)));
    const saved = await stores.transaction(async (tx) => {
      if (!(await tx.alerts.setAlertServer(result.value, new Date()))) return false;
      if (before !== result.value) {
        await tx.audit.append(actorOf(request), { action: 'alerts.server', targetType: 'alerts', summary: title(result.value), changes: { server: [title(before), title(result.value)] } });
      }
      return true;
    });
    // Deleted since the check above: nothing was written.
    if (!saved) return renderSettings(request, reply, { values: result.values, errors: { server: { key: 'error.alertSettings.server.deleted' } } }, 422);
    reply.flash('success', 'flash.alertSettings.saved');
    return redirectAfterPost(request, reply, '/alertes');
  });

  async function renderOptIn(request: FastifyRequest, reply: FastifyReply, form: { values: { optIn: boolean }; errors: FormErrors<OptInField> }, status = 200) {
    return reply.page('account/alerts', { title: request.t('myAlerts.title'), email: request.user!.email, ...form }, status);
  }

  app.get('/account/alerts', async (request, reply) => {
    const current = await stores.alerts.optInOf(request.user!.id);
    return renderOptIn(request, reply, { values: { optIn: current?.optIn ?? false }, errors: {} });
  });

  app.post('/account/alerts', async (request, reply) => {
    const result = validateOptInForm(request.form);
    if (!result.ok) return renderOptIn(request, reply, { values: result.values, errors: result.errors }, 422);
    const user = request.user!;
    await stores.transaction(async (tx) => {
      const before = await tx.alerts.optInOf(user.id);
      await tx.alerts.setOptIn(user.id, result.value, request.locale, new Date());
      if (before?.optIn !== result.value) {
        await tx.audit.append(actorOf(request), { action: 'alerts.optIn', targetType: 'user', targetId: user.id, summary: user.email, changes: { alerts: [String(before?.optIn ?? false), String(result.value)] } });
      }
    });
    if (result.value) reply.flash('success', 'flash.myAlerts.on', { email: user.email });
    else reply.flash('success', 'flash.myAlerts.off');
    return redirectAfterPost(request, reply, '/account/alerts');
  });
}
