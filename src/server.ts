import closeWithGrace from 'close-with-grace';
import { buildApp } from './app.js';
import { loadConfig } from './config.js';
import { redactUrl } from './db/postgres/client.js';

const config = loadConfig();
if (config.database.kind === 'postgres') {
  console.error(`RELAIS_DB selects PostgreSQL (${redactUrl(config.database.url)}), which this version cannot run on yet; use a SQLite file path.`);
  process.exit(1);
}
const app = await buildApp(config);

closeWithGrace({ delay: Number(process.env.RELAIS_SHUTDOWN_GRACE_MS) || 10_000 }, async ({ signal, err }) => {
  if (err) app.log.error({ err }, 'closing Relais after an error');
  else app.log.info({ signal }, 'closing Relais: finishing requests in flight');
  await app.close();
});

const address = await app.listen({ port: config.port, host: config.host });
app.log.info({ address, url: config.publicUrl, database: config.dbFile }, 'Relais is ready');
