import { and, eq, sql } from 'drizzle-orm';
import { keptCertificateOf, type CertificateColumns } from '../../health-checks/rows.js';
import type { HealthCheckStore, KeptCertificate } from '../../health-checks/store.js';
import { serverHealthChecks as h, smtpServers } from './schema.js';
import { runNamed } from './named-statements.js';
import type { PgExecutor } from './stores.js';

const certificateColumns = {
  serverId: h.serverId,
  certSubject: h.certSubject,
  certIssuer: h.certIssuer,
  certValidTo: h.certValidTo,
  certFingerprint: h.certFingerprint,
  certSeenAt: h.certSeenAt,
  certPreviousIssuer: h.certPreviousIssuer,
  certIssuerChangedAt: h.certIssuerChangedAt,
};

export function createPostgresHealthCheckStore(db: PgExecutor): HealthCheckStore {
  return {
    async scheduleMissing(dueOf) {
      const { rows } = await db.execute<{ id: number }>(sql`
        SELECT s.id FROM smtp_servers s LEFT JOIN server_health_checks c ON c.server_id = s.id
        WHERE s.active AND c.server_id IS NULL`);
      if (rows.length === 0) return 0;
      // Another instance may add the same rows meanwhile: its due times are the same, its rows stay.
      for (let i = 0; i < rows.length; i += 1000) {
        await db
          .insert(h)
          .values(rows.slice(i, i + 1000).map(({ id }) => ({ serverId: id, dueAt: dueOf(id) })))
          .onConflictDoNothing();
      }
      return rows.length;
    },

    async claim(owner, now, leaseUntil, limit) {
      // SKIP LOCKED: a row another instance is claiming right now is left to it; a row it has just claimed is read
      // again after its commit and no longer matches.
      const { rows } = await db.execute<{ serverId: number; dueAt: string | number }>(sql`
        UPDATE server_health_checks c SET lease_owner = ${owner}, lease_until = ${leaseUntil.getTime()}
        FROM (
          SELECT d.server_id FROM server_health_checks d JOIN smtp_servers s ON s.id = d.server_id
          WHERE s.active AND d.due_at <= ${now.getTime()} AND (d.lease_until IS NULL OR d.lease_until <= ${now.getTime()})
          ORDER BY d.due_at LIMIT ${limit}
          FOR UPDATE OF d SKIP LOCKED
        ) due
        WHERE c.server_id = due.server_id
        RETURNING c.server_id AS "serverId", c.due_at AS "dueAt"`);
      return rows.sort((a, b) => Number(a.dueAt) - Number(b.dueAt) || a.serverId - b.serverId).map((row) => row.serverId);
    },

    async find(serverId) {
      const [row] = await db
        .select({ ...certificateColumns, dueAt: h.dueAt, lastCheckAt: h.lastCheckAt, lastOk: h.lastOk })
        .from(h)
        .where(eq(h.serverId, serverId));
      if (!row) return null;
      return { serverId, dueAt: row.dueAt, lastCheckAt: row.lastCheckAt, lastOk: row.lastOk, certificate: keptCertificateOf(row) };
    },

    async complete(serverId, outcome) {
      const seen = outcome.certificate;
      const changed = seen ? sql`${h.certIssuer} IS NOT NULL AND ${h.certIssuer} <> ${seen.issuer}` : null;
      await db
        .update(h)
        .set({
          dueAt: outcome.nextDueAt,
          leaseOwner: null,
          leaseUntil: null,
          lastCheckAt: outcome.at,
          lastOk: outcome.ok,
          ...(seen
            ? {
                certSubject: seen.subject,
                certIssuer: seen.issuer,
                certValidTo: seen.validTo,
                certFingerprint: seen.fingerprint,
                certSeenAt: outcome.at,
                certPreviousIssuer: sql`CASE WHEN ${changed} THEN ${h.certIssuer} ELSE ${h.certPreviousIssuer} END`,
                certIssuerChangedAt: sql`CASE WHEN ${changed} THEN ${outcome.at.getTime()}::bigint ELSE ${h.certIssuerChangedAt} END`,
              }
            : {}),
        })
        .where(eq(h.serverId, serverId));
    },

    async release(serverId, owner, dueAt) {
      await db
        .update(h)
        .set({ leaseOwner: null, leaseUntil: null, dueAt })
        .where(and(eq(h.serverId, serverId), eq(h.leaseOwner, owner)));
    },

    async certificatesOf(serverIds) {
      const kept = new Map<number, KeptCertificate>();
      if (serverIds.length === 0) return kept;
      // By name, the ids as one parameter: the server list asks for its page's certificates at every view.
      const { rows } = await runNamed<Record<string, unknown>>(db, sql`
        SELECT server_id AS "serverId", cert_subject AS "certSubject", cert_issuer AS "certIssuer", cert_valid_to AS "certValidTo",
               cert_fingerprint AS "certFingerprint", cert_seen_at AS "certSeenAt", cert_previous_issuer AS "certPreviousIssuer",
               cert_issuer_changed_at AS "certIssuerChangedAt"
        FROM server_health_checks
        WHERE server_id IN (SELECT jsonb_array_elements_text(${JSON.stringify(serverIds)}::jsonb)::int) AND cert_issuer IS NOT NULL`);
      const dateOf = (value: unknown) => (value === null || value === undefined ? null : new Date(Number(value)));
      for (const raw of rows) {
        const row = {
          ...(raw as unknown as CertificateColumns),
          certValidTo: dateOf(raw.certValidTo),
          certSeenAt: dateOf(raw.certSeenAt),
          certIssuerChangedAt: dateOf(raw.certIssuerChangedAt),
        };
        const certificate = keptCertificateOf(row);
        if (certificate) kept.set(row.serverId, certificate);
      }
      return kept;
    },

    async markDown(serverId, now, error, downUntil) {
      await db
        .update(smtpServers)
        .set({ consecutiveFailures: sql`${smtpServers.consecutiveFailures} + 1`, lastErrorAt: now, lastError: error, downUntil })
        .where(eq(smtpServers.id, serverId));
    },

    async markUp(serverId) {
      await db
        .update(smtpServers)
        .set({ consecutiveFailures: 0, downUntil: null })
        .where(and(eq(smtpServers.id, serverId), sql`(${smtpServers.consecutiveFailures} > 0 OR ${smtpServers.downUntil} IS NOT NULL)`));
    },
  };
}
