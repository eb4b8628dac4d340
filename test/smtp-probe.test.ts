import nodemailer from 'nodemailer';
import t from 'tap';
import { loadConfig } from '../src/config.js';
import { diagnose, factsFromError } from '../src/smtp/diagnosis.js';
import { smtpSettingsFrom, transportOptionsFor, type SmtpEndpoint, type SmtpSettings } from '../src/smtp/endpoint.js';
import { probeServer } from '../src/smtp/probe.js';
import { parseReport, type ProbeReport } from '../src/smtp/report.js';
import { translator } from '../src/i18n/index.js';
import { destinationPolicyOf, refusalOf } from '../src/smtp/destination.js';
import { acceptEverything, closedPort, peerUser, startRawService, startSilentPeer, startSmtpPeer } from './smtp-peer.js';
import { testSmtpEnv } from './helper.js';
import { tlsFixtures } from './tls-fixtures.js';

const tls = tlsFixtures();
const fr = translator('fr');

function settings(env: Record<string, string> = {}): SmtpSettings {
  return smtpSettingsFrom(
    loadConfig({ RELAIS_SMTP_CONNECT_TIMEOUT_MS: '2000', RELAIS_SMTP_GREETING_TIMEOUT_MS: '2000', ...testSmtpEnv, ...env }),
  );
}

function endpoint(port: number, overrides: Partial<SmtpEndpoint> = {}): SmtpEndpoint {
  return {
    host: '127.0.0.1',
    port,
    security: 'none',
    authentication: 'password',
    email: 'ventes@exemple.fr',
    username: peerUser.username,
    verifyCertificate: true,
    ...overrides,
  };
}

const stepsOf = (report: ProbeReport) => report.steps.map((s) => `${s.name}:${s.outcome}`);

/** The real send (nodemailer) against the same server: its failure must lead to the same diagnosis. */
async function sendDiagnosis(target: SmtpEndpoint, password: string | null, s: SmtpSettings) {
  const transport = nodemailer.createTransport(transportOptionsFor(target, password, s));
  try {
    await transport.sendMail({ from: target.email, to: target.email, subject: 'x', text: 'x' });
    return null;
  } catch (err) {
    return diagnose(factsFromError(err), { endpoint: target, connectTimeoutMs: s.connectTimeoutMs, greetingTimeoutMs: s.greetingTimeoutMs });
  } finally {
    transport.close();
  }
}

t.test('plain port with AUTH PLAIN: every step of the real path passes, and nothing is sent', async (t) => {
  const peer = await startSmtpPeer(t, { disabledCommands: ['STARTTLS'] });
  const report = await probeServer(endpoint(peer.port), peerUser.password, settings());
  t.equal(report.ok, true);
  t.equal(report.diagnosis, null);
  t.same(stepsOf(report), ['connect:ok', 'greeting:ok', 'ehlo:ok', 'auth:ok', 'mailFrom:ok', 'rcptTo:ok', 'rset:ok', 'quit:ok']);
  t.match(report.banner, /Relais test peer/);
  t.same(report.capabilities?.auth, ['PLAIN', 'LOGIN']);
  t.equal(report.capabilities?.size, 10 * 1024 * 1024);
  t.equal(report.capabilities?.starttls, false);
  const auth = report.steps.find((s) => s.name === 'auth')!;
  t.equal(auth.sent, 'AUTH PLAIN', 'the step shows the mechanism…');
  t.notMatch(JSON.stringify(report), peerUser.password, '…and the password appears nowhere in the report');
  t.notMatch(JSON.stringify(report), Buffer.from(`\u0000${peerUser.username}\u0000${peerUser.password}`).toString('base64'));
  t.equal(report.steps.find((s) => s.name === 'mailFrom')!.sent, 'MAIL FROM:<ventes@exemple.fr>');
  t.equal(report.steps.find((s) => s.name === 'rcptTo')!.sent, 'RCPT TO:<ventes@exemple.fr>');
  t.ok(report.steps.every((s) => typeof s.durationMs === 'number' && s.durationMs >= 0), 'each step is timed');
  t.equal(peer.messages.length, 0, 'the test stops before DATA');
  t.equal(peer.authAttempts, 1);
});

t.test('AUTH LOGIN when it is the only mechanism offered', async (t) => {
  const peer = await startSmtpPeer(t, { disabledCommands: ['STARTTLS'], authMethods: ['LOGIN'] });
  const report = await probeServer(endpoint(peer.port), peerUser.password, settings());
  t.equal(report.ok, true);
  t.equal(report.steps.find((s) => s.name === 'auth')!.sent, 'AUTH LOGIN');
  t.same(report.capabilities?.auth, ['LOGIN']);
});

t.test('a wrong password is diagnosed as refused credentials, by the test and by the real send', async (t) => {
  const peer = await startSmtpPeer(t, { disabledCommands: ['STARTTLS'] });
  const s = settings();
  const report = await probeServer(endpoint(peer.port), 'wrong password', s);
  t.equal(report.ok, false);
  t.same(stepsOf(report), ['connect:ok', 'greeting:ok', 'ehlo:ok', 'auth:failed']);
  t.equal(report.diagnosis?.kind, 'authFailed');
  t.match(report.diagnosis?.reply, /^535/);
  t.match(fr(report.diagnosis!.key, report.diagnosis!.params), 'Identifiants refusés : le serveur n’accepte pas l’utilisateur « ventes@exemple.fr »');
  t.equal((await sendDiagnosis(endpoint(peer.port), 'wrong password', s))?.kind, 'authFailed');
});

t.test('a closed port: connection refused', async (t) => {
  const port = await closedPort();
  const report = await probeServer(endpoint(port), peerUser.password, settings());
  t.same(stepsOf(report), ['connect:failed']);
  t.equal(report.diagnosis?.kind, 'connectionRefused');
  t.match(fr(report.diagnosis!.key, report.diagnosis!.params), `Connexion refusée par 127.0.0.1 sur le port ${port}`);
  t.equal((await sendDiagnosis(endpoint(port), peerUser.password, settings()))?.kind, 'connectionRefused');
});

t.test('a port that accepts and never answers: greeting time-out, and no TLS there either', async (t) => {
  const port = await startSilentPeer(t);
  const s = settings({ RELAIS_SMTP_CONNECT_TIMEOUT_MS: '400', RELAIS_SMTP_GREETING_TIMEOUT_MS: '300' });
  const report = await probeServer(endpoint(port, { security: 'starttls' }), peerUser.password, s);
  t.same(stepsOf(report), ['connect:ok', 'greeting:failed', 'tlsDetect:skipped']);
  t.equal(report.diagnosis?.kind, 'greetingTimeout');
  t.match(fr(report.diagnosis!.key, report.diagnosis!.params), 'a accepté la connexion mais n’a rien dit en 0.3 s');
  const silentTls = await probeServer(endpoint(port, { security: 'tls' }), peerUser.password, s);
  t.same(stepsOf(silentTls), ['connect:ok', 'tls:failed']);
  t.equal(silentTls.diagnosis?.kind, 'timeout');
  t.equal((await sendDiagnosis(endpoint(port, { security: 'starttls' }), peerUser.password, s))?.kind, 'greetingTimeout');
});

t.test('an unknown host name', async (t) => {
  const report = await probeServer(endpoint(25, { host: 'no-such-host.invalid' }), null, settings());
  t.same(stepsOf(report), ['dns:failed']);
  t.equal(report.diagnosis?.kind, 'hostNotFound');
  t.match(fr(report.diagnosis!.key, report.diagnosis!.params), 'L’hôte « no-such-host.invalid » est introuvable');
});

t.test('STARTTLS with a certificate from a private CA', async (t) => {
  const peer = await startSmtpPeer(t, { key: tls.server.key, cert: tls.server.cert });
  const starttls = endpoint(peer.port, { security: 'starttls' });

  const refused = await probeServer(starttls, peerUser.password, settings());
  t.same(stepsOf(refused), ['connect:ok', 'greeting:ok', 'ehlo:ok', 'starttls:ok', 'certificate:failed']);
  t.equal(refused.diagnosis?.kind, 'certUntrusted');
  t.match(fr(refused.diagnosis!.key, refused.diagnosis!.params), 'délivré à « mail.relais.test » par « CN=Relais Test CA »');
  t.equal(peer.authAttempts, 0, 'no credentials go to a server whose certificate is refused');
  t.equal((await sendDiagnosis(starttls, peerUser.password, settings()))?.kind, 'certUntrusted');

  const trusted = await probeServer(starttls, peerUser.password, settings({ RELAIS_SMTP_CA_FILE: tls.caFile }));
  t.equal(trusted.ok, true, 'accepted once its CA is configured');
  t.same(stepsOf(trusted), ['connect:ok', 'greeting:ok', 'ehlo:ok', 'starttls:ok', 'certificate:ok', 'ehloAfterTls:ok', 'auth:ok', 'mailFrom:ok', 'rcptTo:ok', 'rset:ok', 'quit:ok']);
  t.equal(trusted.capabilities?.starttls, false, 'the capabilities are those announced after STARTTLS');
  t.match(trusted.tls, {
    protocol: /^TLSv1\.[23]$/,
    cipher: /\w/,
    subjectName: 'mail.relais.test',
    subject: 'CN=mail.relais.test',
    issuer: 'CN=Relais Test CA',
    altNames: ['mail.relais.test', 'localhost', '127.0.0.1'],
    authorized: true,
  });
  t.ok(trusted.tls!.validTo! > '2100', 'the expiry date is read from the certificate');
  t.equal((await sendDiagnosis(starttls, peerUser.password, settings({ RELAIS_SMTP_CA_FILE: tls.caFile }))), null, 'the real send passes too');

  const unchecked = await probeServer({ ...starttls, verifyCertificate: false }, peerUser.password, settings());
  t.equal(unchecked.ok, true, 'accepted when the check is off');
  const certificate = unchecked.steps.find((s) => s.name === 'certificate')!;
  t.equal(certificate.outcome, 'warning');
  t.match(fr(certificate.note!.key, certificate.note!.params), 'accepté car la vérification est désactivée');
});

t.test('implicit TLS with a self-signed certificate', async (t) => {
  const peer = await startSmtpPeer(t, { secure: true, key: tls.selfSigned.key, cert: tls.selfSigned.cert });
  const implicit = endpoint(peer.port, { security: 'tls' });

  const refused = await probeServer(implicit, peerUser.password, settings());
  t.same(stepsOf(refused), ['connect:ok', 'tls:ok', 'certificate:failed']);
  t.equal(refused.diagnosis?.kind, 'certSelfSigned');
  t.match(fr(refused.diagnosis!.key, refused.diagnosis!.params), 'auto-signé (délivré à « self.relais.test »)');
  t.equal((await sendDiagnosis(implicit, peerUser.password, settings()))?.kind, 'certSelfSigned');

  const unchecked = await probeServer({ ...implicit, verifyCertificate: false }, peerUser.password, settings());
  t.equal(unchecked.ok, true);
  t.same(stepsOf(unchecked), ['connect:ok', 'tls:ok', 'certificate:warning', 'greeting:ok', 'ehlo:ok', 'auth:ok', 'mailFrom:ok', 'rcptTo:ok', 'rset:ok', 'quit:ok']);
  t.equal(unchecked.tls?.authorizationError, 'DEPTH_ZERO_SELF_SIGNED_CERT');

  const trusted = await probeServer(implicit, peerUser.password, settings({ RELAIS_SMTP_CA_FILE: tls.selfSigned.certFile }));
  t.equal(trusted.ok, true, 'a self-signed certificate configured as a CA is trusted');
});

t.test('implicit TLS with a CA-signed certificate, trusted through RELAIS_SMTP_CA_FILE', async (t) => {
  const peer = await startSmtpPeer(t, { secure: true, key: tls.server.key, cert: tls.server.cert });
  const report = await probeServer(endpoint(peer.port, { security: 'tls' }), peerUser.password, settings({ RELAIS_SMTP_CA_FILE: tls.caFile }));
  t.equal(report.ok, true);
  t.equal(report.tls?.subjectName, 'mail.relais.test');
});

t.test('a certificate for another name, and an expired one', async (t) => {
  const other = await startSmtpPeer(t, { secure: true, key: tls.otherName.key, cert: tls.otherName.cert });
  const s = settings({ RELAIS_SMTP_CA_FILE: tls.caFile });
  const mismatch = await probeServer(endpoint(other.port, { security: 'tls' }), peerUser.password, s);
  t.equal(mismatch.diagnosis?.kind, 'certNameMismatch');
  t.match(fr(mismatch.diagnosis!.key, mismatch.diagnosis!.params), 'délivré à « other.relais.test », pas à « 127.0.0.1 »');

  const expired = await startSmtpPeer(t, { secure: true, key: tls.expired.key, cert: tls.expired.cert });
  const old = await probeServer(endpoint(expired.port, { security: 'tls' }), peerUser.password, s);
  t.equal(old.diagnosis?.kind, 'certExpired');
  t.match(fr(old.diagnosis!.key, old.diagnosis!.params), /délivré à « expired\.relais\.test », a expiré le 0[23]\/01\/2020 \d\d:\d\d :/);
  t.equal((await sendDiagnosis(endpoint(expired.port, { security: 'tls' }), peerUser.password, s))?.kind, 'certExpired');
});

t.test('TLS mismatch: SSL/TLS chosen for a plain port', async (t) => {
  const peer = await startSmtpPeer(t, { disabledCommands: ['STARTTLS'] });
  const report = await probeServer(endpoint(peer.port, { security: 'tls' }), peerUser.password, settings());
  t.same(stepsOf(report), ['connect:ok', 'tls:failed']);
  t.equal(report.diagnosis?.kind, 'tlsNotSpoken');
  t.match(fr(report.diagnosis!.key, report.diagnosis!.params), 'ne parle pas SSL/TLS dès la connexion : choisissez STARTTLS');
  t.equal((await sendDiagnosis(endpoint(peer.port, { security: 'tls' }), peerUser.password, settings()))?.kind, 'tlsNotSpoken');
});

t.test('TLS mismatch: STARTTLS or none chosen for an implicit-TLS port', async (t) => {
  const peer = await startSmtpPeer(t, { secure: true, key: tls.server.key, cert: tls.server.cert });
  const s = settings({ RELAIS_SMTP_GREETING_TIMEOUT_MS: '400', RELAIS_SMTP_CA_FILE: tls.caFile });
  for (const security of ['starttls', 'none'] as const) {
    const report = await probeServer(endpoint(peer.port, { security }), peerUser.password, s);
    t.same(stepsOf(report), ['connect:ok', 'greeting:failed', 'tlsDetect:ok'], security);
    t.equal(report.diagnosis?.kind, 'tlsExpected');
    t.match(fr(report.diagnosis!.key, report.diagnosis!.params), `Le port ${peer.port} attend une connexion SSL/TLS immédiate`);
  }
  const sent = await sendDiagnosis(endpoint(peer.port, { security: 'starttls' }), peerUser.password, s);
  t.equal(sent?.kind, 'greetingTimeout');
  t.match(fr(sent!.key, sent!.params), 'Si le port');
});

t.test('the server wants STARTTLS and the form says none; STARTTLS chosen where none is offered', async (t) => {
  const peer = await startSmtpPeer(t, { key: tls.server.key, cert: tls.server.cert });
  const report = await probeServer(endpoint(peer.port, { security: 'none' }), peerUser.password, settings());
  t.same(stepsOf(report), ['connect:ok', 'greeting:ok', 'ehlo:ok', 'auth:failed']);
  t.equal(report.diagnosis?.kind, 'starttlsRequired');
  t.match(report.diagnosis?.reply, /^538/);
  t.equal((await sendDiagnosis(endpoint(peer.port, { security: 'none' }), peerUser.password, settings()))?.kind, 'starttlsRequired');

  const plain = await startSmtpPeer(t, { disabledCommands: ['STARTTLS'] });
  const missing = await probeServer(endpoint(plain.port, { security: 'starttls' }), peerUser.password, settings());
  t.same(stepsOf(missing), ['connect:ok', 'greeting:ok', 'ehlo:ok', 'starttls:failed']);
  t.equal(missing.diagnosis?.kind, 'starttlsUnavailable');
  t.equal((await sendDiagnosis(endpoint(plain.port, { security: 'starttls' }), peerUser.password, settings()))?.kind, 'starttlsUnavailable');
});

t.test('no authentication configured on a server that requires it', async (t) => {
  const peer = await startSmtpPeer(t, { disabledCommands: ['STARTTLS'] });
  const report = await probeServer(endpoint(peer.port, { authentication: 'none', username: '' }), null, settings());
  t.same(stepsOf(report), ['connect:ok', 'greeting:ok', 'ehlo:ok', 'auth:skipped', 'mailFrom:failed']);
  t.equal(report.diagnosis?.kind, 'authRequired');
  t.match(report.diagnosis?.reply, /^530/);
});

t.test('the sender refused at MAIL FROM (553), the recipient refused at RCPT TO (550)', async (t) => {
  const senderRefused = await startSmtpPeer(t, {
    disabledCommands: ['STARTTLS'],
    onMailFrom(_address, _session, callback) {
      callback(Object.assign(new Error('5.7.1 Sender address rejected: not owned by user'), { responseCode: 553 }));
    },
  });
  const report = await probeServer(endpoint(senderRefused.port), peerUser.password, settings());
  t.same(stepsOf(report), ['connect:ok', 'greeting:ok', 'ehlo:ok', 'auth:ok', 'mailFrom:failed']);
  t.equal(report.diagnosis?.kind, 'senderRefused');
  t.match(report.diagnosis?.reply, /^553 5\.7\.1 Sender address rejected/);
  t.match(fr(report.diagnosis!.key, report.diagnosis!.params), 'Le serveur refuse l’adresse d’envoi « ventes@exemple.fr » (MAIL FROM)');
  t.equal((await sendDiagnosis(endpoint(senderRefused.port), peerUser.password, settings()))?.kind, 'senderRefused');

  const recipientRefused = await startSmtpPeer(t, {
    disabledCommands: ['STARTTLS'],
    onRcptTo(_address, _session, callback) {
      callback(Object.assign(new Error('5.1.1 Mailbox unavailable'), { responseCode: 550 }));
    },
  });
  const rcpt = await probeServer(endpoint(recipientRefused.port), peerUser.password, settings());
  t.same(stepsOf(rcpt), ['connect:ok', 'greeting:ok', 'ehlo:ok', 'auth:ok', 'mailFrom:ok', 'rcptTo:failed']);
  t.equal(rcpt.diagnosis?.kind, 'recipientRefused');
  t.match(rcpt.diagnosis?.reply, /^550/);
  t.equal((await sendDiagnosis(endpoint(recipientRefused.port), peerUser.password, settings()))?.kind, 'recipientRefused');
});

t.test('the transport options follow the form', async (t) => {
  const s = settings({ RELAIS_SMTP_CA_FILE: tls.caFile });
  const tlsOptions = transportOptionsFor(endpoint(465, { security: 'tls', host: 'smtp.exemple.fr', verifyCertificate: false }), 'pw', s);
  t.match(tlsOptions, { host: 'smtp.exemple.fr', port: 465, secure: true, requireTLS: false, ignoreTLS: false, auth: { user: peerUser.username, pass: 'pw' } });
  t.match(tlsOptions.tls, { rejectUnauthorized: false, servername: 'smtp.exemple.fr' });
  t.ok(Array.isArray(tlsOptions.tls.ca) && (tlsOptions.tls.ca as string[]).length > 100, 'the system CAs are kept next to the extra one');
  t.match(transportOptionsFor(endpoint(587, { security: 'starttls' }), 'pw', settings()), { secure: false, requireTLS: true, ignoreTLS: false, connectionTimeout: 2000, greetingTimeout: 2000 });
  const none = transportOptionsFor(endpoint(25, { authentication: 'none', host: '[::1]' }), null, settings());
  t.match(none, { host: '::1', secure: false, requireTLS: false, ignoreTLS: true });
  t.equal('auth' in none, false, 'no credentials without authentication');
  t.equal(none.tls.servername, undefined, 'no SNI for an address');
  t.throws(() => settings({ RELAIS_SMTP_CA_FILE: '/nonexistent/ca.pem' }), /RELAIS_SMTP_CA_FILE: cannot read \/nonexistent\/ca\.pem/);
});

t.test('a port/security mismatch is told in about a second, not after the greeting time-out', async (t) => {
  const peer = await startSmtpPeer(t, { secure: true, key: tls.server.key, cert: tls.server.cert });
  const s = settings({ RELAIS_SMTP_GREETING_TIMEOUT_MS: '10000', RELAIS_SMTP_CA_FILE: tls.caFile });
  for (const security of ['starttls', 'none'] as const) {
    const report = await probeServer(endpoint(peer.port, { security }), peerUser.password, s);
    t.same(stepsOf(report), ['connect:ok', 'greeting:failed', 'tlsDetect:ok'], security);
    t.equal(report.diagnosis?.kind, 'tlsExpected');
    // The point is « not the 10 s time-out »: bounds well under it, so that a loaded machine's stall fails nothing.
    t.ok(report.totalMs < 6000, `${security}: diagnosed in ${report.totalMs} ms`);
    const greeting = report.steps.find((step) => step.name === 'greeting')!;
    t.ok(greeting.durationMs! >= 900 && greeting.durationMs! < 6000, `the greeting was given about a second (${greeting.durationMs} ms)`);
  }
});

t.test('a server that greets late is not mistaken for TLS; a silent port keeps its time-out; a skipped step has no duration', async (t) => {
  const late = await startRawService(t, '220 late.relais.test ESMTP\r\n', { delayMs: 1600, answer: acceptEverything });
  const s = settings({ RELAIS_SMTP_GREETING_TIMEOUT_MS: '4000' });
  const report = await probeServer(endpoint(late.port, { authentication: 'none', username: '' }), null, s);
  t.equal(report.ok, true, 'a greeting after 1.6 s still counts');
  t.same(stepsOf(report), ['connect:ok', 'greeting:ok', 'ehlo:ok', 'auth:skipped', 'mailFrom:ok', 'rcptTo:ok', 'rset:ok', 'quit:ok']);
  t.equal(report.steps.find((step) => step.name === 'auth')!.durationMs, undefined, 'the skipped step shows no duration');

  const silent = await startSilentPeer(t);
  const quiet = await probeServer(endpoint(silent, { security: 'starttls' }), peerUser.password, settings({ RELAIS_SMTP_GREETING_TIMEOUT_MS: '1500' }));
  t.same(stepsOf(quiet), ['connect:ok', 'greeting:failed', 'tlsDetect:skipped']);
  t.equal(quiet.diagnosis?.kind, 'greetingTimeout');
  t.ok(quiet.steps[1]!.durationMs! >= 1450, `the silent port had its whole time-out (${quiet.steps[1]!.durationMs} ms)`);
  t.equal(quiet.steps[2]!.durationMs, undefined);
});

t.test('a service that is not SMTP: « ce service ne parle pas SMTP », with at most its first 60 printable characters', async (t) => {
  const ssh = await startRawService(t, `SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3 ${'x'.repeat(80)}TAIL\r\n`);
  const report = await probeServer(endpoint(ssh.port), peerUser.password, settings());
  t.same(stepsOf(report), ['connect:ok', 'greeting:failed']);
  t.equal(report.diagnosis?.kind, 'notSmtp');
  const sample = report.diagnosis!.params!.sample as string;
  t.ok(sample.startsWith('SSH-2.0-OpenSSH_9.2p1') && [...sample].length <= 60, sample);
  t.match(fr(report.diagnosis!.key, report.diagnosis!.params), 'ce service ne parle pas SMTP (il commence par « SSH-2.0-OpenSSH_9.2p1');
  t.notMatch(JSON.stringify(report), 'TAIL', 'nothing past the 60 characters is kept');
  t.equal(report.banner, null);

  const chatty = await startRawService(t, '+OK cache ready\r\ndb_password=hunter2\r\n');
  const other = await probeServer(endpoint(chatty.port), peerUser.password, settings());
  t.equal(other.diagnosis?.kind, 'notSmtp');
  t.notMatch(JSON.stringify(other), 'hunter2');

  const binary = await startRawService(t, Buffer.from([0x16, 0x03, 0x01, 0x00, 0x05, 0x00, 0x41, 0x42]));
  const bytes = await probeServer(endpoint(binary.port), peerUser.password, settings());
  t.equal(bytes.diagnosis?.kind, 'notSmtp', 'bytes without a line end are told at once');
  t.notMatch(bytes.diagnosis!.params!.sample as string, /[\u0000-\u001f]/, 'no control characters');
});

t.test('a multi-line SMTP greeting: the report keeps its first line only', async (t) => {
  const raw = await startRawService(t, '220-mail.relais.test ESMTP\r\n220-db_password=hunter2\r\n220 ready\r\n', { answer: acceptEverything });
  const report = await probeServer(endpoint(raw.port, { authentication: 'none', username: '' }), null, settings());
  t.equal(report.ok, true);
  t.equal(report.banner, 'mail.relais.test ESMTP');
  t.equal(report.steps.find((step) => step.name === 'greeting')!.reply, '220-mail.relais.test ESMTP (+2)');
  t.notMatch(JSON.stringify(report), 'hunter2', 'the later lines appear nowhere');
});

t.test('loopback, link-local, metadata and unspecified addresses are refused unless allowed, after DNS', async (t) => {
  const service = await startRawService(t, '220 local.relais.test ESMTP\r\n', { answer: acceptEverything });
  const closed = { RELAIS_SMTP_ALLOWED_NETWORKS: '' };
  const direct = await probeServer(endpoint(service.port), peerUser.password, settings(closed));
  t.same(stepsOf(direct), ['connect:failed']);
  t.equal(direct.diagnosis?.kind, 'addressRefused');
  const words = fr(direct.diagnosis!.key, direct.diagnosis!.params);
  t.match(words, 'Relais ne se connecte pas à 127.0.0.1, une adresse de bouclage');
  t.match(words, 'RELAIS_SMTP_ALLOWED_NETWORKS (par exemple 127.0.0.0/8) ou mettez RELAIS_SMTP_ALLOW_PRIVATE=true');
  t.match(translator('en')(direct.diagnosis!.key, direct.diagnosis!.params), 'add its network to RELAIS_SMTP_ALLOWED_NETWORKS');

  const named = await probeServer(endpoint(service.port, { host: 'localhost' }), peerUser.password, settings(closed));
  t.same(stepsOf(named), ['dns:ok', 'connect:failed'], 'a name resolving to loopback is refused too');
  t.equal(named.diagnosis?.kind, 'addressRefused');
  t.match(named.address, /^(127\.0\.0\.1|::1)$/);
  t.equal(service.connections(), 0, 'nothing was dialled');

  for (const [host, kind] of [['169.254.169.254', 'metadata'], ['169.254.10.1', 'linkLocal'], ['[fe80::1]', 'linkLocal'], ['0.0.0.0', 'unspecified'], ['[::ffff:127.0.0.1]', 'loopback']] as const) {
    const refused = await probeServer(endpoint(25, { host }), peerUser.password, settings(closed));
    t.equal(refused.diagnosis?.key, `diagnosis.addressRefused.${kind}`, host);
  }

  t.equal((await probeServer(endpoint(service.port, { authentication: 'none' }), null, settings({ RELAIS_SMTP_ALLOW_PRIVATE: 'true', RELAIS_SMTP_ALLOWED_NETWORKS: '' }))).ok, true, 'RELAIS_SMTP_ALLOW_PRIVATE=true allows it');
  t.equal((await probeServer(endpoint(service.port, { authentication: 'none' }), null, settings({ RELAIS_SMTP_ALLOWED_NETWORKS: '10.0.0.0/8, 127.0.0.1' }))).ok, true, 'so does the allow-list');

  const policy = destinationPolicyOf(false, []);
  t.same(['10.1.2.3', '172.16.0.1', '192.168.1.1', '8.8.8.8', '2001:db8::1'].map((a) => refusalOf(a, policy)), [null, null, null, null, null], 'private ranges stay allowed');
  t.throws(() => loadConfig({ RELAIS_SMTP_ALLOWED_NETWORKS: '127.0.0.0/33' }), /RELAIS_SMTP_ALLOWED_NETWORKS: "127.0.0.0\/33" is not a network/);
  t.throws(() => loadConfig({ RELAIS_SMTP_ALLOW_PRIVATE: 'maybe' }), /RELAIS_SMTP_ALLOW_PRIVATE must be true or false/);
});

t.test('a report stored before greetings were parsed shows the first line of its banner only', async (t) => {
  const stored = { version: 1, ok: true, steps: [], banner: 'mail.relais.test ESMTP\ndb_password=hunter2\nready' };
  t.equal(parseReport(JSON.stringify(stored))?.banner, 'mail.relais.test ESMTP');
});
