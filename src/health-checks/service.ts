import type { FastifyBaseLogger } from 'fastify';
import { systemActor } from '../audit/store.js';
import { UndecryptableSecretError } from '../crypto/secret-box.js';
import type { Stores } from '../db/stores.js';
import type { SmtpServerRepository } from '../smtp-servers/repository.js';
import type { SmtpSettings } from '../smtp/endpoint.js';
import type { OAuthTokens } from '../smtp/oauth-tokens.js';
import { probeServer } from '../smtp/probe.js';
import type { ProbeReport } from '../smtp/report.js';
import { certificateWarningOf, seenCertificateOf, type CertificateWarning } from './certificates.js';
import { nextSlotAfter } from './schedule.js';

export interface HealthCheckDeps {
  stores: Stores;
  servers: SmtpServerRepository;
  smtpSettings: SmtpSettings;
  tokens: OAuthTokens;
  intervalMs: number;
  /** RELAIS_SERVER_DOWN_SECONDS: how long a server stays « en panne » at least. */
  downForMs: number;
  log: FastifyBaseLogger;
}

/** The failure as the server row keeps it for the pages: the diagnosis's key and parameters, put in words when shown. */
/** How soon a server that failed its check is checked again (the interval, when shorter). */
export const failedRecheckMs = 60_000;

function errorOf(report: ProbeReport): string {
  const diagnosis = report.diagnosis;
  return diagnosis ? JSON.stringify({ key: diagnosis.key, params: diagnosis.params ?? {} }) : JSON.stringify({ key: 'diagnosis.unknown', params: {} });
}

/**
 * One scheduled check of a server whose check `owner` has claimed: the connection test on its real path (its stored
 * password or OAuth2 credentials, stopping before DATA), its result kept on the server as a « Tester » result, the
 * certificate it saw, and the server « en panne » after a failure or back in service after a success — all in one
 * transaction. Only changes are audited: the server going down or coming back, a new certificate issuer, an expiry
 * threshold crossed; a routine check writes no audit line.
 */
export async function runHealthCheck(deps: HealthCheckDeps, serverId: number, owner: string): Promise<ProbeReport | null> {
  const { stores } = deps;
  const server = await deps.servers.findServer(serverId);
  if (!server || !server.active) {
    await stores.healthChecks.release(serverId, owner, nextSlotAfter(serverId, new Date(), deps.intervalMs));
    return null;
  }
  let credentials;
  try {
    credentials = await deps.servers.revealCredentials(server);
  } catch (err) {
    if (!(err instanceof UndecryptableSecretError)) throw err;
    // Not the server's fault: it is not marked down; the list already says the secret must be typed again.
    deps.log.warn({ serverId }, 'scheduled check skipped: the stored secret cannot be decrypted with the configured keys');
    await stores.healthChecks.release(serverId, owner, nextSlotAfter(serverId, new Date(), deps.intervalMs));
    return null;
  }
  // The secret was read after the server's row: edited in between, it may be a new password meant for a new host.
  // Never send it to the host read before; check the new settings at once instead.
  const current = await deps.servers.findServer(serverId);
  if (!current || current.version !== server.version) {
    await stores.healthChecks.release(serverId, owner, new Date());
    return null;
  }
  const password = credentials.kind === 'password' ? credentials.password : null;
  const oauth = credentials.kind === 'oauth2' ? { oauth: { credentials: credentials.oauth, tokens: deps.tokens } } : {};
  const report = await probeServer(server, password, deps.smtpSettings, oauth);

  const at = new Date();
  const seen = seenCertificateOf(report);
  await stores.transaction(async (tx) => {
    const before = await tx.healthChecks.find(serverId);
    // Edited while the check ran: the result speaks of settings the server no longer has. Nothing is kept of it, and
    // the new settings are checked at once.
    if (!(await tx.probes.recordOnServer(serverId, { at: new Date(report.startedAt), ok: report.ok, report: JSON.stringify(report) }, server.version))) {
      await tx.healthChecks.release(serverId, owner, at);
      return;
    }
    // A failed server is checked again within a minute, not a whole interval later: back in service soon after it answers.
    const recheckMs = Math.min(deps.intervalMs, failedRecheckMs);
    const nextDueAt = report.ok ? nextSlotAfter(serverId, at, deps.intervalMs) : new Date(at.getTime() + recheckMs);
    await tx.healthChecks.complete(serverId, { at, ok: report.ok, nextDueAt, certificate: seen });
    if (report.ok) await tx.healthChecks.markUp(serverId);
    // Down until the next check at least (twice its delay leaves room for a late one), which clears it when the server answers.
    else await tx.healthChecks.markDown(serverId, at, errorOf(report), new Date(at.getTime() + Math.max(deps.downForMs, 2 * recheckMs)));

    const audit = (action: string, changes: Record<string, [unknown, unknown]>) =>
      tx.audit.append(systemActor, { action, targetType: 'smtp_server', targetId: serverId, summary: server.title, changes });
    const wasOk = before?.lastOk ?? null;
    if (!report.ok && wasOk !== false) {
      deps.log.warn({ serverId, diagnosis: report.diagnosis?.kind ?? 'unknown' }, 'scheduled check failed: the server is « en panne »');
      await audit('server.healthCheck.down', {
        target: [null, `${server.host}:${server.port}`],
        ...(report.diagnosis ? { diagnosis: [null, { key: report.diagnosis.key, params: report.diagnosis.params }] } : {}),
      });
    } else if (report.ok && wasOk === false) {
      deps.log.info({ serverId }, 'scheduled check passed again: the server is back in service');
      await audit('server.healthCheck.up', { target: [null, `${server.host}:${server.port}`] });
    }
    const previous = before?.certificate ?? null;
    if (seen && previous && previous.issuer !== seen.issuer) await audit('server.certificate.issuerChanged', { certificateIssuer: [previous.issuer, seen.issuer] });
    if (seen) {
      const was = certificateWarningOf(previous, at)?.threshold ?? null;
      const now = certificateWarningOf({ ...seen, serverId, seenAt: at, previousIssuer: null, issuerChangedAt: null }, at)?.threshold ?? null;
      if (now !== null && now !== was) await audit('server.certificate.expiring', { certificateThreshold: [was, now], certificateValidTo: [null, seen.validTo?.toISOString() ?? null] });
    }
  });
  return report;
}

/** The flags of these servers' kept certificates now, by server id (servers with nothing to flag are absent). */
export async function certificateWarningsFor(stores: Stores, serverIds: readonly number[], now = new Date()): Promise<Map<number, CertificateWarning>> {
  const warnings = new Map<number, CertificateWarning>();
  for (const [serverId, certificate] of await stores.healthChecks.certificatesOf(serverIds)) {
    const warning = certificateWarningOf(certificate, now);
    if (warning) warnings.set(serverId, warning);
  }
  return warnings;
}

/** What the server's page shows of its scheduled check: the last one, the next one, the certificate and its flags. */
export async function serverHealthOf(stores: Stores, serverId: number, options: { enabled: boolean }, now = new Date()) {
  const state = await stores.healthChecks.find(serverId);
  const certificate = state?.certificate ?? null;
  return {
    enabled: options.enabled,
    lastCheckAt: state?.lastCheckAt ?? null,
    lastOk: state?.lastOk ?? null,
    dueAt: state?.dueAt ?? null,
    certificate,
    warning: certificateWarningOf(certificate, now),
  };
}

export type ServerHealth = Awaited<ReturnType<typeof serverHealthOf>>;
