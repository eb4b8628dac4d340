import t from 'tap';
import { adminClient, buildTestApp, text } from './helper.js';
import { acceptEverything, formFor, serverThrough, startRawService, type SmtpPeer } from './smtp-peer.js';

// What a service says is repeated by Relais only as parsed, bounded SMTP, whichever path dialled it: the
// connection test (its own SMTP client) and the confirmation (nodemailer) go through src/smtp/reply.ts.
const secret = 'FAKESECRET-hunter2-0123456789abcdef';
const noAuth = { authentication: 'none', username: '', password: '' };
const count = (haystack: string, needle: string) => haystack.split(needle).length - 1;

// Each secret lies past what may be shown: 60 characters of a non-SMTP reply, 200 of an SMTP line, its first line.
const pad = 'x'.repeat(70);
const services = [
  ['an SSH banner holding 300 secrets', `SSH-2.0-OpenSSH_9.2p1 ${pad} ${Array.from({ length: 300 }, (_, i) => `${secret}-${i}`).join(' ')}\r\n`, undefined],
  ['SMTP-style continuation lines of an unknown code', `999-first\r\n999-${secret}-b\r\n999-${secret}-c\r\n999 end\r\n`, undefined],
  ['a fake 220, then garbage for EHLO', '220 fake.relais.test ESMTP\r\n', () => `garbage ${pad} ${secret}\r\n`],
  ['three digits without a separator', `123${pad}${secret} ${secret}\r\n`, undefined],
  ['a secret on a later line', `SSH-2.0-OpenSSH_9.2p1\r\nAPI_KEY=${secret}\r\n`, undefined],
  ['an HTTP answer', `HTTP/1.1 400 Bad Request\r\nX-Token: ${secret}\r\n\r\n`, undefined],
  ['a multi-line greeting', `220-hello\r\n220-${secret}\r\n220 end\r\n`, () => `garbage ${pad} ${secret}\r\n`],
  ['a refused greeting with a long tail', `554 ${'z'.repeat(300)} ${secret}\r\n`, undefined],
] as const;

for (const [name, hello, answer] of services) {
  t.test(`${name}: the test, the confirmation, the list, the flash and the export repeat no secret`, async (t) => {
    const service = await startRawService(t, hello, answer ? { answer } : {});
    const app = await buildTestApp(t);
    const admin = await adminClient(app);
    const typed = await admin.post('/smtp-servers/new/test', formFor({ port: service.port } as SmtpPeer, noAuth));
    const id = await serverThrough(admin, { port: service.port } as SmtpPeer, noAuth);
    await admin.post(`/smtp-servers/${id}/test`);
    const saved = await admin.get(`/smtp-servers/${id}/test`);
    const sent = await admin.post(`/smtp-servers/${id}/confirmation`);
    t.equal(sent.statusCode, 303);
    const withFlash = await admin.get(String(sent.headers.location));
    const server = await app.repositories.smtpServers.findServer(id);
    t.equal(server?.confirmationStatus, 'failed');
    const stored = server?.confirmationError ?? '';
    t.ok(stored.length < 1000, `the stored failure is short (${stored.length} characters)`);
    const exported = await admin.get('/smtp-servers/export.csv');
    const audit = JSON.stringify(await app.repositories.audit.list({ perPage: 500 }));
    const places = { typed: typed.body, savedTest: saved.body, stored, flashAndList: withFlash.body, export: exported.body, audit };
    for (const [place, content] of Object.entries(places)) t.equal(count(content, secret), 0, `no secret in ${place}`);
  });
}

t.test('a non-SMTP greeting on the confirmation: « ce service ne parle pas SMTP » with at most 60 printable characters', async (t) => {
  const service = await startRawService(t, `SSH-2.0-OpenSSH_9.2p1 ${Array.from({ length: 300 }, (_, i) => `${secret}-${i}`).join(' ')} TAIL\r\n`);
  const app = await buildTestApp(t);
  const admin = await adminClient(app);
  const id = await serverThrough(admin, { port: service.port } as SmtpPeer, noAuth);
  const sent = await admin.post(`/smtp-servers/${id}/confirmation`);
  const stored = JSON.parse((await app.repositories.smtpServers.findServer(id))!.confirmationError!) as { key: string; params: { sample: string } };
  t.equal(stored.key, 'diagnosis.notSmtp');
  t.ok(stored.params.sample.startsWith('SSH-2.0-OpenSSH_9.2p1') && [...stored.params.sample].length <= 60, stored.params.sample);
  const raw = (await app.repositories.smtpServers.findServer(id))!.confirmationError!;
  t.ok(raw.length < 1000 && count(raw, secret) === 1, `the 21,000 characters said are not kept (${raw.length} stored)`);
  const page = text((await admin.get(String(sent.headers.location))).body);
  t.match(page, `ce service ne parle pas SMTP (il commence par « ${stored.params.sample} »)`);
  t.equal(count(page, secret), 2, 'the flash and the list row show the sample, nothing more');
  t.notMatch(page, 'TAIL');
});

t.test('a refused greeting on the confirmation is diagnosed as by the test, with its first line only', async (t) => {
  const service = await startRawService(t, `554-no entry for you\r\n554-${secret}\r\n554 bye\r\n`);
  const app = await buildTestApp(t);
  const admin = await adminClient(app);
  const id = await serverThrough(admin, { port: service.port } as SmtpPeer, noAuth);
  await admin.post(`/smtp-servers/${id}/confirmation`);
  const stored = JSON.parse((await app.repositories.smtpServers.findServer(id))!.confirmationError!) as { key: string; reply: string };
  t.equal(stored.key, 'diagnosis.greetingRefused');
  t.equal(stored.reply, '554-no entry for you (+2)');
});

t.test('three digits without a separator are not SMTP in the connection test; a bare code is', async (t) => {
  const fake = await startRawService(t, `123${secret}\r\n`);
  const app = await buildTestApp(t);
  const admin = await adminClient(app);
  const res = await admin.post('/smtp-servers/new/test', formFor({ port: fake.port } as SmtpPeer, noAuth));
  t.match(text(res.body), 'ce service ne parle pas SMTP (il commence par « 123FAKESECRET-hunter2-0123456789abcdef »)');

  const bare = await startRawService(t, '220\r\n', { answer: acceptEverything });
  const ok = await admin.post('/smtp-servers/new/test', formFor({ port: bare.port } as SmtpPeer, noAuth));
  t.notMatch(text(ok.body), 'ne parle pas SMTP', 'a greeting of its code alone is SMTP');
});

t.test('a failure stored before replies were bounded is bounded when shown', async (t) => {
  const service = await startRawService(t, '220 ok\r\n', { answer: acceptEverything });
  const app = await buildTestApp(t);
  const admin = await adminClient(app);
  const id = await serverThrough(admin, { port: service.port } as SmtpPeer, noAuth);
  const issued = await app.repositories.confirmations.issue(id, { ttlHours: 1 });
  if (issued.kind !== 'issued') throw new Error(issued.kind);
  const banner = `SSH-2.0-OpenSSH_9.2p1 ${Array.from({ length: 300 }, (_, i) => `${secret}-${i}`).join(' ')}`;
  const diagnosis = { kind: 'unknown', key: 'diagnosis.unknown', params: { host: '127.0.0.1', port: service.port, detail: `Invalid greeting. response=${banner}: ${banner}` }, reply: banner } as const;
  await app.repositories.confirmations.recordFailed(id, issued.tokenId, { at: new Date(), diagnosis, summary: 'old row' }, { userId: null, name: 'test', ip: '127.0.0.1' });
  t.ok((await app.repositories.smtpServers.findServer(id))!.confirmationError!.length > 20_000, 'the old row holds the whole banner');
  const list = text((await admin.get('/smtp-servers')).body);
  t.match(list, 'Échec inattendu : Invalid greeting. response=SSH-2.0-OpenSSH_9.2p1');
  t.ok(count(list, secret) <= 6, `the list shows at most 200 characters of it (${count(list, secret)} copies)`);
  const exported = (await admin.get('/smtp-servers/export.csv')).body;
  t.ok(count(exported, secret) <= 6, `so does the export (${count(exported, secret)} copies)`);
});
