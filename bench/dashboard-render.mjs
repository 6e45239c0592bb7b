// The dashboard with 1,000 services in headless Chromium: time from the feed's snapshot arriving
// to the table on screen, the cost of live updates (batched usage samples of every service, and
// single-service restarts), and sorting, filtering and scrolling the virtualised table.
//   npm run build && node bench/dashboard-render.mjs [services=1000] [seconds=20]
// Needs Debian's chromium at /usr/bin/chromium (or CHROMIUM_PATH); nothing is downloaded.
import { chromium } from 'playwright-core';
import { fail, finish, machine, printTable, startOrchestrator, atExit } from './lib/orchestrator.mjs';
import { summarize } from './lib/stats.mjs';

const N = Number(process.argv[2] ?? 1000);
const SECONDS = Number(process.argv[3] ?? 20);
const LOADS = 5;

async function main() {
  const o = await startOrchestrator({ count: N, executable: 'sleep 3600' });
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  atExit(() => browser.close());
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  // Chromium's own accounting (CDP Performance): how much of a step is our script vs layout/style.
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('Performance.enable');
  const metrics = async () => Object.fromEntries((await cdp.send('Performance.getMetrics')).metrics.map((m) => [m.name, m.value * 1000]));
  const spent = (a, b) => ({ script: b.ScriptDuration - a.ScriptDuration, layout: b.LayoutDuration - a.LayoutDuration, style: b.RecalcStyleDuration - a.RecalcStyleDuration });
  let snapshotBytes = 0;
  const updateSizes = [];
  page.on('websocket', (ws) => ws.on('framereceived', ({ payload }) => {
    if (typeof payload !== 'string') return;
    if (payload.startsWith('{"type":"snapshot"')) snapshotBytes = payload.length;
    else if (payload.startsWith('{"type":"services"')) updateSizes.push(JSON.parse(payload).services.length);
  }));

  // Fresh page loads: snapshot message → table committed → next frame (on screen).
  const loads = [];
  for (let i = 0; i < LOADS; i++) {
    await page.goto(o.url);
    await page.waitForFunction(() => performance.getEntriesByName('dashboard:snapshot:paint').length > 0, null, { timeout: 60_000 });
    loads.push(await page.evaluate(() => {
      const one = (name) => performance.getEntriesByName(name)[0];
      const paint = one('dashboard:snapshot:paint');
      const applies = performance.getEntriesByName('dashboard:apply').map((e) => e.duration);
      return {
        apply: Math.max(...applies),
        commit: one('dashboard:snapshot').duration,
        paint: paint.duration,
        fromNavigation: paint.startTime + paint.duration,
        rows: document.querySelectorAll('tbody tr[data-id]').length,
        total: Number(document.querySelector('[data-count="total"]').textContent),
      };
    }));
  }
  const last = loads[loads.length - 1];
  if (last.total !== N) throw new Error(`the header counts ${last.total} services, expected ${N}`);

  // Live: every service's usage sample arrives in batches every 5 s; restarts add small updates.
  await page.evaluate(() => { performance.clearMeasures(); window.__longTasks = []; new PerformanceObserver((l) => { for (const e of l.getEntries()) window.__longTasks.push(e.duration); }).observe({ type: 'longtask' }); });
  updateSizes.length = 0;
  const liveBefore = await metrics();
  const started = Date.now();
  let restarts = 0;
  while (Date.now() - started < SECONDS * 1000) {
    const id = `svc-${String(restarts * 37 % N).padStart(3, '0')}`;
    await fetch(`${o.url}/api/services/${id}/restart`, { method: 'PUT' });
    restarts++;
    await new Promise((r) => setTimeout(r, 1000));
  }
  const liveSpent = spent(liveBefore, await metrics());
  const live = await page.evaluate(() => ({
    commit: performance.getEntriesByName('dashboard:update').map((e) => e.duration),
    paint: performance.getEntriesByName('dashboard:update:paint').map((e) => e.duration),
    apply: performance.getEntriesByName('dashboard:apply').map((e) => e.duration),
    longTasks: window.__longTasks.length,
  }));

  // Interaction: sort, filter, and scroll from top to bottom one screen at a time.
  const interactBefore = await metrics();
  const interact = await page.evaluate(async () => {
    const frame = () => new Promise((r) => requestAnimationFrame(() => setTimeout(r, 0)));
    const time = async (fn) => { const t0 = performance.now(); fn(); await frame(); return performance.now() - t0; };
    const sortBtn = [...document.querySelectorAll('th button')].find((b) => b.textContent.startsWith('Memory'));
    const sort = [];
    for (let i = 0; i < 6; i++) sort.push(await time(() => sortBtn.click()));
    const input = document.querySelector('input[type=search]');
    const filter = [];
    for (const text of ['svc-1', 'svc-12', 'svc-123', '', 'svc-9', '']) {
      filter.push(await time(() => { input.value = text; input.dispatchEvent(new Event('input', { bubbles: true })); }));
    }
    const el = document.querySelector('.table-scroll');
    const scroll = [];
    for (let y = 0; y < el.scrollHeight; y += el.clientHeight) scroll.push(await time(() => { el.scrollTop = y; }));
    return { sort, filter, scroll, domRows: document.querySelectorAll('tbody tr').length };
  });
  const interactSpent = spent(interactBefore, await metrics());
  const steps = interact.sort.length + interact.filter.length + interact.scroll.length;

  const f = (n) => (Number.isFinite(n) ? n.toFixed(1) : '-');
  const row = (what, values, note = '') => {
    const s = summarize(values);
    return { measure: what, n: String(s.n), 'median ms': f(s.p50), 'p95 ms': f(s.p95), 'max ms': f(s.max), note };
  };
  process.stdout.write(`\nDashboard with ${N} services — ${machine()}, ${await browser.version()}\n`);
  process.stdout.write(`snapshot ${Math.round(snapshotBytes / 1024)} KB; rows in the DOM: ${last.rows} of ${N} at the top, ${interact.domRows} <tr> (spacers included) at the bottom\n\n`);
  printTable(['measure', 'n', 'median ms', 'p95 ms', 'max ms', 'note'], [
    row('page load → table on screen', loads.map((l) => l.fromNavigation), 'navigation start to the frame after the first table render'),
    row('snapshot: parse + apply', loads.map((l) => l.apply), 'JSON.parse and store update of the snapshot message'),
    row('snapshot → table rendered', loads.map((l) => l.commit), 'message arrival to table commit (includes waiting for the frame)'),
    row('snapshot → on screen', loads.map((l) => l.paint), 'to the frame after the commit'),
    row('live update: parse + apply', live.apply, `per feed message; ${updateSizes.length} "services" messages of ${Math.min(...updateSizes)}–${Math.max(...updateSizes)} services`),
    row('live update → table rendered', live.commit, `${restarts} restarts + usage samples of all ${N} every 5 s`),
    row('live update → on screen', live.paint, `long tasks (>50 ms) during ${SECONDS} s: ${live.longTasks}`),
    row('sort by memory (click → frame)', interact.sort),
    row('filter by text (input → frame)', interact.filter),
    row('scroll one screen (→ frame)', interact.scroll),
  ]);
  const per = (x, n) => (x / Math.max(1, n)).toFixed(2);
  process.stdout.write(`\nChromium's accounting (CDP Performance metrics), per step:\n`);
  printTable(['phase', 'steps', 'script ms', 'layout ms', 'style ms'], [
    { phase: `live window (${SECONDS} s)`, steps: String(live.commit.length), 'script ms': per(liveSpent.script, live.commit.length), 'layout ms': per(liveSpent.layout, live.commit.length), 'style ms': per(liveSpent.style, live.commit.length) },
    { phase: 'sort + filter + scroll', steps: String(steps), 'script ms': per(interactSpent.script, steps), 'layout ms': per(interactSpent.layout, steps), 'style ms': per(interactSpent.style, steps) },
  ]);
  await finish(0);
}

main().catch(fail);
