// npm run db:copy -- --from ./data/relais.sqlite --to postgres://user@host:5432/relais
import path from 'node:path';
import { parseArgs } from 'node:util';
import { isPostgresUrl } from '../src/config.js';
import { copySqliteToPostgres } from '../src/db/copy.js';
import { redactUrl } from '../src/db/postgres/client.js';

const usage = 'usage: npm run db:copy -- --from ./data/relais.sqlite --to postgres://user@host:5432/relais';

try {
  const { values } = parseArgs({ options: { from: { type: 'string', default: './data/relais.sqlite' }, to: { type: 'string' } } });
  if (!values.to || !isPostgresUrl(values.to)) throw new Error(`--to must be a postgres:// or postgresql:// URL; ${usage}`);
  const from = path.resolve(values.from!);
  const copied = await copySqliteToPostgres({ from, to: values.to });
  console.log(`Copied ${from} to ${redactUrl(values.to)}:`);
  for (const { table, rows } of copied) console.log(`  ${table}: ${rows} ${rows === 1 ? 'row' : 'rows'}`);
} catch (err) {
  console.error(`db:copy: ${(err as Error).message}`);
  process.exit(1);
}
