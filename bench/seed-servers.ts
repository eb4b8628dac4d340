// Fills a SQLite file with many servers quickly, for benchmarks: one transaction of prepared inserts straight into
// smtp_servers (the repository's createServer, with its audit row and encryption per server, takes minutes for 100,000).
// search_text and title_key are computed exactly as the repository computes them.
import fs from 'node:fs';
import path from 'node:path';
import { openDatabase } from '../src/db/client.js';
import { keyFromSecret, SecretBox } from '../src/crypto/secret-box.js';
import { titleKeyOf } from '../src/smtp-servers/repository.js';
import { normalizeForSearch } from '../src/smtp-servers/search.js';

export const benchSecret = 'a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f9';

const departments = [
  { id: 1, name: 'Achat' },
  { id: 2, name: 'Vente' },
  { id: 3, name: 'Production' },
];
const places = ['Paris', 'Lyon', 'Genève', 'Montréal', 'Orléans', 'Besançon', 'Köln', 'Москва', 'Αθήνα', 'Nîmes'];
const teams = ['Vente', 'Achat', 'Production', 'Équipe support', 'Facturation', 'Relations clients', 'Поставки', 'Logistique'];
const securities = ['starttls', 'tls', 'none'] as const;
const ports = { starttls: 587, tls: 465, none: 25 } as const;

/** Deterministic content with accents, Cyrillic and Greek, custom usages and confirmed dates, like a real registry. */
function serverNumber(i: number) {
  const place = places[i % places.length]!;
  const team = teams[(i * 7) % teams.length]!;
  const security = securities[i % 3]!;
  const authentication = i % 5 === 0 ? 'none' : 'password';
  const custom = i % 4 === 0;
  const served = custom ? departments.filter((d) => (i + d.id) % 3 !== 0) : departments;
  const n = String(i).padStart(6, '0');
  const title = `${team} ${place} ${n}`;
  const host = `smtp${i % 97}.${place.normalize('NFD').replace(/\p{M}/gu, '').toLowerCase().replace(/[^a-z]/g, '') || 'intl'}.exemple.fr`;
  const email = `envoi.${n}@exemple.fr`;
  const senderName = `${team} — ${place}`;
  const username = authentication === 'password' ? `compte-${n}@exemple.fr` : '';
  return {
    title,
    host,
    port: ports[security],
    security,
    authentication,
    email,
    senderName,
    username,
    usage: custom ? 'custom' : 'default',
    served,
    confirmed: i % 3 === 0,
  };
}

/**
 * Creates (or replaces) a database file holding `count` servers; returns the file.
 * Passwords are real AES-GCM ciphertexts of a known marker, so a benchmark can check it never leaks.
 */
export function createBenchDatabase(file: string, count: number): string {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  for (const suffix of ['', '-wal', '-shm']) fs.rmSync(file + suffix, { force: true });
  const handle = openDatabase(file);
  const { sqlite } = handle;
  sqlite.pragma('synchronous = OFF');
  const box = new SecretBox(keyFromSecret(benchSecret), []);
  const ciphertext = box.encrypt('Bench-Pl41ntext-Password');
  const insert = sqlite.prepare(`
    INSERT INTO smtp_servers (title, title_key, host, port, security, authentication, email, sender_name, username,
      password_ciphertext, usage, verify_certificate, signature, confirmation_status, confirmed_at, search_text, created_at, updated_at)
    VALUES (@title, @titleKey, @host, @port, @security, @authentication, @email, @senderName, @username,
      @passwordCiphertext, @usage, 1, '', @confirmationStatus, @confirmedAt, @searchText, @createdAt, @createdAt)`);
  const link = sqlite.prepare('INSERT INTO smtp_server_departments (server_id, department_id) VALUES (?, ?)');
  const start = Date.UTC(2025, 0, 1);
  sqlite.transaction(() => {
    for (let i = 1; i <= count; i++) {
      const s = serverNumber(i);
      const createdAt = start + i * 60_000;
      const { lastInsertRowid } = insert.run({
        title: s.title,
        titleKey: titleKeyOf(s.title),
        host: s.host,
        port: s.port,
        security: s.security,
        authentication: s.authentication,
        email: s.email,
        senderName: s.senderName,
        username: s.username,
        passwordCiphertext: s.authentication === 'password' ? ciphertext : null,
        usage: s.usage,
        confirmationStatus: s.confirmed ? 'confirmed' : 'unconfirmed',
        confirmedAt: s.confirmed ? createdAt + 3_600_000 : null,
        searchText: normalizeForSearch([s.title, s.host, s.email, s.senderName, s.username, ...s.served.map((d) => d.name)].join(' ')),
        createdAt,
      });
      if (s.usage === 'custom') for (const d of s.served) link.run(lastInsertRowid, d.id);
    }
  })();
  sqlite.pragma('synchronous = NORMAL');
  sqlite.exec('ANALYZE');
  handle.close();
  return file;
}
