/**
 * The dashboard in real headless Chromium against a real orchestrator with fixture services:
 * the table, live state changes without reloads, start/stop/restart, the log tail, events and
 * registration with the API's field errors.
 */
import t from 'tap';
import { harness, node } from '../helpers/harness.js';
import { freePort, until } from '../helpers/process.mjs';
import { launchBrowser, openDashboard, row, waitRow } from './browser.js';

t.test('dashboard against a live orchestrator', async (t) => {
  const [webPort, sickPort] = await Promise.all([freePort(), freePort()]);
  const h = await harness(t, {
    http: true,
    services: {
      web: {
        id: 'web', name: 'Web Agent', type: 'ai-agent', executable: node('healthy.mjs'),
        health_endpoint: `http://127.0.0.1:${webPort}/health`, environment: { PORT: webPort },
        // Long enough in backoff after a kill for the page to show it.
        restart_policy: { backoff_seconds: 1 },
      },
      idle: { id: 'idle', executable: node('sleeper.mjs'), auto_start: false, type: 'worker' },
      broken: { id: 'broken', executable: node('crashy.mjs'), restart_policy: { max_retries: 0 } },
      sick: {
        id: 'sick', executable: node('unhealthy-after.mjs'), health_endpoint: `http://127.0.0.1:${sickPort}/health`,
        environment: { PORT: sickPort }, health: { failure_threshold: 100000 },
      },
    },
  });
  const browser = await launchBrowser(t);
  const { page, problems } = await openDashboard(browser, h.url);

  await t.test('the table lists the services with their states', async (t) => {
    await waitRow(page, 'web', 'running', 'healthy');
    await waitRow(page, 'idle', 'stopped');
    await waitRow(page, 'broken', 'failed');
    await waitRow(page, 'sick', 'running', 'unhealthy');
    t.equal(await page.locator('tbody tr[data-id]').count(), 4, 'one row per service');
    t.match(await page.locator(row('web')).innerText(), /Web Agent[\s\S]*web[\s\S]*ai-agent[\s\S]*running[\s\S]*healthy[\s\S]*ms/, 'name, id, type, state, health with latency');
    t.equal(await page.locator(`${row('web')} .c-pid`).innerText(), String(h.view('web').pid), 'the pid');
    const cell = (id: string, c: string) => page.locator(`${row(id)} .c-${c}`).innerText();
    t.same([await cell('web', 'ready'), await cell('sick', 'ready'), await cell('idle', 'ready'), await cell('broken', 'ready')],
      ['yes', 'no', '—', '—'], 'ready: yes when healthy, no while alive but unhealthy, a dash when not running');
    t.equal(await page.locator(row('web')).getAttribute('data-ready'), 'true');
    t.same(await Promise.all(['web', 'sick', 'idle', 'broken'].map((id) => cell(id, 'heartbeat'))), ['—', '—', '—', '—'], 'no heartbeat from any of them');
    t.same(await page.locator('thead th').evaluateAll((ths) => ths.map((th) => th.textContent!.replace(/[▲▼]/g, '').trim())),
      ['Service', 'Type', 'State', 'Health', 'Ready', 'Heartbeat', 'Uptime', 'Restarts', 'CPU', 'Memory', 'PID'], 'the columns');
    const count = (k: string) => page.locator(`[data-count="${k}"]`).innerText();
    t.same([await count('total'), await count('stopped'), await count('failed'), await count('unhealthy')], ['4', '1', '1', '1'], 'header counts by state');
    t.match(await page.locator('.meta').innerText(), /^v\d+\.\d+\.\d+/, 'orchestrator version in the header');
    t.equal(await page.locator('[data-conn]').getAttribute('data-conn'), 'live', 'connection indicator says live');

    await page.getByLabel('State', { exact: true }).selectOption('stopped');
    await page.waitForFunction(() => document.querySelectorAll('tbody tr[data-id]').length === 1);
    t.ok(await page.locator(row('idle')).isVisible(), 'state filter keeps the stopped service only');
    await page.getByLabel('State', { exact: true }).selectOption('all');
    await page.getByRole('searchbox', { name: /Filter services/ }).fill('sic');
    await page.waitForFunction(() => document.querySelectorAll('tbody tr[data-id]').length === 1);
    t.ok(await page.locator(row('sick')).isVisible(), 'text filter');
    await page.getByRole('searchbox', { name: /Filter services/ }).fill('');
    await page.waitForFunction(() => document.querySelectorAll('tbody tr[data-id]').length === 4);
    const order = () => page.locator('tbody tr[data-id]').evaluateAll((rows) => rows.map((r) => (r as HTMLElement).dataset.id));
    t.same(await order(), ['broken', 'idle', 'sick', 'web'], 'sorted by name');
    await page.getByRole('button', { name: 'Service', exact: true }).click();
    t.same(await order(), ['web', 'sick', 'idle', 'broken'], 'a second click reverses');
    t.equal(await page.locator('th.c-name').getAttribute('aria-sort'), 'descending');
    await page.getByRole('button', { name: 'Service', exact: true }).click();
  });

  await t.test('a killed process: the badge leaves healthy and comes back, no reload', async (t) => {
    await page.evaluate(() => { (window as unknown as { marker: number }).marker = 42; });
    const pid = h.view('web').pid!;
    // What the kill adds to (a loaded machine may have restarted it before: a slow first probe).
    const restartsBefore = h.view('web').restarts;
    process.kill(pid, 'SIGKILL');
    await page.waitForFunction((sel) => {
      const r = document.querySelector<HTMLElement>(sel);
      return !!r && !(r.dataset.state === 'running' && r.dataset.health === 'healthy');
    }, row('web'));
    t.pass(`row left running/healthy (now ${await page.locator(row('web')).getAttribute('data-state')})`);
    await page.waitForFunction(([sel, old]) => {
      const r = document.querySelector<HTMLElement>(sel);
      return !!r && r.dataset.state === 'running' && r.dataset.health === 'healthy' && r.querySelector('.c-pid')!.textContent !== old;
    }, [row('web'), String(pid)] as const);
    t.not(h.view('web').pid, pid, 'a new process');
    // The page shows the count the orchestrator has, which the kill raised.
    const shown = await until(async () => {
      const text = await page.locator(`${row('web')} .c-restarts`).innerText();
      return text === String(h.view('web').restarts) && text;
    }, 'the restarts cell to show the orchestrator\'s count');
    t.ok(Number(shown) > restartsBefore, `restart counted (${restartsBefore} → ${shown})`);
    t.equal(await page.evaluate(() => (window as unknown as { marker: number }).marker), 42, 'same page: no reload');
  });

  await t.test('detail: log tail shows what the fixture printed, live lines, stream toggle, filter', async (t) => {
    const pid = h.view('web').pid!;
    await page.locator(`${row('web')} a`).click();
    await page.waitForFunction(() => location.hash === '#/services/web');
    const drawer = page.locator('aside[data-service="web"]');
    const log = drawer.locator('.log');
    await log.getByText(`booting pid ${pid}`).waitFor();
    t.pass('the log tail shows the line the fixture printed at start');
    t.match(await drawer.locator('.summary [data-field="ready"]').innerText(), /^Ready\s+yes$/, 'the panel shows ready');
    t.match(await drawer.locator('.summary [data-field="heartbeat"]').innerText(), /^Heartbeat\s+—$/, 'and no heartbeat yet');
    t.equal(await drawer.locator('.summary [data-field="throttled"], .summary [data-field="inflight"], .summary [data-field="status"]').count(), 0, 'no lifecycle fields it never reported');
    t.ok(await log.getByText('a line on stderr').first().isVisible(), 'stderr too');

    await drawer.getByRole('button', { name: 'Restart' }).click();
    await h.waitView('web', (v) => v.pid !== pid && v.state === 'running', 'web restarted');
    const fresh = h.view('web').pid!;
    await log.getByText(`booting pid ${fresh}`).waitFor();
    t.pass('a line printed after opening arrives live');

    await drawer.getByText('stderr', { exact: true }).click();
    await page.waitForFunction(() => !document.querySelector('.log')!.textContent!.includes('booting'));
    t.ok(await log.getByText('a line on stderr').first().isVisible(), 'stderr only');
    await drawer.getByText('both', { exact: true }).click();
    await drawer.getByRole('searchbox', { name: 'Filter log lines' }).fill(`pid ${fresh}`);
    await page.waitForFunction((p) => {
      const lines = [...document.querySelectorAll('.log .ln')].map((l) => l.textContent);
      return lines.length === 1 && lines[0] === `booting pid ${p}`;
    }, fresh);
    t.pass('text filter');
    await drawer.getByRole('searchbox', { name: 'Filter log lines' }).fill('');

    const follow = drawer.getByRole('button', { name: 'Follow' });
    t.equal(await follow.getAttribute('aria-pressed'), 'true', 'following by default');
    await follow.click();
    await drawer.getByText('Paused').waitFor();
    await drawer.getByRole('button', { name: 'Restart' }).click();
    await h.waitView('web', (v) => v.pid !== fresh && v.state === 'running' && v.health === 'healthy', 'web restarted again');
    const third = h.view('web').pid!;
    await drawer.getByText(/^Paused · \d+ new lines?$/).waitFor();
    t.equal(await log.getByText(`booting pid ${third}`).count(), 0, 'paused: new lines wait');
    await follow.click();
    await log.getByText(`booting pid ${third}`).waitFor();
    t.pass('resumed: they appear');

    await drawer.getByRole('tab', { name: 'Events' }).click();
    await drawer.locator('.timeline li[data-type="state"]').first().waitFor();
    t.match(await drawer.locator('.timeline').innerText(), /running → stopping/, 'events timeline from the registry');
    await drawer.getByRole('tab', { name: 'Spec' }).click();
    t.match(await drawer.locator('pre.spec').innerText(), /executable: .*healthy\.mjs/, 'the spec');
    await drawer.getByRole('tab', { name: 'Logs' }).click();
  });

  await t.test('stop asks first, then stop and start work', async (t) => {
    const drawer = page.locator('aside[data-service="web"]');
    await drawer.getByRole('button', { name: 'Stop', exact: true }).click();
    const confirm = drawer.getByRole('group', { name: 'Confirm stop' });
    await confirm.waitFor();
    t.match(await confirm.innerText(), /SIGTERM/, 'the confirmation names the stop signal');
    await confirm.getByRole('button', { name: 'Cancel' }).click();
    await confirm.waitFor({ state: 'detached' });
    t.equal(h.view('web').state, 'running', 'cancel leaves it running');

    await drawer.getByRole('button', { name: 'Stop', exact: true }).click();
    await confirm.getByRole('button', { name: 'Stop service' }).click();
    await waitRow(page, 'web', 'stopped');
    t.equal(h.view('web').state, 'stopped', 'stopped for real');
    t.match(await drawer.locator('.summary').innerText(), /stopped/, 'the panel shows it');

    await drawer.getByRole('button', { name: 'Start', exact: true }).click();
    await waitRow(page, 'web', 'running', 'healthy');
    t.equal(h.view('web').state, 'running', 'started for real');

    await page.keyboard.press('Escape');
    await page.waitForFunction(() => !document.querySelector('aside.drawer'));
    t.pass('Escape closes the panel');
  });

  await t.test('registration: field errors next to the field, then success', async (t) => {
    await page.getByRole('link', { name: 'Register service' }).click();
    const dialog = page.getByRole('dialog', { name: 'Register a service' });
    await dialog.waitFor();
    await dialog.getByLabel('ID').fill('new-agent');
    await dialog.getByLabel('Command').fill(node('sleeper.mjs'));
    await dialog.getByLabel('Max retries').fill('-1');
    await dialog.getByRole('button', { name: 'Register' }).click();
    const err = dialog.locator('[data-field="restart_policy.max_retries"] .field-error');
    await err.waitFor();
    t.match(await err.innerText(), /expected a non-negative integer, got -1/, 'the API error sits with the field');
    t.equal(await dialog.getByLabel('Max retries').getAttribute('aria-invalid'), 'true', 'the field is marked invalid');
    t.equal(await dialog.getByLabel('Max retries').evaluate((el) => el === document.activeElement), true, 'and focused');

    await dialog.getByLabel('Max retries').fill('2');
    await dialog.getByLabel('Health endpoint').fill('not-a-url');
    await dialog.getByRole('button', { name: 'Register' }).click();
    await dialog.locator('[data-field="health_endpoint"] .field-error').waitFor();
    t.equal(await err.count(), 0, 'the fixed field has no error any more');

    await dialog.getByLabel('Health endpoint').fill('');
    await dialog.getByRole('button', { name: 'Register' }).click();
    await page.waitForFunction(() => location.hash === '#/services/new-agent');
    await waitRow(page, 'new-agent', 'running');
    t.equal(h.view('new-agent').state, 'running', 'registered and started');
    await page.getByRole('link', { name: 'Close details' }).click();

    await page.getByRole('link', { name: 'Register service' }).click();
    await dialog.getByText('Paste YAML').click();
    await dialog.getByLabel('Service file (YAML)').fill(`id: yaml-agent\nexecutable: sleep 30\nrestart_policy:\n  max_retries: three\n`);
    await dialog.getByRole('button', { name: 'Register' }).click();
    const yamlErr = dialog.locator('[data-field="yaml"] .field-error');
    await yamlErr.waitFor();
    t.match(await yamlErr.innerText(), /line 4: restart_policy\.max_retries: expected a non-negative integer, got "three"/, 'YAML errors name line and field');
    await dialog.getByLabel('Service file (YAML)').fill(`id: yaml-agent\nexecutable: ${node('sleeper.mjs')}\nauto_start: false\n`);
    await dialog.getByRole('button', { name: 'Register' }).click();
    await waitRow(page, 'yaml-agent', 'stopped');
    t.pass('registered from YAML');
    await page.keyboard.press('Escape');
  });

  t.same(problems, [], 'no errors in the page');
});
