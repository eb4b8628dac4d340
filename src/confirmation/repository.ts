import type { Actor } from '../audit/store.js';
import type { Stores } from '../db/stores.js';
import type { Diagnosis } from '../smtp/report.js';
import type { ConfirmationToken, ConfirmedServer } from './store.js';
import { hashConfirmationToken, isWellFormedToken, newConfirmationToken } from './token.js';

export type { ConfirmedServer } from './store.js';

/** At most this many confirmation mails for one server, and to one address, within the window, whatever became of them. */
export const confirmationThrottle = { limit: 5, windowMs: 60 * 60 * 1000 } as const;

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

function stateOf(found: { token: ConfirmationToken; server: ConfirmedServer } | null, now: Date): TokenState {
  if (!found) return { kind: 'unknown' };
  const { token, server } = found;
  if (token.usedAt) return { kind: 'used', server, usedAt: token.usedAt };
  if (token.revokedAt) return { kind: 'revoked', server };
  if (token.expiresAt.getTime() <= now.getTime()) return { kind: 'expired', server, expiresAt: token.expiresAt };
  return { kind: 'valid', server, expiresAt: token.expiresAt };
}

/**
 * The rules of confirmation links over `stores.confirmations`. Each change takes the server first (holdServer), so an
 * edit of the server, which voids its links, is either wholly before or wholly after it.
 */
export function createConfirmationRepository(stores: Stores) {
  const recentSince = (now: Date) => new Date(now.getTime() - confirmationThrottle.windowMs);

  return {
    /**
     * A new link for the server, unless it had its share this hour. Earlier links stop working: only the latest
     * message proves anything. Counting and inserting are one transaction that holds the server and the address, so
     * quick clicks, on one instance or several, cannot slip past the limit together.
     */
    async issue(serverId: number, options: { ttlHours: number; now?: Date }): Promise<IssueResult> {
      const now = options.now ?? new Date();
      const { token, hash } = newConfirmationToken();
      return stores.transaction(async (tx): Promise<IssueResult> => {
        const server = await tx.confirmations.holdServer(serverId);
        if (!server) return { kind: 'notFound' };
        await tx.confirmations.holdRecipient(server.email);
        // Per recipient too: copies of one server must not multiply the mails one address receives.
        const windows = [
          ['server', { serverId }],
          ['recipient', { email: server.email }],
        ] as const;
        for (const [scope, whose] of windows) {
          const sent = await tx.confirmations.issuedSince(whose, recentSince(now));
          if (sent.length >= confirmationThrottle.limit) {
            const oldest = sent[sent.length - confirmationThrottle.limit]!;
            return { kind: 'throttled', scope, retryAt: new Date(oldest.getTime() + confirmationThrottle.windowMs), limit: confirmationThrottle.limit };
          }
        }
        await tx.confirmations.revokeOpen(serverId, now);
        const expiresAt = new Date(now.getTime() + options.ttlHours * 3600 * 1000);
        const tokenId = await tx.confirmations.insert({ serverId, tokenHash: hash, createdAt: now, expiresAt });
        return { kind: 'issued', token, tokenId, expiresAt };
      });
    },

    /** The message left through the server: the server waits for its link to be followed. */
    async recordSent(serverId: number, tokenId: number, details: { sentAt: Date; expiresAt: Date; summary: string }, actor: Actor) {
      await stores.transaction(async (tx) => {
        await tx.confirmations.holdServer(serverId);
        const token = await tx.confirmations.find(tokenId);
        // An edit while the message was on its way revoked the link: the server stays as the edit left it.
        if (token && !token.revokedAt) {
          await tx.confirmations.setServerConfirmation(serverId, { status: 'pending', sentAt: details.sentAt, expiresAt: details.expiresAt, confirmedAt: null, error: null });
        }
        await tx.audit.append(actor, { action: 'server.confirmation_send', targetType: 'smtp_server', targetId: serverId, summary: details.summary });
      });
    },

    /** The message could not leave: the link is void and the server shows why. */
    async recordFailed(serverId: number, tokenId: number, details: { at: Date; diagnosis: Diagnosis; summary: string }, actor: Actor) {
      await stores.transaction(async (tx) => {
        await tx.confirmations.holdServer(serverId);
        // Already void: an edit came first, and the server stays as the edit left it.
        if (await tx.confirmations.revoke(tokenId, details.at)) {
          await tx.confirmations.setServerConfirmation(serverId, {
            status: 'failed',
            sentAt: details.at,
            expiresAt: null,
            confirmedAt: null,
            error: storedDiagnosis(details.diagnosis),
          });
        }
        await tx.audit.append(actor, { action: 'server.confirmation_send', targetType: 'smtp_server', targetId: serverId, summary: details.summary });
      });
    },

    /** What a link leads to, without changing anything (the page a mail scanner may open). */
    async inspect(token: string, now = new Date()): Promise<TokenState> {
      if (!isWellFormedToken(token)) return { kind: 'unknown' };
      return stateOf(await stores.confirmations.findByHash(hashConfirmationToken(token)), now);
    },

    /** Uses the link once: the server is confirmed now. Any other state changes nothing. */
    async confirm(token: string, actor: Actor, now = new Date()): Promise<TokenState> {
      if (!isWellFormedToken(token)) return { kind: 'unknown' };
      const hash = hashConfirmationToken(token);
      return stores.transaction(async (tx): Promise<TokenState> => {
        const found = await tx.confirmations.findByHash(hash);
        const state = stateOf(found, now);
        if (state.kind !== 'valid' || !found) return state;
        await tx.confirmations.holdServer(found.token.serverId);
        // Someone else used it, or an edit voided it, since it was read: say what it is now.
        if (!(await tx.confirmations.use(found.token.id, now))) return stateOf(await tx.confirmations.findByHash(hash), now);
        await tx.confirmations.setServerConfirmation(found.token.serverId, { status: 'confirmed', expiresAt: null, confirmedAt: now, error: null });
        await tx.audit.append(
          actor,
          { action: 'server.confirm', targetType: 'smtp_server', targetId: found.server.id, summary: `${found.server.title} (${found.server.email})` },
          now,
        );
        return { kind: 'confirmed', server: found.server, confirmedAt: now };
      });
    },

    /** How many links were issued for the server within the throttle window (for tests and the admin's message). */
    async recentSends(serverId: number, now = new Date()): Promise<number> {
      return (await stores.confirmations.issuedSince({ serverId }, recentSince(now))).length;
    },
  };
}

export type ConfirmationRepository = ReturnType<typeof createConfirmationRepository>;
