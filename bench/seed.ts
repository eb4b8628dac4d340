import pg from 'pg';
import { keyFromSecret, SecretBox } from '../src/crypto/secret-box.js';
import { openDatabase } from '../src/db/sqlite/client.js';
import { insertRows, resetIdentitySequences } from '../src/db/copy.js';
import { titleKeyOf } from '../src/smtp-servers/repository.js';
import { normalizeForSearch } from '../src/smtp-servers/search.js';

const cities = ['Paris', 'Lyon', 'Marseille', 'Toulouse', 'Nantes', 'Lille', 'Bordeaux', 'Strasbourg', 'Rennes', 'Grenoble', 'Nice', 'Dijon'];
const providers = ['exemple.fr', 'orange.fr', 'ovh.net', 'gandi.net', 'office365.com', 'gmail.com', 'infomaniak.com', 'free.fr'];
const people = ['Élodie Martin', 'Jérôme Petit', 'Anaïs Durand', 'François Leroy', 'Chloé Moreau', 'Hélène Simon', 'Noël Laurent', 'Zoé Michel'];
/** The departments the migrations of both stores create. */
export const seededDepartments = [
  { id: 1, name: 'Achat' },
  { id: 2, name: 'Vente' },
  { id: 3, name: 'Production' },
];
const securities = [
  { security: 'starttls', port: 587 },
  { security: 'tls', port: 465 },
  { security: 'none', port: 25 },
] as const;

/** A server as a seed writes it, straight into the table: the app's derived columns (title key, sort key, search text) are computed from it. */
export interface SeedServer {
  id: number;
  title: string;
  host: string;
  port: number;
  security: 'none' | 'starttls' | 'tls';
  authentication: 'none' | 'password';
  email: string;
  senderName: string;
  username: string;
  passwordCiphertext: string | null;
  /** `default` serves every department; `custom` those of `departmentIds`. */
  usage: 'default' | 'custom';
  departmentIds: number[];
  confirmationStatus: 'unconfirmed' | 'pending' | 'confirmed' | 'failed';
  confirmationExpiresAt?: Date | null;
  confirmedAt?: Date | null;
  lastTestAt?: Date | null;
  lastTestOk?: boolean | null;
}

/** `count` realistic servers: twelve cities, eight providers, accented sender names, a third in default usage. */
export function benchServers(count: number, secret = 'bench-secret'): SeedServer[] {
  const ciphertext = new SecretBox(keyFromSecret(secret)).encrypt('Bench-Passw0rd!');
  const servers: SeedServer[] = [];
  for (let i = 1; i <= count; i++) {
    const city = cities[i % cities.length]!;
    const provider = providers[(i * 7) % providers.length]!;
    const person = people[(i * 3) % people.length]!;
    const { security, port } = securities[i % securities.length]!;
    const custom = i % 3 !== 0;
    const served = custom ? [seededDepartments[i % 3]!] : seededDepartments;
    const title = `Serveur ${served.length === 1 ? served[0]!.name : 'Général'} ${city} ${i}`;
    const email = `${served.length === 1 ? served[0]!.name.toLowerCase() : 'contact'}.${i}@${provider}`;
    servers.push({
      id: i,
      title,
      host: `smtp${i % 97}.${provider}`,
      port,
      security,
      authentication: 'password',
      email,
      senderName: person,
      username: email,
      passwordCiphertext: ciphertext,
      usage: custom ? 'custom' : 'default',
      departmentIds: custom ? [served[0]!.id] : [],
      confirmationStatus: i % 5 === 0 ? 'confirmed' : 'unconfirmed',
      // A confirmed server carries its date, as the confirmation link records it: the list's weight counts it.
      confirmedAt: i % 5 === 0 ? new Date(Date.UTC(2025, 1, 9, 11, 32) + i * 60_000) : null,
    });
  }
  return servers;
}

const serverColumns = [
  'id',
  'title',
  'title_key',
  'title_sort',
  'host',
  'port',
  'security',
  'authentication',
  'email',
  'sender_name',
  'username',
  'password_ciphertext',
  'usage',
  'verify_certificate',
  'signature',
  'confirmation_status',
  'confirmation_expires_at',
  'confirmed_at',
  'last_test_at',
  'last_test_ok',
  'search_text',
] as const;

/** The row's values in `serverColumns` order, with the search text and keys the app writes. */
function valuesOf(server: SeedServer, bool: (value: boolean) => unknown): unknown[] {
  const served = server.usage === 'default' ? seededDepartments : seededDepartments.filter((d) => server.departmentIds.includes(d.id));
  const searchText = normalizeForSearch([server.title, server.host, server.email, server.senderName, server.username, ...served.map((d) => d.name)].join(' '));
  const ms = (date: Date | null | undefined) => date?.getTime() ?? null;
  return [
    server.id,
    server.title,
    titleKeyOf(server.title),
    normalizeForSearch(server.title),
    server.host,
    server.port,
    server.security,
    server.authentication,
    server.email,
    server.senderName,
    server.username,
    server.passwordCiphertext,
    server.usage,
    bool(true),
    '',
    server.confirmationStatus,
    ms(server.confirmationExpiresAt),
    ms(server.confirmedAt),
    ms(server.lastTestAt),
    server.lastTestOk == null ? null : bool(server.lastTestOk),
    searchText,
  ];
}

/**
 * Writes servers into a SQLite file (migrated if new), straight through prepared statements in one transaction
 * (the repository's one-by-one path would take minutes for 100,000).
 */
export function insertSqliteServers(file: string, servers: Iterable<SeedServer>): void {
  const handle = openDatabase(file);
  const insert = handle.sqlite.prepare(`INSERT INTO smtp_servers (${serverColumns.join(', ')}) VALUES (${serverColumns.map(() => '?').join(', ')})`);
  const link = handle.sqlite.prepare('INSERT INTO smtp_server_departments (server_id, department_id) VALUES (?, ?)');
  handle.sqlite.transaction(() => {
    for (const server of servers) {
      insert.run(...valuesOf(server, (value) => (value ? 1 : 0)));
      if (server.usage === 'custom') for (const department of server.departmentIds) link.run(server.id, department);
    }
  })();
  handle.sqlite.pragma('wal_checkpoint(TRUNCATE)');
  handle.sqlite.exec('ANALYZE');
  handle.close();
}

/** The same into a migrated PostgreSQL database, in one transaction, then VACUUM ANALYZE (as autovacuum would after a while). */
export async function insertPostgresServers(url: string, servers: SeedServer[]): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query('BEGIN');
    await insertRows(client, 'smtp_servers', [...serverColumns], servers.map((server) => valuesOf(server, (value) => value)));
    const links = servers.filter((s) => s.usage === 'custom').flatMap((s) => s.departmentIds.map((d) => [s.id, d]));
    await insertRows(client, 'smtp_server_departments', ['server_id', 'department_id'], links);
    await resetIdentitySequences(client);
    await client.query('COMMIT');
    await client.query('VACUUM ANALYZE smtp_servers, smtp_servers_search, smtp_server_departments');
  } finally {
    await client.end();
  }
}

/** Fills a SQLite database with `count` realistic servers (see benchServers). */
export function seedBenchDatabase(file: string, count: number, secret = 'bench-secret'): void {
  insertSqliteServers(file, benchServers(count, secret));
}
