/// <reference lib="dom" />
/// <reference lib="dom.iterable" />
/**
 * Browser scenarios on tap: each scenario runs twice, with JavaScript on and off, in a fresh browser context against
 * a freshly started app with its own database. A failure leaves a screenshot and the page's HTML in test-output/browser/.
 *
 *   scenario('sort by a header', async (s) => { await s.goto('/smtp-servers'); ... });
 *
 * With JavaScript off, page.evaluate() works for synchronous code only: awaiting a promise inside the page closes
 * it. Use s.until() (polling from Node) rather than waitForFunction, and s.checkAccessibility() for axe.
 */
import fs from 'node:fs';
import { createRequire } from 'node:module';
import tap from 'tap';
import type { Browser, BrowserContext, BrowserContextOptions, Page, Response } from 'playwright-core';
import {
  chromiumProblem,
  contextOptions,
  inCI,
  launchChromium,
  saveFailureArtifacts,
  signIn,
  startRelais,
  type RunningRelais,
} from './support.js';

export type TapTest = Parameters<Parameters<typeof tap.test>[0]>[0];

const axeSource = fs.readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

// A browser file runs many scenarios twice; a slow CI machine must not hit tap's per-file limit (.taprc: 120 s).
tap.setTimeout(300_000);

let sharedBrowser: Promise<Browser> | null = null;
function browser(): Promise<Browser> {
  if (!sharedBrowser) {
    sharedBrowser = launchChromium();
    tap.teardown(async () => (await sharedBrowser)?.close());
  }
  return sharedBrowser;
}

export interface AxeViolation {
  id: string;
  impact: string | null;
  help: string;
  targets: string[];
}

export class Scenario {
  /** Full page loads since the scenario started (an htmx swap is not one). */
  loads = 0;
  readonly problems: string[] = [];

  constructor(
    readonly t: TapTest,
    readonly relais: RunningRelais,
    readonly context: BrowserContext,
    readonly page: Page,
    readonly js: boolean,
  ) {
    page.on('load', () => this.loads++);
    page.on('pageerror', (err) => this.problems.push(`script error: ${err.message}`));
    page.on('console', (message) => {
      if (/content.security.policy/i.test(message.text())) this.problems.push(`CSP: ${message.text()}`);
    });
  }

  get app() {
    return this.relais.app;
  }

  /** What Relais keeps, read and written through its stores (never the database file), as the app itself does. */
  get stores() {
    return this.relais.app.stores;
  }

  url(pathname: string): string {
    return this.relais.url(pathname);
  }

  /** Opens a page of the app and fails the test on an error status. */
  async goto(pathname: string): Promise<Response | null> {
    const response = await this.page.goto(this.url(pathname));
    this.t.ok(response && response.status() < 400, `GET ${pathname} answers ${response?.status()}`);
    return response;
  }

  signIn(): Promise<void> {
    return signIn(this.page, this.relais);
  }

  /** The page's path and query, e.g. "/smtp-servers?q=lyon". */
  path(): string {
    const url = new URL(this.page.url());
    return url.pathname + url.search;
  }

  /** Polls `probe` from Node until it returns true (works with JavaScript off); throws with `what` after the timeout. */
  async until(what: string, probe: () => Promise<boolean> | boolean, timeout = 8000): Promise<void> {
    const deadline = Date.now() + timeout;
    let last: unknown = null;
    for (;;) {
      try {
        if (await probe()) return;
      } catch (err) {
        last = err;
      }
      if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}${last ? `: ${String(last)}` : ''}`);
      await new Promise((resolve) => setTimeout(resolve, 40));
    }
  }

  /** The visible texts of the table's column headers, without the sort arrows. */
  async columnHeaders(): Promise<string[]> {
    // Two columns may share a header cell (host and port): one name per sort link, or the cell's text.
    const texts = await this.page.locator('#servers-table thead th').evaluateAll((cells) =>
      cells.flatMap((cell) => {
        const links = [...cell.querySelectorAll('a')];
        return links.length ? links.map((a) => (a as HTMLElement).innerText) : [(cell as HTMLElement).innerText];
      }),
    );
    return texts.map((text) => text.replace(/[▲▼↕]/g, '').trim());
  }

  /** The titles of the rows shown, in order. */
  rowTitles(): Promise<string[]> {
    return this.page.locator('#servers-table tbody th').allInnerTexts();
  }

  /** The flash message shown at the top of the page. */
  flash(): Promise<string> {
    return this.page.locator('#flash .flash').innerText();
  }

  /**
   * axe-core on the page as it is now. With JavaScript on it runs in the page itself (through the DevTools protocol,
   * which the CSP does not govern); with JavaScript off, on a copy of the same DOM with the same CSS in a scripting
   * context whose page scripts are blocked, so what is checked is what a no-JS visitor gets.
   */
  async axe(): Promise<AxeViolation[]> {
    const run = async (page: Page) => {
      await page.evaluate(axeSource);
      return page.evaluate(async () => {
        const axe = (window as unknown as { axe: { run: (context: unknown, options: unknown) => Promise<{ violations: unknown[] }> } }).axe;
        const result = await axe.run(document, { resultTypes: ['violations'] });
        return (result.violations as { id: string; impact: string | null; help: string; nodes: { target: string[] }[] }[]).map((v) => ({
          id: v.id,
          impact: v.impact,
          help: v.help,
          targets: v.nodes.map((n) => n.target.join(' ')),
        }));
      });
    };
    if (this.js) return run(this.page);
    this.auditHtml = await this.page.content();
    const page = await this.auditPage();
    await page.goto(this.page.url());
    return run(page);
  }

  private auditHtml = '';
  private audit: Promise<Page> | null = null;

  /** A scripting page (page scripts blocked, CSP bypassed) that is served the no-JS page's DOM instead of the URL. */
  private auditPage(): Promise<Page> {
    this.audit ??= (async () => {
      const context = await this.context.browser()!.newContext(contextOptions(true, { bypassCSP: true, viewport: this.page.viewportSize() ?? undefined }));
      this.t.teardown(() => context.close());
      const page = await context.newPage();
      await page.route('**/*', (route) => {
        const request = route.request();
        if (request.resourceType() === 'script') return route.abort();
        if (request.isNavigationRequest()) return route.fulfill({ status: 200, contentType: 'text/html; charset=utf-8', body: this.auditHtml });
        return route.continue();
      });
      return page;
    })();
    return this.audit;
  }

  /** No serious or critical axe violation on the page as it is now. */
  async checkAccessibility(label: string): Promise<void> {
    const violations = await this.axe();
    const serious = violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
    this.t.same(serious, [], `axe: no serious or critical violation on ${label}`);
    const minor = violations.filter((v) => !serious.includes(v));
    if (minor.length) this.t.comment(`axe, minor on ${label}: ${minor.map((v) => `${v.id} (${v.impact}) ${v.targets.join(', ')}`).join('; ')}`);
  }
}

export interface ScenarioOptions {
  /** Which modes to run; both by default. */
  modes?: ('js' | 'nojs')[];
  /** Extra options for the browser context (viewport, …). */
  context?: BrowserContextOptions;
  /** Extra environment for the app. */
  env?: Record<string, string>;
  /** Sign in as the first administrator before the scenario starts (default true). */
  signIn?: boolean;
}

/**
 * Registers one tap test per mode. Without Chromium the tests are skipped with the reason, except in CI (CI=true),
 * where a missing browser fails them.
 */
export function scenario(name: string, body: (s: Scenario) => Promise<void>, options: ScenarioOptions = {}): void {
  const problem = chromiumProblem();
  for (const mode of options.modes ?? ['js', 'nojs']) {
    const js = mode === 'js';
    const title = `${name} (JS ${js ? 'on' : 'off'})`;
    if (problem) {
      if (inCI()) tap.test(title, async (t) => void t.fail(`the browser suite needs Chromium in CI: ${problem}`));
      else tap.test(title, { skip: `browser test skipped: ${problem}` }, () => {});
      continue;
    }
    tap.test(title, async (t) => {
      const relais = await startRelais(t.testdir(), options.env);
      t.teardown(() => relais.close());
      const context = await (await browser()).newContext(contextOptions(js, options.context));
      context.setDefaultTimeout(10_000);
      t.teardown(() => context.close());
      const page = await context.newPage();
      const s = new Scenario(t, relais, context, page, js);
      let failure: unknown = null;
      try {
        if (options.signIn !== false) await s.signIn();
        await body(s);
        t.same(s.problems, [], 'no script error and no CSP violation in the browser');
      } catch (err) {
        failure = err;
      }
      if (failure || !t.passing()) {
        const saved = await saveFailureArtifacts(page, title);
        t.comment(`failure artifacts: ${saved.join(', ') || 'none could be saved'}`);
      }
      if (failure) throw failure;
    });
  }
}
