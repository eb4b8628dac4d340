import { randomBytes } from 'node:crypto';
import nodemailer, { type Transporter } from 'nodemailer';
import type { FastifyBaseLogger } from 'fastify';
import type { AlertSettings } from '../config.js';
import type { SecretBox } from '../crypto/secret-box.js';
import type { Stores } from '../db/stores.js';
import { allRoutes, skipReasonOf } from '../departments/routing.js';
import { credentialsOf, withSmtpAuth } from '../smtp/credentials.js';
import { resolveDestination } from '../smtp/destination.js';
import { transportOptionsFor, type SmtpSettings } from '../smtp/endpoint.js';
import type { OAuthTokens } from '../smtp/oauth-tokens.js';
import { alertWatches, detectChanges, type AlertWatch } from './detect.js';
import { composeAlertMail, localeOf } from './mail.js';
import type { AlertEvent, AlertRecipient } from './store.js';
import { postWebhook, webhookBody } from './webhook.js';

export interface AlertDeps {
  stores: Stores;
  secrets: SecretBox;
  settings: AlertSettings;
  smtp: SmtpSettings;
  tokens: OAuthTokens;
  publicUrl: string;
  log: FastifyBaseLogger;
  watches?: AlertWatch[];
}

const batchSize = 500;
/** Alerts done with are kept this long (the /alertes page shows the latest), then deleted. */
export const alertRetentionMs = 90 * 86_400_000;
const pruneEveryMs = 3_600_000;

/** The servers an alert mail may go through, in order: the chosen one, then the automatic order; never one it reports down. */
export async function alertServerCandidates(stores: Stores, now: Date, exclude: ReadonlySet<number>): Promise<number[]> {
  const health = new Map((await stores.alerts.serverHealth()).map((server) => [server.id, server]));
  const usable = (id: number) => {
    const server = health.get(id);
    return server !== undefined && !exclude.has(id) && skipReasonOf(server, now) === null;
  };
  const order: number[] = [];
  const chosen = await stores.alerts.alertServerId();
  if (chosen !== null) order.push(chosen);
  for (const route of await allRoutes(stores.departments, now)) for (const server of route.servers) order.push(server.id);
  return [...new Set(order)].filter(usable).slice(0, alertServersTried);
}

/** Servers one alert mail tries at most: during an outage each costs a connect time-out, and the pass must end. */
export const alertServersTried = 3;

/** Where the webhook goes, for the pages and the log: its origin only (a path may hold a token). */
export function webhookOrigin(url: string | null): string | null {
  return url ? new URL(url).origin : null;
}

/**
 * The alert pass, on every instance, run by one at a time (a lease in the database): compares the state with the
 * snapshot (detect.ts), mails the administrators who opted in through an alert server, posts to the webhook.
 */
export function createAlerts(deps: AlertDeps) {
  const { stores, settings, log } = deps;
  const owner = `${process.pid}-${randomBytes(6).toString('hex')}`;
  const leaseMs = Math.max(120_000, settings.intervalMs * 4);
  let timer: NodeJS.Timeout | null = null;
  let running: Promise<void> | null = null;
  let stopped = false;
  let prunedAt = 0;

  async function sendThrough(serverId: number, recipients: AlertRecipient[], events: AlertEvent[]): Promise<void> {
    const server = await stores.outbox.sendingServer(serverId);
    if (!server) throw new Error(`server ${serverId} is gone`);
    const reveal = (envelope: string | null) => (envelope ? deps.secrets.decrypt(envelope) : null);
    const credentials = credentialsOf(server, {
      password: server.authentication === 'password' ? reveal(server.passwordCiphertext) : null,
      oauthSecret: server.authentication.startsWith('oauth2-') ? reveal(server.oauthSecretCiphertext) : null,
    });
    const locale = localeOf(recipients[0]!.locale);
    const mail = composeAlertMail(events, { locale, publicUrl: deps.publicUrl });
    const { address } = await resolveDestination(server.host, deps.smtp.destinations);
    let transport: Transporter | null = null;
    try {
      await withSmtpAuth(credentials, deps.tokens, async (auth) => {
        transport?.close();
        transport = nodemailer.createTransport(transportOptionsFor(server, auth, deps.smtp, address));
        await transport.sendMail({
          from: { name: 'Relais', address: server.email },
          to: recipients.map((r) => ({ name: r.displayName, address: r.email })),
          subject: mail.subject,
          text: mail.text,
          html: mail.html,
          headers: { 'Auto-Submitted': 'auto-generated', 'X-Auto-Response-Suppress': 'All' },
        });
      });
    } finally {
      (transport as Transporter | null)?.close();
    }
  }

  /**
   * Sends `events` to each language group through the first candidate server that takes it; the locales mailed.
   * null: no usable server (the events report every one down).
   */
  async function mailGroups(groups: Map<string, AlertRecipient[]>, events: AlertEvent[], now: Date): Promise<Set<string> | null> {
    // A server this mail reports down is never used for it, unless the same mail also says it came back.
    const lastOfServer = new Map<number, AlertEvent['kind']>();
    for (const e of events) if (e.kind === 'serverDown' || e.kind === 'serverUp') lastOfServer.set(Number(e.params.serverId), e.kind);
    const reportedDown = new Set([...lastOfServer].filter(([, kind]) => kind === 'serverDown').map(([id]) => id));
    const candidates = await alertServerCandidates(stores, now, reportedDown);
    if (candidates.length === 0) return null;
    const mailed = new Set<string>();
    for (const [locale, group] of groups) {
      for (const serverId of candidates) {
        if (stopped) break;
        try {
          await sendThrough(serverId, group, events);
          mailed.add(locale);
          log.info({ serverId, events: events.length, recipients: group.length, locale }, 'alerts: alert mail sent');
          break;
        } catch (err) {
          log.warn({ err: { message: (err as Error).message, code: (err as NodeJS.ErrnoException).code }, serverId, locale }, 'alerts: the alert mail could not go through this server; trying the next one');
        }
      }
    }
    return mailed;
  }

  /** The groups still owed a mail: the opted-in administrators of each language not in `mailed`. */
  function groupsOf(recipients: AlertRecipient[], mailed: ReadonlySet<string> = new Set()): Map<string, AlertRecipient[]> {
    const byLocale = new Map<string, AlertRecipient[]>();
    for (const recipient of recipients) {
      const locale = localeOf(recipient.locale);
      if (!mailed.has(locale)) byLocale.set(locale, [...(byLocale.get(locale) ?? []), recipient]);
    }
    return byLocale;
  }

  /**
   * Mails that reached some language groups and not others, kept by this instance: the others get the same mail at the
   * next passes, under the reservation already made for it, and the events stay unmailed until every group has it.
   */
  let partialMails: { events: AlertEvent[]; mailed: Set<string> }[] = [];

  /** Tries again the groups a partial mail missed; the ids of the events still owed to someone. */
  async function retryPartialMails(unmailed: AlertEvent[], recipients: AlertRecipient[], now: Date): Promise<Set<number>> {
    const stillUnmailed = new Set(unmailed.map((e) => e.id));
    // unmailed() is oldest first: an id past a full batch may still be unmailed.
    const lastSeen = unmailed.length < batchSize ? Infinity : unmailed[unmailed.length - 1]!.id;
    const owed = new Set<number>();
    const kept: typeof partialMails = [];
    for (const partial of partialMails) {
      // Marked by another pass (another instance, a later hour) or pruned: nothing owed any more.
      if (!partial.events.some((e) => stillUnmailed.has(e.id) || e.id > lastSeen)) continue;
      const groups = groupsOf(recipients, partial.mailed);
      const mailed = groups.size ? await mailGroups(groups, partial.events, now) : new Set<string>();
      for (const locale of mailed ?? []) partial.mailed.add(locale);
      if (groupsOf(recipients, partial.mailed).size === 0) {
        await stores.alerts.markMailed(partial.events.map((e) => e.id), 'sent', now);
        log.info({ events: partial.events.length }, 'alerts: the alert mail reached the administrators it had missed');
        continue;
      }
      kept.push(partial);
      for (const e of partial.events) owed.add(e.id);
    }
    partialMails = kept;
    return owed;
  }

  async function dispatchMail(now: Date): Promise<void> {
    const unmailed = await stores.alerts.unmailed(batchSize);
    if (unmailed.length === 0) {
      partialMails = [];
      return;
    }
    const recipients = await stores.alerts.recipients();
    if (recipients.length === 0) {
      partialMails = [];
      await stores.alerts.markMailed(unmailed.map((e) => e.id), 'unsent', now);
      log.info({ events: unmailed.length }, 'alerts: no administrator asked for alert mails; nothing mailed');
      return;
    }
    const owed = await retryPartialMails(unmailed, recipients, now);
    const events = unmailed.filter((e) => !owed.has(e.id));
    if (events.length === 0) return;
    const subjects = [...new Set(events.map((e) => e.subject))];
    // Reserved before the slow part: another instance (or the next pass) sees the subject taken.
    const reserved = new Set(await stores.alerts.reserveSubjects(subjects, now, new Date(now.getTime() - settings.subjectHoldMs)));
    const held = events.filter((e) => !reserved.has(e.subject) && e.mailState === 'pending');
    await stores.alerts.markMailed(held.map((e) => e.id), 'held', now);
    const going = events.filter((e) => reserved.has(e.subject));
    if (going.length === 0) return;
    const giveBack = () => stores.alerts.releaseSubjects([...reserved], now);

    const groups = groupsOf(recipients);
    const mailed = await mailGroups(groups, going, now);
    if (mailed === null) {
      await giveBack();
      log.warn({ events: going.length }, 'alerts: no usable server to send the alert mail through (every one is inactive, unconfirmed or « en panne »); the alerts stay pending');
      return;
    }
    if (mailed.size === 0) {
      await giveBack();
      log.error({ events: going.length }, 'alerts: the alert mail went through no server; the alerts stay pending for the next pass');
      return;
    }
    if (mailed.size < groups.size) {
      // The reservation stays: some administrators have had this mail. The others get it at the next passes.
      partialMails.push({ events: going, mailed });
      const missed = [...groups.keys()].filter((locale) => !mailed.has(locale));
      log.error({ events: going.length, missed }, 'alerts: the alert mail reached some administrators and not others; tried again for the others at the next pass');
      return;
    }
    await stores.alerts.markMailed(going.map((e) => e.id), 'sent', now);
  }

  async function dispatchWebhook(now: Date): Promise<void> {
    if (!settings.webhookUrl || !settings.webhookSecret) return;
    const events = await stores.alerts.unposted(batchSize);
    if (events.length === 0) return;
    const origin = webhookOrigin(settings.webhookUrl);
    try {
      const status = await postWebhook(settings.webhookUrl, webhookBody(events, deps.publicUrl, now), {
        secret: settings.webhookSecret,
        timeoutMs: settings.webhookTimeoutMs,
        destinations: deps.smtp.destinations,
        now,
      });
      await stores.alerts.markPosted(events.map((e) => e.id), 'sent', settings.webhookMaxAttempts);
      log.info({ webhook: origin, status, events: events.length }, 'alerts: webhook called');
    } catch (err) {
      await stores.alerts.markPosted(events.map((e) => e.id), 'attemptFailed', settings.webhookMaxAttempts);
      const last = events.filter((e) => e.webhookAttempts + 1 >= settings.webhookMaxAttempts).length;
      const fields = { webhook: origin, error: (err as Error).message, events: events.length, givenUp: last };
      if (last > 0) log.error(fields, `alerts: the webhook failed; ${last} event(s) given up after ${settings.webhookMaxAttempts} attempts`);
      else log.warn(fields, 'alerts: the webhook failed; tried again at the next pass');
    }
  }

  /** One pass, if this instance gets the lease: detection, then the mail, then the webhook. */
  async function runOnce(): Promise<void> {
    const now = new Date();
    if (!(await stores.alerts.claimLease(owner, now, new Date(now.getTime() + leaseMs)))) return;
    try {
      const events = await detectChanges(stores, now, { watches: deps.watches ?? alertWatches, webhook: settings.webhookUrl !== null });
      if (events.length) log.info({ events: events.map((e) => `${e.kind} ${e.subject}`) }, 'alerts: changes seen');
      await dispatchMail(new Date());
      await dispatchWebhook(new Date());
      if (Date.now() - prunedAt > pruneEveryMs) {
        prunedAt = Date.now();
        await stores.alerts.pruneEvents(new Date(Date.now() - alertRetentionMs));
      }
    } finally {
      await stores.alerts.releaseLease(owner);
    }
  }

  function schedule() {
    if (stopped || settings.intervalMs <= 0) return;
    timer = setTimeout(() => {
      timer = null;
      running = runOnce()
        .catch((err: unknown) => log.error({ err }, 'alerts: the alert pass failed; the next one will try again'))
        .finally(() => {
          running = null;
          schedule();
        });
    }, settings.intervalMs);
  }

  return {
    start: schedule,
    runOnce,
    /** Stops scheduling and waits for the pass in flight. */
    async stop(): Promise<void> {
      stopped = true;
      if (timer) clearTimeout(timer);
      timer = null;
      await running;
    },
  };
}

export type Alerts = ReturnType<typeof createAlerts>;
