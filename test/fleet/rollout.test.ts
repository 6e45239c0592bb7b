/**
 * Rolling restarts with real processes: 4 instances whose pids change one at a time while never
 * fewer than 3 are healthy; a rollout that halts at a broken instance and touches none after it;
 * a reload that changes a replicated service rolls it the same way.
 */
import t from 'tap';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import type { ServiceDetail } from '../../src/api/types.js';
import { harness, type Harness } from '../helpers/harness.js';
import { freeRange, web } from '../helpers/replicas.js';

const ids = (n: number) => Array.from({ length: n }, (_, i) => `web#${i}`);
const healthy = (h: Harness, id: string) => h.o.fleet.has(id) && h.view(id).state === 'running' && h.view(id).health === 'healthy';

/** Watch every view batch: the fewest healthy instances seen, and the order in which pids changed. */
function watch(h: Harness, n: number) {
  const before = new Map(ids(n).map((id) => [id, h.view(id).pid]));
  const seen = { minHealthy: n, changed: [] as string[], restartingAtOnce: 0 };
  const onViews = () => {
    const list = ids(n);
    seen.minHealthy = Math.min(seen.minHealthy, list.filter((id) => healthy(h, id)).length);
    for (const id of list) if (h.view(id).pid !== before.get(id) && !seen.changed.includes(id)) seen.changed.push(id);
    seen.restartingAtOnce = Math.max(seen.restartingAtOnce, list.filter((id) => !healthy(h, id)).length);
  };
  h.o.views.on('views', onViews);
  return { seen, before, stop: () => h.o.views.off('views', onViews) };
}

const put = (h: Harness, path: string) => fetch(`${h.url}${path}`, { method: 'PUT' });

t.test('a rolling restart of 4 instances: pids change one at a time, never fewer than 3 healthy', async (t) => {
  const base = await freeRange(4);
  const h = await harness(t, { http: true, services: { web: web(base, 4, { rollout: { min_healthy_seconds: 0.5, healthy_deadline_seconds: 30 } }) } });
  await h.waitFor(() => ids(4).every((id) => healthy(h, id)), '4 healthy instances');
  const w = watch(h, 4);
  const res = await put(h, '/api/services/web/restart?rolling=true');
  t.equal(res.status, 202);
  const body = (await res.json()) as ServiceDetail;
  t.equal(body.rollout?.state, 'running', 'the answer shows the rollout under way');
  t.equal(body.rollout?.total, 4);
  const again = await put(h, '/api/services/web/restart?rolling=true');
  t.equal(again.status, 409, 'a second rolling restart while one runs is refused');

  const finished = await h.waitFor(() => h.events('web', 'rollout_finished')[0], 'the rollout to finish', 60_000);
  w.stop();
  t.same(finished.data.instances, ids(4), 'every instance, in order');
  t.same(w.seen.changed, ids(4), 'pids changed in index order');
  t.ok(ids(4).every((id) => h.view(id).pid !== w.before.get(id)), 'every instance runs a new process');
  t.equal(w.seen.minHealthy, 3, 'never fewer than 3 healthy');
  t.equal(w.seen.restartingAtOnce, 1, 'one instance restarting at a time');
  const progress = h.events('web', 'rollout_progress').map((e) => [e.data.instance, e.data.done, e.data.total]);
  t.same(progress, ids(4).map((id, i) => [id, i + 1, 4]), 'one progress event per instance');
  // Each instance was restarted only after the previous one's progress event.
  const seqOf = (service: string, type: string, pred: (d: Record<string, unknown>) => boolean) => h.events(service, type).find((e) => pred(e.data))?.seq ?? -1;
  for (let i = 1; i < 4; i++) {
    const prevDone = seqOf('web', 'rollout_progress', (d) => d.instance === `web#${i - 1}`);
    const stopped = seqOf(`web#${i}`, 'state', (d) => d.to === 'stopping');
    t.ok(prevDone > 0 && stopped > prevDone, `web#${i} stopped after web#${i - 1} was healthy for min_healthy_seconds`);
  }
  const detail = (await (await fetch(`${h.url}/api/services/web`)).json()) as ServiceDetail;
  t.equal(detail.rollout?.state, 'finished');
  t.same(detail.rollout?.done, ids(4));
});

t.test('a rollout halts at a broken instance and touches none after it', async (t) => {
  const base = await freeRange(3);
  const h = await harness(t, { http: true });
  const broken = join(h.dir, 'broken-');
  const spec = web(base, 3, { rollout: { min_healthy_seconds: 0.3, healthy_deadline_seconds: 4 } });
  const created = await fetch(`${h.url}/api/services`, {
    method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ ...spec, environment: { ...spec.environment, BROKEN_FILE: `${broken}\${REPLICA_INDEX}` } }),
  });
  t.equal(created.status, 201);
  await h.waitFor(() => ids(3).every((id) => healthy(h, id)), '3 healthy instances');
  const pids = ids(3).map((id) => h.view(id).pid);
  writeFileSync(`${broken}1`, 'this build is broken\n');
  t.equal((await put(h, '/api/services/web/restart?rolling=true')).status, 202);
  const halted = await h.waitFor(() => h.events('web', 'rollout_halted')[0], 'the rollout to halt', 60_000);
  t.equal(halted.data.instance, 'web#1', 'it names the instance that failed');
  t.match(String(halted.data.reason), /not healthy within 4s/);
  t.same(halted.data.done, ['web#0']);
  t.same(halted.data.untouched, ['web#2']);
  t.not(h.view('web#0').pid, pids[0], 'web#0 was restarted');
  t.equal(h.view('web#2').pid, pids[2], 'web#2 was not touched');
  t.equal(h.view('web#2').restarts, 0);
  t.equal(h.events('web', 'rollout_finished').length, 0, 'it did not finish');
  const detail = (await (await fetch(`${h.url}/api/services/web`)).json()) as ServiceDetail;
  t.equal(detail.rollout?.state, 'halted');
  t.equal(detail.rollout?.failed?.instance, 'web#1');
});

t.test('a reload that changes a replicated service rolls it', async (t) => {
  const base = await freeRange(2);
  const spec = web(base, 2, { rollout: { min_healthy_seconds: 0.3 } });
  const h = await harness(t, { http: true, services: { web: spec } });
  await h.waitFor(() => ids(2).every((id) => healthy(h, id)), '2 healthy instances');
  const w = watch(h, 2);
  writeFileSync(join(h.dir, 'services', 'web.yaml'), stringify({ ...spec, environment: { ...spec.environment, VERSION: '2' } }));
  const reload = await fetch(`${h.url}/api/reload`, { method: 'POST' });
  t.equal(reload.status, 200);
  t.same(((await reload.json()) as { restarted: string[] }).restarted, ['web']);
  await h.waitFor(() => h.events('web', 'rollout_finished')[0], 'the rollout to finish', 60_000);
  w.stop();
  t.same(w.seen.changed, ids(2), 'both restarted, in order');
  t.equal(w.seen.restartingAtOnce, 1, 'one at a time');
  t.equal(w.seen.minHealthy, 1);
});
