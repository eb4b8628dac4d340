// The list and the form read in a text browser: `lynx -dump` of pages served by the running app.
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import tap from 'tap';
import type { TapTest } from './harness.js';
import { createServers, inCI, lynxPath, lynxProblem, realisticServers, signInOverHttp, startRelais, writeCookieFile, type RunningRelais } from './support.js';

const run = promisify(execFile);

/**
 * `lynx -dump` of a page, in French and UTF-8. Signed in unless told otherwise: the session cookie, obtained through
 * the login form, is handed to lynx in its cookie file. Asynchronous on purpose: the app answering lynx runs in this
 * same process.
 */
async function lynxDump(t: TapTest, relais: RunningRelais, pathname: string, options: { signedIn?: boolean } = {}): Promise<string> {
  const dir = t.testdir();
  const cfg = path.join(dir, 'lynx.cfg');
  // PERSISTENT_COOKIES: without it lynx ignores its cookie file.
  fs.writeFileSync(cfg, 'PREFERRED_LANGUAGE:fr\nCHARACTER_SET:utf-8\nACCEPT_ALL_COOKIES:TRUE\nPERSISTENT_COOKIES:TRUE\n');
  const jar = path.join(dir, 'cookies.txt');
  writeCookieFile(relais, options.signedIn === false ? new Map() : await signInOverHttp(relais), jar);
  const { stdout } = await run(
    lynxPath,
    ['-dump', '-width=200', `-cfg=${cfg}`, '-display_charset=utf-8', '-accept_all_cookies', `-cookie_file=${jar}`, `-cookie_save_file=${jar}`, relais.url(pathname)],
    { encoding: 'utf8', timeout: 20_000, env: { ...process.env, HOME: dir, TERM: 'dumb' } },
  );
  return stdout;
}

/** The lines of the dump without the link numbers lynx adds ("[12]Titre" reads "Titre"). */
function linesOf(dump: string): string[] {
  return dump.split('\n').map((line) => line.replace(/\[\d+\]/g, '').trim());
}

function textBrowserTest(name: string, body: (t: TapTest, relais: RunningRelais) => Promise<void>) {
  const problem = lynxProblem();
  if (problem && inCI()) return tap.test(name, async (t) => void t.fail(`the text-browser test needs lynx in CI: ${problem}`));
  if (problem) return tap.test(name, { skip: `text-browser test skipped: ${problem}` }, () => {});
  return tap.test(name, async (t) => {
    const relais = await startRelais(t.testdir());
    t.teardown(() => relais.close());
    await body(t, relais);
  });
}

textBrowserTest('lynx shows the list as a table: the column headers, then one line per server', async (t, relais) => {
  await createServers(relais.app, realisticServers.slice(0, 4));
  const dump = await lynxDump(t, relais, '/smtp-servers');
  const lines = linesOf(dump);
  t.ok(lines.includes('Gestion des Serveurs de messagerie (SMTP)'), 'the page title');
  const header = lines.find((line) => line.startsWith('ID'));
  t.equal(
    header?.replace(/[▲▼↕]/g, ''),
    'ID Titre Hôte Port Authentification Sécurité Mail Nom d’envoi Utilisateur Usage Confirmation Lien(s)',
    'the column headers in the help page’s order',
  );
  const rows = lines.filter((line) => /^\d+ /.test(line)).map((line) => line.replace(/\[\d+\]/g, ''));
  const expected = [
    '2 Achats — relais interne relais.acme.lan:25 Aucune Aucune achats@acme-industrie.fr ACME Achats Achat Non confirmé',
    '4 Envoi général smtp-relay.gmail.com:587 Mot de passe STARTTLS noreply@acme-industrie.fr ACME Industrie noreply@acme-industrie.fr Tous les services Non confirmé',
    '3 Production Lyon mail.lyon.acme-industrie.fr:465 Mot de passe SSL/TLS production.lyon@acme-industrie.fr Usine de Lyon production.lyon@acme-industrie.fr Production Non confirmé',
    // A Microsoft 365 server with a password carries the OAuth2 nudge (basic authentication goes away at the end of 2026).
    '1 Vente — Microsoft 365 smtp.office365.com:587 Mot de passe Passer à OAuth2 STARTTLS ventes@acme-industrie.fr ACME Service commercial ventes@acme-industrie.fr Vente Non confirmé',
  ];
  t.same(rows.map((row, i) => row.slice(0, expected[i]?.length)), expected, 'one line per server: host:port, the sender name after the mail');
  const flat = dump.replace(/\[\d+\]/g, ' ').replace(/\s+/g, ' ');
  for (const glyph of ['(BUTTON) ✉', '(BUTTON) ⚡', '✎', '(BUTTON) ⧉', '🗑']) {
    t.equal(flat.split(glyph).length - 1, glyph.includes('BUTTON') ? 4 : 5, `every row has its ${glyph} action (and the legend its glyph)`);
  }
  t.match(flat, '✉ Envoyer la confirmation ⚡ Tester la connexion ✎ Modifier ⧉ Dupliquer 🗑 Supprimer', 'the legend under the table says what each glyph does');
  t.match(dump, /Rechercher\s*\n\s*_+ \(BUTTON\) Rechercher/, 'the search field and its button');
  t.match(dump, '[X] ID [X] Titre [X] Hôte', 'the column menu is a plain list of checkboxes');
  t.match(dump, 'Lignes par page [25_] (BUTTON) Afficher', 'rows per page can be applied without JavaScript');
});

/** Each field's label, then (within a few lines: the hint comes between) the control lynx draws for it. */
const formFields: [label: RegExp, control: RegExp][] = [
  [/^Titre \* \(obligatoire\)$/, /^_{5,}$/],
  [/^Hôte \* \(obligatoire\)$/, /^_{5,}$/],
  [/^Port \* \(obligatoire\)$/, /^587_+$/],
  [/^Sécurité \* \(obligatoire\)$/, /^\[STARTTLS \(port 587\)\]$/],
  [/^Mail \* \(obligatoire\)$/, /^_{5,}$/],
  [/^Nom d’envoi \* \(obligatoire\)$/, /^_{5,}$/],
  [/^Authentification \* \(obligatoire\)$/, /^\(\*\) Utilisateur et mot de passe \( \) Aucune \( \) OAuth2 — Microsoft 365/],
  [/^Utilisateur \* \(obligatoire\)$/, /^_{5,}$/],
  [/^Mot de passe \* \(obligatoire\)$/, /^_{5,}$/],
  [/^Utilisation$/, /^\(\*\) Utilisation par défaut$/],
  [/^Services$/, /^\[ \] Achat \[ \] Vente \[ \] Production$/],
  [/^Signature$/, /^_{20,}$/],
];

/** The labels in this order, each followed by its control: on the same line or within a few lines (its hint between). */
function fieldsShown(t: TapTest, lines: string[], fields: [RegExp, RegExp][]) {
  const shown = lines.filter(Boolean);
  let from = 0;
  for (const [label, control] of fields) {
    const at = shown.findIndex((line, i) => i >= from && label.test(line));
    if (at < 0) {
      t.fail(`the label ${label.source} is in the dump, after the previous one`);
      continue;
    }
    const next = shown.slice(at, at + 4);
    t.ok(next.some((line) => control.test(line)), `${label.source} is followed by its control`, { found: next });
    from = at + 1;
  }
}

textBrowserTest('lynx shows every field of the form with its label', async (t, relais) => {
  const dump = await lynxDump(t, relais, '/smtp-servers/new');
  const lines = linesOf(dump);
  t.ok(lines.includes('Nouveau serveur SMTP'), 'the form’s title');
  fieldsShown(t, lines, formFields);
  t.ok(lines.includes('[X] Vérifier le certificat du serveur'), 'the certificate check box and its label');
  t.ok(lines.some((line) => line.startsWith('(BUTTON) Créer le serveur')), 'the submit button');
});

textBrowserTest('lynx shows the edit form with the stored password as a status, never its value', async (t, relais) => {
  await createServers(relais.app, [{ ...realisticServers[0]!, password: 'Lynx-Secret-42!' }]);
  const dump = await lynxDump(t, relais, '/smtp-servers/1/edit');
  const lines = linesOf(dump);
  t.ok(lines.includes('Modifier « Vente — Microsoft 365 »'));
  t.ok(lines.includes('Mot de passe enregistré'), 'the password status is readable');
  fieldsShown(t, lines, [
    [/^Titre \* \(obligatoire\)$/, /^Vente — Microsoft/],
    [/^Hôte \* \(obligatoire\)$/, /^smtp\.office365\.com_*$/],
    [/^Remplacer le mot de passe$/, /^_{5,} \[ \] Effacer le mot de passe enregistré$/],
  ]);
  t.notMatch(dump, 'Lynx-Secret-42!');
});

textBrowserTest('lynx can sign in: the login page shows its fields with their labels', async (t, relais) => {
  const dump = await lynxDump(t, relais, '/smtp-servers', { signedIn: false });
  const lines = linesOf(dump);
  t.ok(lines.includes('Connexion'), 'an anonymous visitor is sent to the login page');
  fieldsShown(t, lines, [
    [/^Adresse mail\b/, /^Adresse mail _{5,}$/],
    [/^Mot de passe\b/, /^Mot de passe _{5,}$/],
  ]);
  t.ok(lines.some((line) => line.startsWith('(BUTTON) Se connecter')), 'the sign-in button');
});
