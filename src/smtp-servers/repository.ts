import BetterSqlite3 from 'better-sqlite3';
import { and, asc, eq, getTableColumns, inArray, ne, sql } from 'drizzle-orm';
import { insertAuditEntry, type Actor, type FieldChanges } from '../audit/repository.js';
import { envelopePrefix, keyIdOf, UndecryptableSecretError, type SecretBox } from '../crypto/secret-box.js';
import { sealedByNoneOf } from '../crypto/stored-secrets.js';
import type { Db } from '../db/client.js';
import { confirmationTokens, departments, smtpServerDepartments, smtpServers, type Department, type SmtpServerRow } from '../db/schema.js';
import { defaultPerPage } from './columns.js';
import { createServerListing, type ServerDepartment, type ServerListFilter } from './list-sql.js';
import { normalizeForSearch } from './search.js';
import { mismatchesOf, type ServerInput } from './validation.js';

export interface ServerListQuery extends ServerListFilter {
  page?: number;
  perPage?: number;
}

export type { ServerDepartment };

/** A server as pages and exports see it: everything but the password, which is only "stored or not". */
export type ServerView = Omit<SmtpServerRow, 'passwordCiphertext' | 'searchText' | 'titleKey' | 'titleSort'> & {
  hasPassword: boolean;
  /** A password is stored but no configured key can decrypt it: it must be typed again, or the old key restored. */
  passwordUnreadable: boolean;
  departments: ServerDepartment[];
  /** Port, security and authentication that do not go together (saved after an explicit confirmation). */
  unusualCombination: boolean;
};

/** What the list and the exports show of a server: no signature, no bookkeeping dates, nothing about the password. */
export type ServerListItem = Pick<
  ServerView,
  | 'id'
  | 'title'
  | 'host'
  | 'port'
  | 'security'
  | 'authentication'
  | 'email'
  | 'senderName'
  | 'username'
  | 'usage'
  | 'departments'
  | 'confirmationStatus'
  | 'confirmationSentAt'
  | 'confirmationExpiresAt'
  | 'confirmedAt'
  | 'confirmationError'
  | 'lastTestAt'
  | 'lastTestOk'
>;

/** A consistent read-only view of the registry for a long read; see openReadSnapshot. */
export interface ServerReadSnapshot {
  /** Every matching server in display order, a batch at a time; leaving the loop early stops the cursor. */
  batches(query?: Omit<ServerListQuery, 'page' | 'perPage'>, batchSize?: number): AsyncGenerator<ServerListItem[]>;
  close(): void;
}

export interface ServerPage {
  rows: ServerView[];
  total: number;
  page: number;
  pages: number;
  perPage: number;
}


/** Fields whose change means the mail path is no longer the one that was proven. */
const pathFields = ['host', 'port', 'security', 'email', 'username'] as const;

const { passwordCiphertext: _password, searchText: _searchText, titleKey: _titleKey, titleSort: _titleSort, ...viewColumns } = getTableColumns(smtpServers);

const listItemFields = [
  'id',
  'title',
  'host',
  'port',
  'security',
  'authentication',
  'email',
  'senderName',
  'username',
  'usage',
  'confirmationStatus',
  'confirmationSentAt',
  'confirmationExpiresAt',
  'confirmedAt',
  'confirmationError',
  'lastTestAt',
  'lastTestOk',
] as const satisfies readonly (keyof ServerListItem)[];

export function titleKeyOf(title: string): string {
  return title.normalize('NFC').trim().toLowerCase();
}

export class DuplicateTitleError extends Error {
  constructor(readonly title: string) {
    super(`A server is already titled "${title}"`);
  }
}

function isUniqueViolation(err: unknown): boolean {
  return typeof err === 'object' && err !== null && (err as { code?: string }).code === 'SQLITE_CONSTRAINT_UNIQUE';
}

/** Rows written before the title_sort column existed (migration 0004) get their sort key, once. */
function fillMissingSortKeys(db: Db): void {
  const missing = db.select({ id: smtpServers.id, title: smtpServers.title }).from(smtpServers).where(eq(smtpServers.titleSort, '')).all();
  if (missing.length === 0) return;
  db.transaction((tx) => {
    for (const row of missing) tx.update(smtpServers).set({ titleSort: normalizeForSearch(row.title) }).where(eq(smtpServers.id, row.id)).run();
  });
}

export function createSmtpServerRepository(db: Db, secrets: SecretBox) {
  fillMissingSortKeys(db);
  let departmentCache: Department[] | null = null;
  const allDepartments = (): Department[] =>
    (departmentCache ??= db.select().from(departments).orderBy(asc(departments.position), asc(departments.id)).all());

  function searchTextFor(input: Pick<ServerInput, 'title' | 'host' | 'email' | 'senderName' | 'username' | 'usage'>, codes: string[]) {
    const served = input.usage === 'default' ? allDepartments() : allDepartments().filter((d) => codes.includes(d.code));
    return normalizeForSearch([input.title, input.host, input.email, input.senderName, input.username, ...served.map((d) => d.name)].join(' '));
  }

  /** Every column a form writes, but the password, whose three cases (keep, clear, replace) differ. */
  function columnsOf(input: ServerInput, codes: string[]) {
    return {
      title: input.title,
      titleKey: titleKeyOf(input.title),
      titleSort: normalizeForSearch(input.title),
      host: input.host,
      port: input.port,
      security: input.security,
      authentication: input.authentication,
      email: input.email,
      senderName: input.senderName,
      username: input.username,
      usage: input.usage,
      verifyCertificate: input.verifyCertificate,
      signature: input.signature,
      searchText: searchTextFor(input, codes),
    };
  }

  function departmentsByServer(ids: number[]): Map<number, ServerDepartment[]> {
    const byServer = new Map<number, ServerDepartment[]>();
    if (ids.length === 0) return byServer;
    const rows = db
      .select({ serverId: smtpServerDepartments.serverId, code: departments.code, name: departments.name })
      .from(smtpServerDepartments)
      .innerJoin(departments, eq(departments.id, smtpServerDepartments.departmentId))
      .where(inArray(smtpServerDepartments.serverId, ids))
      .orderBy(asc(departments.position))
      .all();
    for (const row of rows) {
      const list = byServer.get(row.serverId) ?? [];
      list.push({ code: row.code, name: row.name });
      byServer.set(row.serverId, list);
    }
    return byServer;
  }

  type ViewRow = Omit<ServerView, 'departments' | 'hasPassword' | 'passwordUnreadable' | 'unusualCombination'> & { hasPassword: number | boolean; passwordUnreadable: number | boolean };
  function toViews(rows: ViewRow[]): ServerView[] {
    const byServer = departmentsByServer(rows.filter((r) => r.usage === 'custom').map((r) => r.id));
    return rows.map((row) => ({
      ...row,
      hasPassword: Boolean(row.hasPassword),
      passwordUnreadable: Boolean(row.passwordUnreadable),
      departments: byServer.get(row.id) ?? [],
      unusualCombination: mismatchesOf(row).length > 0,
    }));
  }

  /**
   * A consistent, read-only view of the registry for a long read (an export), on a connection of its own:
   * its cursor walks the rows in display order without holding the app's connection between batches, and
   * every pass over it (the PDF makes two) sees the same rows. Close it when done.
   */
  function openReadSnapshot(): ServerReadSnapshot {
    // drizzle has no cursor; better-sqlite3 has, on a connection that nothing else uses meanwhile.
    const reader = new BetterSqlite3(sqlite.name, { readonly: true, fileMustExist: true });
    reader.pragma('busy_timeout = 5000');
    // In WAL mode the first read fixes the snapshot; it holds until COMMIT.
    reader.exec('BEGIN');
    let open = true;
    return {
      async *batches(query = {}, batchSize = 250) {
        const { sql: text, params } = itemListing.everySql(query);
        const cursor = reader.prepare(text).raw().iterate(...params) as IterableIterator<unknown[]>;
        try {
          let batch: ServerListItem[] = [];
          for (const values of cursor) {
            batch.push(itemListing.rowOf(values) as ServerListItem);
            if (batch.length === batchSize) {
              yield batch;
              batch = [];
            }
          }
          if (batch.length) yield batch;
        } finally {
          cursor.return?.();
        }
      },
      close() {
        if (!open) return;
        open = false;
        reader.exec('COMMIT');
        reader.close();
      },
    };
  }

  const sqlite = (db as Db & { $client: BetterSqlite3.Database }).$client;
  const itemListing = createServerListing(sqlite, listItemFields, allDepartments);
  const viewFields = Object.keys(viewColumns) as (keyof typeof viewColumns)[];
  // A stored password whose envelope names no configured key: it must be typed again, or the old key restored.
  const unreadable = ['password_ciphertext IS NOT NULL', ...secrets.keyIds.map((id) => `password_ciphertext NOT LIKE '${envelopePrefix(id).replace(/'/g, "''")}%'`)].join(' AND ');
  const pageListing = createServerListing(sqlite, viewFields, allDepartments, { hasPassword: 'password_ciphertext IS NOT NULL', passwordUnreadable: `(${unreadable})` });

  const selectViews = () =>
    db
      .select({
        ...viewColumns,
        hasPassword: sql<number>`${smtpServers.passwordCiphertext} IS NOT NULL`,
        passwordUnreadable: sql<number>`${sealedByNoneOf(smtpServers.passwordCiphertext, secrets.keyIds)}`,
      })
      .from(smtpServers);

  function readServer(id: number): ServerView | null {
    const row = selectViews().where(eq(smtpServers.id, id)).get();
    return row ? toViews([row])[0]! : null;
  }

  function setDepartments(tx: Db, serverId: number, codes: string[]) {
    tx.delete(smtpServerDepartments).where(eq(smtpServerDepartments.serverId, serverId)).run();
    const ids = allDepartments()
      .filter((d) => codes.includes(d.code))
      .map((d) => ({ serverId, departmentId: d.id }));
    if (ids.length) tx.insert(smtpServerDepartments).values(ids).run();
  }

  function titleExists(tx: Db, title: string, exceptId?: number): boolean {
    const condition = eq(smtpServers.titleKey, titleKeyOf(title));
    const found = tx
      .select({ id: smtpServers.id })
      .from(smtpServers)
      .where(exceptId === undefined ? condition : and(condition, ne(smtpServers.id, exceptId)))
      .get();
    return Boolean(found);
  }

  /** The administrator ticked « Je confirme cette combinaison »: which mismatches, as codes, for the audit trail. */
  function recordConfirmedCombination(tx: Db, actor: Actor, serverId: number, input: ServerInput) {
    if (input.confirmedMismatches.length === 0) return;
    insertAuditEntry(tx, actor, {
      action: 'server.unusualCombination',
      targetType: 'smtp_server',
      targetId: serverId,
      summary: input.title,
      changes: { combination: [null, input.confirmedMismatches.join(',')], port: [null, input.port], security: [null, input.security] },
    });
  }

  function withUniqueTitle<T>(title: string, write: () => T): T {
    try {
      return write();
    } catch (err) {
      if (isUniqueViolation(err)) throw new DuplicateTitleError(title);
      throw err;
    }
  }

  function describe(view: ServerView): Record<string, unknown> {
    return {
      title: view.title,
      host: view.host,
      port: view.port,
      security: view.security,
      authentication: view.authentication,
      email: view.email,
      senderName: view.senderName,
      username: view.username,
      usage: view.usage,
      departments: view.departments.map((d) => d.code).join(','),
      verifyCertificate: view.verifyCertificate,
      signature: view.signature,
    };
  }

  return {
    async listDepartments(): Promise<Department[]> {
      return allDepartments();
    },

    async listServers(query: ServerListQuery = {}): Promise<ServerPage> {
      const result = pageListing.page(query, query.page ?? 1, query.perPage ?? defaultPerPage);
      const rows = result.rows.map((row) => ({ ...row, unusualCombination: mismatchesOf(row as unknown as ServerView).length > 0 }));
      return { ...result, rows: rows as unknown as ServerView[] };
    },

    openReadSnapshot,

    /** Every matching server in display order, as the list shows it, one at a time (from a snapshot of its own). */
    async *iterateServers(query: Omit<ServerListQuery, 'page' | 'perPage'> = {}): AsyncGenerator<ServerListItem> {
      const snapshot = openReadSnapshot();
      try {
        for await (const batch of snapshot.batches(query)) yield* batch;
      } finally {
        snapshot.close();
      }
    },

    async findServer(id: number): Promise<ServerView | null> {
      return readServer(id);
    },

    async titleTaken(title: string, exceptId?: number): Promise<boolean> {
      return titleExists(db, title, exceptId);
    },

    /** The plaintext password, for connecting to the server. Never for a page, a log or an export. Throws UndecryptableSecretError. */
    async revealPassword(id: number): Promise<string | null> {
      const row = db.select({ ciphertext: smtpServers.passwordCiphertext }).from(smtpServers).where(eq(smtpServers.id, id)).get();
      if (!row?.ciphertext) return null;
      if (!secrets.canDecrypt(row.ciphertext)) throw new UndecryptableSecretError(keyIdOf(row.ciphertext), id);
      return secrets.decrypt(row.ciphertext);
    },

    /**
     * `copyOf`: the server this one duplicates. A password left blank (`input.password` undefined) then takes the
     * source's stored password: the caller has checked it goes to the same server (storedPasswordStillApplies).
     */
    async createServer(input: ServerInput, actor: Actor, options: { copyOf?: number } = {}): Promise<ServerView> {
      const id = withUniqueTitle(input.title, () =>
        db.transaction((tx) => {
          if (titleExists(tx, input.title)) throw new DuplicateTitleError(input.title);
          const source =
            options.copyOf === undefined
              ? undefined
              : tx.select({ title: smtpServers.title, ciphertext: smtpServers.passwordCiphertext }).from(smtpServers).where(eq(smtpServers.id, options.copyOf)).get();
          const copiedPassword = input.password === undefined && source?.ciphertext ? secrets.decrypt(source.ciphertext) : null;
          const password = input.password ?? copiedPassword;
          const row = tx
            .insert(smtpServers)
            .values({ ...columnsOf(input, input.departmentCodes), passwordCiphertext: password ? secrets.encrypt(password) : null })
            .returning({ id: smtpServers.id })
            .get();
          setDepartments(tx, row.id, input.departmentCodes);
          if (source) {
            insertAuditEntry(tx, actor, { action: 'server.duplicate', targetType: 'smtp_server', targetId: row.id, summary: `${source.title} → ${input.title}` });
          } else {
            insertAuditEntry(tx, actor, { action: 'server.create', targetType: 'smtp_server', targetId: row.id, summary: input.title });
          }
          recordConfirmedCombination(tx, actor, row.id, input);
          return row.id;
        }),
      );
      return readServer(id)!;
    },

    /** Returns null when the server no longer exists. */
    async updateServer(id: number, input: ServerInput, actor: Actor): Promise<{ server: ServerView; changes: FieldChanges } | null> {
      const result = withUniqueTitle(input.title, () =>
        db.transaction((tx) => {
          const before = readServer(id);
          if (!before) return null;
          if (titleExists(tx, input.title, id)) throw new DuplicateTitleError(input.title);
          const codes = input.usage === 'custom' ? input.departmentCodes : [];
          const after = { ...before, ...input, departments: allDepartments().filter((d) => codes.includes(d.code)) };
          const changes: FieldChanges = {};
          const old = describe(before);
          const next = describe(after as ServerView);
          for (const key of Object.keys(next)) if (old[key] !== next[key]) changes[key] = [old[key], next[key]];
          if (input.password !== undefined && (input.password !== null || before.hasPassword)) {
            changes.password = [before.hasPassword ? 'modifié' : '', input.password === null ? 'effacé' : 'modifié'];
          }
          const pathChanged = pathFields.some((field) => field in changes) || 'password' in changes;
          // The last connection test speaks of the old settings: it no longer says anything about these.
          const testOutdated = pathChanged || 'verifyCertificate' in changes;
          tx.update(smtpServers)
            .set({
              ...columnsOf(input, codes),
              ...(input.password === undefined ? {} : { passwordCiphertext: input.password === null ? null : secrets.encrypt(input.password) }),
              updatedAt: new Date(),
              ...(pathChanged
                ? {
                    confirmationStatus: 'unconfirmed' as const,
                    confirmationSentAt: null,
                    confirmationExpiresAt: null,
                    confirmedAt: null,
                    confirmationError: null,
                  }
                : {}),
              ...(testOutdated ? { lastTestAt: null, lastTestOk: null, lastTestSummary: null } : {}),
            })
            .where(eq(smtpServers.id, id))
            .run();
          if (pathChanged) {
            tx.update(confirmationTokens)
              .set({ revokedAt: new Date() })
              .where(and(eq(confirmationTokens.serverId, id), sql`${confirmationTokens.usedAt} IS NULL`, sql`${confirmationTokens.revokedAt} IS NULL`))
              .run();
          }
          setDepartments(tx, id, codes);
          if (Object.keys(changes).length) {
            insertAuditEntry(tx, actor, { action: 'server.update', targetType: 'smtp_server', targetId: id, summary: input.title, changes });
          }
          recordConfirmedCombination(tx, actor, id, input);
          return changes;
        }),
      );
      if (result === null) return null;
      return { server: readServer(id)!, changes: result };
    },

    async deleteServer(id: number, actor: Actor): Promise<ServerView | null> {
      return db.transaction((tx) => {
        const existing = readServer(id);
        if (!existing) return null;
        tx.delete(smtpServers).where(eq(smtpServers.id, id)).run();
        insertAuditEntry(tx, actor, { action: 'server.delete', targetType: 'smtp_server', targetId: id, summary: existing.title });
        return existing;
      });
    },
  };
}

export type SmtpServerRepository = ReturnType<typeof createSmtpServerRepository>;
