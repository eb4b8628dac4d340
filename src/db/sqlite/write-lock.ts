import { AsyncLocalStorage } from 'node:async_hooks';

/**
 * better-sqlite3 has one connection and synchronous statements, while a transaction's callback awaits: without this,
 * another request's write could land inside someone else's open transaction. Every write and every transaction runs
 * under this lock; code already holding it (a write inside a transaction) goes straight through.
 */
export function createWriteLock() {
  const holder = new AsyncLocalStorage<true>();
  let tail: Promise<unknown> = Promise.resolve();
  return {
    get held(): boolean {
      return holder.getStore() === true;
    },
    run<T>(fn: () => T | Promise<T>): Promise<T> {
      if (holder.getStore()) return Promise.resolve().then(fn);
      const result = tail.then(() => holder.run(true, fn));
      tail = result.catch(() => {});
      return result;
    },
  };
}

export type WriteLock = ReturnType<typeof createWriteLock>;

const sharedLocks = new Map<string, { lock: WriteLock; users: number }>();

/**
 * One lock per file within a process: two handles on one file (two app instances in a test) take turns here, since
 * waiting on SQLite's own lock would block the one thread the holder needs to finish. Release it when the handle closes.
 */
export function sharedWriteLock(file: string): { lock: WriteLock; release: () => void } {
  const entry = sharedLocks.get(file) ?? { lock: createWriteLock(), users: 0 };
  entry.users += 1;
  sharedLocks.set(file, entry);
  let released = false;
  return {
    lock: entry.lock,
    release() {
      if (released) return;
      released = true;
      if (--entry.users === 0 && sharedLocks.get(file) === entry) sharedLocks.delete(file);
    },
  };
}
