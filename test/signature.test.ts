import t from 'tap';
import { signatureParts, withSignature } from '../src/signature/compose.js';
import { inspectLogo } from '../src/signature/logo.js';
import { signatureText } from '../src/signature/plain-text.js';
import { sanitizeSignature } from '../src/signature/sanitize.js';
import { adminClient, auditTrail, buildTestApp, Client, validServer, viewerClient } from './helper.js';
import { formFor, startSmtpPeer } from './smtp-peer.js';
import { gif, htmlPage, jpeg, pngOf, svg } from './signature-images.js';

const hostile: [string, string][] = [
  ['a script', '<script>alert(1)</script><p>Bonjour</p>'],
  ['an onerror image', '<img src=x onerror="alert(1)">'],
  ['javascript: links', '<a href="javascript:alert(1)">clic</a><a href=" JaVa&#x09;script:alert(1)">x</a><a href="data:text/html,<script>alert(1)</script>">d</a>'],
  ['hx- and data- attributes, an event', '<p hx-get="/smtp-servers/1/delete" hx-trigger="load" data-x="1" onclick="x()">t</p>'],
  ['a foreign image', '<img src="https://evil.example/track.png"><img src="//evil.example/x.png">'],
  ['a style that fetches', '<div style="background:url(https://evil.example/x)">s</div><p style="width: expression(alert(1))">e</p><p style="background: u\\72l(x)">c</p>'],
  ['an svg onload', '<svg onload="alert(1)"><circle r="5"/></svg>'],
  ['nested and malformed tags', '<p><b><i>nested</p></b>unclosed <scr<script>ipt>alert(1)</script><a href="javascript:x"<b>'],
  ['a form and an iframe', '<form action="/x"><input name="a"><button>b</button></form><iframe src="https://x"></iframe><object data="x"></object>'],
  ['a meta refresh and a base', '<meta http-equiv="refresh" content="0;url=https://evil"><base href="https://evil/"><link rel="stylesheet" href="https://evil/x.css">'],
];

t.test('hostile signatures come out clean, and what was removed is named', async (t) => {
  for (const [name, signature] of hostile) {
    const { html, removed } = sanitizeSignature(signature);
    t.notMatch(html, /<script|<svg|<form|<iframe|<object|<meta|<base|<link|<input/i, `${name}: no dangerous element`);
    t.notMatch(html, /\son[a-z]+=|hx-|data-/i, `${name}: no event, hx- or data- attribute`);
    t.notMatch(html, /javascript:|data:|url\(|expression\(|\\/i, `${name}: no script URL, no fetching style`);
    t.notMatch(html, /<img(?![^>]*src="cid:logo")/i, `${name}: no image but the logo placeholder`);
    t.ok(removed.length > 0, `${name}: the removal is reported (${removed.join(', ')})`);
    t.same(sanitizeSignature(html).removed, [], `${name}: the cleaned signature is clean`);
  }
  t.same(sanitizeSignature('<p hx-get="/x" onclick="y">t</p>').removed, ['hx-get', 'onclick']);
  t.same(sanitizeSignature('<img src="https://evil.example/t.png">').removed, ['<img src="https://evil.example/t.png">']);

  const kept = '<table><tr><td><img src="cid:logo" alt="Logo" width="80" /></td><td><b>Jean</b><br />Vente · <a href="mailto:jean@exemple.fr">jean@exemple.fr</a></td></tr></table><p><a href="https://exemple.fr">Notre site</a> <a href="tel:+33123456789">Appeler</a></p>';
  t.same(sanitizeSignature(kept), { html: kept, removed: [] }, 'formatting, tables, links and the logo placeholder stay as they are');
});

t.test('the plain-text version: one line per line, links as « texte (url) »', async (t) => {
  const clean = sanitizeSignature('<p><b>Jean Dupont</b><br>Service Vente</p><p><a href="https://exemple.fr">Notre site</a> · <a href="mailto:jean@exemple.fr">jean@exemple.fr</a> · &lt;01&gt; &amp; co</p>').html;
  t.equal(signatureText(clean), 'Jean Dupont\nService Vente\nNotre site (https://exemple.fr) · jean@exemple.fr · <01> & co');
  t.equal(signatureText(sanitizeSignature('Jean Dupont\nTél : 01 23 45 67 89').html), 'Jean Dupont\nTél : 01 23 45 67 89', 'plain text keeps its lines');
});

t.test('images are recognised by their bytes', async (t) => {
  t.match(inspectLogo(pngOf(120, 40)), { ok: true, facts: { contentType: 'image/png', width: 120, height: 40 } });
  t.match(inspectLogo(jpeg), { ok: true, facts: { contentType: 'image/jpeg', width: 1, height: 1 } });
  t.match(inspectLogo(gif), { ok: true, facts: { contentType: 'image/gif', width: 1, height: 1 } });
  t.same(inspectLogo(svg), { ok: false, reason: 'svg' });
  t.same(inspectLogo(htmlPage), { ok: false, reason: 'notImage' });
  t.same(inspectLogo(pngOf(3000, 10)), { ok: false, reason: 'tooWide' });
  t.same(inspectLogo(pngOf(10, 10, 600 * 1024)), { ok: false, reason: 'tooLarge' });
  t.same(inspectLogo(jpeg.subarray(0, 30)), { ok: false, reason: 'unreadable' });
});

t.test('the composer: the logo as an inline attachment whose cid the <img> names; no logo, no image', async (t) => {
  const logo = { serverId: 1, contentType: 'image/png' as const, bytes: pngOf(20, 10), width: 20, height: 10, size: 0, updatedAt: new Date() };
  const parts = signatureParts({ signature: '<p>Jean</p><img src="cid:logo" alt="Logo">' }, logo);
  t.equal(parts.attachments.length, 1);
  const attachment = parts.attachments[0]!;
  t.match(parts.html, `<img src="cid:${attachment.cid}" alt="Logo" />`);
  t.same({ ...attachment, content: attachment.content.length }, { cid: attachment.cid, filename: 'logo.png', content: logo.bytes.length, contentType: 'image/png', contentDisposition: 'inline' });
  t.same(signatureParts({ signature: '<p>Jean</p><img src="cid:logo" alt="Logo">' }, null), { html: '<p>Jean</p>', text: 'Jean', attachments: [] });
  t.same(signatureParts({ signature: '' }, logo), { html: '', text: '', attachments: [] });
  const mail = withSignature({ html: '<html><body><p>Bonjour</p></body></html>', text: 'Bonjour\n' }, parts);
  t.match(mail.html, /<p>Bonjour<\/p><div class="signature">-- <br>\n<p>Jean<\/p>.*<\/div>\n<\/body>/s);
  t.equal(mail.text, 'Bonjour\n\n-- \nJean\n');
});

async function createWithLogo(admin: Client, fields: Record<string, string | string[]>, logo?: { filename: string; content: Buffer; type?: string }) {
  return admin.postMultipart('/smtp-servers', { ...validServer, ...fields }, logo ? { logo } : { logo: { filename: '', content: Buffer.alloc(0) } });
}

async function newestId(client: Client): Promise<number> {
  const [newest] = (await client.app.repositories.smtpServers.listServers({ sort: 'id', dir: 'desc', perPage: 1 })).rows;
  return newest!.id;
}

t.test('the form uploads a PNG, a JPEG or a GIF (a PNG named .txt is a PNG); the logo route serves it to signed-in users only', async (t) => {
  const app = await buildTestApp(t);
  const admin = await adminClient(app);
  const cases: [string, Buffer, string, string][] = [
    ['png', pngOf(120, 40), 'logo.png', 'image/png'],
    ['jpeg', jpeg, 'photo.jpg', 'image/jpeg'],
    ['gif', gif, 'anim.gif', 'image/gif'],
    ['png named .txt', pngOf(30, 30), 'notes.txt', 'image/png'],
  ];
  for (const [name, bytes, filename, type] of cases) {
    const res = await createWithLogo(admin, { title: `Logo ${name}` }, { filename, content: bytes, type: 'text/plain' });
    t.equal(res.statusCode, 303, `${name}: saved`);
    const id = await newestId(admin);
    const stored = await app.stores.logos.find(id);
    t.equal(stored?.contentType, type, `${name}: stored as ${type}`);
    t.ok(stored?.bytes.equals(bytes), `${name}: the bytes as sent`);
    const served = await app.inject({ method: 'GET', url: `/smtp-servers/${id}/logo`, headers: { cookie: [...admin.cookies].map(([k, v]) => `${k}=${v}`).join('; ') } });
    t.equal(served.statusCode, 200);
    t.equal(served.headers['content-type'], type);
    t.equal(served.headers['x-content-type-options'], 'nosniff');
    t.equal(served.headers['content-security-policy'], "default-src 'none'");
    t.ok(served.rawPayload.equals(bytes), `${name}: served as stored`);
  }
  const id = await newestId(admin);
  const viewer = await viewerClient(app);
  t.equal((await viewer.get(`/smtp-servers/${id}/logo`)).statusCode, 200, 'a read-only user sees it');
  const anonymous = await app.inject({ method: 'GET', url: `/smtp-servers/${id}/logo` });
  t.not(anonymous.statusCode, 200, 'a signed-out request gets no logo');
  t.notOk(anonymous.headers['content-type']?.toString().startsWith('image/'), 'and no image');
  t.equal((await admin.get(`/smtp-servers/9999/logo`)).statusCode, 404);
});

t.test('refused files: 422 with the reason by the field, every other value kept, nothing saved', async (t) => {
  const app = await buildTestApp(t);
  const admin = await adminClient(app);
  const cases: [string, Buffer, string, RegExp][] = [
    ['an HTML file named .png', htmlPage, 'logo.png', /n’est pas une image PNG, JPEG ou GIF/],
    ['an SVG', svg, 'logo.svg', /SVG ne sont pas acceptées/],
    ['a 600 KB image', pngOf(10, 10, 600 * 1024), 'big.png', /dépasse 512 Ko/],
    ['a 3,000 × 10 image', pngOf(3000, 10), 'wide.png', /dépasse 2000 × 2000 pixels/],
  ];
  for (const [name, bytes, filename, reason] of cases) {
    const res = await createWithLogo(admin, { title: `Refus ${name}`, senderName: 'Gardé tel quel' }, { filename, content: bytes, type: 'image/png' });
    t.equal(res.statusCode, 422, `${name}: 422`);
    t.match(res.body, /<p class="field-error" id="logo-error">([^<]*)<\/p>/);
    t.match(/id="logo-error">([^<]*)</.exec(res.body)?.[1], reason, `${name}: the reason by the field`);
    t.match(res.body, /<input id="logo" name="logo" type="file"[^>]*aria-invalid="true"[^>]*aria-describedby="logo-hint logo-error logo-retype"/);
    t.match(res.body, 'choisissez-le à nouveau', `${name}: asked to choose the file again`);
    t.match(res.body, `value="Refus ${name.replace(/,/g, ',')}"`, `${name}: the title kept`);
    t.match(res.body, 'value="Gardé tel quel"', `${name}: the sender name kept`);
    t.match(res.body, '<a href="#logo">', `${name}: linked from the summary`);
  }
  t.equal((await app.repositories.smtpServers.listServers()).total, 0, 'nothing saved');
});

t.test('multipart bodies follow the one-parse rule; CSRF is checked on them', async (t) => {
  const app = await buildTestApp(t);
  const admin = await adminClient(app);
  t.equal((await admin.postMultipart('/smtp-servers', { ...validServer, title: ['Un', 'Deux'] })).statusCode, 400, 'a field sent twice');
  t.equal((await admin.postMultipart('/smtp-servers', { ...validServer, 'password[]': 'x' })).statusCode, 400, 'a bracketed name');
  t.equal(
    (await admin.postMultipart('/smtp-servers', validServer, { logo: { filename: 'a.png', content: pngOf(2, 2) }, other: { filename: 'b.png', content: pngOf(2, 2) } })).statusCode,
    400,
    'a file the form does not have',
  );
  t.equal((await admin.postMultipart('/smtp-servers', { ...validServer, _csrf: 'forged' })).statusCode, 403, 'a forged token');
  t.equal((await admin.postMultipart('/smtp-servers', { ...validServer, departments: ['vente', 'achat'] })).statusCode, 303, 'a list may repeat');
  t.equal((await app.repositories.smtpServers.listServers()).total, 1);
});

t.test('replace and remove the logo from the edit form; the audit says so, without the bytes; a copy takes the logo', async (t) => {
  const app = await buildTestApp(t);
  const admin = await adminClient(app);
  const signature = '<p>Jean</p><img src="cid:logo" alt="Logo">';
  await createWithLogo(admin, { signature }, { filename: 'a.png', content: pngOf(100, 50) });
  const id = await newestId(admin);
  const version = () => app.repositories.smtpServers.findServer(id).then((s) => String(s!.version));

  const edit = await admin.get(`/smtp-servers/${id}/edit`);
  t.match(edit.body, 'enctype="multipart/form-data"');
  t.match(edit.body, `<img src="/smtp-servers/${id}/logo?v=`, 'the form shows the logo, and the preview too');
  t.match(edit.body, 'Logo actuel : PNG, 100 × 50 pixels');

  const replaced = await admin.postMultipart(`/smtp-servers/${id}`, { ...validServer, signature, password: '', version: await version() }, { logo: { filename: 'b.gif', content: gif } });
  t.equal(replaced.statusCode, 303);
  t.equal((await app.stores.logos.describe(id))?.contentType, 'image/gif');
  const update = (await auditTrail(app, 'server.update')).at(-1);
  t.same(update!.changes, { logo: ['image/png 100×50, ' + pngOf(100, 50).length + ' B', 'image/gif 1×1, 43 B'] }, 'the audit names the logos, not their bytes');

  const copy = await admin.get(`/smtp-servers/new?from=${id}`);
  t.match(copy.body, 'Le logo de « Vente principale » sera copié');
  t.match(copy.body, '&lt;p&gt;Jean&lt;/p&gt;', 'the signature is copied');
  const copied = await admin.postMultipart('/smtp-servers', { ...validServer, title: 'Copie', duplicateOf: String(id) });
  t.equal(copied.statusCode, 303);
  const copyId = await newestId(admin);
  t.ok((await app.stores.logos.find(copyId))?.bytes.equals(gif), 'the copy has the logo');
  const notCopied = await admin.postMultipart('/smtp-servers', { ...validServer, title: 'Copie sans logo', duplicateOf: String(id), removeLogo: 'on' });
  t.equal(notCopied.statusCode, 303);
  t.equal(await app.stores.logos.find(await newestId(admin)), null, '« Ne pas copier le logo »');

  const removed = await admin.postMultipart(`/smtp-servers/${id}`, { ...validServer, signature, password: '', version: await version(), removeLogo: 'on' });
  t.equal(removed.statusCode, 303);
  t.equal(await app.stores.logos.find(id), null);
  t.match((await auditTrail(app, 'server.update')).at(-1)!.changes, { logo: ['image/gif 1×1, 43 B', ''] });
  t.ok(await app.stores.logos.find(copyId), 'the copy keeps its own');

  t.equal((await admin.post(`/smtp-servers/${copyId}/delete`)).statusCode, 303);
  t.equal(await app.stores.logos.find(copyId), null, 'the logo goes with its server');
});

t.test('a signature with something not allowed comes back cleaned, saying what was removed; saved once clean', async (t) => {
  const app = await buildTestApp(t);
  const admin = await adminClient(app);
  const res = await admin.post('/smtp-servers', { ...validServer, signature: '<p onclick="x()">Jean</p><script>alert(1)</script>' });
  t.equal(res.statusCode, 422);
  t.match(/id="signature-error">([^<]*)</.exec(res.body)?.[1], 'retirés : onclick, &#60;script&#62;.');
  t.match(res.body, '>&lt;p&gt;Jean&lt;/p&gt;</textarea>', 'the textarea holds the cleaned signature');
  t.equal((await admin.post('/smtp-servers', { ...validServer, signature: '<p>Jean</p>' })).statusCode, 303);
  t.equal((await app.repositories.smtpServers.findServer(await newestId(admin)))!.signature, '<p>Jean</p>');
  t.match((await admin.post('/smtp-servers', { ...validServer, title: 'Texte', signature: 'Jean\nVente' })).statusCode, 303, 'plain text is a signature too');
});

t.test('the preview: the fragment for htmx, the whole form without JavaScript', async (t) => {
  const app = await buildTestApp(t);
  const admin = await adminClient(app);
  const fragment = await admin.post('/smtp-servers/new/preview', { signature: '<b>Jean</b><img src="https://x/y.png"><img src="cid:logo" alt="Logo">' }, { 'hx-request': 'true', 'hx-target': 'signature-preview' });
  t.equal(fragment.statusCode, 200);
  t.match(fragment.body, /^<div id="signature-preview"/);
  t.match(fragment.body, '<b>Jean</b><span class="logo-missing">[Logo]</span>');
  t.match(fragment.body, 'Retiré à l’enregistrement : &lt;img src=&quot;https://x/y.png&quot;&gt;');
  t.notMatch(fragment.body, '<html');
  t.match(fragment.headers.vary, 'HX-Request');

  const page = await admin.postMultipart('/smtp-servers/new/preview', { ...validServer, signature: '<p>Aperçu <i>sans JS</i></p>' }, { logo: { filename: 'a.png', content: pngOf(2, 2) } });
  t.equal(page.statusCode, 200);
  t.match(page.body, '<html');
  t.match(page.body, '<div class="signature-preview-body">\n<p>Aperçu <i>sans JS</i></p>');
  t.match(page.body, 'value="Vente principale"', 'the values typed are kept');
  t.match(page.body, 'choisissez-le à nouveau', 'the file must be chosen again');
  t.equal((await app.repositories.smtpServers.listServers()).total, 0, 'a preview saves nothing');
});

t.test('the confirmation mail closes with the signature, in HTML and text, and the logo inline', async (t) => {
  const peer = await startSmtpPeer(t, { disabledCommands: ['STARTTLS'] });
  const app = await buildTestApp(t);
  const admin = await adminClient(app);
  const signature = '<table><tr><td><img src="cid:logo" alt="Logo Vente"></td><td><b>Jean Dupont</b><br><a href="https://exemple.fr">Notre site</a></td></tr></table>';
  const logo = pngOf(60, 20);
  const created = await admin.postMultipart('/smtp-servers', { ...formFor(peer), signature }, { logo: { filename: 'logo.png', content: logo, type: 'image/png' } });
  t.equal(created.statusCode, 303);
  const id = await newestId(admin);
  t.equal((await admin.post(`/smtp-servers/${id}/confirmation`)).statusCode, 303);
  t.equal(peer.messages.length, 1);
  const { mail } = peer.messages[0]!;
  t.match(mail.text, /\n-- \nJean Dupont\nNotre site \(https:\/\/exemple\.fr\)/, 'the text part ends with the plain-text signature');
  const html = String(mail.html);
  t.match(html, '<b>Jean Dupont</b>');
  const cid = /<img src="cid:([^"]+)" alt="Logo Vente"/.exec(html)?.[1];
  t.ok(cid, 'the <img> points at a cid');
  const inline = mail.attachments.find((a) => a.cid === cid);
  t.ok(inline, 'an attachment has that cid');
  t.equal(inline?.contentType, 'image/png');
  t.equal(inline?.contentDisposition, 'inline');
  t.ok(inline?.content.equals(logo), 'the logo’s bytes');
  t.notMatch(html, /https?:\/\/[^"]*logo|\/smtp-servers\/\d+\/logo/, 'no URL to fetch the logo from');
});
