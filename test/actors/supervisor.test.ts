import t from 'tap';
import type { SupervisorEffect } from '../../src/actors/protocol.js';
import { initialGroup, superviseTransition, type GroupData } from '../../src/actors/supervisor.js';

const group = (strategy: 'one_for_one' | 'one_for_all' | 'rest_for_one', intensity = 10): GroupData =>
  initialGroup('g', { strategy, intensity, period_seconds: 60 }, ['db', 'api', 'worker']);
const exit = (id: string, willRestart = true) => ({ type: 'child_exit' as const, id, abnormal: true, willRestart });
const sends = (fx: SupervisorEffect[]) => fx.filter((e) => e.type === 'send').map((e) => (e.type === 'send' ? `${e.to}:${e.msg.type}` : ''));

t.test('strategies decide which siblings restart', async (t) => {
  const table: Array<[Parameters<typeof group>[0], string, string[]]> = [
    ['one_for_one', 'api', []],
    ['one_for_all', 'api', ['db:restart', 'worker:restart']],
    ['rest_for_one', 'db', ['api:restart', 'worker:restart']],
    ['rest_for_one', 'api', ['worker:restart']],
    ['rest_for_one', 'worker', []],
  ];
  for (const [strategy, who, expected] of table) {
    const r = superviseTransition(group(strategy), exit(who), { now: 0, random: Math.random });
    t.same(sends(r.effects), expected, `${strategy}, ${who} exits`);
  }
});

t.test('an exit that will not be restarted changes nothing', async (t) => {
  const r = superviseTransition(group('one_for_all'), exit('api', false), { now: 0, random: Math.random });
  t.same(r.effects, []);
  t.same(r.data.restarts, []);
});

t.test('intensity: more than N restarts within the period and the group gives up', async (t) => {
  let d = group('one_for_one', 3);
  const ctx = (now: number) => ({ now, random: Math.random });
  for (let i = 0; i < 3; i++) d = superviseTransition(d, exit('api'), ctx(i * 1000)).data;
  t.notOk(d.gaveUp, '3 restarts are within intensity 3');
  const r = superviseTransition(d, exit('api'), ctx(3500));
  t.ok(r.data.gaveUp);
  t.same(sends(r.effects), ['db:give_up', 'api:give_up', 'worker:give_up']);
  t.ok(r.effects.some((e) => e.type === 'event' && e.event === 'supervisor_gave_up'));
  const after = superviseTransition(r.data, exit('db'), ctx(4000));
  t.same(after.effects, [], 'a group that gave up stays quiet');
  t.notOk(superviseTransition(r.data, { type: 'reset' }, ctx(5000)).data.gaveUp, 'reset by a start command');
});

t.test('restarts older than the period do not count', async (t) => {
  let d = group('one_for_one', 2);
  const ctx = (now: number) => ({ now, random: Math.random });
  d = superviseTransition(d, exit('api'), ctx(0)).data;
  d = superviseTransition(d, exit('api'), ctx(1000)).data;
  const r = superviseTransition(d, exit('api'), ctx(60_500));
  t.notOk(r.data.gaveUp);
  t.equal(r.data.restarts.length, 2, 'the one at t=0 fell out of the window');
});
