import t, { type Test } from 'tap';
import { parse } from 'csv-parse/sync';
import { systemActor } from '../src/audit/repository.js';
import type { Diagnosis, ProbeReport } from '../src/smtp/report.js';
import { adminClient, buildTestApp, seedServers, text } from './helper.js';

const rowTitles = (html: string) => [...html.matchAll(/<th id=t\d+>(?:<a [^>]*>)?([^<]*)</g)].map((m) => m[1]!).sort();

/** Six servers in every state the filters tell apart, each reached through the repositories the app uses. */
async function sixStates(t: Test) {
  const app = await buildTestApp(t);
  const servers = await seedServers(app, 6, (i) => ({
    title: ['Jamais', 'Attente', 'Expiré', 'Confirmé', 'Échec', 'Testé'][i - 1]!,
    security: ['starttls', 'tls', 'none', 'starttls', 'tls', 'starttls'][i - 1]!,
    port: ['587', '465', '25', '587', '465', '2525'][i - 1]!,
  }));
  const [, waiting, expired, confirmed, failed, tested] = servers.map((s) => s.id);
  const confirmations = app.repositories.confirmations;
  const now = new Date();
  const send = async (id: number, at: Date) => {
    const issued = await confirmations.issue(id, { ttlHours: 48, now: at });
    if (issued.kind !== 'issued') throw new Error('not issued');
    await confirmations.recordSent(id, issued.tokenId, { sentAt: at, expiresAt: issued.expiresAt, summary: 'envoyé' }, systemActor);
    return issued;
  };
  await send(waiting!, now);
  await send(expired!, new Date(now.getTime() - 72 * 3600_000));
  const proof = await send(confirmed!, now);
  await confirmations.confirm(proof.token, systemActor);
  const lost = await confirmations.issue(failed!, { ttlHours: 48, now });
  if (lost.kind !== 'issued') throw new Error('not issued');
  const diagnosis = { kind: 'refused', key: 'diagnosis.refused', params: {} } as unknown as Diagnosis;
  await confirmations.recordFailed(failed!, lost.tokenId, { at: now, diagnosis, summary: 'échec' }, systemActor);
  const report = (ok: boolean) => ({ version: 1, ok, startedAt: now.toISOString(), totalMs: 5, target: { host: 'smtp.exemple.fr', port: 587 }, steps: [], diagnosis: null }) as unknown as ProbeReport;
  const testedServer = await app.repositories.smtpServers.findServer(tested!);
  await app.repositories.connectionTests.recordServerTest(tested!, 'Testé', report(true), systemActor, testedServer!.version);
  const failedServer = await app.repositories.smtpServers.findServer(failed!);
  await app.repositories.connectionTests.recordServerTest(failed!, 'Échec', report(false), systemActor, failedServer!.version);
  return { app, client: await adminClient(app) };
}

t.test('status filters: confirmation, last test and security, alone or with the search, kept in every link', async (t) => {
  const { client } = await sixStates(t);
  const titles = async (query: string) => rowTitles((await client.get(`/smtp-servers?${query}`)).body);

  t.same(await titles('confirmation=unconfirmed'), ['Expiré', 'Jamais', 'Testé'], 'non confirmé: never sent, or its link expired');
  t.same(await titles('confirmation=pending'), ['Attente'], 'en attente: a link still valid');
  t.same(await titles('confirmation=confirmed'), ['Confirmé']);
  t.same(await titles('confirmation=failed'), ['Échec']);
  t.same(await titles('test=ok'), ['Testé'], 'last test passed');
  t.same(await titles('test=failed'), ['Échec'], 'last test failed');
  t.same(await titles('test=never'), ['Attente', 'Confirmé', 'Expiré', 'Jamais'], 'never tested');
  t.same(await titles('security=tls'), ['Attente', 'Échec']);
  t.same(await titles('security=starttls&confirmation=unconfirmed'), ['Jamais', 'Testé'], 'filters combine');
  t.same(await titles('security=starttls&q=test'), ['Testé'], 'and combine with the search');
  t.same(await titles('security=bogus&confirmation=%3Cscript%3E'), ['Attente', 'Confirmé', 'Expiré', 'Jamais', 'Testé', 'Échec'].sort(), 'an unknown value filters nothing');

  const page = await client.get('/smtp-servers?security=starttls&test=never&q=a');
  t.equal(page.statusCode, 200);
  t.match(page.body, /<select name="security"[^>]*>[\s\S]*?<option value="starttls" selected>/, 'the form shows the filter in force');
  t.match(page.body, /<select name="test"[^>]*>[\s\S]*?<option value="never" selected>/);
  t.match(page.body, /href="\/smtp-servers\/export\.csv\?q=a&amp;test=never&amp;security=starttls"/, 'the exports carry the filters');
  t.match(page.body, /href="\/smtp-servers\?q=a&amp;test=never&amp;security=starttls&amp;sort=title&amp;dir=desc"/, 'so do the sort links');
  t.match(page.body, /<form class="per-page"[\s\S]*?name="test" value="never"[\s\S]*?name="security" value="starttls"/, 'and the page size form');

  const none = await client.get('/smtp-servers?confirmation=confirmed&security=none');
  t.match(text(none.body), 'Aucun serveur ne correspond à ces filtres.');
  const english = await client.get('/smtp-servers?confirmation=confirmed&security=none', { 'accept-language': 'en' });
  t.match(text(english.body), 'No server matches these filters.');
  t.match(text(english.body), 'Never tested');
});

t.test('search words that name a port, a security or a confirmation status find what they say', async (t) => {
  const { client } = await sixStates(t);
  const search = async (q: string) => rowTitles((await client.get(`/smtp-servers?q=${encodeURIComponent(q)}`)).body);

  t.same(await search('starttls'), ['Confirmé', 'Jamais', 'Testé'], 'starttls: the servers secured by STARTTLS');
  t.same(await search('SSL/TLS'), ['Attente', 'Échec']);
  t.same(await search('465'), ['Attente', 'Échec'], 'a number: the servers on that port');
  t.same(await search('2525'), ['Testé']);
  t.same(await search('non confirmé'), ['Expiré', 'Jamais', 'Testé'], 'non confirmé: the phrase, not "confirmé"');
  t.same(await search('Non Confirme'), ['Expiré', 'Jamais', 'Testé'], 'whatever the case and accents');
  t.same(await search('confirmé'), ['Confirmé'], 'confirmé alone');
  t.same(await search('en attente'), ['Attente']);
  t.same(await search('starttls non confirmé'), ['Jamais', 'Testé'], 'every word must still match');
  t.same(await search('465 attente'), ['Attente'], 'with the text of the row');
  t.same(await search('99999'), [], 'not a port: only text');
});

t.test('the exports honour the filters and the search words, and the audit says which', async (t) => {
  const { app, client } = await sixStates(t);
  const csv = await client.get('/smtp-servers/export.csv?confirmation=unconfirmed&security=starttls&sep=comma');
  t.equal(csv.statusCode, 200);
  const rows = parse(csv.body.replace(/^\uFEFF/, ''), { columns: true }) as Record<string, string>[];
  t.same(rows.map((row) => row.Titre).sort(), ['Jamais', 'Testé'], 'the rows the list shows with these filters');

  const words = await client.get('/smtp-servers/export.csv?q=465&sep=comma');
  const byPort = parse(words.body.replace(/^\uFEFF/, ''), { columns: true }) as Record<string, string>[];
  t.same(byPort.map((row) => row.Titre).sort(), ['Attente', 'Échec'], 'a port searched for, exported');

  await t.resolves(async () => {
    for (let i = 0; i < 50; i++) {
      const entries = await app.repositories.audit.list({ action: 'server.export' });
      if (entries.rows.length >= 2) return;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  });
  const entries = await app.repositories.audit.list({ action: 'server.export' });
  t.ok(
    entries.rows.some((entry) => entry.summary === 'CSV, 2 lignes, filtres confirmation=unconfirmed security=starttls'),
    'the audit entry names the filters',
  );
});

t.test('fifty rows of the list weigh at most 40 KB of HTML, with the longest values the benchmark uses', async (t) => {
  const app = await buildTestApp(t);
  await seedServers(app, 50, (i) => ({
    title: `Serveur Général Bordeaux ${1000 + i}`,
    host: `smtp${i}.infomaniak.com`,
    email: `contact.${1000 + i}@infomaniak.com`,
    username: `contact.${1000 + i}@infomaniak.com`,
    senderName: 'Noël Laurent',
    usage: 'default',
  }));
  const client = await adminClient(app);
  const page = await client.get('/smtp-servers?per=50');
  const body = /<tbody>[\s\S]*<\/tbody>/.exec(page.body)![0];
  t.equal((body.match(/<tr /g) ?? []).length, 50);
  t.ok(Buffer.byteLength(body) <= 40 * 1024, `the 50 rows: ${Buffer.byteLength(body)} bytes`);
  t.equal((page.body.match(/name="_csrf"/g) ?? []).length, 3, 'one CSRF field for every row action (besides sign-out and the column menu)');
  t.equal((body.match(/Dupliquer/g) ?? []).length, 0, 'the actions’ labels are not repeated in the rows…');
  t.match(page.body, /<span id="ac">Dupliquer<\/span>/, '…but said once, in the legend under the table');
  t.match(body, 'Tous les services', 'the usage says in words what default means');
});
