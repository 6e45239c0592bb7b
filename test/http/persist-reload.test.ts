/**
 * Registered services live in the registry and come back after an orchestrator restart on the
 * same folder; POST /api/reload re-reads services/ and applies only the differences.
 */
import t from 'tap';
import { mkdtempSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { alive, harness, node } from '../helpers/harness.js';
import { writeServices } from '../helpers/process.mjs';
import { errorShape, req } from './lib.js';

t.test('registered services persist across an orchestrator restart', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'orch-persist-'));
  const running: Array<{ shutdown(): Promise<void> }> = [];
  t.teardown(async () => {
    for (const h of running) await h.shutdown();
    rmSync(dir, { recursive: true, force: true });
  });
  const start = async () => {
    const h = await harness(t, { dir, http: true, noTeardown: true });
    running.push(h);
    return h;
  };

  const h1 = await start();
  writeServices(dir, {}); // no files: everything below comes from the API
  let a = await req(h1.url, '/api/services', { method: 'POST', body: { id: 'reg-up', executable: node('sleeper.mjs'), environment: { X: '1' } } });
  t.equal(a.status, 201);
  a = await req(h1.url, '/api/services', { method: 'POST', body: { id: 'reg-down', executable: node('sleeper.mjs'), auto_start: false } });
  t.equal(a.status, 201);
  a = await req(h1.url, '/api/services', { method: 'POST', body: { id: 'reg-gone', executable: node('sleeper.mjs'), auto_start: false } });
  t.equal(a.status, 201);
  await h1.waitView('reg-up', (v) => v.state === 'running');
  a = await req(h1.url, '/api/services/reg-up', { method: 'PATCH', body: { name: 'Patched', restart_policy: { max_retries: 9 } } });
  t.equal(a.status, 200);
  a = await req(h1.url, '/api/services/reg-gone', { method: 'DELETE' });
  t.equal(a.status, 200);
  const pid1 = h1.view('reg-up').pid!;
  await h1.shutdown();
  t.notOk(alive(pid1), 'a clean shutdown stops the services');

  const h2 = await start();
  const list = await req(h2.url, '/api/services');
  t.same(list.json.services.map((s: any) => s.id).sort(), ['reg-down', 'reg-up'], 'registered services are back; the deleted one is not');
  const up = await req(h2.url, '/api/services/reg-up');
  t.equal(up.json.source, 'api');
  t.equal(up.json.name, 'Patched', 'with the patch applied');
  t.equal(up.json.spec.restart_policy.max_retries, 9);
  t.equal(up.json.spec.environment.X, '1');
  const v = await h2.waitView('reg-up', (x) => x.state === 'running', 'reg-up started again (auto_start)');
  t.not(v.pid, pid1);
  t.equal(h2.view('reg-down').state, 'stopped', 'auto_start: false stays stopped');
  errorShape(t, await req(h2.url, '/api/services', { method: 'POST', body: { id: 'reg-up', executable: 'x' } }), 409, 'conflict', 'id');
  const hist = await req(h2.url, '/api/services/reg-up/events?limit=1000');
  t.ok(hist.json.events.some((e: any) => e.type === 'registered'), 'history from before the restart is kept');
  t.equal((await req(h2.url, '/api/services/reg-down', { method: 'DELETE' })).status, 200);
  await h2.shutdown();

  const h3 = await start();
  t.same((await req(h3.url, '/api/services')).json.services.map((s: any) => s.id), ['reg-up'], 'a delete persists too');
});

t.test('POST /api/reload applies only the differences', async (t) => {
  const h = await harness(t, {
    http: true,
    services: {
      keep: { id: 'keep', executable: node('sleeper.mjs') },
      rename: { id: 'rename', executable: node('sleeper.mjs') },
      envchange: { id: 'envchange', executable: node('sleeper.mjs'), environment: { V: '1' } },
      dropped: { id: 'dropped', executable: node('sleeper.mjs') },
    },
  });
  const url = h.url;
  for (const id of ['keep', 'rename', 'envchange', 'dropped']) await h.waitView(id, (v) => v.state === 'running', `${id} running`);
  const pids = Object.fromEntries(['keep', 'rename', 'envchange', 'dropped'].map((id) => [id, h.view(id).pid!])) as Record<'keep' | 'rename' | 'envchange' | 'dropped', number>;
  const registered = await req(url, '/api/services', { method: 'POST', body: { id: 'from-api', executable: node('sleeper.mjs'), auto_start: false } });
  t.equal(registered.status, 201);

  const nothing = await req(url, '/api/reload', { method: 'POST' });
  t.equal(nothing.status, 200, 'POST without a body');
  t.same(nothing.json, { added: [], removed: [], changed: [], restarted: [], problems: [] }, 'nothing changed: nothing done');

  unlinkSync(join(h.dir, 'services', 'dropped.yaml'));
  writeServices(h.dir, {
    rename: { id: 'rename', name: 'Renamed', executable: node('sleeper.mjs') },
    envchange: { id: 'envchange', executable: node('sleeper.mjs'), environment: { V: '2' } },
    added: { id: 'added', executable: node('sleeper.mjs') },
  });
  const r = await req(url, '/api/reload', { method: 'POST', body: {} });
  t.equal(r.status, 200);
  t.same(r.json.added, ['added']);
  t.same(r.json.removed, ['dropped']);
  t.same([...r.json.changed].sort(), ['envchange', 'rename']);
  t.same(r.json.restarted, ['envchange'], 'only the environment change restarts');
  t.same(r.json.problems, []);

  t.equal(h.view('keep').pid, pids.keep, 'untouched service: same process');
  t.equal(h.view('rename').pid, pids.rename, 'renamed service: same process');
  t.equal((await req(url, '/api/services/rename')).json.name, 'Renamed');
  await h.waitView('envchange', (v) => v.state === 'running' && v.pid !== pids.envchange, 'envchange restarted');
  t.notOk(h.o.fleet.has('dropped'), 'dropped is gone');
  t.notOk(alive(pids.dropped), 'and its process stopped');
  await h.waitView('added', (v) => v.state === 'running', 'added started');
  t.ok(h.o.fleet.has('from-api'), 'API-registered services are not touched by a reload');

  // A broken file: reported with file, line and field; its service keeps running as it was.
  writeFileSync(join(h.dir, 'services', 'keep.yaml'), `id: keep\nexecutable: ${node('sleeper.mjs')}\nrestart_policy:\n  max_retries: three\n`);
  const bad = await req(url, '/api/reload', { method: 'POST' });
  t.equal(bad.status, 200);
  t.equal(bad.json.problems.length, 1);
  const p = bad.json.problems[0];
  t.match(p.file, /keep\.yaml$/);
  t.equal(p.line, 4);
  t.equal(p.col, 3, 'and column');
  t.equal(p.field, 'restart_policy.max_retries');
  t.match(p.message, /expected a non-negative integer, got "three"/);
  t.same(bad.json.removed, [], 'a service whose file is broken is not removed');
  t.equal(h.view('keep').pid, pids.keep, 'and keeps running');
  const health = await req(url, '/health');
  t.equal(health.json.status, 'degraded', '/health reports the problem');
  t.match(health.json.problems.join('\n'), /keep\.yaml:4:3 restart_policy\.max_retries/, 'with file:line:column, as everywhere else');
});
