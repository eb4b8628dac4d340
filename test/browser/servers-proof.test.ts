// Proving a server works, in a real browser with JavaScript on and off: the confirmation by email link and the
// connection test, against a real SMTP server (smtp-server) on 127.0.0.1.
import { acceptEverything, peerUser, startRawService, startSmtpPeer, type SmtpPeer } from '../smtp-peer.js';
import { scenario, type Scenario } from './harness.js';
import { contextOptions, createServers } from './support.js';

async function serverThrough(s: Scenario, peer: SmtpPeer, password = peerUser.password) {
  const [server] = await createServers(s.app, [
    {
      title: 'Vente principale',
      host: '127.0.0.1',
      port: String(peer.port),
      security: 'none',
      email: peerUser.username,
      senderName: 'Service Vente',
      username: peerUser.username,
      password,
      departments: ['vente'],
    },
  ]);
  return server!;
}

scenario('send the confirmation from the list, then confirm through the link received', async (s) => {
  const { page } = s;
  const peer = await startSmtpPeer(s.t, { disabledCommands: ['STARTTLS'] });
  const server = await serverThrough(s, peer);
  await s.goto('/smtp-servers?q=vente');
  const row = page.locator(`#server-${server.id}`);
  s.t.match(await row.locator('.col-confirmation').innerText(), 'Non confirmé');

  await page.getByRole('button', { name: "Envoyer la confirmation Vente principale", exact: true }).click();
  await s.until('the flash says it was sent', async () => (await page.locator('#flash .flash').count()) === 1);
  s.t.match(await s.flash(), `Message de confirmation envoyé à ${peerUser.username} par « Vente principale »`);
  s.t.equal(s.path(), '/smtp-servers?q=vente', 'back to the list as it was');
  s.t.match(await row.locator('.col-confirmation').innerText(), 'En attente');

  const { mail } = await peer.message(1);
  const link = /\/confirm\/[A-Za-z0-9_-]{43}/.exec(String(mail.text))?.[0];
  s.t.ok(link, 'the message carries the link');

  // The recipient opens the link in a browser of their own, not signed in.
  const recipient = await s.context.browser()!.newContext(contextOptions(s.js));
  s.t.teardown(() => recipient.close());
  const inbox = await recipient.newPage();
  await inbox.goto(s.url(link!));
  s.t.equal(await inbox.locator('h1').innerText(), `Confirmer l’adresse ${peerUser.username}`, 'opening the link confirms nothing yet');
  await inbox.getByRole('button', { name: 'Confirmer' }).click();
  await inbox.getByRole('heading', { name: 'Adresse confirmée' }).waitFor();
  s.t.match(await inbox.locator('main').innerText(), 'Le serveur « Vente principale » est confirmé');

  await page.reload();
  s.t.match(await row.locator('.col-confirmation').innerText(), 'Confirmé le');
});

scenario('test the connection from the list: the report page, then the result on the row', async (s) => {
  const { page } = s;
  const peer = await startSmtpPeer(s.t, { disabledCommands: ['STARTTLS'] });
  const server = await serverThrough(s, peer);
  await s.goto('/smtp-servers');
  await page.getByRole('button', { name: "Tester la connexion Vente principale", exact: true }).click();
  await s.until('the report page', () => s.path() === `/smtp-servers/${server.id}/test`);
  s.t.match(await page.locator('#test-report-heading').innerText(), 'Connexion réussie');
  s.t.equal(peer.messages.length, 0, 'nothing was sent');
  await s.checkAccessibility('the connection test report');

  await page.getByRole('link', { name: /Retour à la liste/ }).click();
  await s.until('the list', () => s.path() === '/smtp-servers');
  s.t.match(await page.locator(`#server-${server.id} .col-confirmation`).innerText(), 'Test réussi le');

  await s.stores.servers.update(server.id, { username: 'inconnu@exemple.fr' });
  await page.getByRole('button', { name: "Tester la connexion Vente principale", exact: true }).click();
  await s.until('the report page', () => s.path() === `/smtp-servers/${server.id}/test`);
  s.t.match(await page.locator('#test-report-heading').innerText(), 'Échec du test');
  s.t.ok(await page.locator('.diagnosis').isVisible(), 'a diagnosis says why');
  await s.checkAccessibility('a failed connection test report');
});

scenario('test before saving: the result comes into the form, nothing is saved', async (s) => {
  const { page } = s;
  const peer = await startSmtpPeer(s.t, { disabledCommands: ['STARTTLS'] });
  await s.goto('/smtp-servers/new');
  await page.getByLabel('Titre').fill('Essai');
  await page.getByLabel('Hôte').fill('127.0.0.1');
  await page.getByLabel('Sécurité').selectOption('none');
  await page.getByLabel('Port').fill(String(peer.port));
  await page.getByLabel('Mail').fill(peerUser.username);
  await page.getByLabel('Nom d’envoi').fill('Essai');
  await page.getByLabel(/^Utilisateur(?! et)/).fill(peerUser.username);
  await page.getByLabel(/^Mot de passe/).fill(peerUser.password);
  const loads = s.loads;
  await page.getByRole('button', { name: 'Tester avant d’enregistrer' }).click();
  await s.until('the result is shown', async () => (await page.locator('#test-result #test-report-heading').count()) === 1);
  s.t.match(await page.locator('#test-report-heading').innerText(), 'Connexion réussie');
  if (s.js) {
    s.t.equal(s.loads, loads, 'htmx put the result into the form');
    s.t.equal(s.path(), '/smtp-servers/new', 'the page stays the form');
    s.t.equal(await page.getByLabel(/^Mot de passe/).inputValue(), peerUser.password, 'the typed password is still there');
  } else {
    s.t.equal(await page.getByLabel(/^Mot de passe/).inputValue(), '', 'a whole page never brings a password back');
    s.t.match(await page.locator('.password-retype').innerText(), 'retapez-le');
  }
  s.t.equal(await page.getByLabel('Hôte').inputValue(), '127.0.0.1', 'the values typed are kept');
  s.t.equal((await s.app.repositories.smtpServers.listServers()).total, 0, 'nothing was saved');
  await s.checkAccessibility('the form with a test result');
});

scenario('the test button is disabled while its test runs, and enabled again with the result', async (s) => {
  const { page } = s;
  // Greets after 0.8 s: long enough to see the button disabled, short of the 1 s after which TLS is tried too.
  const slow = await startRawService(s.t, '220 slow.relais.test ESMTP\r\n', { delayMs: 800, answer: acceptEverything });
  const [server] = await createServers(s.app, [
    { title: 'Relais lent', host: '127.0.0.1', port: String(slow.port), security: 'none', authentication: 'none', email: 'lent@exemple.fr', senderName: 'Lent' },
  ]);
  await s.goto(`/smtp-servers/${server!.id}/edit`);
  const button = page.getByRole('button', { name: 'Tester avant d’enregistrer' });
  s.t.equal(await button.isDisabled(), false);
  await button.click();
  await s.until('the button is disabled while the test runs', () => button.isDisabled());
  s.t.equal(await page.locator('#test-running').isVisible(), true, '« Test en cours… » is shown');
  await s.until('the result is shown', async () => (await page.locator('#test-result #test-report-heading').count()) === 1);
  s.t.match(await page.locator('#test-report-heading').innerText(), 'Connexion réussie');
  s.t.equal(await button.isDisabled(), false, 'enabled again');
  s.t.equal(slow.connections(), 1, 'one test, one conversation');
}, { modes: ['js'] });

scenario('at 360 px the report shows the server’s replies (Détail) across the width, without scrolling sideways', async (s) => {
  const { page } = s;
  const refusing = await startSmtpPeer(s.t, {
    disabledCommands: ['STARTTLS'],
    onMailFrom(_address, _session, callback) {
      callback(Object.assign(new Error('5.7.1 <ventes@exemple.fr>: Sender address rejected: not owned by user ventes@exemple.fr, see https://aide.exemple.fr/smtp/expediteurs-autorises'), { responseCode: 553 }));
    },
  });
  const server = await serverThrough(s, refusing);
  await s.goto(`/smtp-servers/${server.id}/test`);
  await page.getByRole('button', { name: 'Tester à nouveau' }).click();
  await s.until('the report', async () => (await page.locator('#test-report-heading').count()) === 1);
  const detail = page.locator('.test-steps tr.step-failed .step-detail');
  s.t.match(await detail.innerText(), 'Sender address rejected');
  const box = (await detail.boundingBox())!;
  s.t.ok(box.width >= 280, `the Détail takes the report's width (${Math.round(box.width)} px)`);
  s.t.ok(box.x >= 0 && box.x + box.width <= 360, 'inside the window');
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
  s.t.equal(overflow, 0, 'no sideways scrolling');
  const scroller = await page.locator('.test-report .table-scroll').evaluate((el) => el.scrollWidth - el.clientWidth);
  s.t.equal(scroller, 0, 'the steps table needs no sideways scrolling either');
  await s.checkAccessibility('the test report at 360 px');
}, { context: { viewport: { width: 360, height: 740 } } });
