import t from 'tap';
import { spawn } from 'node:child_process';
import { fixture, harness, node } from '../helpers/harness.js';
import { freePort } from '../helpers/process.mjs';

t.test('an external service (registered by itself) is health-checked and shown, never started or stopped', async (t) => {
  const port = await freePort();
  // The service runs on its own, not as a child of the orchestrator.
  const outside = spawn(process.execPath, [fixture('healthy.mjs')], { env: { ...process.env, PORT: String(port) }, stdio: 'ignore' });
  t.teardown(() => { outside.kill('SIGKILL'); });
  const h = await harness(t, { http: true });
  const body = { id: 'ext', name: 'Outside agent', external: true, health_endpoint: `http://127.0.0.1:${port}/health`, health: { interval_seconds: 0.2, failure_threshold: 2 } };
  const post = (b: unknown) => fetch(`${h.url}/api/services`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(b) });
  const created = await post(body);
  t.equal(created.status, 201);
  const json = await created.json() as { external: boolean; pid: number | null; state: string };
  t.same([json.external, json.pid, json.state], [true, null, 'running']);
  await h.waitView('ext', (v) => v.health === 'healthy', 'external healthy');

  for (const cmd of ['start', 'stop', 'restart']) {
    const r = await fetch(`${h.url}/api/services/ext/${cmd}`, { method: 'PUT' });
    t.equal(r.status, 409, `${cmd} → 409`);
    t.match((await r.json() as { error: { message: string } }).error.message, /external .* no executable/);
  }
  const again = await post({ ...body, name: 'Renamed' });
  t.equal(again.status, 200, 're-registering an external service updates it');
  t.equal((await again.json() as { name: string }).name, 'Renamed');

  outside.kill('SIGKILL');
  await h.waitView('ext', (v) => v.health === 'unhealthy', 'goes unhealthy when it dies');
  t.equal(h.view('ext').state, 'running', 'still registered: nothing to restart');
  t.equal(h.events('ext', 'state').filter((e) => e.data.to === 'stopping').length, 0, 'never stopped by us');

  const del = await fetch(`${h.url}/api/services/ext`, { method: 'DELETE' });
  t.equal(del.status, 200, 'deregistered');
  t.notOk(h.o.fleet.has('ext'));
});

t.test('an external service with an executable can be started by the orchestrator when it is down', async (t) => {
  const port = await freePort();
  const h = await harness(t, { http: true });
  const res = await fetch(`${h.url}/api/services`, {
    method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ id: 'ext2', external: true, executable: node('healthy.mjs'), environment: { PORT: port }, health_endpoint: `http://127.0.0.1:${port}/health` }),
  });
  t.equal(res.status, 201);
  const stop = await fetch(`${h.url}/api/services/ext2/stop`, { method: 'PUT' });
  t.equal(stop.status, 409, 'cannot stop a process that is not ours');
  await h.waitView('ext2', (v) => v.health === 'unhealthy', 'nothing answers yet');
  const start = await fetch(`${h.url}/api/services/ext2/start`, { method: 'PUT' });
  t.equal(start.status, 202);
  const v = await h.waitView('ext2', (v) => v.pid !== null && v.health === 'healthy', 'started by us and healthy');
  t.ok(v.pid);
  const stop2 = await fetch(`${h.url}/api/services/ext2/stop`, { method: 'PUT' });
  t.equal(stop2.status, 202, 'our own process can be stopped');
  await h.waitView('ext2', (x) => x.state === 'stopped');
});
