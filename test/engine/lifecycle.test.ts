import t from 'tap';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { alive, harness, node } from '../helpers/harness.js';
import { freePort } from '../helpers/process.mjs';

t.test('start, stop and restart a real service; auto_start; logs go to files', async (t) => {
  const port = await freePort();
  const h = await harness(t, {
    http: true,
    services: {
      web: { id: 'web', executable: node('healthy.mjs'), health_endpoint: `http://127.0.0.1:${port}/health`, environment: { PORT: port } },
      manual: { id: 'manual', executable: node('sleeper.mjs'), auto_start: false },
    },
  });
  const web = await h.waitView('web', (v) => v.state === 'running' && v.health === 'healthy', 'web healthy');
  t.ok(web.pid && alive(web.pid), 'auto_start service has a live pid');
  t.equal(h.view('manual').state, 'stopped', 'auto_start: false stays stopped');

  const res = await fetch(`${h.url}/api/services/web`);
  t.equal(res.status, 200);
  const body = await res.json() as { state: string; pid: number };
  t.equal(body.state, 'running');
  t.equal(body.pid, web.pid);

  const stopped = await fetch(`${h.url}/api/services/web/stop`, { method: 'PUT' });
  t.equal(stopped.status, 202);
  await h.waitView('web', (v) => v.state === 'stopped', 'web stopped');
  t.notOk(alive(web.pid!), 'process is gone after stop');

  await fetch(`${h.url}/api/services/web/start`, { method: 'PUT' });
  const again = await h.waitView('web', (v) => v.state === 'running' && v.health === 'healthy', 'web healthy again');
  t.not(again.pid, web.pid, 'a new process');

  await fetch(`${h.url}/api/services/web/restart`, { method: 'PUT' });
  const restarted = await h.waitView('web', (v) => v.state === 'running' && v.pid !== again.pid && v.health === 'healthy', 'web restarted');
  t.notOk(alive(again.pid!), 'old process gone after restart');
  t.ok(alive(restarted.pid!), 'new process alive');

  const out = readFileSync(join(h.dir, 'logs', 'services', 'web.stdout.log'), 'utf8');
  t.match(out, /booting pid \d+/, 'stdout went to the service log file');
  t.match(readFileSync(join(h.dir, 'logs', 'services', 'web.stderr.log'), 'utf8'), /a line on stderr/, 'stderr too');
  t.ok(existsSync(join(h.dir, 'logs', 'orchestrator.log')), 'orchestrator log file exists');
});
