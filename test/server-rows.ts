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
  if (store.kind === 'sqlite') {
    const sqlite = new Database(store.file);
    sqlite.pragma('busy_timeout = 5000');
    t.teardown(() => sqlite.close());
    run = async (text, params) => sqlite.prepare(text).all(...params) as { id: number }[];
  } else {
    const client = new pg.Client({ connectionString: store.url });
    await client.connect();
    t.teardown(() => client.end());
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
  };
}
