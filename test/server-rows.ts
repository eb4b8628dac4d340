import pg from 'pg';
import type { Test } from 'tap';
import type { Stores } from '../src/db/stores.js';
import type { TestStore } from './stores.js';

/** Server rows for the tests of the stores that read and write a server's confirmation and last test, through the server store. */
export async function serverRows(t: Test, store: TestStore, stores: Stores) {
  return {
    /** A server with the given title and address, at version 1. */
    async insert(title: string, email: string): Promise<number> {
      return stores.servers.insert({
        title,
        titleKey: title.toLowerCase(),
        titleSort: title.toLowerCase(),
        host: 'smtp.exemple.fr',
        port: 587,
        security: 'starttls',
        authentication: 'none',
        email,
        senderName: 'Service',
        username: '',
        usage: 'default',
        verifyCertificate: true,
        signature: '',
        searchText: title.toLowerCase(),
        passwordCiphertext: null,
      });
    },
    /** What an edit of the host does to the row: a new host, the next version. */
    async edit(id: number, host: string): Promise<void> {
      await stores.servers.update(id, { host });
    },
    /**
     * PostgreSQL only: what an edit of the path does (new host, next version, unconfirmed, open links voided), left
     * uncommitted until `commit()` so that a test can run something against the edit in progress. (On SQLite a second
     * connection in the same process would block the thread on the file's lock.)
     */
    async editInProgress(id: number, host: string): Promise<{ commit(): Promise<void> }> {
      if (store.kind !== 'postgres') throw new Error('editInProgress is for PostgreSQL');
      const client = new pg.Client({ connectionString: store.url });
      await client.connect();
      t.teardown(() => client.end());
      await client.query('BEGIN');
      await client.query(
        "UPDATE smtp_servers SET host = $1, version = version + 1, confirmation_status = 'unconfirmed', confirmation_sent_at = NULL, confirmation_expires_at = NULL WHERE id = $2",
        [host, id],
      );
      await client.query('UPDATE confirmation_tokens SET revoked_at = $1 WHERE server_id = $2 AND used_at IS NULL AND revoked_at IS NULL', [Date.now(), id]);
      return { commit: async () => void (await client.query('COMMIT')) };
    },
  };
}
