import { and, isNotNull, notLike, type Column, type SQL } from 'drizzle-orm';
import { envelopePrefix } from '../crypto/secret-box.js';

// Standard SQL, the same on both stores: an envelope names its key ("v1:<keyId>:…"), so a prefix says whether a key opens it.

/** True when the stored envelope in `column` was sealed by none of these keys (nothing decrypted). */
export function sealedByNone(column: Column, keyIds: readonly string[]): SQL {
  return and(isNotNull(column), ...keyIds.map((id) => notLike(column, `${envelopePrefix(id)}%`)))!;
}

/** The same, as SQL text over password_ciphertext, for the listings' hand-written statements. */
export function passwordSealedByNoneSql(keyIds: readonly string[]): string {
  return ['password_ciphertext IS NOT NULL', ...keyIds.map((id) => `password_ciphertext NOT LIKE '${envelopePrefix(id).replace(/'/g, "''")}%'`)].join(' AND ');
}

/** The flags every list row carries about its password. */
export function passwordFlagsSql(keyIds: readonly string[]) {
  return { hasPassword: 'password_ciphertext IS NOT NULL', passwordUnreadable: `(${passwordSealedByNoneSql(keyIds)})` };
}
