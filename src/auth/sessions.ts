import type { Stores } from '../db/stores.js';
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

export function createSessionRepository(stores: Stores, limits: SessionLimits) {
  return {
    /** A new session: the id goes in the cookie, only its SHA-256 is stored. */
    async createSession(userId: number, client: { ip: string | null; userAgent: string | null }, now = new Date()) {
      const id = newToken();
      const idHash = hashToken(id);
      const expiresAt = new Date(now.getTime() + limits.absoluteMs);
      await stores.sessions.insert({ idHash, userId, createdAt: now, lastSeenAt: now, expiresAt, ip: client.ip, userAgent: client.userAgent?.slice(0, 300) ?? null });
      return { id, idHash, expiresAt };
    },

    /** The signed-in user behind a cookie value, or null (unknown, expired — then deleted —, or a disabled account). */
    async resolveSession(id: string, now = new Date()): Promise<ResolvedSession | null> {
      if (!id || id.length > 100) return null;
      const idHash = hashToken(id);
      const row = await stores.sessions.lookup(idHash);
      if (!row) return null;
      const t = now.getTime();
      const ends = Math.min(row.expiresAt.getTime(), row.createdAt.getTime() + limits.absoluteMs, row.lastSeenAt.getTime() + limits.idleMs);
      if (t >= ends || row.user.disabled) {
        await stores.sessions.delete(idHash);
        return null;
      }
      if (t - row.lastSeenAt.getTime() >= touchEveryMs) await stores.sessions.touch(idHash, now);
      const { id: userId, email, displayName, role } = row.user;
      return { idHash, user: { id: userId, email, displayName, role } };
    },

    async destroySession(id: string): Promise<void> {
      await stores.sessions.delete(hashToken(id));
    },

    destroyUserSessions: (userId: number, exceptIdHash?: string): Promise<number> => stores.sessions.deleteOfUser(userId, exceptIdHash),

    /** Removes sessions that can no longer be used, whichever limit ended them. */
    async purgeExpired(now = new Date()): Promise<number> {
      const t = now.getTime();
      return stores.sessions.deleteEnded({
        expiresBefore: now,
        createdBefore: new Date(t - limits.absoluteMs),
        lastSeenBefore: new Date(t - limits.idleMs),
      });
    },
  };
}

export type SessionRepository = ReturnType<typeof createSessionRepository>;
