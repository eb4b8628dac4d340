// The Journal des envois and the test e-mail in a real browser, JavaScript on and off: search and filter the log,
// open a message's attempts, retry and cancel it, send a test e-mail and watch its page follow it to « Envoyé ».
import type { FastifyInstance } from 'fastify';
import { sendingServerFor } from '../outbox-helpers.js';
import { accepted, settled } from '../send-log-fixtures.js';
import { scenario, type Scenario } from './harness.js';

const env = { RELAIS_OUTBOX_WORKER: 'false' };

async function seedLog(app: FastifyInstance) {
  const server = await sendingServerFor(app.stores, { title: 'Achat Paris', port: 2526, departments: ['achat', 'vente', 'production'] });
  const sent = await accepted(app, { subject: 'Devis 2025-001' });
  await settled(app, sent.id, { status: 'sent', server: { id: server, title: 'Achat Paris' }, attempts: [{ serverId: server, serverTitle: 'Achat Paris', outcome: 'sent', reply: '250 2.0.0 Ok', durationMs: 40 }] });
  const failed = await accepted(app, { department: 'achat', subject: 'Bon de commande Élodie', to: ['fournisseur@exemple.fr'] });
  await settled(app, failed.id, {
    status: 'failed',
    server: { id: server, title: 'Achat Paris' },
    attempts: [{ serverId: server, serverTitle: 'Achat Paris', outcome: 'failed', reply: '550 5.1.1 Recipient address rejected', durationMs: 30 }],
  });
  await accepted(app, { department: 'production', subject: 'Avis de fabrication' });
  app.sendingAlerts.forget();
  return { server, sent, failed };
}

function subjects(s: Scenario): Promise<string[]> {
  return s.page.locator('#messages-table tbody th').allInnerTexts();
}

scenario(
  'the log: search, filter by status, open a message and its attempts',
  async (s) => {
    const { page } = s;
    await seedLog(s.app);
    await s.goto('/smtp-servers');
    await page.getByRole('navigation', { name: 'Relais' }).getByRole('link', { name: 'Journal des envois' }).click();
    await s.until('the log is shown', async () => (await subjects(s)).length === 3);
    s.t.same(await subjects(s), ['Avis de fabrication', 'Bon de commande Élodie', 'Devis 2025-001']);
    await s.checkAccessibility('the send log');

    const search = page.getByRole('searchbox', { name: 'Rechercher' });
    const loadsBefore = s.loads;
    if (s.js) await search.pressSequentially('elodie');
    else {
      await search.fill('elodie');
      await page.getByRole('button', { name: 'Rechercher' }).click();
    }
    await s.until('the search is applied', async () => (await subjects(s)).length === 1);
    s.t.same(await subjects(s), ['Bon de commande Élodie']);
    s.t.match(s.path(), /^\/messages\?q=elodie/, 'the URL carries the search');
    if (s.js) s.t.equal(s.loads, loadsBefore, 'with JavaScript only the table is swapped');

    await search.fill('');
    if (!s.js) await page.getByRole('button', { name: 'Rechercher' }).click();
    else await search.press('Enter');
    await s.until('the search is cleared', async () => (await subjects(s)).length === 3);
    await page.getByRole('combobox', { name: 'Statut' }).selectOption('sent');
    if (!s.js) await page.getByRole('button', { name: 'Rechercher' }).click();
    await s.until('the status filter is applied', async () => (await subjects(s)).join() === 'Devis 2025-001');
    s.t.match(s.path(), /status=sent/);
    // The language link takes the filters along, with JavaScript too (htmx moved the address, not the page).
    s.t.match(await page.getByRole('link', { name: 'English' }).getAttribute('href'), /^\/language\?lang=en&next=%2Fmessages%3F.*status%3Dsent/);

    await page.getByRole('combobox', { name: 'Statut' }).selectOption('failed');
    if (!s.js) await page.getByRole('button', { name: 'Rechercher' }).click();
    await s.until('failed messages only', async () => (await subjects(s)).join() === 'Bon de commande Élodie');
    await page.getByRole('link', { name: 'Bon de commande Élodie' }).click();
    await page.getByRole('heading', { level: 1, name: 'Bon de commande Élodie' }).waitFor();
    const attempts = page.getByRole('table', { name: /Essais d’envoi/ });
    s.t.match(await attempts.innerText(), /Achat Paris\s+Refusé\s+550 5\.1\.1 Recipient address rejected\s+30 ms/);
    await s.checkAccessibility('a message’s page');
  },
  { env },
);

scenario(
  'the log: only the messages retried at least once, whatever their status now',
  async (s) => {
    const { page } = s;
    const { server } = await seedLog(s.app);
    const retried = await accepted(s.app, { subject: 'Devis relancé' });
    const later = { serverId: server, serverTitle: 'Achat Paris', outcome: 'failover' as const, reply: '451 4.3.0 Try again later', durationMs: 20 };
    await settled(s.app, retried.id, { status: 'retry', server: { id: server, title: 'Achat Paris' }, attempts: [later], dueAt: new Date() });
    await settled(s.app, retried.id, { status: 'sent', server: { id: server, title: 'Achat Paris' }, attempts: [{ ...later, outcome: 'sent', reply: '250 Ok' }] });
    await s.goto('/messages');
    await s.until('the log is shown', async () => (await subjects(s)).length === 4);
    const loadsBefore = s.loads;
    await page.getByRole('checkbox', { name: 'Réessayés au moins une fois' }).check();
    if (!s.js) await page.getByRole('button', { name: 'Rechercher' }).click();
    await s.until('the filter is applied', async () => (await subjects(s)).join() === 'Devis relancé');
    s.t.match(s.path(), /[?&]retried=1/, 'the URL carries it');
    if (s.js) s.t.equal(s.loads, loadsBefore, 'with JavaScript only the table is swapped');
    await s.checkAccessibility('the send log filtered on the messages retried');
    await page.getByRole('checkbox', { name: 'Réessayés au moins une fois' }).uncheck();
    if (!s.js) await page.getByRole('button', { name: 'Rechercher' }).click();
    await s.until('the filter is dropped', async () => (await subjects(s)).length === 4);
    s.t.notMatch(s.path(), /retried=/);
  },
  { env },
);

scenario(
  'retry a failed message, then cancel it',
  async (s) => {
    const { page } = s;
    const { failed } = await seedLog(s.app);
    await s.goto(`/messages/${failed.id}`);
    s.t.equal(await page.locator('.page-head [data-status]').innerText(), 'Échec');
    await page.getByRole('button', { name: 'Réessayer l’envoi' }).click();
    await s.until('the retry is done', async () => (await s.flash().catch(() => '')) === 'Le message est remis en file d’attente.');
    s.t.equal(await page.locator('.page-head [data-status]').innerText(), 'En attente');
    s.t.equal((await s.app.outbox.find(failed.id))?.status, 'queued');
    await page.getByRole('button', { name: 'Annuler l’envoi' }).click();
    await s.until('the cancel is done', async () => (await s.flash().catch(() => '')) === 'L’envoi du message est annulé.');
    s.t.equal(await page.locator('.page-head [data-status]').innerText(), 'Annulé');
    s.t.equal(await page.getByRole('button', { name: /Réessayer|Annuler/ }).count(), 0, 'nothing left to do');
  },
  { env },
);

scenario(
  'send a test e-mail: a mistake first, then its page follows it to « Envoyé »',
  async (s) => {
    const { page } = s;
    const server = await sendingServerFor(s.app.stores, { title: 'Vente Lyon', port: 2525, departments: ['vente'] });
    await s.goto('/messages');
    await page.getByRole('navigation', { name: 'Relais' }).getByRole('link', { name: 'E-mail de test' }).click();
    await page.getByRole('heading', { level: 1, name: 'Envoyer un e-mail de test' }).waitFor();
    await page.getByLabel('Destinataire').fill('pas une adresse');
    await page.getByRole('button', { name: 'Envoyer' }).click();
    const error = page.locator('#to-error');
    await error.waitFor();
    s.t.match(await error.innerText(), /Cette adresse n’est pas valide/);
    s.t.match(await page.locator('#department-error').innerText(), /Choisissez un service/);
    s.t.equal(await page.getByLabel('Destinataire').getAttribute('aria-invalid'), 'true');
    await s.checkAccessibility('the test e-mail form with errors');

    await page.getByLabel('Service').selectOption('vente');
    await page.getByLabel('Destinataire').fill('moi@exemple.fr');
    await page.getByRole('button', { name: 'Envoyer' }).click();
    await page.getByRole('heading', { level: 1, name: 'Suivi de l’e-mail de test' }).waitFor();
    s.t.equal(await page.locator('#test-email-progress [data-status]').innerText(), 'En attente');
    await s.checkAccessibility('the test e-mail’s follow page');
    const id = s.path().split('/').pop()!;
    s.t.equal((await s.app.outbox.find(id))?.to.join(), 'moi@exemple.fr');

    await settled(s.app, id, { status: 'sent', server: { id: server, title: 'Vente Lyon' }, attempts: [{ serverId: server, serverTitle: 'Vente Lyon', outcome: 'sent', reply: '250 Ok', durationMs: 9 }] });
    await s.until('the page shows the outcome by itself', async () => (await page.locator('#test-email-progress [data-status]').innerText()) === 'Envoyé', 10_000);
    s.t.match(await page.locator('#test-email-progress').innerText(), /Le serveur Vente Lyon a accepté le message\./);
    s.t.equal(await page.locator('[data-following]').count(), 0, 'no longer following');
  },
  { env },
);
