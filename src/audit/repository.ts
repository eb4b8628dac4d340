import type { Db } from '../db/sqlite/client.js';
import { auditLog } from '../db/sqlite/schema.js';
import type { Stores } from '../db/stores.js';
import { auditRowOf, type Actor, type AuditEntry } from './store.js';

export { systemActor, type Actor, type AuditEntry, type AuditListItem, type AuditQuery, type FieldChanges } from './store.js';

type Tx = Pick<Db, 'insert'>;

/** For the SQLite repositories' synchronous transactions, until they move to `stores.transaction` and `tx.audit.append`. */
export function insertAuditEntry(tx: Tx, actor: Actor, entry: AuditEntry, at = new Date()): void {
  tx.insert(auditLog).values(auditRowOf(actor, entry, at)).run();
}

export function createAuditRepository(stores: Stores) {
  return {
    record: (actor: Actor, entry: AuditEntry) => stores.audit.append(actor, entry),
    list: stores.audit.list,
    distinctActions: stores.audit.distinctActions,
  };
}

export type AuditRepository = ReturnType<typeof createAuditRepository>;
