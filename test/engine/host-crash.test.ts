import t from 'tap';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { alive, harness, node } from '../helpers/harness.js';
import { freePort } from '../helpers/process.mjs';
import { procTable } from '../../src/os/proc.js';

t.test('the actor-host worker throws: it is restarted and re-adopts every service — none lost, duplicated or orphaned', async (t) => {
  const port = await freePort();
  const h = await harness(t, {
    services: {
      web: { id: 'web', executable: node('healthy.mjs'), environment: { PORT: port }, health_endpoint: `http://127.0.0.1:${port}/health` },
      a: { id: 'a', executable: node('sleeper.mjs') },
      b: { id: 'b', executable: node('forks.mjs'), environment: { CHILDREN: 2 } },
      off: { id: 'off', executable: node('sleeper.mjs'), auto_start: false },
      broken: { id: 'broken', executable: node('crashy.mjs'), restart_policy: { max_retries: 0 } },
    },
  });
  await h.waitView('web', (v) => v.health === 'healthy');
  await h.waitView('broken', (v) => v.state === 'failed');
  const before = new Map(['web', 'a', 'b'].map((id) => [id, h.view(id).pid]));
  const thread = h.o.host.threadId;

  h.o.host.crash('injected by test');
  await h.waitFor(() => h.events(null, 'actor_host_restarted').length === 1, 'host restarted');
  await h.o.host.whenReady();
  t.not(h.o.host.threadId, thread, 'a new worker thread');

  for (const [id, pid] of before) {
    const v = h.view(id);
    t.equal(v.pid, pid, `${id} keeps its pid`);
    t.equal(v.state, 'running', `${id} still running`);
    t.ok(alive(pid!), `${id} process alive`);
  }
  t.equal(h.view('off').state, 'stopped', 'a stopped service stays stopped');
  t.equal(h.view('broken').state, 'failed', 'a failed service stays failed');
  const health = await h.waitView('web', (v) => v.health === 'healthy' && v.probe !== null);
  t.ok(health.probe, 'health checks resumed');

  // No duplicate: exactly one process group per running service, no extra spawn happened.
  const groups = new Set(procTable().filter((p) => [...before.values()].includes(p.pgid)).map((p) => p.pgid));
  t.equal(groups.size, 3, 'one group per running service');
  t.equal(h.events(undefined, 'state').filter((e) => e.data.to === 'starting' && e.at > h.events(null, 'actor_host_restarted')[0]!.at).length, 0, 'nothing was started again');

  // The new host really controls the adopted processes.
  await h.o.fleet.command('a', 'stop');
  await h.waitView('a', (v) => v.state === 'stopped');
  t.notOk(alive(before.get('a')!), 'stop after re-adoption works');
  process.kill(before.get('web')!, 'SIGKILL');
  await h.waitView('web', (v) => v.state === 'running' && v.pid !== before.get('web'), 'a crash after re-adoption is restarted');
});

t.test('a call in flight when the worker dies is rejected, not left hanging', async (t) => {
  const h = await harness(t, { services: { s: { id: 's', executable: node('ignores-sigterm.mjs'), stop: { timeout_seconds: 3 } } } });
  await h.waitView('s', (v) => v.state === 'running');
  await h.waitFor(() => readFileSync(join(h.dir, 'logs', 'services', 's.stdout.log'), 'utf8').includes('stubborn'), 'SIGTERM handler installed');
  // remove() waits for the process group to be gone (3 s of SIGTERM-ignoring): still pending when we crash the host.
  const file = h.o.fleet.get('s').spec;
  t.equal(file.source, 'file');
  const pending = h.o.host.call('remove', ['s'], 60_000);
  h.o.host.crash('during a call');
  await t.rejects(pending, /restarted while handling this call/);
});
