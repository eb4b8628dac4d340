import { createHash, randomBytes } from 'node:crypto';

/** 256 random bits, URL-safe: the link's secret. Only its hash is stored, so a copy of the database confirms nothing. */
export function newConfirmationToken(): { token: string; hash: string } {
  const token = randomBytes(32).toString('base64url');
  return { token, hash: hashConfirmationToken(token) };
}

export function hashConfirmationToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

/** 32 bytes in base64url are 43 characters; anything else cannot be one of ours. */
export function isWellFormedToken(token: string): boolean {
  return /^[A-Za-z0-9_-]{43}$/.test(token);
}
