import { buildApp } from '../src/app.js';
import { loadConfig } from '../src/config.js';

// Relais as it ships (templates cached, compression, helmet, CSRF), on the database the parent seeded.
const app = await buildApp(loadConfig({ ...process.env, PORT: '0', LOG_LEVEL: process.env.LOG_LEVEL || 'warn' }));
const address = await app.listen({ port: 0, host: '127.0.0.1' });
process.send?.({ address });
process.on('SIGTERM', () => void app.close().then(() => process.exit(0)));
