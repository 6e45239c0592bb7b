import t from 'tap';
import { harness, node } from '../helpers/harness.js';

t.test('one_for_all group: a crash restarts its siblings; intensity exceeded → the group gives up', async (t) => {
  const h = await harness(t, {
    config: { supervision: { strategy: 'one_for_one', intensity: 20, period_seconds: 60, groups: { pair: { strategy: 'one_for_all', intensity: 2, period_seconds: 60 } } } },
    services: {
      steady: { id: 'steady', executable: node('sleeper.mjs'), group: 'pair' },
      shaky: { id: 'shaky', executable: node('sleeper.mjs'), group: 'pair', restart_policy: { backoff_seconds: 0, max_retries: 10 } },
      loner: { id: 'loner', executable: node('sleeper.mjs') },
    },
  });
  const s0 = await h.waitView('steady', (v) => v.state === 'running');
  const k0 = await h.waitView('shaky', (v) => v.state === 'running');
  const lone = await h.waitView('loner', (v) => v.state === 'running');
  process.kill(k0.pid!, 'SIGKILL');
  const s1 = await h.waitView('steady', (v) => v.state === 'running' && v.pid !== s0.pid, 'sibling restarted');
  t.ok(h.events('steady', 'state').some((e) => /one_for_all: sibling "shaky" exited/.test(String(e.data.reason))), 'with the strategy as the reason');
  t.equal(h.view('loner').pid, lone.pid, 'another group is untouched');

  // Two more crashes: 3 restarts within the period > intensity 2.
  const killed = new Set([k0.pid]);
  for (let i = 0; i < 2; i++) {
    const k = await h.waitView('shaky', (v) => v.state === 'running' && !killed.has(v.pid), 'shaky running again');
    killed.add(k.pid);
    process.kill(k.pid!, 'SIGKILL');
    await h.waitFor(() => h.events('shaky', 'exit').length === i + 2, `crash ${i + 2}`);
  }
  await h.waitView('shaky', (v) => v.state === 'failed', 'shaky failed');
  await h.waitView('steady', (v) => v.state === 'failed', 'steady failed with its group');
  t.equal(h.events(null, 'supervisor_gave_up').length, 1);
  t.match(h.view('steady').reason, /supervisor of group "pair" gave up/);
  t.equal(h.view('loner').state, 'running');
  void s1;
  await h.o.fleet.command('steady', 'start');
  await h.waitView('steady', (v) => v.state === 'running', 'a start by hand revives a member of a group that gave up');
  t.equal(h.view('shaky').state, 'failed', 'the other members stay failed until they are started too');
});

t.test('default supervision: 100 independent services each killed once, round robin, all come back', async (t) => {
  const N = 100;
  const ids = Array.from({ length: N }, (_, i) => `svc${String(i).padStart(3, '0')}`);
  // No `supervision` key: the defaults. testConfig() sets a 0.1 s recovery backoff and 3 retries.
  // `sleep` is the cheapest real service: 100 Node fixtures take several times as long on a loaded machine.
  const h = await harness(t, {
    services: Object.fromEntries(ids.map((id) => [id, { id, executable: 'sleep 3600' }])),
  });
  const started = Date.now();
  const first = await h.waitFor(() => {
    const views = ids.map((id) => h.view(id));
    return views.every((v) => v.state === 'running' && v.pid) ? new Map(views.map((v) => [v.id, v.pid!])) : undefined;
  }, `all ${N} running`, 60_000);
  t.comment(`${N} services up in ${Date.now() - started} ms`);

  const burst = Date.now();
  for (const id of ids) process.kill(first.get(id)!, 'SIGKILL');
  await h.waitFor(() => ids.every((id) => {
    const v = h.view(id);
    return v.state === 'running' && v.pid !== null && v.pid !== first.get(id);
  }), `all ${N} running again with a new pid`, 60_000);
  t.comment(`${N} kills → all ${N} running again in ${Date.now() - burst} ms`);

  t.equal(h.events(null, 'supervisor_gave_up').length, 0, 'no supervisor gave up');
  t.same(ids.filter((id) => h.view(id).state === 'failed'), [], 'none failed');
  t.same(ids.filter((id) => h.events(id, 'exit').length !== 1), [], 'each exited exactly once');
  t.same(ids.filter((id) => h.view(id).restarts !== 1), [], 'and was restarted once');
});

t.test('a group that gives up escalates to the root: recorded, and every other group and the orchestrator keep running', async (t) => {
  // Four groups that give up at their first restart (intensity 0), and two that must not notice.
  const flaky = ['f1', 'f2', 'f3', 'f4'];
  const groups = Object.fromEntries(flaky.map((id) => [id, { strategy: 'one_for_one', intensity: 0, period_seconds: 60 }]));
  const h = await harness(t, {
    config: { supervision: { strategy: 'one_for_one', period_seconds: 60, groups: { ...groups, pair: { strategy: 'one_for_all' } } } },
    services: {
      ...Object.fromEntries(flaky.map((id) => [id, { id, executable: 'sleep 3600', group: id }])),
      steady: { id: 'steady', executable: 'sleep 3600', group: 'pair' },
      partner: { id: 'partner', executable: 'sleep 3600', group: 'pair' },
      loner: { id: 'loner', executable: 'sleep 3600' },
    },
  });
  const up = await h.waitFor(() => {
    const views = [...flaky, 'steady', 'partner', 'loner'].map((id) => h.view(id));
    return views.every((v) => v.state === 'running' && v.pid) ? new Map(views.map((v) => [v.id, v.pid!])) : undefined;
  }, 'all running');
  const others = ['steady', 'partner', 'loner'];

  process.kill(up.get('f1')!, 'SIGKILL');
  const [first] = await h.waitFor(() => { const e = h.events(null, 'group_escalated'); return e.length ? e : undefined; }, 'the escalation recorded');
  t.match(first!.data, { group: 'f1', trigger: 'f1', restarts: 1, period_seconds: 60, escalations: 1 });
  t.equal(h.events(null, 'supervisor_gave_up').length, 1, 'next to the group\'s own supervisor_gave_up');
  await h.waitView('f1', (v) => v.state === 'failed', 'f1 failed with its group');

  for (const id of flaky.slice(1)) process.kill(up.get(id)!, 'SIGKILL');
  await h.waitFor(() => h.events(null, 'group_escalated').length === 4, 'four groups escalated');
  const raised = await h.waitFor(() => { const e = h.events(null, 'root_intensity_exceeded'); return e.length ? e : undefined; }, 'the root intensity exceeded');
  t.equal(raised.length, 1, 'raised once for the burst');
  t.match(raised[0]!.data, { groups: 4, intensity: 3, last_group: /^f[1-4]$/ });
  for (const id of flaky) await h.waitView(id, (v) => v.state === 'failed', `${id} failed`);

  t.same(others.map((id) => [h.view(id).state, h.view(id).pid]), others.map((id) => ['running', up.get(id)]), 'the other groups keep their processes');
  t.same(others.map((id) => h.events(id, 'exit').length), [0, 0, 0], 'and never exited');
  await h.o.fleet.command('f1', 'start');
  await h.waitView('f1', (v) => v.state === 'running', 'the orchestrator still takes commands: a start revives a member');
});
