import type { Actor } from '../audit/store.js';
import type { Stores } from '../db/stores.js';
import { storedPasswordNote, type PasswordChoice } from '../smtp-servers/validation.js';
import type { ProbeReport } from './report.js';

function auditSummary(label: string, report: ProbeReport, password: PasswordChoice): string {
  const target = `${report.target.host}:${report.target.port}`;
  return `${label} (${target}) : ${report.ok ? 'ok' : `échec — ${report.diagnosis?.kind ?? 'unknown'}`}${storedPasswordNote(password, report.target)}`;
}

export function createConnectionTestRepository(stores: Stores) {
  return {
    /**
     * The test of a saved server: its result stays on the row (when, ok or not, the whole report) for the list —
     * unless the server was edited while the test ran (`testedVersion` is its updatedAt before the test): then the
     * result speaks of settings the server no longer has, and only the audit trail keeps it.
     */
    async recordServerTest(serverId: number, title: string, report: ProbeReport, actor: Actor, testedVersion: Date, password: PasswordChoice = { kind: 'none' }): Promise<boolean> {
      return stores.transaction(async (tx) => {
        const stamped = await tx.probes.recordOnServer(serverId, { at: new Date(report.startedAt), ok: report.ok, report: JSON.stringify(report) }, testedVersion);
        const summary = auditSummary(title, report, password) + (stamped ? '' : ' (serveur modifié pendant le test : résultat non retenu)');
        await tx.audit.append(actor, { action: 'server.test', targetType: 'smtp_server', targetId: serverId, summary });
        return stamped;
      });
    },

    /** A test of values typed in the form and not saved: only the audit trail keeps it. */
    async recordDraftTest(serverId: number | null, report: ProbeReport, actor: Actor, password: PasswordChoice): Promise<void> {
      await stores.audit.append(actor, {
        action: 'server.test',
        targetType: 'smtp_server',
        ...(serverId === null ? {} : { targetId: serverId }),
        summary: auditSummary('formulaire non enregistré', report, password),
      });
    },
  };
}

export type ConnectionTestRepository = ReturnType<typeof createConnectionTestRepository>;
