import { randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto';

/**
 * Account passwords are hashed with scrypt. The parameters travel in the hash string
 * ("scrypt$ln=17,r=8,p=1$<salt>$<hash>") so they can be raised later without invalidating existing accounts.
 */
export interface ScryptParams {
  /** log2 of the CPU/memory cost N. */
  ln: number;
  r: number;
  p: number;
}

const keyLength = 32;
const saltLength = 16;
const prefix = 'scrypt';

export function scryptParams(cost: number): ScryptParams {
  return { ln: cost, r: 8, p: 1 };
}

function scryptOptions(params: ScryptParams): ScryptOptions {
  const N = 2 ** params.ln;
  // scrypt needs about 128·N·r bytes; Node's default ceiling (32 MiB) is below OWASP's N=2^17, r=8.
  return { N, r: params.r, p: params.p, maxmem: 256 * N * params.r + 1024 * 1024 };
}

// Each hash at N=2^17 holds 128 MiB for about 0.4 s: a burst of logins must not exhaust memory or the thread pool.
const maxConcurrent = 2;
let running = 0;
const waiting: (() => void)[] = [];

async function withSlot<T>(work: () => Promise<T>): Promise<T> {
  if (running >= maxConcurrent) await new Promise<void>((resolve) => waiting.push(resolve));
  running++;
  try {
    return await work();
  } finally {
    running--;
    waiting.shift()?.();
  }
}

function derive(password: string, salt: Buffer, params: ScryptParams, length = keyLength): Promise<Buffer> {
  return withSlot(
    () =>
      new Promise<Buffer>((resolve, reject) => {
        scrypt(password.normalize('NFC'), salt, length, scryptOptions(params), (err, key) => (err ? reject(err) : resolve(key)));
      }),
  );
}

interface ParsedHash {
  params: ScryptParams;
  salt: Buffer;
  hash: Buffer;
}

function parseHash(stored: string): ParsedHash | null {
  const parts = stored.split('$');
  if (parts.length !== 4 || parts[0] !== prefix) return null;
  const params: Record<string, number> = {};
  for (const pair of parts[1]!.split(',')) {
    const [name, value] = pair.split('=');
    if (!name || !value || !/^\d{1,3}$/.test(value)) return null;
    params[name] = Number(value);
  }
  const { ln, r, p } = params;
  if (!ln || !r || !p || ln > 24 || r > 32 || p > 16) return null;
  const salt = Buffer.from(parts[2]!, 'base64');
  const hash = Buffer.from(parts[3]!, 'base64');
  if (salt.length < 8 || hash.length < 16) return null;
  return { params: { ln, r, p }, salt, hash };
}

export async function hashPassword(password: string, params: ScryptParams): Promise<string> {
  const salt = randomBytes(saltLength);
  const hash = await derive(password, salt, params);
  return `${prefix}$ln=${params.ln},r=${params.r},p=${params.p}$${salt.toString('base64')}$${hash.toString('base64')}`;
}

/** Constant-time comparison; a malformed stored hash never matches. */
export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const parsed = parseHash(stored);
  if (!parsed) return false;
  const candidate = await derive(password, parsed.salt, parsed.params, parsed.hash.length);
  return timingSafeEqual(candidate, parsed.hash);
}

/** True when the stored hash was made with weaker parameters than today's: rehash it at the next sign-in. */
export function needsRehash(stored: string, params: ScryptParams): boolean {
  const parsed = parseHash(stored);
  if (!parsed) return true;
  return parsed.params.ln < params.ln || parsed.params.r < params.r || parsed.params.p < params.p;
}

export function describeHash(stored: string): ScryptParams | null {
  return parseHash(stored)?.params ?? null;
}

/** Hashes and verifies with the configured cost; an unknown email still costs one verification, so timing tells nothing. */
export function createPasswordHasher(cost: number) {
  const params = scryptParams(cost);
  let dummy: Promise<string> | null = null;
  return {
    params,
    hash: (password: string) => hashPassword(password, params),
    verify: verifyPassword,
    needsRehash: (stored: string) => needsRehash(stored, params),
    async verifyAgainstNothing(password: string): Promise<false> {
      dummy ??= hashPassword(randomBytes(16).toString('hex'), params);
      await verifyPassword(password, await dummy);
      return false;
    },
  };
}

export type PasswordHasher = ReturnType<typeof createPasswordHasher>;
