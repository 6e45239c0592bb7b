/**
 * The feed connection: served from another origin with config.json's apiBase (as
 * start-dashboard.sh does), and a dropped connection that reconnects by itself and resumes from
 * the last event seq.
 */
import t from 'tap';
import type { WebSocketRoute } from 'playwright-core';
import { startDashboard } from '../../src/cli/commands/dashboard.js';
import { harness, node, PUBLIC_DIR } from '../helpers/harness.js';
import { freePort, until } from '../helpers/process.mjs';
import { launchBrowser, openDashboard, row, waitRow } from './browser.js';

t.test('served from another origin, the dashboard talks to config.json\'s apiBase', async (t) => {
  const dashPort = await freePort();
  const h = await harness(t, {
    http: true,
    config: { api: { cors_origins: [`http://127.0.0.1:${dashPort}`] } },
    services: { agent: { id: 'agent', executable: node('sleeper.mjs') } },
  });
  // The same server `orchestrator dashboard` (start-dashboard.sh) runs, CSP included.
  const dash = await startDashboard({ port: dashPort, host: '127.0.0.1', apiBase: h.url, publicDir: PUBLIC_DIR });
  t.teardown(() => dash.close());
  const origin = dash.url;
  const browser = await launchBrowser(t);
  const { page, problems } = await openDashboard(browser, origin);
  await waitRow(page, 'agent', 'running');
  t.pass('the table loads over the feed of the other origin');
  await page.locator(`${row('agent')} a`).click();
  const drawer = page.locator('aside[data-service="agent"]');
  await drawer.locator('.log').getByText('sleeper agent up').waitFor();
  await drawer.getByRole('button', { name: 'Restart' }).click();
  await h.waitView('agent', (v) => v.restarts === 1 && v.state === 'running', 'agent restarted');
  t.pass('commands work across origins (CORS)');
  t.same(problems, [], 'no errors in the page');
});

t.test('a dropped feed reconnects by itself and resumes from the last seq', async (t) => {
  const h = await harness(t, {
    http: true,
    services: { agent: { id: 'agent', executable: node('sleeper.mjs') } },
  });
  const browser = await launchBrowser(t);
  // The page's /ws goes through the test, which can cut it like a network drop would.
  let offline = false;
  const urls: string[] = [];
  const live: WebSocketRoute[] = [];
  const { page, problems } = await openDashboard(browser, h.url, {
    beforeLoad: (p) => p.routeWebSocket(/\/ws(\?|$)/, (ws) => {
      urls.push(ws.url());
      if (offline) { void ws.close({ code: 1001, reason: 'network down' }); return; }
      const server = ws.connectToServer();
      live.push(ws, server);
    }),
  });
  await waitRow(page, 'agent', 'running');
  await page.locator(`${row('agent')} a`).click();
  const drawer = page.locator('aside[data-service="agent"]');
  await drawer.getByRole('tab', { name: 'Events' }).click();
  await drawer.locator('.timeline li').first().waitFor();
  await page.evaluate(() => { (window as unknown as { marker: number }).marker = 7; });
  const seqBefore = h.o.registry.events.lastSeq();

  offline = true;
  for (const ws of live.splice(0)) await ws.close({ code: 1001, reason: 'network down' });
  await page.locator('[data-conn="reconnecting"]').waitFor();
  t.pass('the indicator shows the drop');
  await h.o.fleet.command('agent', 'stop', 'stopped while the dashboard was away');
  await h.waitView('agent', (v) => v.state === 'stopped', 'agent stopped');
  t.equal(await page.locator(row('agent')).getAttribute('data-state'), 'running', 'the page could not see it yet');

  // "retry now" tries at once (still offline here, so the button stays and the attempt is seen).
  const attempts = urls.length;
  await page.getByRole('button', { name: 'retry now' }).click();
  await until(() => urls.length > attempts, 'an attempt right after "retry now"');
  t.pass('retry now opens a new connection');

  offline = false;
  // Back online, the page reconnects by itself; a click speeds it up, unless a retry beat us to it
  // (the button leaves with the reconnection: that race is not a failure).
  await page.getByRole('button', { name: 'retry now' }).click({ timeout: 2_000 }).catch(() => undefined);
  await page.locator('[data-conn="live"]').waitFor({ timeout: 60_000 });
  t.pass('reconnected');
  const last = new URL(urls[urls.length - 1]!);
  t.ok(Number(last.searchParams.get('since')) >= seqBefore, `resumed with ?since=${last.searchParams.get('since')} (last seq seen)`);
  await waitRow(page, 'agent', 'stopped');
  t.pass('the snapshot after reconnecting shows the new state');
  await drawer.locator('.timeline').getByText('stopped while the dashboard was away').first().waitFor();
  t.pass('events missed while away were replayed into the open timeline');
  await page.waitForFunction(() => document.querySelector('aside .log')?.textContent?.includes('sleeper agent stopping'));
  t.pass('the log tail reloaded: it has the line printed while away');
  t.equal(await page.evaluate(() => (window as unknown as { marker: number }).marker), 7, 'no reload');
  t.same(problems, [], 'no errors in the page');
});

t.test('reconnects by itself, without a click', async (t) => {
  const h = await harness(t, { http: true, services: { agent: { id: 'agent', executable: node('sleeper.mjs') } } });
  const browser = await launchBrowser(t);
  const live: WebSocketRoute[] = [];
  let connections = 0;
  const { page } = await openDashboard(browser, h.url, {
    beforeLoad: (p) => p.routeWebSocket(/\/ws(\?|$)/, (ws) => { connections++; live.push(ws, ws.connectToServer()); }),
  });
  await waitRow(page, 'agent', 'running');
  for (const ws of live.splice(0)) await ws.close({ code: 1001, reason: 'network down' });
  await page.waitForFunction(() => document.querySelector('[data-conn]')?.getAttribute('data-conn') !== 'live');
  await page.locator('[data-conn="live"]').waitFor();
  t.equal(connections, 2, 'one new connection after the drop');
});
