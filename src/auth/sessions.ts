import { and, eq, lt, ne, or, sql } from 'drizzle-orm';
import type { Db } from '../db/client.js';
import { sessions, users } from '../db/schema.js';
import type { SignedInUser } from '../web/access.js';
import { hashToken, newToken } from './tokens.js';

export interface SessionLimits {
  /** Without a request for this long, the session ends. */
  idleMs: number;
  /** However active, the session ends this long after sign-in. */
  absoluteMs: number;
}

export interface ResolvedSession {
  user: SignedInUser;
  idHash: string;
}

// Writing last_seen_at on every request would turn each page view into a write; a minute of slack is harmless.
const touchEveryMs = 60_000;

export function createSessionRepository(db: Db, limits: SessionLimits) {
  // Read on every request: prepared once (building the query each time cost ~20× the lookup itself).
  const lookup = db
    .select({
      createdAt: sessions.createdAt,
      lastSeenAt: sessions.lastSeenAt,
      expiresAt: sessions.expiresAt,
      userId: users.id,
      email: users.email,
      displayName: users.displayName,
      role: users.role,
      disabled: users.disabled,
    })
    .from(sessions)
    .innerJoin(users, eq(users.id, sessions.userId))
    .where(eq(sessions.idHash, sql.placeholder('idHash')))
    .prepare();

  return {
    /** A new session: the id goes in the cookie, only its SHA-256 is stored. */
    async createSession(userId: number, client: { ip: string | null; userAgent: string | null }, now = new Date()) {
      const id = newToken();
      const idHash = hashToken(id);
      const expiresAt = new Date(now.getTime() + limits.absoluteMs);
      db.insert(sessions)
        .values({ idHash, userId, createdAt: now, lastSeenAt: now, expiresAt, ip: client.ip, userAgent: client.userAgent?.slice(0, 300) ?? null })
        .run();
      return { id, idHash, expiresAt };
    },

    /** The signed-in user behind a cookie value, or null (unknown, expired — then deleted —, or a disabled account). */
    async resolveSession(id: string, now = new Date()): Promise<ResolvedSession | null> {
      if (!id || id.length > 100) return null;
      const idHash = hashToken(id);
      const row = lookup.get({ idHash });
      if (!row) return null;
      const t = now.getTime();
      const ends = Math.min(row.expiresAt.getTime(), row.createdAt.getTime() + limits.absoluteMs, row.lastSeenAt.getTime() + limits.idleMs);
      if (t >= ends || row.disabled) {
        db.delete(sessions).where(eq(sessions.idHash, idHash)).run();
        return null;
      }
      if (t - row.lastSeenAt.getTime() >= touchEveryMs) {
        db.update(sessions).set({ lastSeenAt: now }).where(eq(sessions.idHash, idHash)).run();
      }
      return { idHash, user: { id: row.userId, email: row.email, displayName: row.displayName, role: row.role } };
    },

    async destroySession(id: string): Promise<void> {
      db.delete(sessions).where(eq(sessions.idHash, hashToken(id))).run();
    },

    async destroyUserSessions(userId: number, exceptIdHash?: string): Promise<number> {
      const where = exceptIdHash ? and(eq(sessions.userId, userId), ne(sessions.idHash, exceptIdHash)) : eq(sessions.userId, userId);
      return db.delete(sessions).where(where).run().changes;
    },

    /** Removes sessions that can no longer be used, whichever limit ended them. */
    async purgeExpired(now = new Date()): Promise<number> {
      const t = now.getTime();
      return db
        .delete(sessions)
        .where(
          or(
            lt(sessions.expiresAt, now),
            lt(sessions.createdAt, new Date(t - limits.absoluteMs)),
            lt(sessions.lastSeenAt, new Date(t - limits.idleMs)),
          ),
        )
        .run().changes;
    },
  };
}

export type SessionRepository = ReturnType<typeof createSessionRepository>;
