/** The root supervisor: a group that gives up escalates to it; it records that and takes nothing down. */
import t from 'tap';
import { ActorHost } from '../../src/actors/host.js';
import type { KernelEffect, RootEffect, RootMsg, ServiceEvent } from '../../src/actors/protocol.js';
import { initialRoot, ROOT_INTENSITY, ROOT_PERIOD_MS, rootTransition, type RootData } from '../../src/actors/root.js';
import { initialGroup, superviseTransition } from '../../src/actors/supervisor.js';
import { makeSpec } from '../helpers/specs.js';
import { manualScheduler } from '../helpers/scheduler.js';

const gaveUp = (group: string): RootMsg => ({ type: 'group_gave_up', group, trigger: `${group}-member`, restarts: 3, period_seconds: 60 });
const ctx = (now: number) => ({ now, random: Math.random });
const events = (fx: RootEffect[]) => fx.map((e) => e.event);

/** Feed `groups` escalations at the given times; the effects of each. */
function escalate(d: RootData, at: Array<[string, number]>) {
  const steps: RootEffect[][] = [];
  for (const [group, now] of at) {
    const r = rootTransition(d, gaveUp(group), ctx(now));
    d = r.data;
    steps.push(r.effects);
  }
  return { d, steps };
}

t.test('a group past its intensity escalates to the root, with what the root records', async (t) => {
  let g = initialGroup('pair', { strategy: 'one_for_all', intensity: 1, period_seconds: 30 }, ['a', 'b']);
  g = superviseTransition(g, { type: 'child_exit', id: 'a', abnormal: true, willRestart: true }, ctx(0)).data;
  const r = superviseTransition(g, { type: 'child_exit', id: 'b', abnormal: true, willRestart: true }, ctx(1000));
  t.ok(r.data.gaveUp);
  const up = r.effects.filter((e) => e.type === 'escalate');
  t.same(up, [{ type: 'escalate', msg: { type: 'group_gave_up', group: 'pair', trigger: 'b', restarts: 2, period_seconds: 30 } }]);
  t.ok(r.effects.some((e) => e.type === 'event' && e.event === 'supervisor_gave_up'), 'the group still records its own supervisor_gave_up');
  const quiet = superviseTransition(r.data, { type: 'child_exit', id: 'a', abnormal: true, willRestart: true }, ctx(2000));
  t.same(quiet.effects, [], 'a group that gave up escalates once');
});

t.test('one escalation: recorded as group_escalated, nothing else', async (t) => {
  const r = rootTransition(initialRoot(), gaveUp('workers'), ctx(5000));
  t.same(r.effects, [{
    type: 'event', event: 'group_escalated',
    data: { group: 'workers', trigger: 'workers-member', restarts: 3, period_seconds: 60, escalations: 1 },
  }]);
  t.same(r.data.escalations, [5000]);
  t.notOk(r.data.exceeded);
});

t.test('groups giving up faster than the root intensity raise root_intensity_exceeded, once per burst', async (t) => {
  t.equal(ROOT_INTENSITY, 3);
  t.equal(ROOT_PERIOD_MS, 60_000);
  const { d, steps } = escalate(initialRoot(), [['g1', 0], ['g2', 1000], ['g3', 2000], ['g4', 3000], ['g5', 4000]]);
  t.same(steps.slice(0, 3).map(events), [['group_escalated'], ['group_escalated'], ['group_escalated']], 'up to the intensity: recorded only');
  t.same(events(steps[3]!), ['group_escalated', 'root_intensity_exceeded'], 'the 4th within the period exceeds intensity 3');
  const raised = steps[3]![1]!;
  t.match(raised.data, { groups: 4, period_seconds: 60, intensity: 3, last_group: 'g4' });
  t.match(String(raised.data.message), /4 supervision groups gave up within 60s/);
  t.same(events(steps[4]!), ['group_escalated'], 'not raised again while the burst lasts');
  t.ok(d.exceeded);
});

t.test('escalations older than the period do not count; a later burst raises again', async (t) => {
  const root = initialRoot({ intensity: 1, periodMs: 10_000 });
  const first = escalate(root, [['a', 0], ['b', 5000]]);
  t.same(events(first.steps[1]!), ['group_escalated', 'root_intensity_exceeded']);
  const calm = escalate(first.d, [['c', 20_000]]);
  t.same(events(calm.steps[0]!), ['group_escalated'], 'the earlier two fell out of the window');
  t.notOk(calm.d.exceeded);
  t.same(calm.d.escalations, [20_000]);
  const again = escalate(calm.d, [['d', 21_000]]);
  t.same(events(again.steps[0]!), ['group_escalated', 'root_intensity_exceeded'], 'a new burst is raised again');
});

t.test('intensity 0: the first group that gives up exceeds it', async (t) => {
  const r = rootTransition(initialRoot({ intensity: 0, periodMs: 1000 }), gaveUp('x'), ctx(0));
  t.same(events(r.effects), ['group_escalated', 'root_intensity_exceeded']);
});

t.test('in the tree: a group that gives up is escalated; the other groups keep running', async (t) => {
  const sched = manualScheduler();
  const kernel: KernelEffect[] = [];
  const recorded: ServiceEvent[] = [];
  const host = new ActorHost(
    {
      settings: { monitoringEnabled: true, recoveryEnabled: true, sampleIntervalMs: 60_000 },
      epoch: '1',
      supervision: { strategy: 'one_for_one', period_seconds: 60, groups: { pair: { strategy: 'one_for_all', intensity: 0, period_seconds: 60 } } },
    },
    { clock: { now: () => 1e6 + sched.now() }, scheduler: sched, random: () => 0.5, defer: (fn) => queueMicrotask(fn) },
    { kernel: (fx) => kernel.push(...fx), events: (ev) => recorded.push(...ev), views: () => undefined, log: () => undefined },
  );
  const flush = () => new Promise<void>((r) => setTimeout(r, 0));
  let pid = 100;
  const runs = new Map<string, string>();
  host.load([{ id: 'a', group: 'pair' }, { id: 'b', group: 'pair' }, { id: 'loner' }].map((s) => ({ spec: makeSpec(s), want: 'up' as const })));
  await flush();
  for (const e of kernel.splice(0)) {
    if (e.type !== 'spawn') continue;
    pid++;
    runs.set(e.id, e.runId);
    host.deliver(e.id, { type: 'spawned', run: { runId: e.runId, pid, pgid: pid, startedAt: 0 } });
  }
  await flush();
  const lonerPid = host.view('loner')!.pid;
  t.same(['a', 'b', 'loner'].map((id) => host.view(id)!.state), ['running', 'running', 'running']);

  host.deliver('a', { type: 'exited', runId: runs.get('a')!, code: 1, signal: null, groupEmpty: true });
  await flush();
  const types = recorded.filter((e) => e.service === null).map((e) => e.type);
  t.same(types, ['supervisor_gave_up', 'group_escalated'], 'the group gives up, then the root records it');
  t.match(recorded.find((e) => e.type === 'group_escalated'), { service: null, data: { group: 'pair', trigger: 'a', restarts: 1, period_seconds: 60, escalations: 1 } });
  t.same(kernel.filter((e) => e.type === 'signal').map((e) => e.id), ['b'], 'only the group\'s other member is stopped');
  t.equal(host.view('a')!.state, 'failed');
  t.equal(host.view('loner')!.state, 'running', 'another group keeps running');
  t.equal(host.view('loner')!.pid, lonerPid, 'with the same process');
});
