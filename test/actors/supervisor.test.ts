import t from 'tap';
import type { SupervisorEffect } from '../../src/actors/protocol.js';
import { groupSettings, initialGroup, superviseTransition, type GroupData } from '../../src/actors/supervisor.js';
import { DEPENDENT_GROUP_INTENSITY } from '../../src/config/schema.js';

const group = (strategy: 'one_for_one' | 'one_for_all' | 'rest_for_one', intensity: number | null = 10): GroupData =>
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

type Strategy = Parameters<typeof group>[0];
/** The `supervision` key as the schema leaves it: strategy and period defaulted, intensity only if declared. */
const supervision = (top: { strategy?: Strategy; intensity?: number; period_seconds?: number } = {}, groups: Record<string, { strategy?: Strategy; intensity?: number; period_seconds?: number }> = {}) => ({
  strategy: 'one_for_one' as Strategy, period_seconds: 60, ...top,
  groups: Object.fromEntries(Object.entries(groups).map(([k, g]) => [k, { strategy: 'one_for_one' as Strategy, period_seconds: 60, ...g }])),
});
/** Drive `n` restarts of children round robin, `stepMs` apart, through a group with the given settings. */
function burst(d: GroupData, n: number, stepMs: number) {
  let gaveUpAt = -1;
  for (let i = 0; i < n && gaveUpAt < 0; i++) {
    const r = superviseTransition(d, exit(d.children[i % d.children.length]!), { now: i * stepMs, random: Math.random });
    d = r.data;
    if (r.effects.some((e) => e.type === 'event' && e.event === 'supervisor_gave_up')) gaveUpAt = i + 1;
  }
  return { d, gaveUpAt };
}
/** A group of 100 children with the settings `name` gets from the `supervision` key `s`. */
const fleet = (s: ReturnType<typeof supervision>, name = 'default') =>
  initialGroup(name, groupSettings(s, name), Array.from({ length: 100 }, (_, i) => `svc${i}`));

t.test('one_for_one, no intensity declared: no group-wide limit, 1,000 child exits within the period never give up', async (t) => {
  const settings = groupSettings(supervision(), 'default');
  t.same(settings, { strategy: 'one_for_one', intensity: null, period_seconds: 60 });
  const { d, gaveUpAt } = burst(fleet(supervision()), 1000, 10); // 1,000 exits in 10 s
  t.equal(gaveUpAt, -1, 'never gives up');
  t.notOk(d.gaveUp);
  t.same(d.restarts, [], 'nothing is counted');
  t.notOk(burst(group('one_for_one', null), 1000, 1).d.gaveUp, 'nor with a handful of children');
  t.same(groupSettings(supervision({}, { workers: { period_seconds: 5 } }), 'workers').intensity, null, 'a declared one_for_one group without intensity has none either');
});

t.test('declared intensity: the group gives up past it (the group\'s own, else the top level\'s)', async (t) => {
  const own = supervision({}, { api: { intensity: 5, period_seconds: 10 } });
  t.same(groupSettings(own, 'api'), { strategy: 'one_for_one', intensity: 5, period_seconds: 10 });
  t.same(groupSettings(own, 'default').intensity, null, 'another group is not limited by it');
  let r = burst(fleet(own, 'api'), 1000, 100);
  t.equal(r.gaveUpAt, 6, 'the 6th restart within 10 s exceeds intensity 5');
  t.ok(r.d.gaveUp);

  const top = supervision({ intensity: 3, period_seconds: 30 }, { pair: { strategy: 'one_for_all' } });
  t.same(groupSettings(top, 'default'), { strategy: 'one_for_one', intensity: 3, period_seconds: 30 }, 'the top level applies to groups without their own');
  t.same(groupSettings(top, 'pair'), { strategy: 'one_for_all', intensity: 3, period_seconds: 30 }, 'with the period it was declared with');
  r = burst(fleet(top), 1000, 100);
  t.equal(r.gaveUpAt, 4);
  t.same(groupSettings(supervision({ intensity: 0 }), 'default').intensity, 0, 'intensity 0 is a declaration too');
  t.equal(burst(fleet(supervision({ intensity: 0 })), 10, 100).gaveUpAt, 1, 'intensity 0: the first restart gives up');
});

t.test('one_for_all / rest_for_one, no intensity declared: the default intensity applies', async (t) => {
  t.equal(DEPENDENT_GROUP_INTENSITY, 20);
  for (const strategy of ['one_for_all', 'rest_for_one'] as const) {
    const s = supervision({}, { pair: { strategy } });
    t.same(groupSettings(s, 'pair'), { strategy, intensity: 20, period_seconds: 60 }, `${strategy} group`);
    t.same(groupSettings(supervision({ strategy }), 'default'), { strategy, intensity: 20, period_seconds: 60 }, `${strategy} at the top level`);
    const within = burst(fleet(s, 'pair'), 20, 1000);
    t.equal(within.gaveUpAt, -1, `${strategy}: 20 restarts within 60 s are allowed`);
    t.equal(burst(fleet(s, 'pair'), 1000, 1000).gaveUpAt, 21, `${strategy}: the 21st gives up`);
    t.equal(burst(fleet(s, 'pair'), 1000, 3001).gaveUpAt, -1, `${strategy}: one restart every 3 s stays within 20 per 60 s`);
  }
});
