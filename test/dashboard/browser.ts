/**
 * Debian's Chromium driven by playwright-core, for the dashboard tests. Nothing is downloaded:
 * the browser must be installed (apt-get install -y chromium; .ci/run does it).
 */
import { existsSync } from 'node:fs';
import { chromium, type Browser, type Page } from 'playwright-core';
import type { TestLike } from '../helpers/harness.js';

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

export const CHROMIUM_ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
];

export async function launchBrowser(t: TestLike): Promise<Browser> {
  if (!existsSync(CHROMIUM)) throw new Error(`no browser at ${CHROMIUM}: install Debian's chromium (apt-get install -y chromium) or set CHROMIUM_PATH`);
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
  t.teardown(() => browser.close());
  return browser;
}

export interface DashboardPage {
  page: Page;
  /** Uncaught exceptions and console.error output of the page, to assert there were none. */
  problems: string[];
}

export async function openDashboard(
  browser: Browser, url: string, opts: { width?: number; height?: number; beforeLoad?: (page: Page) => Promise<void> } = {},
): Promise<DashboardPage> {
  const context = await browser.newContext({ viewport: { width: opts.width ?? 1280, height: opts.height ?? 800 } });
  const page = await context.newPage();
  page.setDefaultTimeout(20_000);
  const problems: string[] = [];
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('console', (m) => {
    // The browser's own reports of refused requests are expected: 401 before a key, 404 for
    // config.json and the not-yet-existing metrics endpoint (whose 404 carries no CORS header).
    if (m.type() === 'error' && !/status of 40[14]|Failed to load resource|WebSocket connection to .* failed|\/metrics\?since=.*blocked by CORS/.test(m.text())) {
      problems.push(`console.error: ${m.text()}`);
    }
  });
  await opts.beforeLoad?.(page);
  await page.goto(url);
  return { page, problems };
}

/** The row of a service, by id. */
export const row = (id: string) => `tr[data-id="${id}"]`;

/** Wait until the service's row shows this state (and health, if given). */
export async function waitRow(page: Page, id: string, state: string, health?: string): Promise<void> {
  await page.waitForFunction(([sel, st, he]) => {
    const r = document.querySelector<HTMLElement>(sel!);
    return !!r && r.dataset.state === st && (!he || r.dataset.health === he);
  }, [row(id), state, health] as const);
}
