/** The root of the tree with a hand-driven kernel: dependency gating, strategy fan-out, ordered stop. */
import t from 'tap';
import { ActorHost } from '../../src/actors/host.js';
import type { KernelEffect, ServiceEvent } from '../../src/actors/protocol.js';
import { makeSpec } from '../helpers/specs.js';
import { manualScheduler } from '../helpers/scheduler.js';

type Entry = Parameters<ActorHost['load']>[0][number];

function setup(specs: Array<Record<string, unknown>>, strategy: 'one_for_one' | 'one_for_all' | 'rest_for_one' = 'one_for_one', extra: (spec: ReturnType<typeof makeSpec>) => Partial<Entry> = () => ({})) {
  const sched = manualScheduler();
  const kernel: KernelEffect[] = [];
  const events: ServiceEvent[] = [];
  const host = new ActorHost(
    {
      settings: { monitoringEnabled: true, recoveryEnabled: true, sampleIntervalMs: 60_000 },
      epoch: '1',
      supervision: { strategy, intensity: 10, period_seconds: 60, groups: {} },
    },
    { clock: { now: () => 1e6 + sched.now() }, scheduler: sched, random: () => 0.5, defer: (fn) => queueMicrotask(fn) },
    { kernel: (fx) => kernel.push(...fx), events: (ev) => events.push(...ev), views: () => undefined, log: () => undefined },
  );
  let pid = 100;
  const flush = () => new Promise<void>((r) => setTimeout(r, 0));
  const spawned = (id: string) => kernel.filter((e) => e.type === 'spawn' && e.id === id) as Extract<KernelEffect, { type: 'spawn' }>[];
  /** Answer every pending spawn as the kernel would. */
  const answerSpawns = () => {
    for (const e of kernel.splice(0)) {
      if (e.type === 'spawn') { pid++; host.deliver(e.id, { type: 'spawned', run: { runId: e.runId, pid, pgid: pid, startedAt: 0 } }); }
    }
  };
  host.load(specs.map((s) => { const spec = makeSpec(s); return { spec, want: 'up' as const, ...extra(spec) }; }));
  return { host, kernel, events, sched, flush, spawned, answerSpawns };
}

t.test('a dependent starts only after its dependency is healthy', async (t) => {
  const s = setup([{ id: 'db', health_endpoint: 'http://x/h' }, { id: 'api', depends_on: ['db'] }]);
  await s.flush();
  t.equal(s.spawned('db').length, 1, 'db spawned');
  t.equal(s.spawned('api').length, 0, 'api waits');
  t.match(s.host.view('api')!.reason, /waiting for db/);
  s.answerSpawns();
  await s.flush();
  const probe = s.kernel.find((e) => e.type === 'probe');
  t.notOk(s.spawned('api').length, 'running is not enough: db must be healthy');
  s.sched.advance(1);
  await s.flush();
  const p = s.kernel.find((e) => e.type === 'probe') as Extract<KernelEffect, { type: 'probe' }>;
  t.ok(p ?? probe, 'db is probed');
  s.host.deliver('db', { type: 'probed', kind: 'liveness', runId: p.runId, gen: p.gen, ok: true, latencyMs: 1, status: 200 });
  await s.flush();
  t.equal(s.spawned('api').length, 1, 'api spawned once db is healthy');
});

t.test('a dependency adopted running (orchestrator or actor-host restart) lets its dependents start', async (t) => {
  for (const carry of [undefined, { restarts: 0, attempts: 0, lastExit: null, health: 'healthy' as const }]) {
    const withProbe = carry !== undefined;
    const s = setup(
      [{ id: 'db', ...(withProbe ? { health_endpoint: 'http://x/h' } : {}) }, { id: 'api', depends_on: ['db'] }],
      'one_for_one',
      (spec) => (spec.id === 'db' ? { run: { runId: '0.1', pid: 42, pgid: 42, startedAt: 0, adopted: true }, ...(carry ? { carry } : {}) } : {}),
    );
    await s.flush();
    t.equal(s.spawned('db').length, 0, `db is adopted, not spawned (${withProbe ? 'carried healthy' : 'no health check'})`);
    t.equal(s.spawned('api').length, 1, `api starts: its dependency is running${withProbe ? ' and healthy' : ''}`);
    t.same(s.host.view('api')!.waitingFor, [], 'api waits for nothing');
  }
});

t.test('one_for_all: a crash restarts the siblings', async (t) => {
  const s = setup([{ id: 'a' }, { id: 'b' }, { id: 'c' }], 'one_for_all');
  await s.flush();
  s.answerSpawns();
  await s.flush();
  const a = s.host.view('a')!;
  s.host.deliver('a', { type: 'exited', runId: `1.1`, code: 1, signal: null, groupEmpty: true });
  void a;
  await s.flush();
  const signals = s.kernel.filter((e) => e.type === 'signal').map((e) => e.id).sort();
  t.same(signals, ['b', 'c'], 'siblings are stopped to be restarted');
  t.equal(s.host.view('a')!.state, 'backoff');
});

t.test('stopAll stops dependents before their dependencies', async (t) => {
  const s = setup([{ id: 'db' }, { id: 'api', depends_on: ['db'] }, { id: 'web', depends_on: ['api'] }]);
  // Without health endpoints, "running" is ready: the chain comes up in order.
  for (let i = 0; i < 4; i++) { await s.flush(); s.answerSpawns(); }
  await s.flush();
  t.same(['db', 'api', 'web'].map((id) => s.host.view(id)!.state), ['running', 'running', 'running']);
  const done = s.host.stopAll('shutdown');
  const order: string[] = [];
  for (let i = 0; i < 6 && order.length < 3; i++) {
    await s.flush();
    for (const e of s.kernel.splice(0)) {
      if (e.type !== 'signal') continue;
      order.push(e.id);
      s.host.deliver(e.id, { type: 'exited', runId: e.runId, code: 0, signal: null, groupEmpty: true });
    }
  }
  await done;
  t.same(order, ['web', 'api', 'db']);
  t.same(['db', 'api', 'web'].map((id) => s.host.view(id)!.state), ['stopped', 'stopped', 'stopped']);
});

t.test('an actor whose logic throws is replaced and keeps its process', async (t) => {
  const s = setup([{ id: 'a' }]);
  await s.flush();
  s.answerSpawns();
  await s.flush();
  const pid = s.host.view('a')!.pid;
  // A message the logic does not know makes its exhaustive switch throw (assertNever).
  s.host.deliver('a', { type: 'bogus' } as never);
  await s.flush();
  t.equal(s.host.view('a')!.pid, pid, 'same process after the actor restart');
  t.equal(s.host.view('a')!.state, 'running');
  t.ok(s.events.some((e) => e.type === 'actor_crashed'), 'recorded as an event');
});

t.test('a dependency whose readiness probe fails: not ready, never restarted, its dependent waits', async (t) => {
  const s = setup([{ id: 'db', health_endpoint: 'http://x/live', health: { readiness_endpoint: 'http://x/ready', interval_seconds: 1 } }, { id: 'api', depends_on: ['db'] }]);
  await s.flush();
  s.answerSpawns();
  let ready = false;
  /** Answer every probe: liveness passes, readiness as `ready` says. */
  const answerProbes = () => {
    const probes = s.kernel.filter((e) => e.type === 'probe');
    s.kernel.splice(0, s.kernel.length, ...s.kernel.filter((e) => e.type !== 'probe'));
    for (const e of probes) {
      if (e.type === 'probe') s.host.deliver(e.id, { type: 'probed', kind: e.kind, runId: e.runId, gen: e.gen, ok: e.kind === 'liveness' || ready, latencyMs: 1, status: 200 });
    }
  };
  for (let i = 0; i < 60; i++) { await s.flush(); answerProbes(); s.sched.advance(1000); }
  await s.flush();
  t.equal(s.host.view('db')!.health, 'healthy', 'db is live');
  t.equal(s.host.view('db')!.ready, false, 'but not ready');
  t.equal(s.host.view('db')!.restarts, 0, 'never restarted');
  t.equal(s.spawned('api').length, 0, 'api waits');
  t.match(s.host.view('api')!.reason, /waiting for db/);
  t.notOk(s.events.some((e) => e.service === 'db' && e.type === 'ready'));
  ready = true;
  for (let i = 0; i < 3; i++) { await s.flush(); answerProbes(); s.sched.advance(1000); }
  await s.flush();
  t.equal(s.host.view('db')!.ready, true);
  t.ok(s.events.some((e) => e.service === 'db' && e.type === 'ready'), 'a ready event');
  t.equal(s.spawned('api').length, 1, 'api starts once db is ready');
});
