import closeWithGrace from 'close-with-grace';
import { buildApp } from './app.js';
import { loadConfig } from './config.js';
import { redactUrl } from './db/postgres/client.js';
import { DatabaseOpenError } from './db/failures.js';

// Before the app exists there is no logger: one line in its format, then a non-zero exit.
function cannotStart(err: unknown): never {
  const database = err instanceof DatabaseOpenError ? { database: err.file, reason: err.reason } : {};
  const msg = `Relais cannot start: ${err instanceof Error ? err.message : String(err)}`;
  process.stderr.write(`${JSON.stringify({ level: 60, time: Date.now(), pid: process.pid, ...database, msg })}\n`);
  process.exit(1);
}

let config: ReturnType<typeof loadConfig>;
try {
  config = loadConfig();
} catch (err) {
  cannotStart(err);
}
if (config.database.kind === 'postgres') {
  cannotStart(new Error(`RELAIS_DB selects PostgreSQL (${redactUrl(config.database.url)}), which this version cannot run on yet; use a SQLite file path.`));
}
const app = await buildApp(config).catch(cannotStart);

closeWithGrace({ delay: config.shutdownGraceMs }, async ({ signal, err }) => {
  if (err) app.log.error({ err }, 'closing Relais after an error');
  else app.log.info({ signal }, 'closing Relais: finishing requests in flight');
  await app.close();
});

const address = await app.listen({ port: config.port, host: config.host });
app.log.info({ address, url: config.publicUrl, database: config.dbFile }, 'Relais is ready');
