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

/** The hashing queue is full: the caller should say « try again in a moment » at once rather than wait. */
export class HashQueueFullError extends Error {
  constructor(readonly retryAfterSeconds: number) {
    super('Too many password verifications are waiting');
  }
}

export interface HashQueueLimits {
  /** Hashes computed at once (each holds 128·N·r bytes: 128 MiB at N=2^17). */
  concurrency: number;
  /** Verifications allowed to wait for a slot; one more is refused with HashQueueFullError. */
  queue: number;
  /** Further waiting places only `trusted` verifications may take; they are also served first. */
  reserved?: number;
}

/** How a verification waits: `trusted` ones (unlikely to be an attack) have places of their own and go first. */
export interface VerifyLane {
  trusted: boolean;
}

/**
 * Runs hashes a few at a time. Verifications (sign-in, current password) are refused when their lane is full, so a
 * flood of bogus sign-ins cannot push a real one back by seconds, nor fill the places kept for trusted ones; new
 * hashes (account creation) always wait their turn.
 */
export function createHashQueue(limits: HashQueueLimits) {
  let running = 0;
  const waiting: (() => void)[] = [];
  const trustedWaiting: (() => void)[] = [];
  let averageMs = 0;

  function release() {
    const next = trustedWaiting.shift() ?? waiting.shift();
    // The slot passes straight to the next in line, so a newcomer cannot slip in between.
    if (next) next();
    else running--;
  }

  return {
    limits,
    get waiting() {
      return waiting.length + trustedWaiting.length;
    },
    async run<T>(work: () => Promise<T>, options: { refuseWhenFull: boolean; trusted?: boolean }): Promise<T> {
      if (running < limits.concurrency) running++;
      else {
        const lane = options.trusted ? trustedWaiting : waiting;
        const room = options.trusted ? (limits.reserved ?? 0) : limits.queue;
        if (options.refuseWhenFull && lane.length >= room) {
          const ahead = lane.length + (options.trusted ? 0 : trustedWaiting.length) + running;
          const seconds = Math.ceil((ahead * (averageMs || 500)) / limits.concurrency / 1000);
          throw new HashQueueFullError(Math.max(1, seconds));
        }
        await new Promise<void>((resolve) => lane.push(resolve));
      }
      const started = performance.now();
      try {
        return await work();
      } finally {
        const took = performance.now() - started;
        averageMs = averageMs ? averageMs * 0.8 + took * 0.2 : took;
        release();
      }
    },
  };
}

export type HashQueue = ReturnType<typeof createHashQueue>;

const unboundedQueue = createHashQueue({ concurrency: 2, queue: Infinity });

function derive(password: string, salt: Buffer, params: ScryptParams, length: number, queue: HashQueue, options: { refuseWhenFull: boolean; trusted?: boolean }): Promise<Buffer> {
  return queue.run(
    () =>
      new Promise<Buffer>((resolve, reject) => {
        scrypt(password.normalize('NFC'), salt, length, scryptOptions(params), (err, key) => (err ? reject(err) : resolve(key)));
      }),
    options,
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

export async function hashPassword(password: string, params: ScryptParams, queue: HashQueue = unboundedQueue): Promise<string> {
  const salt = randomBytes(saltLength);
  const hash = await derive(password, salt, params, keyLength, queue, { refuseWhenFull: false });
  return `${prefix}$ln=${params.ln},r=${params.r},p=${params.p}$${salt.toString('base64')}$${hash.toString('base64')}`;
}

/** Constant-time comparison; a malformed stored hash never matches. Throws HashQueueFullError when the queue is full. */
export async function verifyPassword(password: string, stored: string, queue: HashQueue = unboundedQueue, lane: VerifyLane = { trusted: false }): Promise<boolean> {
  const parsed = parseHash(stored);
  if (!parsed) return false;
  const candidate = await derive(password, parsed.salt, parsed.params, parsed.hash.length, queue, { refuseWhenFull: true, trusted: lane.trusted });
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
export function createPasswordHasher(cost: number, limits: HashQueueLimits) {
  const params = scryptParams(cost);
  const queue = createHashQueue(limits);
  let dummy: Promise<string> | null = null;
  return {
    params,
    queue,
    hash: (password: string) => hashPassword(password, params, queue),
    verify: (password: string, stored: string, lane?: VerifyLane) => verifyPassword(password, stored, queue, lane),
    needsRehash: (stored: string) => needsRehash(stored, params),
    async verifyAgainstNothing(password: string, lane?: VerifyLane): Promise<false> {
      dummy ??= hashPassword(randomBytes(16).toString('hex'), params, queue);
      await verifyPassword(password, await dummy, queue, lane);
      return false;
    },
  };
}

export type PasswordHasher = ReturnType<typeof createPasswordHasher>;
