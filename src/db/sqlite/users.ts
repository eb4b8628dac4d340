import { and, asc, count, eq, sql } from 'drizzle-orm';
import { DuplicateEmailError, type UserStore } from '../../auth/store.js';
import { userViewColumns } from '../account-columns.js';
import type { Db } from './client.js';
import { users } from './schema.js';
import { isUniqueViolation } from './errors.js';
import type { WriteLock } from './write-lock.js';

const viewColumns = userViewColumns(users);

function uniqueEmail<T>(email: string, write: () => T): T {
  try {
    return write();
  } catch (err) {
    if (isUniqueViolation(err)) throw new DuplicateEmailError(email);
    throw err;
  }
}

export function createSqliteUserStore(db: Db, lock: WriteLock): UserStore {
  return {
    async count() {
      return db.select({ n: count() }).from(users).get()?.n ?? 0;
    },
    async list() {
      return db.select(viewColumns).from(users).orderBy(asc(sql`${users.displayName} COLLATE NOCASE`), asc(users.id)).all();
    },
    async find(id) {
      return db.select(viewColumns).from(users).where(eq(users.id, id)).get() ?? null;
    },
    async findByEmail(email) {
      return db.select(viewColumns).from(users).where(eq(users.email, email)).get() ?? null;
    },
    async findWithHash(email) {
      return db.select().from(users).where(eq(users.email, email)).get() ?? null;
    },
    async passwordHashOf(id) {
      return db.select({ passwordHash: users.passwordHash }).from(users).where(eq(users.id, id)).get()?.passwordHash ?? null;
    },
    insert(row, at) {
      return lock.run(() =>
        uniqueEmail(row.email, () => db.insert(users).values({ ...row, createdAt: at, updatedAt: at }).returning(viewColumns).get()),
      );
    },
    update(id, fields, at) {
      return lock.run(() =>
        uniqueEmail(fields.email, () => db.update(users).set({ ...fields, updatedAt: at }).where(eq(users.id, id)).returning(viewColumns).get() ?? null),
      );
    },
    setPasswordHash(id, passwordHash, options = {}) {
      const where = options.ifHashIs === undefined ? eq(users.id, id) : and(eq(users.id, id), eq(users.passwordHash, options.ifHashIs));
      const set = options.at ? { passwordHash, updatedAt: options.at } : { passwordHash };
      return lock.run(() => db.update(users).set(set).where(where).run().changes === 1);
    },
    async lockActiveAdminIds() {
      return db
        .select({ id: users.id })
        .from(users)
        .where(and(eq(users.role, 'admin'), eq(users.disabled, false)))
        .all()
        .map((r) => r.id);
    },
    async lockFirstAccount() {},
  };
}
