import { createHash, randomBytes } from 'node:crypto';

/** 256 random bits, URL- and cookie-safe. */
export function newToken(): string {
  return randomBytes(32).toString('base64url');
}

/** Only this digest is stored: a copy of the database does not yield a live session or a usable link. */
export function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}
