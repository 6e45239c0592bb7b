// Takes docs/dashboard.png (and docs/dashboard-detail.png): a real orchestrator with services in
// different states, the dashboard in headless Chromium.   node test/dashboard/screenshot.mjs
// Needs `npm run build` first and Debian's chromium (/usr/bin/chromium).
import { chromium } from 'playwright-core';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { FIXTURES, freePort, startOrchestrator } from '../helpers/process.mjs';

const fixture = (name) => `${process.execPath} ${join(FIXTURES, name)}`;
const out = (name) => fileURLToPath(new URL(`../../docs/${name}`, import.meta.url));
const [p1, p2, p3, p4] = await Promise.all([freePort(), freePort(), freePort(), freePort()]);
const http = (port) => `http://127.0.0.1:${port}/health`;

const orch = await startOrchestrator({
  prefix: 'orch-dash-',
  timeoutMs: 60_000,
  // Quiet logs and a 1-5 s recovery backoff.
  config: { orchestrator: { log_level: 'WARNING' }, recovery: { backoff_seconds: 1, max_backoff_seconds: 5 }, api: { cors_origins: [] } },
  services: {
    'research-agent': { id: 'research-agent', name: 'Research Agent', type: 'ai-agent', executable: fixture('healthy.mjs'), health_endpoint: http(p1), environment: { PORT: p1 } },
    'summarizer-agent': { id: 'summarizer-agent', name: 'Summarizer', type: 'ai-agent', executable: fixture('healthy.mjs'), health_endpoint: http(p2), environment: { PORT: p2 } },
    'embedding-worker': { id: 'embedding-worker', name: 'Embedding Worker', type: 'worker', executable: fixture('sleeper.mjs') },
    'ranker-agent': {
      id: 'ranker-agent', name: 'Ranker', type: 'ai-agent', executable: fixture('unhealthy-after.mjs'), health_endpoint: http(p3),
      environment: { PORT: p3, HEALTHY_PROBES: 2 }, health: { failure_threshold: 100000 },
    },
    'scraper-agent': {
      id: 'scraper-agent', name: 'Web Scraper', type: 'ai-agent', executable: fixture('crashy.mjs'), environment: { DELAY_MS: 200 },
      restart_policy: { max_retries: 50, backoff_seconds: 600, max_backoff_seconds: 600 },
    },
    'legacy-bot': { id: 'legacy-bot', name: 'Legacy Bot', type: 'ai-agent', executable: fixture('crashy.mjs'), restart_policy: { max_retries: 1, backoff_seconds: 0.1 } },
    'nightly-report': { id: 'nightly-report', name: 'Nightly Report', type: 'batch', executable: fixture('sleeper.mjs'), auto_start: false },
    'translator-agent': { id: 'translator-agent', name: 'Translator', type: 'ai-agent', executable: fixture('healthy.mjs'), health_endpoint: http(p4), environment: { PORT: p4 } },
  },
});

const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
try {
  const page = await browser.newPage({ viewport: { width: 1360, height: 620 }, colorScheme: 'light' });
  await page.goto(orch.url);
  const row = (id) => `tr[data-id="${id}"]`;
  await page.waitForSelector(`${row('research-agent')}[data-health="healthy"]`);
  await page.waitForSelector(`${row('ranker-agent')}[data-health="unhealthy"]`);
  await page.waitForSelector(`${row('scraper-agent')}[data-state="backoff"]`);
  await page.waitForSelector(`${row('legacy-bot')}[data-state="failed"]`);
  await page.waitForSelector(`${row('nightly-report')}[data-state="stopped"]`);
  // Let the sparklines gather some samples (one a second).
  await page.waitForFunction(() => document.querySelectorAll('td.c-memory polyline').length >= 4, null, { timeout: 60_000 });
  await page.waitForFunction(() => [...document.querySelectorAll('td.c-memory polyline')].every((p) => p.getAttribute('points').split(' ').length >= 12), null, { timeout: 60_000 });
  await page.screenshot({ path: out('dashboard.png') });
  await page.click(`${row('research-agent')} a`);
  await page.waitForSelector('.log .ln');
  await page.screenshot({ path: out('dashboard-detail.png') });
  process.stdout.write(`wrote docs/dashboard.png and docs/dashboard-detail.png\n`);
} finally {
  await browser.close();
  await orch.stop();
}
