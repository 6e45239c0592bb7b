/**
 * What agents report, as the dashboard shows it (issue 15), in real headless Chromium against a
 * real orchestrator with fixture agents that heartbeat over the real API (test/fixtures/agent.mjs):
 * heartbeat age with progress and status text, a throttled countdown, draining with the work in
 * flight, and stalled as its own health badge.
 */
import t from 'tap';
import { harness, node } from '../helpers/harness.js';
import { launchBrowser, openDashboard, row, waitRow } from './browser.js';

t.test('agent lifecycle in the dashboard', async (t) => {
  const h = await harness(t, {
    http: true,
    services: {
      busy: {
        id: 'busy', executable: node('agent.mjs'), environment: { HEARTBEAT_MS: 200, PROGRESS: 'advance', INFLIGHT: 2, DRAIN_WORK_MS: 'never' },
        heartbeat: { timeout_seconds: 30 }, drain: { timeout_seconds: 5 }, // (the teardown waits out the drain)
      },
      limited: {
        id: 'limited', executable: node('agent.mjs'), environment: { EXIT_CODE: 75, EXIT_AFTER_MS: 50 }, throttle: { default_seconds: 90 },
      },
      quiet: { id: 'quiet', executable: node('agent.mjs'), environment: { QUIET: 1 }, silence: { timeout_seconds: 0.5 } },
    },
  });
  const browser = await launchBrowser(t);
  const { page, problems } = await openDashboard(browser, h.url);
  const cell = (id: string, c: string) => page.locator(`${row(id)} .c-${c}`).innerText();

  await t.test('heartbeat age, progress and status text; ready', async (t) => {
    await waitRow(page, 'busy', 'running');
    await page.waitForFunction((sel) => /ago/.test(document.querySelector(`${sel} .c-heartbeat`)?.textContent ?? ''), row('busy'));
    t.match(await cell('busy', 'heartbeat'), /^\d+s ago\s*progress \d+ · beat \d+$/, 'age, then progress and status text');
    t.equal(await cell('busy', 'ready'), 'yes', 'running without probes: ready');
  });

  await t.test('throttled, with a countdown that moves', async (t) => {
    await waitRow(page, 'limited', 'throttled');
    const note = () => page.locator(`${row('limited')} .state-note`).innerText();
    const first = await note();
    t.match(first, /^retry in 1m \d+s$|^retry in \d+s$/, `a countdown (${first})`);
    await page.waitForFunction(([sel, was]) => {
      const text = document.querySelector(`${sel} .state-note`)?.textContent;
      return !!text && text !== was;
    }, [row('limited'), first] as const);
    t.not(await note(), first, 'it counts down without new data');
  });

  await t.test('stalled is a health badge of its own', async (t) => {
    await waitRow(page, 'quiet', 'running', 'stalled');
    t.match(await cell('quiet', 'health'), /stalled/);
  });

  await t.test('draining shows the work still in flight', async (t) => {
    await h.o.fleet.command('busy', 'restart');
    await waitRow(page, 'busy', 'draining');
    t.equal(await page.locator(`${row('busy')} .state-note`).innerText(), '2 in flight');
    t.equal(await cell('busy', 'ready'), 'no', 'not ready while draining');
  });

  t.same(problems, [], 'no page errors');
});
