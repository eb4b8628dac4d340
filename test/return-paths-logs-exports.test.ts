import { PassThrough } from 'node:stream';
import t from 'tap';
import { listReturnPath } from '../src/web/return-path.js';
import { adminClient, buildTestApp, seedServers, text, viewerClient } from './helper.js';
import { serverThrough, startSmtpPeer } from './smtp-peer.js';

t.test('back= on the confirmation: CR, LF, NUL, non-ASCII and external values fall back to the list, after the mail has gone', async (t) => {
  const peer = await startSmtpPeer(t, { disabledCommands: ['STARTTLS'] });
  const app = await buildTestApp(t);
  const admin = await adminClient(app);
  const id = await serverThrough(admin, peer);
  const hostile = ['%2Fsmtp-servers%0D%0ASet-Cookie%3A%20x%3D1', '%2Fsmtp-servers%3Fq%3D%00', '%2Fsmtp-servers%3Fq%3D%C3%A9', 'https%3A%2F%2Fevil.example%2Fsmtp-servers'];
  for (const back of hostile) {
    const res = await admin.postRaw(`/smtp-servers/${id}/confirmation`, `back=${back}`);
    t.equal(res.statusCode, 303, `${back}: no 500`);
    t.equal(res.headers.location, '/smtp-servers', `${back}: back to the list`);
    t.notOk(res.headers['set-cookie']?.toString().includes('x=1'), 'no header was injected');
  }
  const htmx = await admin.postRaw(`/smtp-servers/${id}/confirmation`, `back=${hostile[0]}`, { 'hx-request': 'true' });
  t.equal(htmx.statusCode, 200);
  t.equal(htmx.headers['hx-redirect'], '/smtp-servers', 'htmx is sent to the list too');
  t.equal(peer.messages.length, 5, 'every mail left once');
  t.equal(listReturnPath('/smtp-servers?q=vente&sort=title'), '/smtp-servers?q=vente&sort=title', 'the list with its state is kept');
  t.equal(listReturnPath('//evil.example'), '/smtp-servers');
  t.equal(listReturnPath('/users'), '/smtp-servers');
  t.equal(listReturnPath(['/smtp-servers']), '/smtp-servers');
});

t.test('confirmation and setup tokens never reach the request log', async (t) => {
  const lines: string[] = [];
  const stream = new PassThrough();
  stream.on('data', (chunk: Buffer) => lines.push(...chunk.toString().split('\n').filter(Boolean)));
  const app = await buildTestApp(t, { LOG_LEVEL: 'info' }, { logStream: stream });
  const [server] = await seedServers(app, 1);
  const issued = await app.repositories.confirmations.issue(server!.id, { ttlHours: 1 });
  if (issued.kind !== 'issued') throw new Error('no token');
  const page = await app.inject({ method: 'GET', url: `/confirm/${issued.token}` });
  t.equal(page.statusCode, 200);
  await app.inject({ method: 'GET', url: `/confirm/${issued.token}?utm=x` });
  await app.inject({ method: 'GET', url: '/setup/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA' });
  await app.inject({ method: 'GET', url: '/smtp-servers?q=vente' });
  const log = lines.join('\n');
  t.notMatch(log, issued.token, 'the token is not in the log');
  t.notMatch(log, 'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA');
  t.match(log, '"url":"/confirm/[redacted]"');
  t.match(log, '"url":"/confirm/[redacted]?utm=x"');
  t.match(log, '"url":"/setup/[redacted]"');
  t.match(log, '"url":"/smtp-servers?q=vente"', 'other URLs are logged as they are');
});

t.test('HEAD on an export answers the headers alone and writes no audit entry', async (t) => {
  const app = await buildTestApp(t);
  await seedServers(app, 3);
  const viewer = await viewerClient(app);
  const exports = async () => (await app.repositories.audit.list({})).rows.filter((row) => row.action === 'server.export').length;
  for (const format of ['csv', 'xlsx', 'pdf']) {
    const res = await app.inject({ method: 'HEAD', url: `/smtp-servers/export.${format}`, headers: { cookie: [...viewer.cookies].map(([k, v]) => `${k}=${v}`).join('; ') } });
    t.equal(res.statusCode, 200, `HEAD ${format}`);
    t.match(res.headers['content-disposition'], /^attachment; filename=".+\.(csv|xlsx|pdf)"$/);
    t.equal(res.body, '', 'no body');
  }
  t.equal(await exports(), 0, 'nothing was exported, nothing audited');
  const sent = await viewer.get('/smtp-servers/export.csv');
  t.equal(sent.statusCode, 200);
  t.match(sent.body, 'Serveur 003');
  await new Promise((resolve) => setTimeout(resolve, 50));
  t.equal(await exports(), 1, 'the export actually sent is audited');
});

t.test('the confirmation throttle counts per recipient address: duplicating a server does not multiply the mails', async (t) => {
  const peer = await startSmtpPeer(t, { disabledCommands: ['STARTTLS'] });
  const app = await buildTestApp(t);
  const admin = await adminClient(app);
  const id = await serverThrough(admin, peer);
  // Copies made from the new-server form, password left blank: the source's comes along (same server).
  const copies = [
    await serverThrough(admin, peer, { title: 'Copie 1', duplicateOf: String(id), password: '' }),
    await serverThrough(admin, peer, { title: 'Copie 2', duplicateOf: String(id), password: '' }),
  ];
  for (let i = 1; i <= 3; i++) t.equal((await admin.post(`/smtp-servers/${id}/confirmation`)).statusCode, 303);
  for (let i = 1; i <= 2; i++) t.equal((await admin.post(`/smtp-servers/${copies[0]}/confirmation`)).statusCode, 303);
  const sixth = await admin.post(`/smtp-servers/${copies[1]}/confirmation`);
  t.equal(sixth.statusCode, 429, 'a third copy may not send a sixth mail to the same address');
  t.match(
    text(sixth.body),
    /Au plus 5 messages de confirmation par heure vers une même adresse, quel que soit le serveur\. ventes@exemple\.fr pourra en recevoir un autre à partir du \d\d\/\d\d\/\d{4} \d\d:\d\d\. Rien n’a été envoyé\./,
  );
  t.equal(peer.messages.length, 5, 'the address received five mails, not more');
  t.equal(await app.repositories.confirmations.recentSends(copies[1]!), 0, 'no link was issued for the refused send');

  const other = await serverThrough(admin, peer, { title: 'Achats', email: 'ACHATS@exemple.fr' });
  t.equal((await admin.post(`/smtp-servers/${other}/confirmation`)).statusCode, 303, 'another address has its own allowance');
});
