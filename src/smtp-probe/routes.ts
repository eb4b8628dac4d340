import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { renderServerForm } from '../smtp-servers/form-view.js';
import type { ServerView } from '../smtp-servers/repository.js';
import {
  passwordFor,
  savedServerOAuthSecret,
  savedServerPassword,
  serverFormLists,
  storedOAuthSecretOf,
  storedPasswordOf,
  validateServerForm,
  withServiceAccountKeyFile,
  type ServerFormErrors,
  type ServerFormField,
} from '../smtp-servers/validation.js';
import { serverFormFiles } from '../signature/logo.js';
import { actorOf } from '../web/actor.js';
import { wantsFragment } from '../web/render.js';
import { notFoundPage, parseId, redirectAfterPost, type IdParams } from '../web/replies.js';
import type { SmtpEndpoint } from '../smtp/endpoint.js';
import { credentialsOf } from '../smtp/credentials.js';
import type { OAuthTokens } from '../smtp/oauth-tokens.js';
import { probeServer } from '../smtp/probe.js';
import { parseReport } from '../smtp/report.js';
import { InFlight } from './in-flight.js';

const resultTarget = 'test-result';

/** The fields a connection test needs; the others (title, usage, signature) can wait for the save. */
const connectionFields: ServerFormField[] = ['host', 'port', 'security', 'authentication', 'email', 'username', 'password', 'oauthTenant', 'oauthClientId', 'oauthClientSecret', 'oauthServiceAccountKey'];

/** The probe's OAuth2 options: the token source and the credentials, when the server authenticates with OAuth2. */
function oauthOptionsOf(server: Parameters<typeof credentialsOf>[0], oauthSecret: string | null, tokens: OAuthTokens) {
  const credentials = credentialsOf(server, { password: null, oauthSecret });
  return credentials.kind === 'oauth2' ? { oauth: { credentials: credentials.oauth, tokens } } : {};
}

export async function connectionTestRoutes(app: FastifyInstance) {
  const servers = app.repositories.smtpServers;
  const tests = app.repositories.connectionTests;
  const running = new InFlight();

  async function findServer(raw: string): Promise<ServerView | null> {
    const id = parseId(raw);
    return id === null ? null : servers.findServer(id);
  }

  // The saved server, as it is: the result stays on its row for the list, and the page shows it (POST → 303 → GET).
  app.post<IdParams>('/smtp-servers/:id/test', { config: { access: 'admin' } }, async (request, reply) => {
    const server = await findServer(request.params.id);
    if (!server) return notFoundPage(reply);
    const key = `server:${server.id}`;
    const tested = await running.exclusive(key, async () => {
      const choice = savedServerPassword(server);
      const oauthSecret = await passwordFor(savedServerOAuthSecret(server), () => servers.revealOauthSecret(server.id));
      const report = await probeServer(server, await passwordFor(choice, () => servers.revealPassword(server.id)), app.smtpSettings, oauthOptionsOf(server, oauthSecret, app.oauthTokens));
      await tests.recordServerTest(server.id, server.title, report, actorOf(request), server.version, choice);
      return true;
    });
    // A second click while the first test runs starts nothing: it waits for that test and shows its result.
    if (!tested) {
      await running.settled(key);
      reply.flash('info', 'test.joinedRunning');
    }
    return redirectAfterPost(request, reply, `/smtp-servers/${server.id}/test`);
  });

  app.get<IdParams>('/smtp-servers/:id/test', { config: { access: 'viewer' } }, async (request, reply) => {
    const server = await findServer(request.params.id);
    if (!server) return notFoundPage(reply);
    return reply.page('smtp-servers/test', {
      server,
      report: parseReport(server.lastTestSummary),
      title: request.t('test.title', { title: server.title }),
    });
  });

  /**
   * "Tester avant d'enregistrer": tests the values typed, with the stored password when the field is left blank.
   * htmx swaps the result into the form's result region (the typed password stays in its field); without
   * JavaScript the form comes back whole with the result in it, every value kept but the password.
   */
  async function testTypedValues(request: FastifyRequest, reply: FastifyReply, server: ServerView | null) {
    const body = withServiceAccountKeyFile(request.form, request.formFiles);
    const departments = await servers.listDepartments();
    const result = validateServerForm(body, {
      departmentCodes: departments.map((d) => d.code),
      storedPassword: storedPasswordOf(server),
      storedOAuthSecret: storedOAuthSecretOf(server),
    });
    const values = result.values;
    const errors: ServerFormErrors = {};
    if (!result.ok) for (const field of connectionFields) if (result.errors[field]) errors[field] = result.errors[field];

    // The typed password survives an htmx swap (its field is not replaced), never a full page: say so there.
    const passwordTyped = result.password.kind === 'typed';
    if (Object.keys(errors).length > 0) {
      if (wantsFragment(request, resultTarget)) return reply.fragment('smtp-servers/_test-result', { test: { errors } }, 422);
      return renderServerForm(app, request, reply, { server, values, errors, status: 422, test: { errors, passwordTyped } });
    }

    const endpoint: SmtpEndpoint = {
      host: values.host.toLowerCase(),
      port: Number(values.port),
      security: values.security as SmtpEndpoint['security'],
      authentication: values.authentication as SmtpEndpoint['authentication'],
      email: values.email,
      username: values.authentication !== 'none' ? values.username : '',
      verifyCertificate: values.verifyCertificate,
    };
    // The same choice the save would make: the stored password only towards the server it was typed for.
    const choice = result.password;
    const password = await passwordFor(choice, async () => (server ? servers.revealPassword(server.id) : null));
    const oauthSecret = await passwordFor(result.oauthSecret, async () => (server ? servers.revealOauthSecret(server.id) : null));
    const oauth = oauthOptionsOf({ ...endpoint, oauthTenant: values.oauthTenant, oauthClientId: values.oauthClientId }, oauthSecret, app.oauthTokens);
    const report = await running.exclusive(server ? `server:${server.id}` : `new:${actorOf(request).userId}`, () =>
      probeServer(endpoint, password, app.smtpSettings, oauth),
    );
    if (report === null) {
      if (wantsFragment(request, resultTarget)) return reply.fragment('smtp-servers/_test-result', { test: { busy: true } }, 409);
      return renderServerForm(app, request, reply, { server, values, errors: {}, status: 409, test: { busy: true, passwordTyped } });
    }
    await tests.recordDraftTest(server?.id ?? null, report, actorOf(request), choice);
    if (wantsFragment(request, resultTarget)) return reply.fragment('smtp-servers/_test-result', { test: { report } });
    return renderServerForm(app, request, reply, { server, values, errors: {}, status: 200, test: { report, passwordTyped } });
  }

  app.post('/smtp-servers/new/test', { config: { access: 'admin', formLists: serverFormLists, formFiles: serverFormFiles } }, async (request, reply) => testTypedValues(request, reply, null));

  app.post<IdParams>('/smtp-servers/:id/edit/test', { config: { access: 'admin', formLists: serverFormLists, formFiles: serverFormFiles } }, async (request, reply) => {
    const server = await findServer(request.params.id);
    if (!server) return notFoundPage(reply);
    return testTypedValues(request, reply, server);
  });
}
