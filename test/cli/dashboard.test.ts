/** `orchestrator dashboard`: public/ on its own port plus /config.json pointing at the orchestrator. */
import t from 'tap';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { harness } from '../helpers/harness.js';
import { freePort, ROOT } from '../helpers/process.mjs';
import { startCli } from './run.js';

t.test('serves public/ and /config.json, and the orchestrator accepts its origin', async (t) => {
  const h = await harness(t, { http: true, config: { api: { cors_origins: ['http://127.0.0.1:3000'], rate_limit: 0 } } });
  const port = await freePort();
  const d = startCli(t, ['dashboard', '--port', String(port), '--api', h.url]);
  await d.waitOutput(/dashboard on http:\/\/127\.0\.0\.1:\d+/);
  const base = `http://127.0.0.1:${port}`;

  const config = await fetch(`${base}/config.json`);
  t.equal(config.status, 200);
  t.match(config.headers.get('content-type'), /application\/json/);
  t.same(await config.json(), { apiBase: h.url }, 'config.json names the orchestrator');

  if (existsSync(join(ROOT, 'public', 'index.html'))) {
    const index = await fetch(`${base}/`);
    t.equal(index.status, 200, 'index.html at /');
    t.match(index.headers.get('content-type'), /text\/html/);
    t.match(index.headers.get('content-security-policy'), new RegExp(`connect-src 'self' ${h.url} ws://127\\.0\\.0\\.1:${h.http!.port}`), 'CSP lets the page reach the API and its feed');
    const etag = index.headers.get('etag')!;
    const again = await fetch(`${base}/`, { headers: { 'if-none-match': etag } });
    t.equal(again.status, 304, 'ETag revalidation');
  }
  const favicon = existsSync(join(ROOT, 'public', 'favicon.svg'));
  if (favicon) t.equal((await fetch(`${base}/favicon.svg`)).status, 200, 'other files by path');
  t.equal((await fetch(`${base}/nope.js`)).status, 404);
  t.equal((await fetch(`${base}/src/main.ts`)).status, 404, 'dashboard sources are not served');
  t.equal((await fetch(`${base}/config.json`, { method: 'POST' })).status, 405);

  // What the browser does from the dashboard's origin: a CORS request to the API.
  const api = await fetch(`${h.url}/api/services`, { headers: { origin: 'http://127.0.0.1:3000' } });
  t.equal(api.headers.get('access-control-allow-origin'), 'http://127.0.0.1:3000', 'the API allows the dashboard origin listed in api.cors_origins');

  d.child.kill('SIGTERM');
  const end = await d.exited;
  t.equal(end.code, 0, 'SIGTERM stops it cleanly');
  t.match(end.stdout, /"msg":"dashboard stopping"/, 'structured log lines');
});

t.test('the default API address comes from the config; a busy port is a one-line error', async (t) => {
  const port = await freePort();
  const d = startCli(t, ['dashboard', '--port', String(port)], { env: { ORCHESTRATOR_PORT: '45678' } });
  await d.waitOutput(/dashboard on/);
  t.same(await (await fetch(`http://127.0.0.1:${port}/config.json`)).json(), { apiBase: 'http://127.0.0.1:45678' });
  const busy = startCli(t, ['dashboard', '--port', String(port)]);
  const end = await busy.exited;
  t.equal(end.code, 1);
  t.equal(end.stderr, `orchestrator: cannot serve the dashboard on 127.0.0.1:${port}: address in use\n`);
  d.child.kill('SIGINT');
  t.equal((await d.exited).code, 0, 'Ctrl-C stops it cleanly');
});
