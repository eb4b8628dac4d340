import path from 'node:path';
import { asc } from 'drizzle-orm';
import pg from 'pg';
import t from 'tap';
import { insertPostgresServers, insertSqliteServers, type SeedServer } from '../bench/seed.js';
import { openDatabase } from '../src/db/sqlite/client.js';
import { openPostgres } from '../src/db/postgres/client.js';
import { createPostgresServerListing, readSnapshotOn } from '../src/db/postgres/server-listing.js';
import { departments as sqliteDepartments } from '../src/db/sqlite/schema.js';
import type { SortableColumn } from '../src/smtp-servers/columns.js';
import { createServerListing } from '../src/db/sqlite/server-listing.js';
import type { ServerListFilter } from '../src/smtp-servers/store.js';
import { planSearch } from '../src/smtp-servers/search.js';
import { onPostgres } from './stores.js';

// The PostgreSQL listing must give what the SQLite one gives: the same rows, the same order (ties by id), the same
// counts, for every page of every query, sort, direction and filter; and both what a plain reading of the rows gives.

const day = 86_400_000;
const now = Date.now();

/** A small deterministic generator, so a failure can be replayed. */
function random(seed: number) {
  let state = seed;
  return () => {
    state = (state * 1_103_515_245 + 12_345) % 2 ** 31;
    return state / 2 ** 31;
  };
}

function variedServers(count: number): SeedServer[] {
  const next = random(42);
  const pick = <T>(list: readonly T[]): T => list[Math.floor(next() * list.length)]!;
  // Four spellings with the same sort key ("equipe") but different title keys: ties on the sort, broken by id.
  const titles = ['Équipe', 'equipe', 'Èquipe', 'ËQUIPE', 'Vente', 'vênte', 'Zoé', 'zoe', 'Achat', 'Ärger', 'ÉTÉ', 'ete', 'a', 'B', 'Paris'];
  const people = ['Élodie Martin', 'élodie martin', 'ELODIE MARTIN', 'elodie Martin', 'Zoé Michel', 'zoe michel', 'Anaïs', 'anaïs', 'Bob', 'bob', 'Ça va'];
  const hosts = ['smtp.exemple.fr', 'SMTP.exemple.fr', 'mail.orange.fr', 'Mail.Gandi.net', 'relay.ovh.net', 'smtp-é.free.fr', 'a.b'];
  const ports = [25, 465, 587, 2525, 123, 1] as const;
  const securities = ['none', 'starttls', 'tls'] as const;
  const servers: SeedServer[] = [];
  for (let i = 1; i <= count; i++) {
    const title = `${titles[i % titles.length]} ${Math.floor(i / titles.length)}`;
    const password = next() < 0.6;
    const usage = next() < 0.4 ? 'default' : 'custom';
    const status = pick(['unconfirmed', 'pending', 'pending', 'confirmed', 'failed'] as const);
    const tested = next();
    const local = pick(['Vente', 'vente', 'ACHAT', 'contact', 'Élodie', 'prod']);
    servers.push({
      id: i,
      title,
      host: pick(hosts),
      port: pick(ports),
      security: pick(securities),
      authentication: password ? 'password' : 'none',
      email: `${local}.${i % 50}@${pick(['Exemple.fr', 'orange.fr', 'gandi.net'])}`,
      senderName: pick(people),
      username: password ? pick(['Admin', 'admin', 'Élise', 'élise', 'zed', `user${i % 30}`]) : '',
      passwordCiphertext: password ? 'v1:k1:iv:tag:ciphertext' : null,
      usage,
      departmentIds: usage === 'custom' ? [1, 2, 3].filter(() => next() < 0.5) : [],
      confirmationStatus: status,
      // Far from now, so the two listings' clocks cannot disagree about an expiry.
      confirmationExpiresAt: status === 'pending' ? new Date(now + (next() < 0.5 ? -3 : 3) * day) : null,
      lastTestAt: tested < 0.3 ? null : new Date(now - Math.floor(next() * 30) * day),
      lastTestOk: tested < 0.3 ? null : tested < 0.7,
    });
  }
  return servers;
}

const fields = [
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
  'confirmationExpiresAt',
  'lastTestAt',
  'lastTestOk',
] as const;
const flags = { hasPassword: 'password_ciphertext IS NOT NULL' };

const departmentNames = new Map([
  [1, 'Achat'],
  [2, 'Vente'],
  [3, 'Production'],
]);

const searchTexts = new Map<SeedServer, string>();

/** What a plain reading of the rows gives: every word matches the search text, or the row has what the word names. */
function bruteForce(servers: SeedServer[], filter: ServerListFilter): number[] {
  const searchText = (s: SeedServer) => (searchTexts.get(s) ?? searchTexts.set(s, searchTextOf(s)).get(s))!;
  const searchTextOf = (s: SeedServer) =>
    [s.title, s.host, s.email, s.senderName, s.username, ...[...departmentNames].filter(([id]) => s.usage === 'default' || s.departmentIds.includes(id)).map(([, n]) => n)]
      .join(' ')
      .normalize('NFD')
      .replace(/\p{M}+/gu, '')
      .toLowerCase();
  const expired = (s: SeedServer) => s.confirmationStatus === 'pending' && s.confirmationExpiresAt!.getTime() <= now;
  const hasConfirmation = (s: SeedServer, status: string) =>
    status === 'unconfirmed'
      ? s.confirmationStatus === 'unconfirmed' || expired(s)
      : status === 'pending'
        ? s.confirmationStatus === 'pending' && !expired(s)
        : s.confirmationStatus === status;
  const terms = planSearch(filter.q ?? '');
  const matching = servers.filter((s) => {
    if (filter.confirmation && !hasConfirmation(s, filter.confirmation)) return false;
    if (filter.security && s.security !== filter.security) return false;
    if (filter.test === 'ok' && s.lastTestOk !== true) return false;
    if (filter.test === 'failed' && s.lastTestOk !== false) return false;
    if (filter.test === 'never' && s.lastTestAt) return false;
    return terms.every((term) => {
      const meaning = term.meaning;
      if (meaning && 'port' in meaning && s.port === meaning.port) return true;
      if (meaning && 'security' in meaning && s.security === meaning.security) return true;
      if (meaning && 'confirmation' in meaning && hasConfirmation(s, meaning.confirmation)) return true;
      return searchText(s).includes(term.text);
    });
  });
  // Byte order as both stores compare: UTF-8 bytes, ASCII letters folded for the case-insensitive columns.
  const ascii = (value: string) => value.replace(/[A-Z]/g, (c) => c.toLowerCase());
  const keyOf: Partial<Record<SortableColumn, (s: SeedServer) => string | number>> = {
    title: (s) => s.title.normalize('NFD').replace(/\p{M}+/gu, '').toLowerCase(),
    senderName: (s) => ascii(s.senderName),
    host: (s) => s.host,
    email: (s) => ascii(s.email),
    port: (s) => s.port,
  };
  const key = keyOf[filter.sort ?? 'title']!;
  const compare = (a: string | number, b: string | number) =>
    typeof a === 'number' ? a - (b as number) : Buffer.compare(Buffer.from(a), Buffer.from(b as string));
  const sign = filter.dir === 'desc' ? -1 : 1;
  return matching.sort((a, b) => sign * (compare(key(a), key(b)) || a.id - b.id)).map((s) => s.id);
}

const queries = ['', 'vente', 'équipe', 'ÉLODIE mar', 'zoe', 'serveur', 'gandi production', '465', 'starttls', 'non confirmé', 'en attente', 'ss', 'x', '2525 vente', 'ça', 'vente 25', 'serveur ss'];
const sorts = ['title', 'senderName', 'host'] as const;
const filters: ServerListFilter[] = [{}, { security: 'tls' }, { confirmation: 'unconfirmed', test: 'failed' }, { test: 'never' }, { confirmation: 'pending' }];

onPostgres(t, 'the PostgreSQL listing gives the SQLite listing’s pages, and a plain reading’s rows', async (t, url) => {
  const servers = variedServers(3000);
  const file = path.join(t.testdir(), 'relais.sqlite');
  insertSqliteServers(file, servers);
  const sqlite = openDatabase(file);
  t.teardown(() => sqlite.close());
  const sqliteListing = createServerListing(
    sqlite.sqlite,
    fields,
    () => sqlite.db.select().from(sqliteDepartments).orderBy(asc(sqliteDepartments.position), asc(sqliteDepartments.id)).all(),
    flags,
  );
  const postgres = await openPostgres(url);
  t.teardown(() => postgres.close());
  await insertPostgresServers(url, servers);
  const pgListing = createPostgresServerListing(postgres.db, fields, flags);

  const perPage = 150;
  let compared = 0;
  const cases: ServerListFilter[] = [];
  for (const q of queries) for (const sort of sorts) for (const dir of ['asc', 'desc'] as const) cases.push({ q, sort, dir });
  for (const filter of filters.slice(1)) for (const q of ['', 'vente', 'élodie', '587']) for (const sort of ['title', 'email', 'port'] as const) cases.push({ ...filter, q, sort, dir: 'desc' });

  for (const filter of cases) {
    const label = JSON.stringify(filter);
    const expected = bruteForce(servers, filter);
    const onSqlite: unknown[] = [];
    const onPostgres: unknown[] = [];
    let last = false;
    for (let page = 1; !last; page++) {
      const a = sqliteListing.page(filter, page, perPage);
      const b = await pgListing.page(filter, page, perPage);
      if (page === 1) {
        t.equal(b.total, a.total, `${label}: the same count`);
        // The whole list is counted in full; a search or a filter up to 1,000 past the page (see countLimitOf).
        const unfiltered = !filter.q && !filter.confirmation && !filter.test && !filter.security;
        const counted = unfiltered || expected.length <= 1000 ? [expected.length, true] : [1000, false];
        t.same([b.total, b.exact], counted, `${label}: the count of a plain reading`);
      }
      t.same({ ...b, rows: [] }, { ...a, rows: [] }, `${label} page ${page}: the same page numbers`);
      onSqlite.push(...a.rows);
      onPostgres.push(...b.rows);
      last = a.exact && page >= a.pages;
      compared++;
    }
    t.same(onPostgres, onSqlite, `${label}: the same rows in the same order`);
    t.same(
      onPostgres.map((row) => (row as { id: number }).id),
      expected,
      `${label}: the rows and order of a plain reading`,
    );
  }
  t.ok(compared > 300, `${compared} pages compared`);

  // Past the last page: both show the last one.
  const beyond = { q: 'vente', sort: 'title' as const, dir: 'asc' as const };
  t.same((await pgListing.page(beyond, 999, 50)).rows, sqliteListing.page(beyond, 999, 50).rows, 'a page past the end is the last page on both');

  t.test('the export’s batches: every match in display order, from one snapshot', async (t) => {
    const snapshot = readSnapshotOn(postgres.db);
    for (const filter of [{ sort: 'title' as const }, { q: 'vente', sort: 'senderName' as const, dir: 'desc' as const }, { security: 'none' as const, q: 'ss' }]) {
      const everyRow = [];
      for await (const batch of pgListing.batches(filter, await snapshot.client(), 250)) {
        t.ok(batch.length <= 250, 'a batch holds at most its size');
        everyRow.push(...batch);
      }
      const onSqlite = sqliteListing.page(filter, 1, 10_000).rows;
      t.same(everyRow, onSqlite, `${JSON.stringify(filter)}: the rows the SQLite listing gives, in its order`);
    }

    // A write committed while the export reads is not in it; the rows it had are.
    const writer = new pg.Client({ connectionString: url });
    await writer.connect();
    t.teardown(() => writer.end());
    const seen: number[] = [];
    let written = false;
    for await (const batch of pgListing.batches({ sort: 'id' }, await snapshot.client(), 100)) {
      seen.push(...batch.map((row) => row.id as number));
      if (!written) {
        await writer.query('DELETE FROM smtp_servers WHERE id = 2999');
        await writer.query("UPDATE smtp_servers SET title = 'Renamed', title_sort = 'renamed' WHERE id = 3000");
        written = true;
      }
    }
    t.equal(seen.length, 3000, 'the snapshot still holds the row deleted meanwhile');
    t.equal(seen.at(-2), 2999, 'in its place');
    t.equal((await pgListing.page({ sort: 'id', dir: 'desc' }, 1, 1)).rows[0]!.title, 'Renamed', 'while the pages see the write');
    // The counts read a narrow copy of the searched columns, kept by a trigger: it follows every write.
    t.equal((await pgListing.page({}, 1, 1)).total, 2999, 'the count follows a delete');
    await writer.query("UPDATE smtp_servers SET port = 4242, search_text = 'qwertyuiop' WHERE id = 1");
    t.equal((await pgListing.page({ q: '4242' }, 1, 10)).total, 1, 'and a change of port');
    t.same((await pgListing.page({ q: 'QWERTYUIOP' }, 1, 10)).rows.map((row) => row.id), [1], 'and of search text');

    // Leaving early closes the cursor (the snapshot serves another pass); closing the snapshot gives the connection back.
    for await (const batch of pgListing.batches({}, await snapshot.client(), 10)) {
      t.equal(batch.length, 10);
      break;
    }
    for await (const batch of pgListing.batches({}, await snapshot.client(), 10)) {
      t.equal(batch.length, 10);
      break;
    }
    await snapshot.close();
    t.equal(postgres.pool.totalCount - postgres.pool.idleCount, 0, 'no connection is left checked out');
    t.equal((await pgListing.page({ q: 'vente' }, 1, 5)).rows.length, 5, 'and the pool serves the next page');
  });
});
