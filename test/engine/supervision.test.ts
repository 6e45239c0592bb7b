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
  await h.o.command('steady', 'start');
  await h.waitView('steady', (v) => v.state === 'running', 'a start by hand revives a member of a group that gave up');
});
