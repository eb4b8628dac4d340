import type { ConfirmationStatus } from '../confirmation/store.js';

// The alerts' rows as the stores see them (src/db/sqlite/alerts.ts, src/db/postgres/alerts.ts); the rules are in
// detect.ts (what counts as a change) and dispatch.ts (who is told, how, how often).

/** certificate: a kept certificate crossed an expiry threshold or changed issuer (src/health-checks/). */
export type AlertKind = 'serverDown' | 'serverUp' | 'departmentNoServer' | 'departmentRestored' | 'messageFailed' | 'certificate';
export const alertKinds: readonly AlertKind[] = ['serverDown', 'serverUp', 'departmentNoServer', 'departmentRestored', 'messageFailed', 'certificate'];

export type AlertParams = Record<string, string | number | null>;

export interface NewAlertEvent {
  at: Date;
  kind: AlertKind;
  /** Who the one-mail-per-hour limit counts for: server:<id>, department:<code>, message:<public id>. */
  subject: string;
  params: AlertParams;
  /** false when no webhook is configured: the event is never posted. */
  webhook: boolean;
}

export interface AlertEvent {
  id: number;
  at: Date;
  kind: AlertKind;
  subject: string;
  params: AlertParams;
  mailState: 'pending' | 'held' | 'sent' | 'unsent';
  mailedAt: Date | null;
  webhookState: 'pending' | 'sent' | 'failed' | 'off';
  webhookAttempts: number;
}

/** A server's state as an alert pass reads it. */
export interface ServerHealth {
  id: number;
  title: string;
  active: boolean;
  confirmationStatus: ConfirmationStatus;
  downUntil: Date | null;
  lastError: string | null;
}

export interface FailedMessage {
  id: number;
  publicId: string;
  department: string;
  subject: string;
  lastReply: string | null;
  lastServerTitle: string | null;
  updatedAt: Date;
}

export interface AlertControl {
  failedCursorAt: Date;
  failedCursorId: number;
  /** The server chosen for alert mails; null: automatic. */
  alertServerId: number | null;
}

export interface AlertRecipient {
  id: number;
  email: string;
  displayName: string;
  /** The language the opt-in was saved in; null: French. */
  locale: string | null;
}

export interface AlertStore {
  /** Takes the alert pass for `owner` until `until`, unless another instance holds it; the control row is created on first use. */
  claimLease(owner: string, now: Date, until: Date): Promise<boolean>;
  releaseLease(owner: string): Promise<void>;
  /**
   * The first call in the pass's transaction (stores.transaction): the control row, locked until the transaction ends
   * (PostgreSQL: FOR UPDATE), and the rest of the pass's reads on one snapshot (PostgreSQL: REPEATABLE READ).
   */
  lockControl(now: Date): Promise<AlertControl>;
  advanceFailedCursor(at: Date, id: number): Promise<void>;
  serverHealth(): Promise<ServerHealth[]>;
  /** Messages failed for good after the cursor (updated_at, id) and no later than `until`, oldest first. */
  failedAfter(cursorAt: Date, cursorId: number, until: Date, limit: number): Promise<FailedMessage[]>;
  snapshot(): Promise<{ subject: string; state: string }[]>;
  saveSnapshot(changed: { subject: string; state: string }[], removed: string[]): Promise<void>;
  insertEvents(events: NewAlertEvent[]): Promise<void>;
  /** Events not mailed yet (pending or held), oldest first. */
  unmailed(limit: number): Promise<AlertEvent[]>;
  markMailed(ids: number[], state: 'held' | 'sent' | 'unsent', at: Date): Promise<void>;
  unposted(limit: number): Promise<AlertEvent[]>;
  /** sent, or one more failed attempt (failed for good at `maxAttempts`). */
  markPosted(ids: number[], outcome: 'sent' | 'attemptFailed', maxAttempts: number): Promise<void>;
  /** Reserves a mail now for each subject whose last one is older than `notAfter` (or none): those reserved, atomically. */
  reserveSubjects(subjects: string[], now: Date, notAfter: Date): Promise<string[]>;
  /** A reservation whose mail could not go: given back, so the next pass may send. */
  releaseSubjects(subjects: string[], reservedAt: Date): Promise<void>;
  /** Active administrators who asked for alert mails. */
  recipients(): Promise<AlertRecipient[]>;
  optInOf(userId: number): Promise<{ optIn: boolean; locale: string | null } | null>;
  setOptIn(userId: number, optIn: boolean, locale: string | null, at: Date): Promise<boolean>;
  /** null: automatic. */
  alertServerId(): Promise<number | null>;
  /**
   * false, writing nothing: that server is gone (deleted since the form was checked). In a transaction, the server
   * then stays until it ends (PostgreSQL: FOR KEY SHARE; SQLite: the write lock).
   */
  setAlertServer(serverId: number | null, now: Date): Promise<boolean>;
  recent(limit: number): Promise<AlertEvent[]>;
  /** Events done with (mailed or nobody to mail, posted or given up) that happened before `before`. */
  pruneEvents(before: Date): Promise<number>;
}
