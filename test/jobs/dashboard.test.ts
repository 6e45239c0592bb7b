/**
 * A job in the dashboard (real headless Chromium, real orchestrator): the detail panel shows the
 * next run, and its Runs tab lists the recorded runs with their exit codes, newest first.
 */
import t from 'tap';
import { harness, node } from '../helpers/harness.js';
import { launchBrowser, openDashboard, row } from '../dashboard/browser.js';

t.test('next run and the Runs tab', async (t) => {
  const h = await harness(t, { http: true, services: { tick: { id: 'tick', executable: node('job.mjs'), schedule: { interval_seconds: 1, run_on_start: true } } } });
  await h.waitFor(() => h.o.registry.runs.history('tick', 5).filter((r) => r.ended_at !== null).length >= 2 || undefined, 'two finished runs');
  const browser = await launchBrowser(t);
  const { page, problems } = await openDashboard(browser, h.url);
  await page.locator(`${row('tick')} a`).first().click();
  await page.locator('[data-field="next-run"] dd').waitFor();
  t.match(await page.locator('[data-field="next-run"] dd').innerText(), /^\d\d:\d\d:\d\d$/, 'next run, as a time');
  await page.locator('#tab-runs').click();
  await page.locator('table.runs tbody tr').nth(1).waitFor();
  const rows = await page.locator('table.runs tbody tr').allInnerTexts();
  t.ok(rows.length >= 2, `runs listed (${rows.length})`);
  const done = rows.filter((r) => /exited with code 0/.test(r));
  t.ok(done.length >= 2, 'finished runs with their exit');
  t.match(done[0], /\t0\t/, 'exit code 0 in its column');
  const ids = rows.map((r) => Number(r.split(/\s/)[0]!.split('.')[1]));
  t.same(ids, [...ids].sort((a, b) => b - a), 'newest first');
  t.same(problems, [], 'no page errors');
});
