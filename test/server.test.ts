import { spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import t from 'tap';

// The real entry point, as `npm start` runs it: a signal lets the request in flight finish, then closes the database.
t.test('SIGTERM finishes the request in flight, then closes the database and exits 0', async (t) => {
  const dir = t.testdir();
  const dbFile = path.join(dir, 'relais.sqlite');
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/server.ts'], {
    env: { ...process.env, PORT: '0', RELAIS_DB: dbFile, LOG_LEVEL: 'info', NODE_ENV: 'production' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  t.teardown(() => child.kill('SIGKILL'));
  let log = '';
  const address = await new Promise<string>((resolve, reject) => {
    child.stdout.on('data', (chunk) => {
      log += chunk.toString();
      const ready = /"address":"([^"]+)".*"msg":"Relais is ready"/.exec(log);
      if (ready) resolve(ready[1]!);
    });
    child.once('exit', (code) => reject(new Error(`server exited early with ${code}: ${log}`)));
  });
  t.ok(fs.existsSync(path.join(dir, 'relais.key')), 'a key file was created beside the database');
  t.match(log, '"keyFile"', 'the log says where the key is');

  // A request whose body is still arriving when the signal comes.
  const { port } = new URL(address);
  const response = new Promise<{ status: number; body: string }>((resolve, reject) => {
    const request = http.request({ host: '127.0.0.1', port, method: 'POST', path: '/smtp-servers', headers: { 'content-type': 'application/x-www-form-urlencoded', 'transfer-encoding': 'chunked' } }, (res) => {
      let body = '';
      res.on('data', (c) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    request.on('error', reject);
    request.write('title=Lent&host=');
    setTimeout(() => {
      child.kill('SIGTERM');
      setTimeout(() => request.end('smtp.exemple.fr'), 300);
    }, 200);
  });
  const exit = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const { status } = await response;
  t.ok(status > 0, `the request in flight got its answer (${status})`);
  t.equal(await exit, 0, 'a clean exit');
  t.match(log, 'closing Relais');
  t.notOk(fs.existsSync(`${dbFile}-wal`), 'the database was closed (its WAL checkpointed and removed)');
});
