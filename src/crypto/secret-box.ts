import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

const VERSION = 'v1';

export interface SecretKey {
  id: string;
  key: Buffer;
}

/** A stored secret that no configured key opens: the value must be typed again, or the old key restored. */
export class UndecryptableSecretError extends Error {
  readonly code = 'RELAIS_SECRET_UNDECRYPTABLE';
  readonly statusCode = 409;
  constructor(
    readonly keyId: string,
    /** The SMTP server whose password it is, when known: its page is where to type it again. */
    readonly serverId?: number,
  ) {
    super(`No configured key (RELAIS_SECRET, RELAIS_PREVIOUS_SECRETS) decrypts this secret; it was sealed with key ${keyId}`);
  }
}

/** The id of the key an envelope was sealed with, as stored in clear at its start ("v1:<id>:…"). */
export function keyIdOf(envelope: string): string {
  return envelope.split(':')[1] ?? '';
}

/** What every envelope sealed with this key starts with: lets a store count them with a prefix match, decrypting nothing. */
export function envelopePrefix(keyId: string): string {
  return `${VERSION}:${keyId}:`;
}

/** Encrypts with the current key; decrypts with any key of the ring, found by the id stored in the envelope. */
export class SecretBox {
  readonly current: SecretKey;
  private readonly ring: Map<string, Buffer>;

  constructor(current: SecretKey, previous: SecretKey[] = []) {
    this.current = current;
    this.ring = new Map([current, ...previous].map((k) => [k.id, k.key]));
  }

  encrypt(plaintext: string): string {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.current.key, iv);
    const ciphertext = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
    const tag = cipher.getAuthTag();
    return [VERSION, this.current.id, iv.toString('base64'), tag.toString('base64'), ciphertext.toString('base64')].join(':');
  }

  /** Ids of every key that can decrypt: the current one first. */
  get keyIds(): string[] {
    return [...this.ring.keys()];
  }

  decrypt(envelope: string): string {
    const [version, keyId, iv, tag, ciphertext] = envelope.split(':');
    if (version !== VERSION || !keyId || iv === undefined || tag === undefined || ciphertext === undefined) {
      throw new UndecryptableSecretError(keyId ?? '');
    }
    const key = this.ring.get(keyId);
    if (!key) throw new UndecryptableSecretError(keyId);
    try {
      const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(iv, 'base64'));
      decipher.setAuthTag(Buffer.from(tag, 'base64'));
      return Buffer.concat([decipher.update(Buffer.from(ciphertext, 'base64')), decipher.final()]).toString('utf8');
    } catch {
      throw new UndecryptableSecretError(keyId);
    }
  }

  /** True when a key of the ring has the envelope's id (decrypting nothing). */
  canDecrypt(envelope: string): boolean {
    return envelope.startsWith(`${VERSION}:`) && this.ring.has(keyIdOf(envelope));
  }

  /** True when the envelope was sealed with an older key and should be re-encrypted. */
  needsRotation(envelope: string): boolean {
    return keyIdOf(envelope) !== this.current.id;
  }
}

/** A 64-hex-digit or base64 32-byte secret is used as is; any other string is stretched with SHA-256. */
export function keyFromSecret(secret: string): SecretKey {
  let key: Buffer;
  if (/^[0-9a-f]{64}$/i.test(secret)) key = Buffer.from(secret, 'hex');
  else {
    const decoded = Buffer.from(secret, 'base64');
    key = decoded.length === 32 && /^[A-Za-z0-9+/]{43}=$/.test(secret) ? decoded : createHash('sha256').update(secret, 'utf8').digest();
  }
  const id = createHash('sha256').update(key).digest('hex').slice(0, 12);
  return { id, key };
}

/**
 * The key lives outside the database: RELAIS_SECRET, or a file created once beside the SQLite database (mode 0600).
 * On PostgreSQL (no dbFile) RELAIS_SECRET is required: instances sharing the database must share the key, and a key
 * file of each instance's own would differ. Returns where it came from so the start-up log can say it.
 */
export function loadSecretBox(options: { secret?: string; previousSecrets?: string[]; dbFile: string | null; mayCreate?: boolean }): {
  box: SecretBox;
  source: string;
  created: boolean;
} {
  const previous = (options.previousSecrets ?? []).map(keyFromSecret);
  if (options.secret) return { box: new SecretBox(keyFromSecret(options.secret), previous), source: 'RELAIS_SECRET', created: false };
  if (options.dbFile === null) {
    throw new Error('RELAIS_SECRET must be set when RELAIS_DB is PostgreSQL: every instance encrypts SMTP passwords with this same secret');
  }
  const keyFile = path.join(path.dirname(options.dbFile), 'relais.key');
  let created = false;
  if (!fs.existsSync(keyFile)) {
    if (options.mayCreate === false) throw new Error(`No key: RELAIS_SECRET is not set and ${keyFile} does not exist`);
    fs.mkdirSync(path.dirname(keyFile), { recursive: true });
    try {
      fs.writeFileSync(keyFile, randomBytes(32).toString('hex') + '\n', { mode: 0o600, flag: 'wx' });
      created = true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
  }
  const secret = fs.readFileSync(keyFile, 'utf8').trim();
  return { box: new SecretBox(keyFromSecret(secret), previous), source: keyFile, created };
}
