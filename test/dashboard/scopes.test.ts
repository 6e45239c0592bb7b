/**
 * The dashboard with scoped keys (api.keys): it asks GET /api/whoami what its key may do, shows a
 * read-only key the services without start/stop/restart or "Register service", and gives an
 * operate key the buttons, whose commands are recorded under the key's name.
 */
import t from 'tap';
import { harness, node } from '../helpers/harness.js';
import { launchBrowser, openDashboard, row, waitRow } from './browser.js';

const KEYS = [
  { name: 'viewer', key: 'viewer-key-0123456789', scopes: ['read'] },
  { name: 'oncall', key: 'oncall-key-0123456789', scopes: ['operate'] },
  { name: 'owner', key: 'owner-key-0123456789', scopes: ['admin'] },
];

t.test('what the dashboard offers follows the key\'s scopes', async (t) => {
  const h = await harness(t, {
    http: true,
    config: { api: { keys: KEYS, rate_limit: 0 } },
    services: { agent: { id: 'agent', executable: node('sleeper.mjs') } },
  });
  const browser = await launchBrowser(t);
  const withKey = (key: string) => openDashboard(browser, h.url, {
    beforeLoad: async (page) => { await page.addInitScript((k) => localStorage.setItem('agent-orchestrator.api-key', k), key); },
  });

  // read: the services and their detail, no commands, no registering.
  const viewer = await withKey(KEYS[0]!.key);
  await waitRow(viewer.page, 'agent', 'running');
  await viewer.page.locator(`${row('agent')} a`).click();
  const note = viewer.page.locator('aside [data-field="read-only"]');
  await note.waitFor();
  t.match(await note.textContent(), /"viewer" may only read .*need operate/, 'the detail says why there are no buttons');
  t.equal(await viewer.page.locator('aside .actions button').count(), 0, 'no start, stop or restart for a read key');
  t.equal(await viewer.page.getByRole('link', { name: 'Register service' }).count(), 0, 'no "Register service" for a read key');
  t.same(viewer.problems, [], 'no errors in the page');

  // operate: the buttons work and the command is the key's; still no registering.
  const oncall = await withKey(KEYS[1]!.key);
  await waitRow(oncall.page, 'agent', 'running');
  await oncall.page.locator(`${row('agent')} a`).click();
  const pidBefore = h.view('agent').pid;
  await oncall.page.locator('aside .actions').getByRole('button', { name: 'Restart' }).click();
  await h.waitView('agent', (v) => v.state === 'running' && v.pid !== pidBefore, 'agent restarted with a new pid');
  t.ok(h.events('agent', 'command').some((e) => e.data.command === 'restart' && e.data.actor === 'oncall'), 'the restart is recorded as oncall\'s');
  t.equal(await oncall.page.getByRole('link', { name: 'Register service' }).count(), 0, 'no "Register service" for an operate key');
  t.equal(await oncall.page.locator('aside [data-field="read-only"]').count(), 0, 'no read-only note for an operate key');
  t.same(oncall.problems, [], 'no errors in the page');

  // admin: everything.
  const owner = await withKey(KEYS[2]!.key);
  await waitRow(owner.page, 'agent', 'running');
  await owner.page.getByRole('link', { name: 'Register service' }).waitFor();
  t.pass('"Register service" for an admin key');
  t.same(owner.problems, [], 'no errors in the page');
});
