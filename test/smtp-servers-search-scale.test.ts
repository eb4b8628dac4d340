import path from 'node:path';
import t from 'tap';
import { seedBenchDatabase } from '../bench/seed.js';
import { buildApp } from '../src/app.js';
import { loadConfig } from '../src/config.js';
import { normalizeForSearch } from '../src/smtp-servers/search.js';
import type { SortableColumn } from '../src/smtp-servers/columns.js';

// Broad searches (over 2,000 matches) walk an index and stop early; narrow ones go through the trigram index.
// Both must give exactly the rows a plain reading of the table gives.
t.test('search and sort agree with a brute-force reading of the table, broad or narrow', async (t) => {
  const dir = t.testdir();
  const file = path.join(dir, 'relais.sqlite');
  seedBenchDatabase(file, 6000);
  const app = await buildApp(loadConfig({ NODE_ENV: 'test', RELAIS_DB: file, RELAIS_SECRET: 'bench-secret' }), { logger: false });
  t.teardown(() => app.close());
  // The brute-force reading: every row, its search text made from the fields as the service makes it.
  const everyDepartment = await app.repositories.smtpServers.listDepartments();
  const all: { id: number; text: string; title: string; port: number; host: string }[] = [];
  for await (const row of app.repositories.smtpServers.iterateServers({ sort: 'id' })) {
    const served = row.usage === 'default' ? everyDepartment : row.departments;
    const text = normalizeForSearch([row.title, row.host, row.email, row.senderName, row.username, ...served.map((d) => d.name)].join(' '));
    all.push({ id: row.id, text, title: row.title, port: row.port, host: row.host });
  }
  const keyOf: Partial<Record<SortableColumn, (row: (typeof all)[number]) => string | number>> = {
    title: (row) => normalizeForSearch(row.title),
    port: (row) => row.port,
    host: (row) => row.host,
  };

  for (const q of ['vente', 'smtp', 'paris', 'serveur 123', 'élodie', 'lyon achat', 'zzz', 'fr', 'gandi production 7', '']) {
    const terms = normalizeForSearch(q).split(/\s+/).filter(Boolean);
    const expected = new Set(all.filter((row) => terms.every((term) => row.text.includes(term))).map((row) => row.id));
    for (const sort of ['title', 'port', 'host'] as const) {
      for (const dir of ['asc', 'desc'] as const) {
        const seen: number[] = [];
        let previous: string | number | undefined;
        let ordered = true;
        for (let page = 1; ; page++) {
          const result = await app.repositories.smtpServers.listServers({ q, sort, dir, page, perPage: 100 });
          if (page === 1 && (q === '' || expected.size <= 1000)) t.same([result.total, result.exact], [expected.size, true], `"${q}" by ${sort} ${dir}: the count`);
          // Past a thousand matches a search's count stops (the whole list is counted in full): « plus de 1000 », then exact once the pages come near the end.
          if (page === 1 && q !== '' && expected.size > 1000) t.same([result.total, result.exact, result.pages], [1000, false, 10], `"${q}" by ${sort} ${dir}: more than 1000`);
          if (result.exact) t.equal(result.total, expected.size, `"${q}" by ${sort} ${dir} page ${page}: an exact count is the count`);
          else t.ok(expected.size > result.total && result.total >= page * 100, `"${q}" by ${sort} ${dir} page ${page}: a lower bound past the page`);
          for (const row of result.rows) {
            const key = keyOf[sort]!(all.find((r) => r.id === row.id)!);
            if (previous !== undefined && (dir === 'asc' ? key < previous : key > previous)) ordered = false;
            previous = key;
            seen.push(row.id);
          }
          if (page >= result.pages && result.exact) break;
        }
        t.ok(ordered, `"${q}" by ${sort} ${dir}: in order`);
        t.equal(seen.length, expected.size, `"${q}" by ${sort} ${dir}: every match once`);
        t.ok(seen.every((id) => expected.has(id)), `"${q}" by ${sort} ${dir}: nothing else`);
      }
    }
  }
});
