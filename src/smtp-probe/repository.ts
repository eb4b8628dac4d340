import { and, eq, sql } from 'drizzle-orm';
import { insertAuditEntry, type Actor, type FieldChanges } from '../audit/repository.js';
import type { Db } from '../db/client.js';
import { smtpServers } from '../db/schema.js';
import { storedPasswordNote, type PasswordChoice } from '../smtp-servers/validation.js';
import type { ProbeReport } from './report.js';

/** What the audit trail keeps of a test: codes and parameters, put into words by the audit page. */
function auditChanges(report: ProbeReport, password: PasswordChoice, extra: FieldChanges = {}): FieldChanges {
  return {
    target: [null, `${report.target.host}:${report.target.port}`],
    result: [null, report.ok ? 'ok' : 'failed'],
    ...(report.diagnosis ? { diagnosis: [null, { key: report.diagnosis.key, params: report.diagnosis.params }] } : {}),
    // When the stored secret left Relais, and towards which server.
    ...(password.kind === 'stored' ? { storedPassword: [null, `${report.target.host}:${report.target.port}`] } : {}),
    ...extra,
  };
}

export function createConnectionTestRepository(db: Db) {
  return {
    /**
     * The test of a saved server: its result stays on the row (when, ok or not, the whole report) for the list —
     * unless the server was edited while the test ran (`testedVersion` is its updatedAt before the test): then the
     * result speaks of settings the server no longer has, and only the audit trail keeps it. (The column's SQL
     * default is a REAL of whole milliseconds, hence a comparison within 1 ms.)
     */
    async recordServerTest(serverId: number, title: string, report: ProbeReport, actor: Actor, testedVersion: Date, password: PasswordChoice = { kind: 'none' }): Promise<boolean> {
      return db.transaction((tx) => {
        const { changes } = tx
          .update(smtpServers)
          .set({ lastTestAt: new Date(report.startedAt), lastTestOk: report.ok, lastTestSummary: JSON.stringify(report) })
          .where(and(eq(smtpServers.id, serverId), sql`abs(${smtpServers.updatedAt} - ${testedVersion.getTime()}) < 1`))
          .run();
        // Edited while the test ran: the result speaks of settings the server no longer has.
        const audited = auditChanges(report, password, changes === 0 ? { retained: [null, false] } : {});
        insertAuditEntry(tx, actor, { action: 'server.test', targetType: 'smtp_server', targetId: serverId, summary: title, changes: audited });
        return changes > 0;
      });
    },

    /** A test of values typed in the form and not saved: only the audit trail keeps it. */
    async recordDraftTest(serverId: number | null, report: ProbeReport, actor: Actor, password: PasswordChoice): Promise<void> {
      insertAuditEntry(db, actor, {
        action: 'server.test',
        targetType: 'smtp_server',
        ...(serverId === null ? {} : { targetId: serverId }),
        changes: auditChanges(report, password, { unsaved: [null, true] }),
      });
    },
  };
}

export type ConnectionTestRepository = ReturnType<typeof createConnectionTestRepository>;
