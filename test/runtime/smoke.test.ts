/**
 * What a new user does first, on whatever Node runs this file (CI runs it on 20, 22, 24 and 26):
 * start the real `orchestrator serve`, read /health (which names the engine), register a service
 * over the API, see its event arrive on /ws, and load the dashboard in Chromium. And a start that
 * cannot open its registry says why and exits non-zero.
 */
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import WebSocket from 'ws';
import { launchBrowser, openDashboard, waitRow } from '../dashboard/browser.js';
import { node } from '../helpers/harness.js';
import { runBin, stopGracefully } from '../helpers/process.mjs';
import { serve, servedFolder } from '../helpers/serve.js';

t.comment(`Node ${process.version} (ABI ${process.versions.modules})`);

t.test('start, /health, register, a /ws event, the dashboard', async (t) => {
  const { dir, port } = await servedFolder({ pinger: { id: 'pinger', executable: node('healthy.mjs'), auto_start: true } });
  const s = await serve(dir, port);
  t.teardown(() => stopGracefully(s.run));

  const health = await (await fetch(`${s.url}/health`)).json() as { status: string; engine: string };
  t.equal(health.status, 'ok');
  t.match(health.engine, /^(uws|node)$/, `engine: ${health.engine}`);
  t.match(s.run.output(), new RegExp(`engine ${health.engine}`), 'the start-up line names the engine too');
  await s.waitFor((l) => l.some((x) => x.id === 'pinger' && x.state === 'running'), 'the file-defined service running');

  // A /ws client (the ws package: Node 20 has no global WebSocket) sees the registration.
  const ws = new WebSocket(`ws://127.0.0.1:${port}/ws`);
  t.teardown(() => ws.close());
  const frames: Array<Record<string, any>> = [];
  let wake: (() => void) | null = null;
  ws.on('message', (data) => { frames.push(JSON.parse(String(data))); wake?.(); });
  const next = async (pred: (m: Record<string, any>) => boolean, what: string) => {
    const deadline = Date.now() + 20_000;
    for (;;) {
      const hit = frames.find(pred);
      if (hit) return hit;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise<void>((r) => { wake = r; setTimeout(r, 500); });
    }
  };
  await next((m) => m.type === 'snapshot', 'the snapshot');

  const res = await fetch(`${s.url}/api/services`, {
    method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ id: 'registered', executable: node('healthy.mjs'), auto_start: true }),
  });
  t.equal(res.status, 201, 'registered over the API');
  const events = (m: Record<string, any>) => (m.type === 'event' ? [m.event] : m.type === 'events' ? m.events : []) as Array<Record<string, any>>;
  const ev = await next((m) => events(m).some((e) => e.service === 'registered'), 'an event of the registered service');
  t.ok(events(ev).find((e) => e.service === 'registered')!.seq > 0, 'numbered');
  await s.waitFor((l) => l.some((x) => x.id === 'registered' && x.state === 'running'), 'the registered service running');

  const browser = await launchBrowser(t);
  const { page, problems } = await openDashboard(browser, `${s.url}/`);
  await waitRow(page, 'registered', 'running');
  await waitRow(page, 'pinger', 'running');
  t.same(problems, [], 'no errors in the page');
});

t.test('a registry that cannot be opened: the real cause, a non-zero exit, nothing left running', async (t) => {
  const { dir } = await servedFolder({ never: { id: 'never', executable: node('healthy.mjs'), auto_start: true } });
  // A directory where the registry file should be: fails for root too.
  mkdirSync(join(dir, 'data', 'registry.db'), { recursive: true });
  const run = runBin(['serve', '--config', join(dir, 'orchestrator.yaml')]);
  const { code } = await run.exit;
  t.not(code, 0, `exit code ${code}`);
  t.match(run.output(), /registry/i, 'says the registry is the problem');
  t.notMatch(run.output(), /sonic boom/i, 'not masked by the logger');
  t.match(readFileSync(join(dir, 'logs', 'orchestrator.log'), 'utf8'), /registry/i, 'the cause is in the log too');
});
