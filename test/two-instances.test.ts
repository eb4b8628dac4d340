import t, { type Test } from 'tap';
import { buildApp } from '../src/app.js';
import { testConfig, signIn, testPassword, testSecret, text, validServer } from './helper.js';
import { HttpClient, startRelaisProcess, type RelaisProcess } from './http-client.js';
import { onPostgres } from './stores.js';

// Two real app processes on one PostgreSQL database, as behind a load balancer: what one does, the other sees.

const adminEmail = 'admin@relais.test';

function instanceEnv(url: string): Record<string, string> {
  return {
    RELAIS_DB: url,
    RELAIS_SECRET: testSecret,
    RELAIS_COOKIE_SECRET: 'c'.repeat(64),
    RELAIS_URL: 'http://relais.test',
    RELAIS_PASSWORD_HASH_COST: '10',
    RELAIS_ADMIN_EMAIL: adminEmail,
    RELAIS_ADMIN_PASSWORD: testPassword,
    RELAIS_LOGIN_PAIR_MAX_FAILURES: '3',
  };
}

async function startTwo(t: Test, url: string): Promise<[RelaisProcess, RelaisProcess]> {
  const both = await Promise.all([startRelaisProcess(instanceEnv(url)), startRelaisProcess(instanceEnv(url))]);
  t.teardown(async () => {
    for (const p of both) {
      if (p.child.exitCode === null && p.child.signalCode === null) {
        p.child.kill('SIGTERM');
        await p.exited;
      }
    }
  });
  return both;
}

/** The same database, read through the repositories of an app in this process. */
async function inspector(t: Test, url: string) {
  const app = await buildApp(testConfig(t.testdir(), { RELAIS_DB: url }), { logger: false });
  t.teardown(() => app.close());
  return app.repositories;
}

onPostgres(t, 'two instances on one PostgreSQL database', async (t, url) => {
  const [a, b] = await startTwo(t, url);
  const repositories = await inspector(t, url);

  t.test('started at once on an empty database: migrated once, one first administrator', async (t) => {
    t.equal(await repositories.users.countUsers(), 1);
    const created = [...a.log, ...b.log].filter((entry) => entry.msg === 'first administrator created from RELAIS_ADMIN_EMAIL');
    t.equal(created.length, 1, 'one of the two created it');
  });

  t.test('a session opened on one is valid on the other', async (t) => {
    const onA = new HttpClient(a.url);
    await signIn(onA, adminEmail);
    const onB = new HttpClient(b.url);
    for (const [name, value] of onA.cookies) onB.cookies.set(name, value);
    const page = await onB.get('/audit');
    t.equal(page.statusCode, 200, 'B knows the session A opened');
    t.match(text(page.body), adminEmail.split('@')[0]!);
  });

  t.test('a write on one shows at once on the other', async (t) => {
    const onA = new HttpClient(a.url);
    await signIn(onA, adminEmail);
    const created = await onA.post('/smtp-servers', { ...validServer, title: 'Écrit sur A' });
    t.equal(created.statusCode, 303);
    const onB = new HttpClient(b.url);
    await signIn(onB, adminEmail);
    t.match(text((await onB.get('/smtp-servers')).body), 'Écrit sur A');
  });

  t.test('the sign-in throttle counts the attempts made on both', async (t) => {
    const onA = new HttpClient(a.url);
    const onB = new HttpClient(b.url);
    await onA.get('/login');
    await onB.get('/login');
    t.equal((await onA.post('/login', { email: adminEmail, password: 'wrong 1' })).statusCode, 401);
    t.equal((await onB.post('/login', { email: adminEmail, password: 'wrong 2' })).statusCode, 401);
    t.equal((await onA.post('/login', { email: adminEmail, password: 'wrong 3' })).statusCode, 401);
    const refused = await onB.post('/login', { email: adminEmail, password: testPassword });
    t.equal(refused.statusCode, 429, 'the fourth attempt, on B, is held back by the three failures made on A and B');
  });

  t.test('a server deleted on one while the other edits it: the edit gets a clear message, not a 500', async (t) => {
    // The test above left the first administrator throttled: another one signs in from here on.
    const { systemActor } = await import('../src/audit/repository.js');
    await repositories.users.createUser({ email: 'second@relais.test', displayName: 'Second', role: 'admin', password: testPassword }, systemActor);
    const onA = new HttpClient(a.url);
    await signIn(onA, 'second@relais.test');
    const onB = new HttpClient(b.url);
    await signIn(onB, 'second@relais.test');
    await onA.post('/smtp-servers', { ...validServer, title: 'Supprimé pendant la modification' });
    const [server] = (await repositories.smtpServers.listServers({ q: 'Supprimé pendant' })).rows;
    t.ok(server, 'created');
    const form = await onB.get(`/smtp-servers/${server!.id}/edit`);
    t.equal(form.statusCode, 200, 'B opened the form');
    t.equal((await onA.post(`/smtp-servers/${server!.id}/delete`, {})).statusCode, 303, 'A deleted it');
    const edit = await onB.post(`/smtp-servers/${server!.id}`, { ...validServer, title: 'Modifié sur B' });
    t.equal(edit.statusCode, 404);
    t.match(text(edit.body), 'Ce serveur a été supprimé pendant que vous le modifiiez : vos modifications n’ont pas été enregistrées.');
    t.equal((await repositories.smtpServers.listServers({ q: 'Modifié sur B' })).total, 0, 'nothing came back');
  });

  t.test('kill -9 of one in the middle of a burst of creates loses no acknowledged row', async (t) => {
    const onB = new HttpClient(b.url);
    await signIn(onB, 'second@relais.test');
    const acknowledged: string[] = [];
    const otherAnswers: number[] = [];
    let sent = 0;
    const worker = async () => {
      for (;;) {
        const title = `Rafale ${String(++sent).padStart(3, '0')}`;
        const res = await onB.post('/smtp-servers', { ...validServer, title }).catch(() => null);
        if (!res) return;
        if (res.statusCode === 303) acknowledged.push(title);
        else otherAnswers.push(res.statusCode);
      }
    };
    const workers = Array.from({ length: 4 }, worker);
    while (acknowledged.length < 20) await new Promise((resolve) => setTimeout(resolve, 20));
    b.child.kill('SIGKILL');
    await Promise.all(workers);
    await b.exited;
    t.ok(acknowledged.length >= 20, `${acknowledged.length} creates answered 303 before the kill`);
    t.same(otherAnswers, [], 'every create answered before the kill was a 303 (four at once used to deadlock on PostgreSQL)');
    const stored = new Set((await repositories.smtpServers.listServers({ q: 'Rafale', perPage: 1000 })).rows.map((row) => row.title));
    t.same(acknowledged.filter((title) => !stored.has(title)), [], 'every 303 answered has its row');
    // The other instance serves on.
    const onA = new HttpClient(a.url);
    await signIn(onA, 'second@relais.test');
    t.equal((await onA.get('/smtp-servers')).statusCode, 200, 'A still serves');
  });
});
