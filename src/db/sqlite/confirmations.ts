import { and, asc, eq, gt, isNull, sql } from 'drizzle-orm';
import { confirmationRowOf, confirmationSelections, type ConfirmationStore } from '../../confirmation/store.js';
import type { Db } from './client.js';
import { confirmationTokens, smtpServers } from './schema.js';
import type { WriteLock } from './write-lock.js';

const { server: serverColumns, state: confirmationColumns } = confirmationSelections(smtpServers);

const stillOpen = (id: number) => and(eq(confirmationTokens.id, id), isNull(confirmationTokens.usedAt), isNull(confirmationTokens.revokedAt));

/** The holds are no-ops here: a transaction on the single connection holds the whole file (BEGIN IMMEDIATE under the write lock). */
export function createSqliteConfirmationStore(db: Db, lock: WriteLock): ConfirmationStore {
  return {
    async holdServer(serverId) {
      return db.select(serverColumns).from(smtpServers).where(eq(smtpServers.id, serverId)).get() ?? null;
    },

    async holdRecipient() {},

    async issuedSince(scope, since) {
      const recent = gt(confirmationTokens.createdAt, since);
      const rows =
        'serverId' in scope
          ? db
              .select({ createdAt: confirmationTokens.createdAt })
              .from(confirmationTokens)
              .where(and(eq(confirmationTokens.serverId, scope.serverId), recent))
              .orderBy(asc(confirmationTokens.createdAt))
              .all()
          : db
              .select({ createdAt: confirmationTokens.createdAt })
              .from(confirmationTokens)
              .innerJoin(smtpServers, eq(smtpServers.id, confirmationTokens.serverId))
              .where(and(sql`${smtpServers.email} = ${scope.email} COLLATE NOCASE`, recent))
              .orderBy(asc(confirmationTokens.createdAt))
              .all();
      return rows.map((r) => r.createdAt);
    },

    async revokeOpen(serverId, at) {
      return lock.run(
        () =>
          db
            .update(confirmationTokens)
            .set({ revokedAt: at })
            .where(and(eq(confirmationTokens.serverId, serverId), isNull(confirmationTokens.usedAt), isNull(confirmationTokens.revokedAt)))
            .run().changes,
      );
    },

    async insert(token) {
      return lock.run(() => db.insert(confirmationTokens).values(token).returning({ id: confirmationTokens.id }).get().id);
    },

    async find(tokenId) {
      return db.select().from(confirmationTokens).where(eq(confirmationTokens.id, tokenId)).get() ?? null;
    },

    async findByHash(tokenHash) {
      return (
        db
          .select({ token: confirmationTokens, server: serverColumns })
          .from(confirmationTokens)
          .innerJoin(smtpServers, eq(smtpServers.id, confirmationTokens.serverId))
          .where(eq(confirmationTokens.tokenHash, tokenHash))
          .get() ?? null
      );
    },

    async use(tokenId, at) {
      return lock.run(
        () =>
          db
            .update(confirmationTokens)
            .set({ usedAt: at })
            .where(and(stillOpen(tokenId), gt(confirmationTokens.expiresAt, at)))
            .run().changes === 1,
      );
    },

    async revoke(tokenId, at) {
      return lock.run(
        () =>
          db
            .update(confirmationTokens)
            .set({ revokedAt: at })
            .where(and(eq(confirmationTokens.id, tokenId), isNull(confirmationTokens.revokedAt)))
            .run().changes === 1,
      );
    },

    async setServerConfirmation(serverId, state) {
      await lock.run(() => db.update(smtpServers).set(confirmationRowOf(state)).where(eq(smtpServers.id, serverId)).run());
    },

    async confirmationOf(serverId) {
      return db.select(confirmationColumns).from(smtpServers).where(eq(smtpServers.id, serverId)).get() ?? null;
    },

    async tokensOf(serverId) {
      return db.select().from(confirmationTokens).where(eq(confirmationTokens.serverId, serverId)).orderBy(asc(confirmationTokens.id)).all();
    },
  };
}

