import Database from 'better-sqlite3';
import pg from 'pg';
import type { Test } from 'tap';
import type { TestStore } from './stores.js';

/**
 * Until the servers have a store of their own: server rows written with plain SQL, the same on both databases, for
 * the tests of the stores that read and write a server's confirmation and last test.
 */
export async function serverRows(t: Test, store: TestStore) {
  let run: (text: string, params: unknown[]) => Promise<{ id: number }[]>;
  let pgClient: pg.Client | null = null;
  if (store.kind === 'sqlite') {
    const sqlite = new Database(store.file);
    sqlite.pragma('busy_timeout = 5000');
    t.teardown(() => sqlite.close());
    run = async (text, params) => sqlite.prepare(text).all(...params) as { id: number }[];
  } else {
    const client = new pg.Client({ connectionString: store.url });
    await client.connect();
    t.teardown(() => client.end());
    pgClient = client;
    run = async (text, params) => {
      let n = 0;
      return (await client.query<{ id: number }>(text.replace(/\?/g, () => `$${++n}`), params)).rows;
    };
  }
  return {
    /** A server with the given title and address, last changed at `updatedAt`. */
    async insert(title: string, email: string, updatedAt: Date): Promise<number> {
      const [row] = await run(
        `INSERT INTO smtp_servers (title, title_key, host, port, security, authentication, email, sender_name, updated_at)
         VALUES (?, ?, 'smtp.exemple.fr', 587, 'starttls', 'none', ?, 'Service', ?) RETURNING id`,
        [title, title.toLowerCase(), email, updatedAt.getTime()],
      );
      return Number(row!.id);
    },
    /** What an edit of the host does to the row: a new host, a new version. */
    async edit(id: number, host: string, updatedAt: Date): Promise<void> {
      await run('UPDATE smtp_servers SET host = ?, updated_at = ? WHERE id = ? RETURNING id', [host, updatedAt.getTime(), id]);
    },
    /**
     * PostgreSQL only: what an edit of the path does (new host and version, unconfirmed, open links voided), left
     * uncommitted until `commit()` so that a test can run something against the edit in progress. (On SQLite a second
     * connection in the same process would block the thread on the file's lock.)
     */
    async editInProgress(id: number, host: string, updatedAt: Date): Promise<{ commit(): Promise<void> }> {
      if (!pgClient) throw new Error('editInProgress is for PostgreSQL');
      const client = pgClient;
      await client.query('BEGIN');
      await client.query(
        "UPDATE smtp_servers SET host = $1, updated_at = $2, confirmation_status = 'unconfirmed', confirmation_sent_at = NULL, confirmation_expires_at = NULL WHERE id = $3",
        [host, updatedAt.getTime(), id],
      );
      await client.query('UPDATE confirmation_tokens SET revoked_at = $1 WHERE server_id = $2 AND used_at IS NULL AND revoked_at IS NULL', [updatedAt.getTime(), id]);
      return { commit: async () => void (await client.query('COMMIT')) };
    },
  };
}
