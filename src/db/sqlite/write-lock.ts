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
