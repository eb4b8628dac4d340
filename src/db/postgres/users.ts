import { and, asc, count, eq, sql } from 'drizzle-orm';
import { DuplicateEmailError, type UserStore } from '../../auth/store.js';
import { userViewColumns } from '../account-columns.js';
import { isUniqueViolation } from './errors.js';
import { users } from './schema.js';
import type { PgExecutor } from './stores.js';

const viewColumns = userViewColumns(users);

/** pg_advisory_xact_lock(class, key) for the first account (the migrations' lock is a single-key one, apart from these). */
const firstAccountLock = sql`pg_advisory_xact_lock(${0x52454c41}, 1)`;

async function uniqueEmail<T>(email: string, write: Promise<T>): Promise<T> {
  try {
    return await write;
  } catch (err) {
    if (isUniqueViolation(err)) throw new DuplicateEmailError(email);
    throw err;
  }
}

export function createPostgresUserStore(db: PgExecutor): UserStore {
  return {
    async count() {
      const [row] = await db.select({ n: count() }).from(users);
      return row?.n ?? 0;
    },
    async list() {
      // As SQLite's COLLATE NOCASE orders them.
      return db.select(viewColumns).from(users).orderBy(asc(sql`lower(${users.displayName}) collate "C"`), asc(users.id));
    },
    async find(id) {
      const [row] = await db.select(viewColumns).from(users).where(eq(users.id, id));
      return row ?? null;
    },
    async findByEmail(email) {
      const [row] = await db.select(viewColumns).from(users).where(eq(users.email, email));
      return row ?? null;
    },
    async findWithHash(email) {
      const [row] = await db.select().from(users).where(eq(users.email, email));
      return row ?? null;
    },
    async passwordHashOf(id) {
      const [row] = await db.select({ passwordHash: users.passwordHash }).from(users).where(eq(users.id, id));
      return row?.passwordHash ?? null;
    },
    async insert(row, at) {
      const [inserted] = await uniqueEmail(row.email, db.insert(users).values({ ...row, createdAt: at, updatedAt: at }).returning(viewColumns));
      return inserted!;
    },
    async update(id, fields, at) {
      const [updated] = await uniqueEmail(fields.email, db.update(users).set({ ...fields, updatedAt: at }).where(eq(users.id, id)).returning(viewColumns));
      return updated ?? null;
    },
    async setPasswordHash(id, passwordHash, options = {}) {
      const where = options.ifHashIs === undefined ? eq(users.id, id) : and(eq(users.id, id), eq(users.passwordHash, options.ifHashIs));
      const set = options.at ? { passwordHash, updatedAt: options.at } : { passwordHash };
      const updated = await db.update(users).set(set).where(where).returning({ id: users.id });
      return updated.length === 1;
    },
    async lockActiveAdminIds() {
      const rows = await db
        .select({ id: users.id })
        .from(users)
        .where(and(eq(users.role, 'admin'), eq(users.disabled, false)))
        .for('no key update');
      return rows.map((r) => r.id);
    },
    async lockFirstAccount() {
      await db.execute(sql`select ${firstAccountLock}`);
    },
  };
}
