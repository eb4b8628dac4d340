// The audit trail keeps codes and parameters; the page puts them into the reader's words, and every date reads the same.
import t from 'tap';
import { formatDateTime, translator } from '../src/i18n/index.js';
import { adminClient, buildTestApp, createAccount, text, validServer } from './helper.js';
import { formFor, peerUser, serverThrough, startSmtpPeer } from './smtp-peer.js';

function rowsOf(html: string): string[] {
  const body = /<tbody>([\s\S]*?)<\/tbody>/.exec(html)?.[1] ?? '';
  return [...body.matchAll(/<tr>([\s\S]*?)<\/tr>/g)].map((m) => text(m[1]!).trim());
}

t.test('dates read 09/02/2025 12:32 everywhere, in French and in English', async (t) => {
  const at = new Date('2025-02-09T11:32:00Z');
  t.equal(formatDateTime('fr', at), '09/02/2025 12:32');
  t.equal(formatDateTime('en', at), '09/02/2025 12:32');
  t.equal(formatDateTime('fr', new Date('2025-07-01T22:05:00Z')), '02/07/2025 00:05', 'a 24-hour clock, summer time');
  t.equal(formatDateTime('fr', new Date('not a date')), '');
  t.equal(translator('fr')('confirmation.confirmed', { at: '2025-02-09T11:32:00.000Z' }), 'Confirmé le 09/02/2025 12:32', 'a moment in parameters too');
});

t.test('the audit page shows words, not codes', async (t) => {
  const peer = await startSmtpPeer(t, { disabledCommands: ['STARTTLS'] });
  const app = await buildTestApp(t);
  const admin = await adminClient(app);
  const viewer = await createAccount(app, 'viewer', { displayName: 'Berthe' });
  await admin.post(`/users/${viewer.id}`, { email: viewer.email, displayName: 'Berthe', role: 'admin' });
  const id = await serverThrough(admin, peer);
  await admin.post(`/smtp-servers/${id}/test`);
  await admin.post(`/smtp-servers/${id}`, { ...formFor(peer, { security: 'tls', password: '', usage: 'custom' }), departments: ['achat', 'vente'] });
  await admin.post('/smtp-servers', { ...validServer, title: 'Clair', security: 'tls', port: '25', confirmCombination: 'on' });
  await admin.post(`/smtp-servers/${id}`, formFor(peer, { password: 'bad password' }));
  await admin.post(`/smtp-servers/${id}/test`);

  const page = await admin.get('/audit');
  const rows = rowsOf(page.body);
  const row = (pattern: RegExp) => rows.find((r) => pattern.test(r)) ?? '';
  t.match(row(/Modification de compte/), 'Rôle : Lecture seule → Administrateur');
  const tests = rows.filter((r) => /Test de connexion/.test(r));
  t.equal(tests.length, 2);
  t.match(tests[1], 'Résultat : réussi', 'the first test, older, succeeded');
  t.match(tests[1], `Serveur testé : 127.0.0.1:${peer.port}`);
  t.notMatch(tests[1], '→', 'a one-sided value has no arrow');
  t.match(tests[0], 'Résultat : échoué');
  t.match(tests[0], `Diagnostic : Identifiants refusés : le serveur n’accepte pas l’utilisateur « ${peerUser.username} »`);
  const edits = rows.filter((r) => /Modification de serveur/.test(r));
  t.match(edits[1], 'Sécurité : Aucune → SSL/TLS');
  t.match(edits[1], 'Services : Vente → Achat, Vente');
  t.match(edits[0], 'Sécurité : SSL/TLS → Aucune');
  t.match(row(/Combinaison inhabituelle confirmée.*Clair/), 'Combinaison : SSL/TLS sur un port qui parle d’abord en clair Port : 25 Sécurité : SSL/TLS');
  t.match(row(/Combinaison inhabituelle confirmée.*Vente principale/), 'Combinaison : mot de passe sans chiffrement');
  t.match(row(/Création de compte/), 'Mot de passe : modifié');
  t.notMatch(page.body, /→ (ok|failed|admin|tls|tlsOnPlainPort)\b/, 'no code left on the page');
  t.notMatch(page.body, peerUser.password);
  t.notMatch(page.body, 'bad password', 'no secret in the trail');

  await admin.get('/language?lang=en&next=/audit');
  const english = rowsOf((await admin.get('/audit')).body);
  t.match(english.find((r) => /Account/.test(r) && /Role/.test(r)), 'Role : Read-only → Administrator');
  t.match(english.find((r) => /Result : failed/.test(r)), 'Result : failed');
});
