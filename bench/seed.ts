import { keyFromSecret, SecretBox } from '../src/crypto/secret-box.js';
import { openDatabase } from '../src/db/client.js';
import { titleKeyOf } from '../src/smtp-servers/repository.js';
import { normalizeForSearch } from '../src/smtp-servers/search.js';

const cities = ['Paris', 'Lyon', 'Marseille', 'Toulouse', 'Nantes', 'Lille', 'Bordeaux', 'Strasbourg', 'Rennes', 'Grenoble', 'Nice', 'Dijon'];
const providers = ['exemple.fr', 'orange.fr', 'ovh.net', 'gandi.net', 'office365.com', 'gmail.com', 'infomaniak.com', 'free.fr'];
const people = ['Élodie Martin', 'Jérôme Petit', 'Anaïs Durand', 'François Leroy', 'Chloé Moreau', 'Hélène Simon', 'Noël Laurent', 'Zoé Michel'];
const departments = [
  { id: 1, name: 'Achat' },
  { id: 2, name: 'Vente' },
  { id: 3, name: 'Production' },
];
const securities = [
  { security: 'starttls', port: 587 },
  { security: 'tls', port: 465 },
  { security: 'none', port: 25 },
] as const;

/**
 * Fills a database with `count` realistic servers, straight through prepared statements in one transaction
 * (the repository's one-by-one path would take minutes for 100,000). Same title key and search text as the app writes.
 */
export function seedBenchDatabase(file: string, count: number, secret = 'bench-secret'): void {
  const handle = openDatabase(file);
  const box = new SecretBox(keyFromSecret(secret));
  const ciphertext = box.encrypt('Bench-Passw0rd!');
  const insert = handle.sqlite.prepare(`INSERT INTO smtp_servers
    (title, title_key, title_sort, host, port, security, authentication, email, sender_name, username, password_ciphertext, usage,
     verify_certificate, signature, confirmation_status, search_text)
    VALUES (@title, @titleKey, @titleSort, @host, @port, @security, 'password', @email, @senderName, @username, @password, @usage,
     1, '', @confirmation, @searchText)`);
  const link = handle.sqlite.prepare('INSERT INTO smtp_server_departments (server_id, department_id) VALUES (?, ?)');
  handle.sqlite.transaction(() => {
    for (let i = 1; i <= count; i++) {
      const city = cities[i % cities.length]!;
      const provider = providers[(i * 7) % providers.length]!;
      const person = people[(i * 3) % people.length]!;
      const { security, port } = securities[i % securities.length]!;
      const custom = i % 3 !== 0;
      const served = custom ? [departments[i % 3]!] : departments;
      const title = `Serveur ${served.length === 1 ? served[0]!.name : 'Général'} ${city} ${i}`;
      const email = `${served.length === 1 ? served[0]!.name.toLowerCase() : 'contact'}.${i}@${provider}`;
      const host = `smtp${i % 97}.${provider}`;
      const row = {
        title,
        titleKey: titleKeyOf(title),
        titleSort: normalizeForSearch(title),
        host,
        port,
        security,
        email,
        senderName: person,
        username: email,
        password: ciphertext,
        usage: custom ? 'custom' : 'default',
        confirmation: i % 5 === 0 ? 'confirmed' : 'unconfirmed',
        searchText: normalizeForSearch([title, host, email, person, email, ...served.map((d) => d.name)].join(' ')),
      };
      const { lastInsertRowid } = insert.run(row);
      if (custom) link.run(lastInsertRowid, served[0]!.id);
    }
  })();
  handle.sqlite.pragma('wal_checkpoint(TRUNCATE)');
  handle.sqlite.exec('ANALYZE');
  handle.close();
}
