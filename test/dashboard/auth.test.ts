/** With api.api_key set: the dashboard asks for the key on a 401, keeps it, and uses it for REST and /ws. */
import t from 'tap';
import { harness, node } from '../helpers/harness.js';
import { launchBrowser, openDashboard, waitRow } from './browser.js';

t.test('API key prompt', async (t) => {
  const h = await harness(t, {
    http: true,
    config: { api: { api_key: 'k' } },
    services: { agent: { id: 'agent', executable: node('sleeper.mjs') } },
  });
  const browser = await launchBrowser(t);
  const { page, problems } = await openDashboard(browser, h.url);

  const dialog = page.getByRole('dialog', { name: 'API key required' });
  await dialog.waitFor();
  t.pass('the prompt appears');
  t.equal(await page.locator('tbody tr[data-id]').count(), 0, 'no services without the key');
  t.equal(await page.locator('[data-conn]').getAttribute('data-conn'), 'unauthorized', 'the indicator says a key is needed');

  await page.keyboard.press('Escape');
  await dialog.waitFor({ state: 'detached' });
  await page.getByRole('button', { name: 'API key needed' }).click();
  await dialog.waitFor();
  t.pass('dismissed, the prompt comes back from the header');

  await dialog.getByLabel('API key').fill('wrong');
  await dialog.getByRole('button', { name: 'Use key' }).click();
  await dialog.getByText('That key was not accepted.').waitFor();
  t.pass('a wrong key is refused with a message');

  await dialog.getByLabel('API key').fill('k');
  await dialog.getByRole('button', { name: 'Use key' }).click();
  await dialog.waitFor({ state: 'detached' });
  await waitRow(page, 'agent', 'running');
  t.pass('once filled, the table loads');
  t.equal(await page.evaluate(() => localStorage.getItem('agent-orchestrator.api-key')), 'k', 'the key is kept in localStorage');

  // REST with the key: the detail panel loads spec and logs.
  await page.locator('tr[data-id="agent"] a').click();
  await page.locator('aside .log').getByText('sleeper agent up').waitFor();
  t.pass('REST calls carry the key (log tail loaded)');

  await page.reload();
  await waitRow(page, 'agent', 'running');
  t.equal(await page.getByRole('dialog').count(), 0, 'after a reload the saved key is used without asking');
  t.same(problems, [], 'no errors in the page');
});
