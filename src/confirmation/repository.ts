import { and, asc, count, eq, gt, isNull, sql } from 'drizzle-orm';
import { insertAuditEntry, type Actor } from '../audit/repository.js';
import type { Db } from '../db/client.js';
import { confirmationTokens, smtpServers } from '../db/schema.js';
import type { Diagnosis } from '../smtp-probe/report.js';
import { hashConfirmationToken, isWellFormedToken, newConfirmationToken } from './token.js';

/** At most this many confirmation mails for one server, and to one address, within the window, whatever became of them. */
export const confirmationThrottle = { limit: 5, windowMs: 60 * 60 * 1000 } as const;

export interface ConfirmedServer {
  id: number;
  title: string;
  email: string;
  host: string;
  port: number;
}

export type IssueResult =
  | { kind: 'issued'; token: string; tokenId: number; expiresAt: Date }
  | { kind: 'throttled'; scope: ThrottleScope; retryAt: Date; limit: number }
  | { kind: 'notFound' };

export type ThrottleScope = 'server' | 'recipient';

export type TokenState =
  | { kind: 'valid'; server: ConfirmedServer; expiresAt: Date }
  | { kind: 'confirmed'; server: ConfirmedServer; confirmedAt: Date }
  | { kind: 'expired'; server: ConfirmedServer; expiresAt: Date }
  | { kind: 'used'; server: ConfirmedServer; usedAt: Date }
  | { kind: 'revoked'; server: ConfirmedServer }
  | { kind: 'unknown' };

/** Stored in smtp_servers.confirmation_error and translated when shown. */
export function storedDiagnosis(diagnosis: Diagnosis): string {
  return JSON.stringify({ key: diagnosis.key, params: diagnosis.params ?? {}, ...(diagnosis.reply ? { reply: diagnosis.reply } : {}) });
}

export function createConfirmationRepository(db: Db) {
  const serverColumns = {
    id: smtpServers.id,
    title: smtpServers.title,
    email: smtpServers.email,
    host: smtpServers.host,
    port: smtpServers.port,
  };

  function stateOf(tx: Db, token: string, now: Date) {
    if (!isWellFormedToken(token)) return { state: { kind: 'unknown' } as TokenState, row: null };
    const row = tx
      .select({ token: confirmationTokens, server: serverColumns })
      .from(confirmationTokens)
      .innerJoin(smtpServers, eq(smtpServers.id, confirmationTokens.serverId))
      .where(eq(confirmationTokens.tokenHash, hashConfirmationToken(token)))
      .get();
    if (!row) return { state: { kind: 'unknown' } as TokenState, row: null };
    const { token: t, server } = row;
    let state: TokenState;
    if (t.usedAt) state = { kind: 'used', server, usedAt: t.usedAt };
    else if (t.revokedAt) state = { kind: 'revoked', server };
    else if (t.expiresAt.getTime() <= now.getTime()) state = { kind: 'expired', server, expiresAt: t.expiresAt };
    else state = { kind: 'valid', server, expiresAt: t.expiresAt };
    return { state, row };
  }

  return {
    /**
     * A new link for the server, unless it had its share this hour. Earlier links stop working: only the latest
     * message proves anything. Check and insert share one transaction, so two quick clicks cannot both slip through.
     */
    async issue(serverId: number, options: { ttlHours: number; now?: Date }): Promise<IssueResult> {
      const now = options.now ?? new Date();
      return db.transaction((tx) => {
        const server = tx.select({ id: smtpServers.id, email: smtpServers.email }).from(smtpServers).where(eq(smtpServers.id, serverId)).get();
        if (!server) return { kind: 'notFound' } as const;
        const since = gt(confirmationTokens.createdAt, new Date(now.getTime() - confirmationThrottle.windowMs));
        // Per recipient too: copies of one server must not multiply the mails one address receives.
        const windows = [
          { scope: 'server', recent: and(eq(confirmationTokens.serverId, serverId), since) },
          { scope: 'recipient', recent: and(sql`lower(${smtpServers.email}) = lower(${server.email})`, since) },
        ] as const;
        for (const { scope, recent } of windows) {
          const sent = tx
            .select({ createdAt: confirmationTokens.createdAt })
            .from(confirmationTokens)
            .innerJoin(smtpServers, eq(smtpServers.id, confirmationTokens.serverId))
            .where(recent)
            .orderBy(asc(confirmationTokens.createdAt))
            .all();
          if (sent.length >= confirmationThrottle.limit) {
            const oldest = sent[sent.length - confirmationThrottle.limit]!.createdAt;
            return { kind: 'throttled', scope, retryAt: new Date(oldest.getTime() + confirmationThrottle.windowMs), limit: confirmationThrottle.limit } as const;
          }
        }
        tx.update(confirmationTokens)
          .set({ revokedAt: now })
          .where(and(eq(confirmationTokens.serverId, serverId), isNull(confirmationTokens.usedAt), isNull(confirmationTokens.revokedAt)))
          .run();
        const { token, hash } = newConfirmationToken();
        const expiresAt = new Date(now.getTime() + options.ttlHours * 3600 * 1000);
        const row = tx
          .insert(confirmationTokens)
          .values({ serverId, tokenHash: hash, createdAt: now, expiresAt })
          .returning({ id: confirmationTokens.id })
          .get();
        return { kind: 'issued', token, tokenId: row.id, expiresAt } as const;
      });
    },

    /** The message left through the server: the server waits for its link to be followed. */
    async recordSent(serverId: number, tokenId: number, details: { sentAt: Date; expiresAt: Date; summary: string }, actor: Actor) {
      db.transaction((tx) => {
        const token = tx.select({ revokedAt: confirmationTokens.revokedAt }).from(confirmationTokens).where(eq(confirmationTokens.id, tokenId)).get();
        // An edit while the message was on its way revoked the link: the server stays as the edit left it.
        if (token && !token.revokedAt) {
          tx.update(smtpServers)
            .set({
              confirmationStatus: 'pending',
              confirmationSentAt: details.sentAt,
              confirmationExpiresAt: details.expiresAt,
              confirmedAt: null,
              confirmationError: null,
            })
            .where(eq(smtpServers.id, serverId))
            .run();
        }
        insertAuditEntry(tx, actor, { action: 'server.confirmation_send', targetType: 'smtp_server', targetId: serverId, summary: details.summary });
      });
    },

    /** The message could not leave: the link is void and the server shows why. */
    async recordFailed(serverId: number, tokenId: number, details: { at: Date; diagnosis: Diagnosis; summary: string }, actor: Actor) {
      db.transaction((tx) => {
        const token = tx.select({ revokedAt: confirmationTokens.revokedAt }).from(confirmationTokens).where(eq(confirmationTokens.id, tokenId)).get();
        tx.update(confirmationTokens).set({ revokedAt: details.at }).where(and(eq(confirmationTokens.id, tokenId), isNull(confirmationTokens.revokedAt))).run();
        if (token && !token.revokedAt) {
          tx.update(smtpServers)
            .set({
              confirmationStatus: 'failed',
              confirmationSentAt: details.at,
              confirmationExpiresAt: null,
              confirmedAt: null,
              confirmationError: storedDiagnosis(details.diagnosis),
            })
            .where(eq(smtpServers.id, serverId))
            .run();
        }
        insertAuditEntry(tx, actor, { action: 'server.confirmation_send', targetType: 'smtp_server', targetId: serverId, summary: details.summary });
      });
    },

    /** What a link leads to, without changing anything (the page a mail scanner may open). */
    async inspect(token: string, now = new Date()): Promise<TokenState> {
      return stateOf(db, token, now).state;
    },

    /** Uses the link once: the server is confirmed now. Any other state changes nothing. */
    async confirm(token: string, actor: Actor, now = new Date()): Promise<TokenState> {
      return db.transaction((tx) => {
        const { state, row } = stateOf(tx, token, now);
        if (state.kind !== 'valid' || !row) return state;
        const used = tx
          .update(confirmationTokens)
          .set({ usedAt: now })
          .where(and(eq(confirmationTokens.id, row.token.id), isNull(confirmationTokens.usedAt), isNull(confirmationTokens.revokedAt)))
          .run();
        if (used.changes !== 1) return { kind: 'used', server: state.server, usedAt: now } as TokenState;
        tx.update(smtpServers)
          .set({ confirmationStatus: 'confirmed', confirmedAt: now, confirmationExpiresAt: null, confirmationError: null })
          .where(eq(smtpServers.id, state.server.id))
          .run();
        insertAuditEntry(
          tx,
          actor,
          { action: 'server.confirm', targetType: 'smtp_server', targetId: state.server.id, summary: `${state.server.title} (${state.server.email})` },
          now,
        );
        return { kind: 'confirmed', server: state.server, confirmedAt: now } as TokenState;
      });
    },

    /** How many links were issued for the server within the throttle window (for tests and the admin's message). */
    async recentSends(serverId: number, now = new Date()): Promise<number> {
      const since = new Date(now.getTime() - confirmationThrottle.windowMs);
      return (
        db
          .select({ n: count() })
          .from(confirmationTokens)
          .where(and(eq(confirmationTokens.serverId, serverId), gt(confirmationTokens.createdAt, since)))
          .get()?.n ?? 0
      );
    },
  };
}

export type ConfirmationRepository = ReturnType<typeof createConfirmationRepository>;
