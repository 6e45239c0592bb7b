/**
 * Replicas from the command line (real `orchestrator` child processes against a real orchestrator):
 * `list` shows instances under their service, `show` the service with its instances, `restart
 * ID#n` one instance, `restart --rolling --wait` the whole service one at a time, `logs` the
 * instances' lines merged, each naming its instance.
 */
import t from 'tap';
import { harness, type Harness } from '../helpers/harness.js';
import { freeRange, web } from '../helpers/replicas.js';
import { cli } from './run.js';

const ids = ['web#0', 'web#1', 'web#2'];
const healthy = (h: Harness) => ids.every((id) => h.o.fleet.has(id) && h.view(id).state === 'running' && h.view(id).health === 'healthy');

t.test('list, show, restart ID#n, restart --rolling --wait, logs', async (t) => {
  const base = await freeRange(3);
  const h = await harness(t, { http: true, services: { web: web(base, 3, { type: 'ai-agent', rollout: { min_healthy_seconds: 0.2 } }) } });
  await h.waitFor(() => healthy(h), '3 healthy instances');
  const u = ['--url', h.url];

  const list = await cli(t, ['list', ...u]);
  t.equal(list.code, 0);
  const lines = list.stdout.trimEnd().split('\n');
  t.match(lines[1], /^web\s+ai-agent\s+3\/3 running\s+3\/3 healthy\s+3\/3\s+0\s+3 replicas$/, 'the service row: how many run, are healthy and ready');
  for (const [i, id] of ids.entries()) t.match(lines[i + 2], new RegExp(`^  ${id}\\s+ai-agent\\s+running\\s+healthy\\s+yes\\s+\\d+`), `${id} under it, indented`);

  const show = await cli(t, ['show', 'web', ...u]);
  t.equal(show.code, 0);
  t.match(show.stdout, /replicas:\s+3\n/);
  t.notMatch(show.stdout, /\n\s+pid:/, 'no pid line for the service: each instance has its own');
  t.match(show.stdout, /instances\n/);
  for (const id of ids) t.match(show.stdout, new RegExp(`\\n${id}\\s+ai-agent\\s+running`), `show lists ${id}`);

  const pid1 = h.view('web#1').pid;
  const one = await cli(t, ['restart', 'web#1', '--wait', ...u]);
  t.equal(one.code, 0, one.stderr);
  t.match(one.stdout, /^web#1 restarted: running \(healthy\), pid \d+/);
  t.not(h.view('web#1').pid, pid1, 'web#1 runs a new process');

  const before = ids.map((id) => h.view(id).pid);
  const rolled = await cli(t, ['restart', 'web', '--rolling', '--wait', ...u], { timeoutMs: 60_000 });
  t.equal(rolled.code, 0, rolled.stderr);
  t.match(rolled.stdout, /^rolling restart of web finished: 3 of 3\n$/);
  t.ok(ids.every((id, i) => h.view(id).pid !== before[i]), 'every instance runs a new process');

  const logs = await cli(t, ['logs', 'web', '--lines', '50', '--stream', 'stdout', ...u]);
  t.equal(logs.code, 0, logs.stderr);
  for (const [i, id] of ids.entries()) t.match(logs.stdout, new RegExp(`^${id} \\| replica ${i} of 3`, 'm'), `${id}'s lines, named`);
});
