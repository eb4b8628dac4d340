import { and, eq, sql } from 'drizzle-orm';
import { keptCertificateOf, type CertificateColumns } from '../../health-checks/rows.js';
import type { HealthCheckStore, KeptCertificate } from '../../health-checks/store.js';
import type Database from 'better-sqlite3';
import type { Db } from './client.js';
import { serverHealthChecks as h, smtpServers } from './schema.js';
import type { WriteLock } from './write-lock.js';

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

type CertificateRow = Omit<CertificateColumns, 'certValidTo' | 'certSeenAt' | 'certIssuerChangedAt'> & {
  certValidTo: number | null;
  certSeenAt: number | null;
  certIssuerChangedAt: number | null;
};

const dateOf = (ms: number | null) => (ms === null ? null : new Date(ms));

export function createSqliteHealthCheckStore(db: Db, sqlite: Database.Database, lock: WriteLock): HealthCheckStore {
  // Prepared once: the server list asks for its page's certificates at each view.
  const certificatesIn = sqlite.prepare<[string], CertificateRow>(`
    SELECT server_id AS serverId, cert_subject AS certSubject, cert_issuer AS certIssuer, cert_valid_to AS certValidTo,
           cert_fingerprint AS certFingerprint, cert_seen_at AS certSeenAt, cert_previous_issuer AS certPreviousIssuer,
           cert_issuer_changed_at AS certIssuerChangedAt
    FROM server_health_checks WHERE server_id IN (SELECT value FROM json_each(?)) AND cert_issuer IS NOT NULL`);
  return {
    async scheduleMissing(dueOf) {
      return lock.run(() => {
        const missing = db.all<{ id: number }>(sql`
          SELECT s.id FROM smtp_servers s LEFT JOIN server_health_checks c ON c.server_id = s.id
          WHERE s.active = 1 AND c.server_id IS NULL`);
        if (missing.length === 0) return 0;
        // In batches: a first start over 100,000 servers would pass more parameters than one statement takes.
        for (let i = 0; i < missing.length; i += 1000) {
          db.insert(h)
            .values(missing.slice(i, i + 1000).map(({ id }) => ({ serverId: id, dueAt: dueOf(id) })))
            .onConflictDoNothing()
            .run();
        }
        return missing.length;
      });
    },

    async claim(owner, now, leaseUntil, limit) {
      // One statement under the write lock (and SQLite's own): no other claim can read the rows between.
      const rows = await lock.run(() =>
        db.all<{ serverId: number; dueAt: number }>(sql`
          UPDATE server_health_checks SET lease_owner = ${owner}, lease_until = ${leaseUntil.getTime()}
          WHERE server_id IN (
            SELECT c.server_id FROM server_health_checks c JOIN smtp_servers s ON s.id = c.server_id
            WHERE s.active = 1 AND c.due_at <= ${now.getTime()} AND (c.lease_until IS NULL OR c.lease_until <= ${now.getTime()})
            ORDER BY c.due_at LIMIT ${limit})
          RETURNING server_id AS serverId, due_at AS dueAt`),
      );
      return rows.sort((a, b) => a.dueAt - b.dueAt || a.serverId - b.serverId).map((row) => row.serverId);
    },

    async find(serverId) {
      const row = db
        .select({ ...certificateColumns, dueAt: h.dueAt, lastCheckAt: h.lastCheckAt, lastOk: h.lastOk })
        .from(h)
        .where(eq(h.serverId, serverId))
        .get();
      if (!row) return null;
      return { serverId, dueAt: row.dueAt, lastCheckAt: row.lastCheckAt, lastOk: row.lastOk, certificate: keptCertificateOf(row as CertificateColumns) };
    },

    async complete(serverId, outcome) {
      const seen = outcome.certificate;
      await lock.run(() =>
        db
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
                  // The issuer before the current one: moved aside only when a different issuer shows up.
                  certPreviousIssuer: sql`CASE WHEN ${h.certIssuer} IS NOT NULL AND ${h.certIssuer} <> ${seen.issuer} THEN ${h.certIssuer} ELSE ${h.certPreviousIssuer} END`,
                  certIssuerChangedAt: sql`CASE WHEN ${h.certIssuer} IS NOT NULL AND ${h.certIssuer} <> ${seen.issuer} THEN ${outcome.at.getTime()} ELSE ${h.certIssuerChangedAt} END`,
                }
              : {}),
          })
          .where(eq(h.serverId, serverId))
          .run(),
      );
    },

    async release(serverId, owner, dueAt) {
      await lock.run(() =>
        db
          .update(h)
          .set({ leaseOwner: null, leaseUntil: null, dueAt })
          .where(and(eq(h.serverId, serverId), eq(h.leaseOwner, owner)))
          .run(),
      );
    },

    async certificatesOf(serverIds) {
      const kept = new Map<number, KeptCertificate>();
      if (serverIds.length === 0) return kept;
      for (const row of certificatesIn.all(JSON.stringify(serverIds))) {
        const certificate = keptCertificateOf({
          ...row,
          certValidTo: dateOf(row.certValidTo),
          certSeenAt: dateOf(row.certSeenAt),
          certIssuerChangedAt: dateOf(row.certIssuerChangedAt),
        });
        if (certificate) kept.set(row.serverId, certificate);
      }
      return kept;
    },

    async markDown(serverId, now, error, downUntil) {
      await lock.run(() =>
        db
          .update(smtpServers)
          .set({ consecutiveFailures: sql`${smtpServers.consecutiveFailures} + 1`, lastErrorAt: now, lastError: error, downUntil })
          .where(eq(smtpServers.id, serverId))
          .run(),
      );
    },

    async markUp(serverId) {
      await lock.run(() =>
        db
          .update(smtpServers)
          .set({ consecutiveFailures: 0, downUntil: null })
          .where(and(eq(smtpServers.id, serverId), sql`(${smtpServers.consecutiveFailures} > 0 OR ${smtpServers.downUntil} IS NOT NULL)`))
          .run(),
      );
    },
  };
}
