import type { Stores } from '../db/stores.js';
import type { LogoDescription, LogoFacts, StoredLogo } from './store.js';

/** What a save does to the server's logo: a new file, its removal, a copy of another server's (a duplicate), or nothing. */
export type LogoChange =
  | { kind: 'replace'; facts: LogoFacts; bytes: Buffer }
  | { kind: 'remove' }
  | { kind: 'copy'; fromServerId: number }
  | null;

/** How the audit trail names a logo: its type and size, never its bytes. */
export function logoAuditWords(logo: LogoFacts | null): string {
  return logo ? `${logo.contentType} ${logo.width}×${logo.height}, ${logo.size} B` : '';
}

/**
 * Applies a logo change inside the caller's transaction (the server's other fields are saved with it); returns the
 * audit pair [before, after] when the logo changed, else null.
 */
export async function applyLogoChange(tx: Stores, serverId: number, change: LogoChange, now = new Date()): Promise<[string, string] | null> {
  if (change === null) return null;
  const before = await tx.logos.describe(serverId);
  let after: LogoFacts | null;
  if (change.kind === 'remove') {
    if (!(await tx.logos.remove(serverId))) return null;
    after = null;
  } else if (change.kind === 'replace') {
    await tx.logos.put({ serverId, ...change.facts, bytes: change.bytes, updatedAt: now });
    after = change.facts;
  } else {
    const source = await tx.logos.find(change.fromServerId);
    if (!source) return null;
    await tx.logos.put({ ...source, serverId, updatedAt: now });
    after = source;
  }
  return [logoAuditWords(before), logoAuditWords(after)];
}

export function createLogoRepository(stores: Stores) {
  return {
    /** The logo with its bytes: for the logo route and the mails. */
    find(serverId: number): Promise<StoredLogo | null> {
      return stores.logos.find(serverId);
    },
    /** Without its bytes: for the form. */
    describe(serverId: number): Promise<LogoDescription | null> {
      return stores.logos.describe(serverId);
    },
  };
}

export type LogoRepository = ReturnType<typeof createLogoRepository>;
