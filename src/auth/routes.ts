import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Actor } from '../audit/repository.js';
import type { Translate } from '../i18n/index.js';
import { safeReturnPath } from '../web/return-path.js';
import { isValidEmail } from '../smtp-servers/validation.js';
import { actorOf } from '../web/actor.js';
import { csrfCookie } from '../web/cookies.js';
import { sessionCookie } from './enforce.js';
import { HashQueueFullError, type VerifyLane } from './password.js';
import { redirectAfterPost } from '../web/replies.js';
import { createRefusalLog } from './refusals.js';
import { accountKey, addressKey } from './throttle.js';
import { passwordLength } from './password-rules.js';
import { setupTokenUsable } from './setup.js';
import { normalizeEmail, SetupTokenError, type UserView } from './users.js';
import { loginValuesFrom, validatePasswordForm, validateUserForm, type FieldError, type FormErrors, type PasswordField, type UserField, type UserFormValues } from './validation.js';

/** What the password fields need to draw their hint and the live length meter. */
export const passwordFieldData = { passwordLength };

type TokenParams = { Params: { token: string } };

/** « 40 secondes », « 1 minute », « 15 minutes »: waits are rounded up, never shown as zero. */
export function waitInWords(t: Translate, ms: number): string {
  const seconds = Math.max(1, Math.ceil(ms / 1000));
  if (seconds < 60) return seconds === 1 ? t('auth.wait.second') : t('auth.wait.seconds', { n: seconds });
  const minutes = Math.ceil(seconds / 60);
  return minutes === 1 ? t('auth.wait.minute') : t('auth.wait.minutes', { n: minutes });
}

/** How a password check went: refused before checking (throttled, or the hashing queue full), or checked. */
type PasswordAttempt<T> = { outcome: 'refused'; status: 429 | 503; error: FieldError } | { outcome: 'checked'; result: T | null };

export async function authRoutes(app: FastifyInstance) {
  const { users, sessions, loginThrottle, audit } = app.repositories;
  const cookie = sessionCookie(app.config.publicUrl);
  const csrf = csrfCookie(app.config.publicUrl);

  /** The account an attempt names, and the address to write in the audit trail (kept only when it looks like one). */
  async function namedAccount(email: string) {
    const known = await users.findUserByEmail(email);
    // People sometimes type their password in the address field: that must not reach the audit trail.
    return { known, typed: known ? known.email : isValidEmail(email) ? email : '' };
  }

  // One audit entry and one log line per window for each kind of refusal, not one per request.
  const refusals = createRefusalLog(loginThrottle.policy.windowMs);

  async function auditRefusal(request: FastifyRequest, email: string, action: string, key: string, log: Record<string, unknown>, message: string) {
    const noted = refusals.note(key);
    if (!noted.report) return;
    request.log.warn({ ip: request.ip, ...log, unreportedBefore: noted.unreported }, message);
    const { known, typed } = await namedAccount(email);
    await audit.record(request.user ? actorOf(request) : { userId: null, name: typed || 'anonyme', ip: request.ip }, {
      action,
      targetType: known ? 'user' : undefined,
      targetId: known?.id,
      summary: typed,
    });
  }

  /**
   * Reserves the attempt (counted as a failure until the password proves right), then checks the password.
   * Throttled attempts are audited; those the hashing queue had no room for are cancelled, as they checked nothing.
   */
  async function attemptPassword<T>(
    request: FastifyRequest,
    reply: FastifyReply,
    email: string,
    check: (lane: VerifyLane) => Promise<T | null>,
  ): Promise<PasswordAttempt<T>> {
    const reservation = await loginThrottle.reserve(email, request.ip);
    const address = addressKey(request.ip);
    if (!reservation.reserved) {
      const seconds = Math.max(1, Math.ceil(reservation.retryAfterMs / 1000));
      // A refusal by the address's ceiling concerns every account: one report per address, whatever the names sent.
      const key = reservation.reason === 'address' ? `throttled address ${address}` : `throttled ${reservation.reason} ${accountKey(email)} ${address}`;
      await auditRefusal(request, email, 'auth.loginThrottled', key, { reason: reservation.reason, retryAfter: seconds }, 'password attempt throttled');
      reply.header('Retry-After', String(seconds));
      const messageKey = reservation.reason === 'account' ? 'auth.login.slowed' : 'auth.login.throttled';
      return { outcome: 'refused', status: 429, error: { key: messageKey, params: { wait: waitInWords(request.t, seconds * 1000) } } };
    }
    try {
      const result = await check({ trusted: reservation.trusted });
      if (result) await loginThrottle.succeeded(reservation.attemptId);
      return { outcome: 'checked', result };
    } catch (err) {
      if (!(err instanceof HashQueueFullError)) throw err;
      await loginThrottle.cancel(reservation.attemptId);
      await auditRefusal(request, email, 'auth.loginBusy', `busy ${address}`, { retryAfter: err.retryAfterSeconds }, 'password attempt refused: the hashing queue is full');
      reply.header('Retry-After', String(err.retryAfterSeconds));
      return { outcome: 'refused', status: 503, error: { key: 'auth.login.busy', params: { wait: waitInWords(request.t, err.retryAfterSeconds * 1000) } } };
    }
  }

  async function renderLogin(
    reply: FastifyReply,
    options: { email: string; next: string; error: FieldError | null; status: number },
  ) {
    const noAccount = (await users.countUsers()) === 0;
    return reply.page(
      'auth/login',
      { title: reply.request.t('auth.login.title'), email: options.email, next: options.next, error: options.error, noAccount },
      options.status,
    );
  }

  /** A new session with a new id (never the one the browser came with), and a new CSRF secret. */
  async function signIn(request: FastifyRequest, reply: FastifyReply, user: UserView) {
    const previous = request.cookies[cookie.name];
    if (previous) await sessions.destroySession(previous);
    const session = await sessions.createSession(user.id, { ip: request.ip, userAgent: request.headers['user-agent'] ?? null });
    reply.setCookie(cookie.name, session.id, cookie.options);
    // A new CSRF secret too, so a token never spans two sessions (and no cached page of the last one is served).
    reply.clearCookie(csrf.name, csrf.options);
    const actor: Actor = { userId: user.id, name: user.email, ip: request.ip };
    await audit.record(actor, { action: 'auth.login', targetType: 'user', targetId: user.id, summary: user.email });
    await sessions.purgeExpired();
    await loginThrottle.purge();
  }

  app.get('/login', { config: { access: 'public' } }, async (request, reply) => {
    const next = safeReturnPath((request.query as Record<string, unknown>).next, '');
    if (request.user) return reply.redirect(next || '/smtp-servers', 303);
    return renderLogin(reply, { email: '', next, error: null, status: 200 });
  });

  app.post('/login', { config: { access: 'public' } }, async (request, reply) => {
    const { values, password } = loginValuesFrom(request.form);
    const next = safeReturnPath(values.next, '');
    if (!values.email || !password) {
      return renderLogin(reply, { email: values.email, next, error: { key: 'auth.login.missing' }, status: 422 });
    }
    const email = normalizeEmail(values.email);
    const attempt = await attemptPassword(request, reply, email, (lane) => users.checkCredentials(email, password, lane));
    if (attempt.outcome === 'refused') return renderLogin(reply, { email: values.email, next, error: attempt.error, status: attempt.status });

    const user = attempt.result;
    if (!user) {
      const { known, typed } = await namedAccount(email);
      await audit.record(
        { userId: null, name: typed || 'anonyme', ip: request.ip },
        { action: 'auth.loginFailed', targetType: known ? 'user' : undefined, targetId: known?.id, summary: typed },
      );
      return renderLogin(reply, { email: values.email, next, error: { key: 'auth.login.failed' }, status: 401 });
    }

    await signIn(request, reply, user);
    return reply.redirect(next || '/smtp-servers', 303);
  });

  app.post('/logout', { config: { access: 'viewer' } }, async (request, reply) => {
    const id = request.cookies[cookie.name];
    if (id) await sessions.destroySession(id);
    const user = request.user!;
    await audit.record(actorOf(request), { action: 'auth.logout', targetType: 'user', targetId: user.id, summary: user.email });
    reply.clearCookie(cookie.name, cookie.options);
    reply.clearCookie(csrf.name, csrf.options);
    reply.flash('success', 'auth.flash.signedOut');
    return redirectAfterPost(request, reply, '/login');
  });

  // ---- first start ----

  async function setupInvalid(reply: FastifyReply) {
    return reply.page('auth/setup-invalid', { title: reply.request.t('auth.setup.invalid.title') }, 404);
  }

  async function renderSetup(
    reply: FastifyReply,
    options: { token: string; values: UserFormValues; errors: FormErrors<UserField>; status: number },
  ) {
    return reply.page('auth/setup', { title: reply.request.t('auth.setup.title'), ...passwordFieldData, ...options }, options.status);
  }

  app.get<TokenParams>('/setup/:token', { config: { access: 'public' } }, async (request, reply) => {
    if (!(await setupTokenUsable(app.stores, request.params.token))) return setupInvalid(reply);
    return renderSetup(reply, {
      token: request.params.token,
      values: { email: '', displayName: '', role: 'admin', disabled: false },
      errors: {},
      status: 200,
    });
  });

  app.post<TokenParams>('/setup/:token', { config: { access: 'public' } }, async (request, reply) => {
    const token = request.params.token;
    if (!(await setupTokenUsable(app.stores, token))) return setupInvalid(reply);
    const body = { ...request.form, role: 'admin', disabled: '' };
    const result = validateUserForm(body, { withPassword: true });
    if (!result.ok) return renderSetup(reply, { token, values: result.values, errors: result.errors, status: 422 });
    let user: UserView;
    try {
      user = await users.createUser({ ...result.value, role: 'admin' }, actorOf(request), { setupToken: token });
    } catch (err) {
      if (err instanceof SetupTokenError) return setupInvalid(reply);
      throw err;
    }
    request.log.info({ userId: user.id }, 'first administrator created from the setup link');
    await signIn(request, reply, user);
    reply.flash('success', 'auth.flash.setupDone', { name: user.displayName });
    return reply.redirect('/smtp-servers', 303);
  });

  // ---- each user's own password ----

  async function renderPassword(reply: FastifyReply, errors: FormErrors<PasswordField>, status: number) {
    return reply.page('auth/password', { title: reply.request.t('auth.password.title'), errors, ...passwordFieldData }, status);
  }

  app.get('/account/password', { config: { access: 'viewer' } }, async (_request, reply) => renderPassword(reply, {}, 200));

  app.post('/account/password', { config: { access: 'viewer' } }, async (request, reply) => {
    const user = request.user!;
    const result = validatePasswordForm(request.form, {
      email: user.email,
      displayName: user.displayName,
      askCurrent: true,
    });
    if (!result.ok) return renderPassword(reply, result.errors, 422);
    // Guessing the current password from a session left open is throttled like signing in.
    const attempt = await attemptPassword(request, reply, user.email, async (lane) => (await users.verifyPassword(user.id, result.value.current, lane)) || null);
    if (attempt.outcome === 'refused') return renderPassword(reply, { currentPassword: attempt.error }, attempt.status);
    if (!attempt.result) return renderPassword(reply, { currentPassword: { key: 'auth.password.currentWrong' } }, 422);
    await users.setPassword(user.id, result.value.password, actorOf(request), {
      action: 'user.passwordChange',
      keepSessionOf: request.sessionIdHash ?? undefined,
    });
    reply.flash('success', 'auth.flash.passwordChanged');
    return redirectAfterPost(request, reply, '/account/password');
  });
}
