import type { Actor } from '../audit/store.js';
import type { Stores } from '../db/stores.js';
import type { SecretBox } from './secret-box.js';

export interface SecretCensus {
  /** Stored secrets under a key that is not the current one. */
  underOldKey: number;
  /** Of those, the ones no configured key can decrypt. */
  undecryptable: number;
}

/** Two counts by key id prefix, for the start-up log. */
export async function countSecretsByKey(stores: Stores, box: SecretBox): Promise<SecretCensus> {
  return {
    underOldKey: (await stores.servers.countSealedByNoneOf([box.current.id])) + (await stores.servers.countOauthSecretsSealedByNoneOf([box.current.id])),
    undecryptable: (await stores.servers.countSealedByNoneOf(box.keyIds)) + (await stores.servers.countOauthSecretsSealedByNoneOf(box.keyIds)),
  };
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
export async function rotateSecrets(stores: Stores, box: SecretBox, actor: Actor): Promise<RotationResult> {
  return stores.transaction(async (tx) => {
    const result: RotationResult = { rewritten: 0, alreadyCurrent: 0, needOldKey: 0 };
    // The SMTP passwords, then the OAuth2 secrets (client secrets, service account keys): one key for all.
    const kinds = [
      [await tx.servers.passwordEnvelopes(), (id: number, envelope: string) => tx.servers.replaceEnvelope(id, envelope)],
      [await tx.servers.oauthSecretEnvelopes(), (id: number, envelope: string) => tx.servers.replaceOauthSecretEnvelope(id, envelope)],
    ] as const;
    for (const [envelopes, replace] of kinds) {
      for (const { id, envelope } of envelopes) {
        if (!box.needsRotation(envelope)) result.alreadyCurrent++;
        else if (!box.canDecrypt(envelope)) result.needOldKey++;
        else {
          await replace(id, box.encrypt(box.decrypt(envelope)));
          result.rewritten++;
        }
      }
    }
    if (result.rewritten > 0) {
      await tx.audit.append(actor, {
        action: 'secrets.rotate',
        summary: box.current.id,
        changes: { underOldKey: [result.rewritten + result.needOldKey, result.needOldKey] },
      });
    }
    return result;
  });
}
