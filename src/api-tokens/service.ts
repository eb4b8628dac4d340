import { createHash, randomBytes } from 'node:crypto';
import type { Actor } from '../audit/store.js';
import type { Stores } from '../db/stores.js';
import type { ApiTokenRow } from './store.js';

export type { ApiTokenRow } from './store.js';

/** Every token starts with it, so a secret scanner (or a person) recognises one pasted where it should not be. */
export const tokenPrefix = 'relais_';

/** What a request's token allows, once found and not revoked. */
export interface ApiCaller {
  id: number;
  name: string;
  allDepartments: boolean;
  departments: readonly string[];
}

export function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

/** Whether the caller may send for (and read the messages of) this department. */
export function mayUse(caller: ApiCaller, department: string): boolean {
  return caller.allDepartments || caller.departments.includes(department);
}

export interface TokenScope {
  name: string;
  allDepartments: boolean;
  /** Department codes; ignored when allDepartments. */
  departments: readonly string[];
}

export type RateVerdict = { allowed: true } | { allowed: false; retryAfterSeconds: number };

const lastUseEveryMs = 60_000;
const windowMs = 60_000;
// A token found is reused for this long by the instance, not read again at every request; a revocation made here
// drops it at once, one made on another instance is honoured here within this time.
const knownForMs = 1_000;
const knownAtMost = 1_000;

/**
 * Tokens: 32 random bytes after `relais_`, kept as their SHA-256 only (a leaked database yields no usable token);
 * the secret is handed back once, by create(). Creating and revoking are audited, without the secret.
 */
export function createApiTokenService(stores: Stores, options: { requestsPerMinute: number }) {
  // When this instance last wrote each token's last use: at most one write a minute per token and instance.
  const lastTouched = new Map<number, number>();
  const known = new Map<string, { at: number; token: ApiTokenRow }>();
  /** Revocations made on this instance: a token read while one was made is not kept (it may be the revoked one). */
  let revocations = 0;
  // The requests this instance reserved in the database and has not used yet, per token, for one window. A reservation
  // grows (1, 2, 4… up to a twentieth of the limit, at most 100) while the token keeps this instance busy, so a busy
  // token costs a write every few dozen requests instead of one each; an instance can leave at most one reservation
  // unused per window, and the limit is never exceeded across instances.
  const allowances = new Map<number, { window: number; left: number; next: number }>();
  const largestReservation = Math.max(1, Math.min(100, Math.floor(options.requestsPerMinute / 20)));

  return {
    list: () => stores.apiTokens.list(),
    find: (id: number) => stores.apiTokens.find(id),

    /** Creates the token and returns its secret, which is never stored nor shown again. */
    async create(scope: TokenScope, actor: Actor, now = new Date()): Promise<{ token: ApiTokenRow; secret: string }> {
      const secret = tokenPrefix + randomBytes(32).toString('base64url');
      const id = await stores.transaction(async (tx) => {
        const known = await tx.departments.list();
        const chosen = scope.allDepartments ? [] : known.filter((d) => scope.departments.includes(d.code));
        const tokenId = await tx.apiTokens.insert({
          name: scope.name,
          tokenHash: hashToken(secret),
          hint: secret.slice(0, tokenPrefix.length + 4),
          allDepartments: scope.allDepartments,
          departmentIds: chosen.map((d) => d.id),
          createdAt: now,
          createdBy: actor.userId,
        });
        await tx.audit.append(
          actor,
          {
            action: 'apiToken.create',
            targetType: 'apiToken',
            targetId: tokenId,
            summary: scope.name,
            changes: { departments: [null, scope.allDepartments ? { key: 'apiTokens.allDepartments' } : chosen.map((d) => d.code).join(',')] },
          },
          now,
        );
        return tokenId;
      });
      return { token: (await stores.apiTokens.find(id))!, secret };
    },

    /** false when it was already revoked or does not exist. */
    async revoke(id: number, actor: Actor, now = new Date()): Promise<boolean> {
      const revoked = await stores.transaction(async (tx) => {
        const token = await tx.apiTokens.find(id);
        if (!token || !(await tx.apiTokens.revoke(id, now))) return false;
        await tx.audit.append(actor, { action: 'apiToken.revoke', targetType: 'apiToken', targetId: id, summary: token.name }, now);
        return true;
      });
      revocations++;
      for (const [hash, entry] of known) if (entry.token.id === id) known.delete(hash);
      return revoked;
    },

    /** The caller a bearer token stands for; null when unknown or revoked. */
    async authenticate(secret: string, now = new Date()): Promise<ApiCaller | null> {
      if (!secret.startsWith(tokenPrefix) || secret.length > 200) return null;
      const hash = hashToken(secret);
      const hit = known.get(hash);
      let token: ApiTokenRow | null;
      if (hit && now.getTime() - hit.at < knownForMs && now.getTime() >= hit.at) token = hit.token;
      else {
        const revocationsBefore = revocations;
        token = await stores.apiTokens.findByHash(hash);
        known.delete(hash);
        if (!token || token.revokedAt) return null;
        if (known.size >= knownAtMost) known.clear();
        // A revocation made here while the row was read may have read it before: not kept, the next call reads again.
        if (revocations === revocationsBefore) known.set(hash, { at: now.getTime(), token });
      }
      const touched = lastTouched.get(token.id) ?? 0;
      if (now.getTime() - touched >= lastUseEveryMs) {
        lastTouched.set(token.id, now.getTime());
        await stores.apiTokens.touch(token.id, now, new Date(now.getTime() - lastUseEveryMs));
      }
      return { id: token.id, name: token.name, allDepartments: token.allDepartments, departments: token.departments };
    },

    /** Counts the request against the token's minute, in the database: every instance shares one limit. */
    async reserveRequest(tokenId: number, now = new Date()): Promise<RateVerdict> {
      const windowStart = Math.floor(now.getTime() / windowMs) * windowMs;
      let allowance = allowances.get(tokenId);
      if (!allowance || allowance.window !== windowStart) {
        if (allowances.size >= knownAtMost) allowances.clear();
        allowance = { window: windowStart, left: 0, next: 1 };
        allowances.set(tokenId, allowance);
      }
      if (allowance.left > 0) {
        allowance.left -= 1;
        return { allowed: true };
      }
      const reserved = allowance.next;
      allowance.next = Math.min(reserved * 2, largestReservation);
      const count = await stores.apiTokens.countRequest(tokenId, new Date(windowStart), reserved);
      const granted = Math.min(reserved, options.requestsPerMinute - (count - reserved));
      if (granted > 0) {
        allowance.left += granted - 1;
        return { allowed: true };
      }
      return { allowed: false, retryAfterSeconds: Math.max(1, Math.ceil((windowStart + windowMs - now.getTime()) / 1000)) };
    },
  };
}

export type ApiTokenService = ReturnType<typeof createApiTokenService>;
