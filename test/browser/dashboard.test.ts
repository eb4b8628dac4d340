// The Tableau de bord in a real browser, JavaScript on and off, at 1280 and 360 px (axe clean, no sideways scroll of
// the page), its numbers followed to the filtered send log; and in lynx, where the tables beside the charts are read.
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import tap from 'tap';
import type { FastifyInstance } from 'fastify';
import { sendingServerFor } from '../outbox-helpers.js';
import { accepted, settled } from '../send-log-fixtures.js';
import { scenario, type Scenario } from './harness.js';
import { inCI, lynxPath, lynxProblem, signInOverHttp, startRelais, writeCookieFile } from './support.js';

const run = promisify(execFile);
const env = { RELAIS_OUTBOX_WORKER: 'false' };

async function seed(app: FastifyInstance) {
  const lyon = await sendingServerFor(app.stores, { title: 'Vente Lyon', port: 2525, departments: ['vente', 'achat'] });
  const nantes = await sendingServerFor(app.stores, { title: 'Vente Nantes', port: 2526, departments: ['vente'], rateLimitPerMinute: 60 });
  for (const subject of ['Devis 1', 'Devis 2']) {
    const m = await accepted(app, { subject });
    await settled(app, m.id, { status: 'sent', server: { id: lyon, title: 'Vente Lyon' }, attempts: [{ serverId: lyon, serverTitle: 'Vente Lyon', outcome: 'sent', reply: '250 Ok', durationMs: 40 }] });
  }
  const failed = await accepted(app, { department: 'achat', subject: 'Commande' });
  await settled(app, failed.id, { status: 'failed', server: { id: lyon, title: 'Vente Lyon' }, attempts: [{ serverId: lyon, serverTitle: 'Vente Lyon', outcome: 'failed', reply: '550 No such user', durationMs: 30 }] });
  app.sendingAlerts.forget();
  return { lyon, nantes };
}

/** The page is no wider than the window: nothing sticks out to the right (a table may scroll inside its own region). */
async function fitsWidth(s: Scenario, width: number) {
  const { pageWidth, overflowing } = await s.page.evaluate((max) => {
    const overflowing = [...document.querySelectorAll('body *')]
      .filter((el) => !el.closest('.table-scroll') && el.getBoundingClientRect().right > max + 0.5)
      .slice(0, 5)
      .map((el) => `${el.tagName.toLowerCase()}.${[...el.classList].join('.')}`);
    return { pageWidth: document.documentElement.scrollWidth, overflowing };
  }, width);
  s.t.ok(pageWidth <= width, `the dashboard fits ${width} px (the page is ${pageWidth} px wide)`, { overflowing });
}

for (const width of [1280, 360]) {
  scenario(
    `the dashboard at ${width} px: first in the navigation, its charts as images with their tables, a count leads to the log`,
    async (s) => {
      const { page } = s;
      const { lyon } = await seed(s.app);
      await s.goto('/messages');
      const nav = page.getByRole('navigation', { name: 'Relais' }).getByRole('link');
      s.t.equal(await nav.first().innerText(), 'Tableau de bord', 'first in the navigation');
      await nav.first().click();
      await page.getByRole('heading', { level: 1, name: 'Tableau de bord' }).waitFor();
      s.t.equal(await page.getByRole('img', { name: /^Messages par heure de / }).count(), 3, 'one chart per department');
      s.t.equal(await page.getByRole('img', { name: 'Délai de remise par jour' }).count(), 1);
      const vente = page.locator('article[data-department="vente"]');
      s.t.match(await vente.locator('ol').innerText(), /Envoie maintenant\s+Vente Lyon\s+OK\s+Secours 1\s+Vente Nantes\s+OK/);
      await fitsWidth(s, width);
      await s.checkAccessibility(`the dashboard at ${width} px`);

      const figure = page.locator('figure[data-chart="hourly"][data-department="vente"]');
      await figure.locator('summary').click();
      const table = figure.getByRole('table');
      await table.waitFor();
      s.t.match(await table.innerText(), /\b2\s+2\s+0\s+0\b/, 'this hour: 2 accepted, 2 sent, none retried or failed');
      await fitsWidth(s, width);
      await s.checkAccessibility(`the dashboard with a table open at ${width} px`);

      await vente.locator('tr[data-outcome="sent"] td[data-window="day"] a').click();
      await page.getByRole('heading', { level: 1, name: 'Journal des envois' }).waitFor();
      s.t.match(s.path(), /^\/messages\?status=sent&department=vente&since=/);
      s.t.same(await page.locator('#messages-table tbody th').allInnerTexts(), ['Devis 2', 'Devis 1']);
      s.t.match(await page.locator('.log-period').innerText(), /^Acceptés depuis le \d\d\/\d\d\/\d{4} \d\d:00\./);

      await s.goto('/tableau-de-bord');
      await page.locator(`tr[data-server="${lyon}"] th a`).click();
      await page.getByRole('heading', { level: 1 }).waitFor();
      s.t.equal(s.path(), `/smtp-servers/${lyon}/edit`, 'a server leads to its page');
    },
    { env, context: { viewport: { width, height: 800 } } },
  );
}

const problem = lynxProblem();
if (problem && inCI()) tap.test('the dashboard in lynx', async (t) => void t.fail(`the text-browser test needs lynx in CI: ${problem}`));
else if (problem) tap.test('the dashboard in lynx', { skip: `text-browser test skipped: ${problem}` }, () => {});
else
  tap.test('the dashboard in lynx: the routes, the counts and the tables beside the charts, in words', async (t) => {
    const relais = await startRelais(t.testdir(), env);
    t.teardown(() => relais.close());
    await seed(relais.app);
    const dir = t.testdir();
    const cfg = path.join(dir, 'lynx.cfg');
    fs.writeFileSync(cfg, 'PREFERRED_LANGUAGE:fr\nCHARACTER_SET:utf-8\nACCEPT_ALL_COOKIES:TRUE\nPERSISTENT_COOKIES:TRUE\n');
    const jar = path.join(dir, 'cookies.txt');
    writeCookieFile(relais, await signInOverHttp(relais), jar);
    const { stdout } = await run(
      lynxPath,
      ['-dump', '-width=200', `-cfg=${cfg}`, '-display_charset=utf-8', '-accept_all_cookies', `-cookie_file=${jar}`, `-cookie_save_file=${jar}`, relais.url('/tableau-de-bord')],
      { encoding: 'utf8', timeout: 20_000, env: { ...process.env, HOME: dir, TERM: 'dumb' } },
    );
    const flat = stdout.replace(/\[\d+\]/g, '').replace(/[ \t]+/g, ' ');
    t.match(flat, /Envoie maintenant Vente Lyon OK/);
    t.match(flat, /Secours 1 Vente Nantes OK/);
    t.match(flat, /Envoyés 2 2/, 'the 24 h and 7 day counts of Vente');
    t.match(flat, /Échoués 1 1/, 'and of Achat');
    t.match(flat, /Heure Acceptés Envoyés Réessayés Échoués/, 'the hourly table’s headers');
    t.match(flat, /\d\d\/\d\d\/\d{4} \d\d:00 2 2 0 0/, 'the hour’s numbers, as on the chart');
    t.match(flat, /Jour Remis Médiane \(p50\) 95 % \(p95\)/);
    t.match(flat, /0 sur 60 par minute/, 'the rate limit’s use');
    t.notMatch(flat, /<svg|<rect/, 'no markup leaks into the text');
  });
