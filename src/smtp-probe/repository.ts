import type { Actor, FieldChanges } from '../audit/store.js';
import type { Stores } from '../db/stores.js';
import type { PasswordChoice } from '../smtp-servers/validation.js';
import type { ProbeReport } from '../smtp/report.js';

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

export function createConnectionTestRepository(stores: Stores) {
  return {
    /**
     * The test of a saved server: its result stays on the row (when, ok or not, the whole report) for the list —
     * unless the server was edited while the test ran (`testedVersion` is its row version before the test): then the
     * result speaks of settings the server no longer has, and only the audit trail keeps it.
     */
    async recordServerTest(serverId: number, title: string, report: ProbeReport, actor: Actor, testedVersion: number, password: PasswordChoice = { kind: 'none' }): Promise<boolean> {
      return stores.transaction(async (tx) => {
        const stamped = await tx.probes.recordOnServer(serverId, { at: new Date(report.startedAt), ok: report.ok, report: JSON.stringify(report) }, testedVersion);
        // Edited while the test ran: the result speaks of settings the server no longer has.
        const audited = auditChanges(report, password, stamped ? {} : { retained: [null, false] });
        await tx.audit.append(actor, { action: 'server.test', targetType: 'smtp_server', targetId: serverId, summary: title, changes: audited });
        return stamped;
      });
    },

    /** A test of values typed in the form and not saved: only the audit trail keeps it. */
    async recordDraftTest(serverId: number | null, report: ProbeReport, actor: Actor, password: PasswordChoice): Promise<void> {
      await stores.audit.append(actor, {
        action: 'server.test',
        targetType: 'smtp_server',
        ...(serverId === null ? {} : { targetId: serverId }),
        changes: auditChanges(report, password, { unsaved: [null, true] }),
      });
    },
  };
}

export type ConnectionTestRepository = ReturnType<typeof createConnectionTestRepository>;
