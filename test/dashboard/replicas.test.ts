/**
 * Replicas in the dashboard (real Chromium): the instances of a replicated service come together
 * under a row of their service with how many run, are healthy and ready; an instance's panel has
 * a "Rolling restart" button, whose progress the row and the panel show until it finishes.
 */
import t from 'tap';
import { harness, type Harness } from '../helpers/harness.js';
import { freeRange, web } from '../helpers/replicas.js';
import { launchBrowser, openDashboard, row, waitRow } from './browser.js';

const ids = ['web#0', 'web#1', 'web#2'];
const healthy = (h: Harness) => ids.every((id) => h.o.fleet.has(id) && h.view(id).state === 'running' && h.view(id).health === 'healthy');

t.test('instances under their service; a rolling restart from the panel', async (t) => {
  const base = await freeRange(3);
  const h = await harness(t, { http: true, services: { web: web(base, 3, { rollout: { min_healthy_seconds: 0.2 } }) } });
  await h.waitFor(() => healthy(h), '3 healthy instances');
  const browser = await launchBrowser(t);
  const { page, problems } = await openDashboard(browser, h.url);
  for (const id of ids) await waitRow(page, id, 'running', 'healthy');

  const order = await page.$$eval('tbody tr:not(.spacer)', (rows) => rows.map((r) => (r as HTMLElement).dataset.group ?? (r as HTMLElement).dataset.id));
  t.same(order, ['web', ...ids], 'the service\'s row, then its instances in order');
  const group = page.locator('tr.group[data-group="web"]');
  t.match(await group.textContent(), /web\s*3 replicas.*3\/3 running.*3\/3 healthy.*3\/3/, 'how many run, are healthy and ready');

  await page.locator(`${row('web#1')} a`).click();
  const button = page.locator('aside .actions [data-action="rolling"]');
  t.match(await button.textContent(), /Rolling restart of web/);
  const before = ids.map((id) => h.view(id).pid);
  await button.click();
  await page.locator('aside [data-field="rollout"]').filter({ hasText: 'rolling restart finished (3 instances)' }).waitFor({ timeout: 60_000 });
  t.pass('the panel follows the rollout to its end');
  t.match(await group.locator('[data-field="rollout"]').textContent(), /rolling restart finished \(3 instances\)/, 'and so does the service\'s row');
  t.ok(ids.every((id, i) => h.view(id).pid !== before[i]), 'every instance runs a new process');
  t.ok(h.events('web', 'command').length === 0 && h.events('web', 'rollout_started').length === 1, 'one rollout, started from the panel');
  t.same(problems, [], 'no errors in the page');
});
