/// <reference lib="dom" />
/// <reference lib="dom.iterable" />
// What the pages cost on a slow link, and how they fit a 1280 px screen and a 360 px wide phone, with JavaScript on and off.
import { scenario, type Scenario } from './harness.js';
import { contextOptions, createServers, realisticServers, variedServers } from './support.js';

/** Everything the list page with 50 rows loads, as transferred (compressed, headers included). */
const weightBudget = 60 * 1024;

interface Transfer {
  name: string;
  transferSize: number;
  decodedBodySize: number;
}

scenario('the list page with 50 rows weighs less than 60 KB as transferred, first visit, empty cache', async (s) => {
  await createServers(s.app, variedServers(60));
  // A new context has an empty cache; it keeps the session the scenario may have opened.
  const context = await s.context.browser()!.newContext(contextOptions(s.js, { storageState: await s.context.storageState() }));
  s.t.teardown(() => context.close());
  const page = await context.newPage();
  // networkidle: what the browser fetches after the load event (the icon) counts too.
  await page.goto(s.url('/smtp-servers?per=50'), { waitUntil: 'networkidle' });
  s.t.equal(await page.locator('#servers-table tbody tr').count(), 50, 'the page shows 50 rows');

  const entries: Transfer[] = await page.evaluate(() =>
    [...performance.getEntriesByType('navigation'), ...performance.getEntriesByType('resource')].map((e) => {
      const timing = e as PerformanceResourceTiming;
      return { name: new URL(timing.name).pathname, transferSize: timing.transferSize, decodedBodySize: timing.decodedBodySize };
    }),
  );
  const total = entries.reduce((sum, e) => sum + e.transferSize, 0);
  const loaded = entries.filter((e) => e.transferSize > 0).map((e) => e.name);
  s.t.ok(loaded.includes('/smtp-servers') && loaded.includes('/public/app.css'), 'the page and its stylesheet were fetched', { loaded });
  if (s.js) s.t.ok(loaded.includes('/vendor/htmx.min.js') && loaded.includes('/public/app.js'), 'and its scripts', { loaded });
  s.t.comment(
    `page weight (JS ${s.js ? 'on' : 'off'}): ${(total / 1024).toFixed(1)} KB transferred — ` +
      entries.map((e) => `${e.name} ${(e.transferSize / 1024).toFixed(1)} KB (${(e.decodedBodySize / 1024).toFixed(1)} KB decoded)`).join(', '),
  );
  s.t.ok(total > 0 && total < weightBudget, `under the ${weightBudget / 1024} KB budget: ${(total / 1024).toFixed(1)} KB`, { entries });
});

scenario(
  'at 1280 px the default columns, Confirmation and the actions included, fit without scrolling sideways',
  async (s) => {
    const { page } = s;
    await createServers(s.app, realisticServers);
    await s.goto('/smtp-servers');
    const region = await page.locator('.table-scroll').evaluate((el) => ({ scrollWidth: el.scrollWidth, clientWidth: el.clientWidth }));
    s.t.ok(region.scrollWidth <= region.clientWidth, 'no horizontal scroll in the table', { region });
    for (const column of ['col-id', 'col-title', 'col-host', 'col-email', 'col-usage', 'col-confirmation', 'col-links']) {
      const box = await page.locator(`#servers-table thead th.${column}`).boundingBox();
      s.t.ok(box && box.x >= 0 && box.x + box.width <= 1280, `${column} is within the window`, { box });
    }
    const cell = await page.locator('#servers-table tbody tr').first().locator('td.a').first().innerText();
    s.t.match(cell, /^[\w.-]+:\d+$/, 'the host and its port share a cell');
    await fitsWidth(s, 'the list', 1280);
  },
  { context: { viewport: { width: 1280, height: 800 } } },
);

/** The page is no wider than the window: nothing sticks out to the right. */
async function fitsWidth(s: Scenario, what: string, width = 360) {
  const { pageWidth, overflowing } = await s.page.evaluate((max) => {
    const overflowing = [...document.querySelectorAll('body *')]
      .filter((el) => !el.closest('.table-scroll') && el.getBoundingClientRect().right > max + 0.5)
      .slice(0, 5)
      .map((el) => `${el.tagName.toLowerCase()}${el.id ? `#${el.id}` : ''}.${[...el.classList].join('.')}`);
    return { pageWidth: document.documentElement.scrollWidth, overflowing };
  }, width);
  s.t.ok(pageWidth <= width, `${what} fits ${width} px (the page is ${pageWidth} px wide)`, { overflowing });
}

scenario(
  'at 360 px the table scrolls inside its own region and the forms fit',
  async (s) => {
    const { page } = s;
    await createServers(s.app, realisticServers);
    await s.goto('/smtp-servers');
    await fitsWidth(s, 'the list');
    const region = await page.locator('.table-scroll').evaluate((el) => ({ scrollWidth: el.scrollWidth, clientWidth: el.clientWidth }));
    s.t.ok(region.scrollWidth <= region.clientWidth && region.clientWidth <= 360, 'each server is a card: nothing to scroll sideways', { region });
    const cards = await page.locator('#servers-table tbody tr').evaluateAll((rows) =>
      rows.map((row) => {
        const box = row.getBoundingClientRect();
        const title = row.querySelector('th')!.getBoundingClientRect();
        const actions = [...row.querySelectorAll('.row-actions > *')].map((a) => a.getBoundingClientRect());
        return { left: box.left, right: box.right, titleFirst: title.top <= Math.min(...actions.map((a) => a.top)), actions: actions.map((a) => ({ right: a.right, width: a.width })) };
      }),
    );
    s.t.equal(cards.length, realisticServers.length);
    s.t.ok(cards.every((card) => card.left >= 0 && card.right <= 360 && card.titleFirst), 'every card within the window, its title first', { cards });
    s.t.ok(cards.every((card) => card.actions.length === 5 && card.actions.every((a) => a.right <= 360 && a.width >= 32)), 'its five actions reachable, big enough to touch', { cards });

    await page.locator('details.columns-menu summary').click();
    await fitsWidth(s, 'the list with the column menu open');
    const menu = await page.locator('.columns-menu .menu-body').boundingBox();
    s.t.ok(menu && menu.x >= 0 && menu.x + menu.width <= 360, 'the column menu is within the window', { menu });

    await s.goto('/smtp-servers/new');
    await fitsWidth(s, 'the form');
    await page.getByRole('button', { name: 'Créer le serveur' }).click();
    await s.until('the errors are shown', () => page.locator('#error-summary').isVisible());
    await fitsWidth(s, 'the form with its errors');
    const inputs = await page.locator('#server-form input[type="text"], #server-form input[type="email"], #server-form select, #server-form textarea').evaluateAll((els) =>
      els.filter((el) => el.getBoundingClientRect().width > 0).map((el) => Math.round(el.getBoundingClientRect().right)),
    );
    s.t.ok(inputs.length > 5 && inputs.every((right) => right <= 360), 'every field is within the window', { inputs });

    await s.goto('/smtp-servers/1/delete');
    await fitsWidth(s, 'the delete confirmation');
    for (const [pathname, what] of [
      ['/users', 'the users page'],
      ['/users/new', 'the new user form'],
      ['/audit', 'the audit page'],
      ['/alertes', 'the alerts settings page'],
      ['/account/alerts', 'the my-alerts page'],
      ['/smtp-servers/1/test', 'the connection test page'],
    ]) {
      await s.goto(pathname!);
      await fitsWidth(s, what!);
    }
    await page.getByRole('button', { name: 'Se déconnecter' }).click();
    await s.until('the login page', () => s.path() === '/login');
    await fitsWidth(s, 'the login page');
  },
  { context: { viewport: { width: 360, height: 740 }, isMobile: true, hasTouch: true } },
);
