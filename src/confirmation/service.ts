import nodemailer, { type Transporter } from 'nodemailer';
import type { Actor } from '../audit/repository.js';
import type { Locale } from '../i18n/index.js';
import { diagnose, factsFromError, isCertificateFailure } from '../smtp/diagnosis.js';
import { withSmtpAuth } from '../smtp/credentials.js';
import { transportOptionsFor, type SmtpSettings } from '../smtp/endpoint.js';
import type { OAuthTokens } from '../smtp/oauth-tokens.js';
import { probeServer, speaksImplicitTls } from '../smtp/probe.js';
import type { Diagnosis } from '../smtp/report.js';
import { resolveDestination } from '../smtp/destination.js';
import { signatureParts, withSignature } from '../signature/compose.js';
import type { LogoRepository } from '../signature/repository.js';
import type { ServerView, SmtpServerRepository } from '../smtp-servers/repository.js';
import { passwordFor, savedServerPassword, storedPasswordNote } from '../smtp-servers/validation.js';
import { composeConfirmationMail } from './mail.js';
import type { ConfirmationRepository, ThrottleScope } from './repository.js';

export interface ConfirmationDeps {
  servers: SmtpServerRepository;
  confirmations: ConfirmationRepository;
  logos: LogoRepository;
  settings: SmtpSettings;
  publicUrl: string;
  ttlHours: number;
  /** The OAuth2 tokens shared with the connection test and the outbox. */
  tokens: OAuthTokens;
}

export type SendOutcome =
  | { kind: 'sent'; server: ServerView; expiresAt: Date }
  | { kind: 'failed'; server: ServerView; diagnosis: Diagnosis }
  | { kind: 'throttled'; scope: ThrottleScope; server: ServerView; retryAt: Date; limit: number }
  | { kind: 'notFound' };

export function confirmationLink(publicUrl: string, token: string): string {
  return `${publicUrl.replace(/\/+$/, '')}/confirm/${token}`;
}

/**
 * Sends the confirmation mail through the server itself — its host, port, security, certificate policy and
 * credentials — from "senderName <email>" to email. Receiving it proves both the sending path and the mailbox.
 */
export async function sendConfirmation(deps: ConfirmationDeps, serverId: number, locale: Locale, actor: Actor): Promise<SendOutcome> {
  // Before a link is issued: a password no key opens refuses the request with nothing changed.
  const before = await deps.servers.findServer(serverId);
  if (!before) return { kind: 'notFound' };
  await passwordFor(savedServerPassword(before), () => deps.servers.revealPassword(serverId));
  await deps.servers.revealCredentials(before);
  const issued = await deps.confirmations.issue(serverId, { ttlHours: deps.ttlHours });
  if (issued.kind === 'notFound') return issued;
  // Read once the link exists: an edit from now on voids it, so the mail cannot prove settings it was not sent with.
  const server = await deps.servers.findServer(serverId);
  if (!server) return { kind: 'notFound' };
  if (issued.kind === 'throttled') return { ...issued, server };

  const choice = savedServerPassword(server);
  const credentials = await deps.servers.revealCredentials(server);
  const composed = composeConfirmationMail({ server, link: confirmationLink(deps.publicUrl, issued.token), expiresAt: issued.expiresAt, locale });
  // The server's signature closes it, the logo inside the message (bytes, never a URL or a path nodemailer would fetch).
  const mail = { subject: composed.subject, ...withSignature(composed, signatureParts(server, await deps.logos.find(serverId))) };
  const route = `${server.title} → ${server.email} (${server.host}:${server.port})${storedPasswordNote(choice, server)}`;
  let address: string | null = null;
  let transport: Transporter | null = null;
  try {
    // Resolved and checked once; nodemailer connects to that very address and keeps the name for TLS.
    address = (await resolveDestination(server.host, deps.settings.destinations)).address;
    const checked = address;
    await withSmtpAuth(credentials, deps.tokens, async (auth) => {
      transport?.close();
      transport = nodemailer.createTransport(transportOptionsFor(server, auth, deps.settings, checked));
      await transport.sendMail({
        from: { name: server.senderName, address: server.email },
        to: server.email,
        subject: mail.subject,
        text: mail.text,
        html: mail.html,
        attachments: mail.attachments,
        headers: { 'Auto-Submitted': 'auto-generated', 'X-Auto-Response-Suppress': 'All' },
      });
    });
    await deps.confirmations.recordSent(serverId, issued.tokenId, { sentAt: new Date(), expiresAt: issued.expiresAt, summary: route }, actor);
    return { kind: 'sent', server, expiresAt: issued.expiresAt };
  } catch (err) {
    const facts = factsFromError(err);
    // nodemailer does not say what the refused certificate was issued to; a look at it (no credentials sent) does.
    const tls =
      address !== null && isCertificateFailure(facts) ? (await probeServer(server, null, deps.settings, { certificateOnly: true, address })).tls : null;
    // No greeting on a plain connection: a port waiting for a TLS handshake is told apart from a silent one.
    const tlsDetected =
      address !== null && facts.timeoutPhase === 'greeting' && server.security !== 'tls' && (await speaksImplicitTls(address, server, deps.settings));
    const diagnosis = diagnose(facts, {
      endpoint: server,
      connectTimeoutMs: deps.settings.connectTimeoutMs,
      greetingTimeoutMs: deps.settings.greetingTimeoutMs,
      tls,
      tlsDetected,
    });
    await deps.confirmations.recordFailed(serverId, issued.tokenId, { at: new Date(), diagnosis, summary: `${route} : ${diagnosis.kind}` }, actor);
    return { kind: 'failed', server, diagnosis };
  } finally {
    (transport as Transporter | null)?.close();
  }
}
