import { and, count, eq, isNotNull, notLike, sql, type SQL } from 'drizzle-orm';
import type { SQLiteColumn } from 'drizzle-orm/sqlite-core';
import { insertAuditEntry, type Actor } from '../audit/repository.js';
import type { Db } from '../db/client.js';
import { smtpServers } from '../db/schema.js';
import { envelopePrefix, type SecretBox } from './secret-box.js';

/** Every column that holds an encrypted secret, with its table's key: rotation and the start-up count walk this list. */
const secretColumns = [
  { table: smtpServers, id: smtpServers.id, column: smtpServers.passwordCiphertext, set: (envelope: SQL) => ({ passwordCiphertext: envelope }) },
];

/** True in SQL when the envelope in `column` was sealed by none of these keys (a prefix match: nothing decrypted). */
export function sealedByNoneOf(column: SQLiteColumn, keyIds: string[]): SQL {
  return and(isNotNull(column), ...keyIds.map((id) => notLike(column, `${envelopePrefix(id)}%`)))!;
}

export interface SecretCensus {
  /** Stored secrets under a key that is not the current one. */
  underOldKey: number;
  /** Of those, the ones no configured key can decrypt. */
  undecryptable: number;
}

/** Two counts by key id prefix, for the start-up log. */
export function countSecretsByKey(db: Db, box: SecretBox): SecretCensus {
  const census: SecretCensus = { underOldKey: 0, undecryptable: 0 };
  for (const { table, column } of secretColumns) {
    census.underOldKey += db.select({ n: count() }).from(table).where(sealedByNoneOf(column, [box.current.id])).get()?.n ?? 0;
    census.undecryptable += db.select({ n: count() }).from(table).where(sealedByNoneOf(column, box.keyIds)).get()?.n ?? 0;
  }
  return census;
}

export interface RotationResult {
  /** Values re-encrypted with the current key. */
  rewritten: number;
  /** Values already under the current key, left as they are. */
  alreadyCurrent: number;
  /** Values no configured key can decrypt: they still need an old key (or to be typed again). */
  needOldKey: number;
}

/** Re-encrypts every stored secret with the current key, in one transaction (with its audit entry): all or none. */
export function rotateSecrets(db: Db, box: SecretBox, actor: Actor): RotationResult {
  return db.transaction((tx) => {
    const result: RotationResult = { rewritten: 0, alreadyCurrent: 0, needOldKey: 0 };
    for (const { table, id, column, set } of secretColumns) {
      const rows = tx.select({ id, envelope: column }).from(table).where(isNotNull(column)).all();
      // Prepared once: building the statement per row costs more than the AES itself.
      const rewrite = tx.update(table).set(set(sql`${sql.placeholder('envelope')}`)).where(eq(id, sql.placeholder('id'))).prepare();
      for (const row of rows) {
        const envelope = row.envelope!;
        if (!box.needsRotation(envelope)) result.alreadyCurrent++;
        else if (!box.canDecrypt(envelope)) result.needOldKey++;
        else {
          rewrite.run({ id: row.id, envelope: box.encrypt(box.decrypt(envelope)) });
          result.rewritten++;
        }
      }
    }
    if (result.rewritten > 0) {
      insertAuditEntry(tx, actor, {
        action: 'secrets.rotate',
        summary: box.current.id,
        changes: { underOldKey: [result.rewritten + result.needOldKey, result.needOldKey] },
      });
    }
    return result;
  });
}
