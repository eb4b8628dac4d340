import { and, asc, eq, gt, isNull, sql } from 'drizzle-orm';
import { confirmationRowOf, confirmationSelections, type ConfirmationStore } from '../../confirmation/store.js';
import type { PgExecutor } from './stores.js';
import { confirmationTokens, smtpServers } from './schema.js';

const { server: serverColumns, state: confirmationColumns } = confirmationSelections(smtpServers);

/** The first key of the two-key advisory lock taken per recipient address ("RCPT"), apart from other uses of advisory locks. */
const recipientLockSpace = 0x52435054;

const stillOpen = (id: number) => and(eq(confirmationTokens.id, id), isNull(confirmationTokens.usedAt), isNull(confirmationTokens.revokedAt));

export function createPostgresConfirmationStore(db: PgExecutor): ConfirmationStore {
  return {
    async holdServer(serverId) {
      const [server] = await db.select(serverColumns).from(smtpServers).where(eq(smtpServers.id, serverId)).for('no key update');
      return server ?? null;
    },

    async holdRecipient(email) {
      // A hash may join two addresses under one lock: they then wait for each other, which is harmless.
      await db.execute(sql`SELECT pg_advisory_xact_lock(${recipientLockSpace}::integer, hashtext(lower(${email})))`);
    },

    async issuedSince(scope, since) {
      const recent = gt(confirmationTokens.createdAt, since);
      const rows =
        'serverId' in scope
          ? await db
              .select({ createdAt: confirmationTokens.createdAt })
              .from(confirmationTokens)
              .where(and(eq(confirmationTokens.serverId, scope.serverId), recent))
              .orderBy(asc(confirmationTokens.createdAt))
          : await db
              .select({ createdAt: confirmationTokens.createdAt })
              .from(confirmationTokens)
              .innerJoin(smtpServers, eq(smtpServers.id, confirmationTokens.serverId))
              .where(and(sql`lower(${smtpServers.email}) = lower(${scope.email})`, recent))
              .orderBy(asc(confirmationTokens.createdAt));
      return rows.map((r) => r.createdAt);
    },

    async revokeOpen(serverId, at) {
      const revoked = await db
        .update(confirmationTokens)
        .set({ revokedAt: at })
        .where(and(eq(confirmationTokens.serverId, serverId), isNull(confirmationTokens.usedAt), isNull(confirmationTokens.revokedAt)))
        .returning({ id: confirmationTokens.id });
      return revoked.length;
    },

    async insert(token) {
      const [row] = await db.insert(confirmationTokens).values(token).returning({ id: confirmationTokens.id });
      return row!.id;
    },

    async find(tokenId) {
      const [token] = await db.select().from(confirmationTokens).where(eq(confirmationTokens.id, tokenId));
      return token ?? null;
    },

    async findByHash(tokenHash) {
      const [row] = await db
        .select({ token: confirmationTokens, server: serverColumns })
        .from(confirmationTokens)
        .innerJoin(smtpServers, eq(smtpServers.id, confirmationTokens.serverId))
        .where(eq(confirmationTokens.tokenHash, tokenHash));
      return row ?? null;
    },

    async use(tokenId, at) {
      // A concurrent use waits for this row and then finds used_at set: one of them spends it.
      const used = await db
        .update(confirmationTokens)
        .set({ usedAt: at })
        .where(and(stillOpen(tokenId), gt(confirmationTokens.expiresAt, at)))
        .returning({ id: confirmationTokens.id });
      return used.length === 1;
    },

    async revoke(tokenId, at) {
      const revoked = await db
        .update(confirmationTokens)
        .set({ revokedAt: at })
        .where(and(eq(confirmationTokens.id, tokenId), isNull(confirmationTokens.revokedAt)))
        .returning({ id: confirmationTokens.id });
      return revoked.length === 1;
    },

    async setServerConfirmation(serverId, state) {
      await db.update(smtpServers).set(confirmationRowOf(state)).where(eq(smtpServers.id, serverId));
    },

    async confirmationOf(serverId) {
      const [row] = await db.select(confirmationColumns).from(smtpServers).where(eq(smtpServers.id, serverId));
      return row ?? null;
    },

    async tokensOf(serverId) {
      return db.select().from(confirmationTokens).where(eq(confirmationTokens.serverId, serverId)).orderBy(asc(confirmationTokens.id));
    },
  };
}
