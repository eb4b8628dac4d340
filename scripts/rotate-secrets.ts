// npm run secrets:rotate — re-encrypts every stored secret with the current key (RELAIS_SECRET or the key file),
// reading older ones with RELAIS_PREVIOUS_SECRETS. Safe to run while Relais runs, and to run again.
import { loadConfig } from '../src/config.js';
import { loadSecretBox } from '../src/crypto/secret-box.js';
import { rotateSecrets, type RotationResult } from '../src/crypto/stored-secrets.js';
import { openStores } from '../src/db/open.js';

async function rotate(): Promise<{ result: RotationResult; keyId: string }> {
  const config = loadConfig();
  // Never a new key here: a fresh key file would make every stored secret look like one for an old key.
  const { box } = loadSecretBox({ secret: config.secret, previousSecrets: config.previousSecrets, dbFile: config.dbFile, mayCreate: false });
  const { stores } = await openStores(config.database);
  try {
    return { result: await rotateSecrets(stores, box, { userId: null, name: 'npm run secrets:rotate', ip: null }), keyId: box.current.id };
  } finally {
    await stores.close();
  }
}

let outcome: Awaited<ReturnType<typeof rotate>>;
try {
  outcome = await rotate();
} catch (err) {
  console.error(`secrets:rotate: nothing was changed: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
}
const { result, keyId } = outcome;
console.log(`${result.rewritten} value(s) re-encrypted with key ${keyId}, ${result.alreadyCurrent} already under it.`);
if (result.needOldKey > 0) {
  console.log(
    `${result.needOldKey} value(s) still need an old key: add it to RELAIS_PREVIOUS_SECRETS and run this again, or type those passwords again in their servers' forms.`,
  );
  process.exitCode = 2;
} else {
  console.log('No stored secret needs an old key any more: RELAIS_PREVIOUS_SECRETS can be emptied.');
}
