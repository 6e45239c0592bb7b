/**
 * ServiceActor as a pure function: messages in, effects out, time injected. Table-driven where the
 * shape allows; no process, no timer, no sleep.
 */
import t from 'tap';
import type { ServiceEffect, ServiceMsg, TimerName } from '../../src/actors/protocol.js';
import {
  initialData, isReady, transition, view, EXTERNAL_RUN, type ServiceData, type ServiceSettings,
} from '../../src/actors/service.js';
import { makeSpec } from '../helpers/specs.js';

const settings: ServiceSettings = { monitoringEnabled: true, recoveryEnabled: true, sampleIntervalMs: 5000, epoch: '7' };

/** A tiny driver: feeds messages at given times, keeps data, collects effects. */
function actor(input: Record<string, unknown>, opts: Partial<ServiceSettings> = {}) {
  let d: ServiceData = initialData(makeSpec({ id: 'svc', ...input }), { ...settings, ...opts });
  let now = 1_000_000;
  const a = {
    get d() { return d; },
    now: () => now,
    at(ms: number) { now = ms; return a; },
    advance(ms: number) { now += ms; return a; },
    send(msg: ServiceMsg, random = 0.5): ServiceEffect[] {
      const step = transition(d, msg, { now, random: () => random });
      d = step.data;
      return step.effects;
    },
    timer(name: Parameters<typeof timerMsg>[0]) { return a.send(timerMsg(name, d.timers[name])); },
    /** start → spawned: a running service with the given pid. */
    running(pid = 100): ServiceEffect[] {
      a.send({ type: 'start', reason: 'test' });
      return a.send({ type: 'spawned', run: { runId: d.spawn.pendingRunId!, pid, pgid: pid, startedAt: now } });
    },
    probe(ok: boolean, status = ok ? 200 : 500) {
      const fx = a.timer('probe');
      const probe = fx.find((e) => e.type === 'probe') as Extract<ServiceEffect, { type: 'probe' }> | undefined;
      if (!probe) throw new Error('no probe effect');
      return a.send({ type: 'probed', kind: 'liveness', runId: probe.runId, gen: probe.gen, ok, latencyMs: 3, status });
    },
  };
  return a;
}

const timerMsg = (name: TimerName, gen: number): ServiceMsg => ({ type: 'timer', name, gen });
const ofType = <T extends ServiceEffect['type']>(fx: ServiceEffect[], type: T) => fx.filter((e) => e.type === type) as Extract<ServiceEffect, { type: T }>[];
const events = (fx: ServiceEffect[]) => ofType(fx, 'event').map((e) => `${e.event}:${(e.data.to as string) ?? e.data.reason ?? ''}`);

t.test('start spawns; spawned is running; probes and samples are armed', async (t) => {
  const a = actor({ health_endpoint: 'http://127.0.0.1:1/health' });
  const fx1 = a.send({ type: 'start', reason: 'user' });
  t.equal(a.d.state, 'starting');
  t.equal(ofType(fx1, 'spawn').length, 1, 'one spawn effect');
  t.equal(ofType(fx1, 'spawn')[0]!.runId, '7.1', 'run id from epoch and counter');
  const fx2 = a.send({ type: 'spawned', run: { runId: '7.1', pid: 42, pgid: 42, startedAt: a.now() } });
  t.equal(a.d.state, 'running');
  t.equal(view(a.d).pid, 42);
  t.same(ofType(fx2, 'set_timer').map((e) => e.name).sort(), ['probe', 'sample']);
  t.equal(ofType(fx2, 'set_timer').find((e) => e.name === 'probe')!.delayMs, 0, 'first probe right away');
  t.same(events(fx2), ['state:running']);
});

t.test('start is idempotent while starting or running', async (t) => {
  const a = actor({});
  a.running();
  t.same(ofType(a.send({ type: 'start', reason: 'again' }), 'spawn'), [], 'no second spawn');
  t.equal(a.d.state, 'running');
});

t.test('health: fast probes until healthy, then the interval; readiness is announced', async (t) => {
  const a = actor({ health_endpoint: 'http://x/health', health: { interval_seconds: 30, success_threshold: 2 } });
  a.running();
  let fx = a.probe(true);
  t.equal(a.d.health, 'unknown', 'one success is not enough with success_threshold 2');
  t.equal(ofType(fx, 'set_timer').find((e) => e.name === 'probe')!.delayMs, 20, 'next probe fast');
  fx = a.probe(true);
  t.equal(a.d.health, 'healthy');
  t.ok(isReady(a.d));
  t.same(ofType(fx, 'notify').map((e) => e.note), [{ type: 'child_ready', id: 'svc', ready: true }]);
  t.same(events(fx), ['health:healthy', 'ready:healthy'], 'a ready event while running');
  a.advance(5);
  fx = a.probe(true);
  const next = ofType(fx, 'set_timer').find((e) => e.name === 'probe')!.delayMs;
  t.ok(next >= 29_850 && next <= 30_150, `healthy: back to the interval, within half a slot (${next} ms)`);
  t.equal((a.now() + next) % 300, 0, 'on a 300 ms slot (a hundredth of 30 s), so a fleet\'s probes travel in batches');
});

t.test('failure_threshold consecutive failures restart with reason unhealthy', async (t) => {
  const a = actor({ health_endpoint: 'http://x/health', health: { failure_threshold: 3 } });
  a.running(10);
  a.probe(true);
  a.probe(false);
  t.equal(a.d.health, 'unhealthy', 'unhealthy after one failure');
  t.equal(a.d.state, 'running', 'not yet restarted');
  a.probe(true);
  t.equal(a.d.health, 'healthy', 'recovers');
  a.probe(false); a.probe(false);
  const fx = a.probe(false);
  t.equal(a.d.state, 'stopping');
  t.match(a.d.reason, /^unhealthy: 3 consecutive failed health checks/);
  t.same(ofType(fx, 'signal').map((e) => e.signal), ['SIGTERM'], 'polite signal to the group');
  t.same(ofType(fx, 'notify').map((e) => e.note.type), ['child_exit'], 'readiness was already withdrawn at the first failure');
  const exit = a.send({ type: 'exited', runId: a.d.run!.runId, code: null, signal: 'SIGTERM', groupEmpty: true });
  t.equal(a.d.state, 'backoff');
  t.equal(a.d.lastExit!.reason, 'unhealthy');
  t.same(ofType(exit, 'set_timer').map((e) => e.name), ['backoff']);
});

t.test('a flapping endpoint (never failure_threshold in a row) is not restarted', async (t) => {
  const a = actor({ health_endpoint: 'http://x/health', health: { failure_threshold: 2 } });
  a.running();
  for (let i = 0; i < 20; i++) a.probe(i % 2 === 0);
  t.equal(a.d.state, 'running');
  t.equal(a.d.restarts, 0);
});

t.test('start-up grace: failures do not count until initial_delay + failure_threshold × interval', async (t) => {
  const a = actor({ health_endpoint: 'http://x/health', health: { interval_seconds: 1, failure_threshold: 3 } });
  a.running();
  const start = a.now();
  for (let i = 0; i < 100 && a.now() - start < 2900; i++) { a.probe(false); a.advance(60); }
  t.equal(a.d.state, 'running', 'still in grace after 2.9 s of failing probes');
  t.equal(a.d.probe.failStreak, 0);
  a.at(start + 3001);
  a.probe(false);
  t.equal(a.d.state, 'stopping', 'grace spent: restarted');
  t.match(a.d.reason, /not healthy within 3s of start/);
});

t.test('crash → backoff → spawn; after max_retries consecutive failures → failed; start by hand revives', async (t) => {
  const a = actor({ restart_policy: { max_retries: 2, backoff_seconds: 1, max_backoff_seconds: 60 } });
  a.running(1);
  const delays: number[] = [];
  for (let i = 0; i < 3; i++) {
    const fx = a.send({ type: 'exited', runId: a.d.run!.runId, code: 1, signal: null, groupEmpty: true });
    if (i < 2) {
      t.equal(a.d.state, 'backoff', `attempt ${i + 1} backs off`);
      delays.push(ofType(fx, 'set_timer').find((e) => e.name === 'backoff')!.delayMs);
      t.same(ofType(fx, 'notify').find((e) => e.note.type === 'child_exit')?.note, { type: 'child_exit', id: 'svc', abnormal: true, willRestart: true });
      const again = a.timer('backoff');
      t.equal(ofType(again, 'spawn').length, 1, 'respawned after the backoff');
      a.send({ type: 'spawned', run: { runId: a.d.spawn.pendingRunId!, pid: 2 + i, pgid: 2 + i, startedAt: a.now() } });
    }
  }
  t.same(delays, [1000, 2000], 'exponential');
  t.equal(a.d.state, 'failed');
  t.match(a.d.reason, /gave up after 2 retries/);
  t.equal(a.d.want, 'down');
  const fx = a.send({ type: 'start', reason: 'by hand' });
  t.equal(ofType(fx, 'spawn').length, 1, 'a failed service can be started by hand');
  t.equal(a.d.attempts, 0, 'with a fresh budget');
});

t.test('restart types decide after an exit', async (t) => {
  const table: Array<[string, number | null, string | null, string]> = [
    ['permanent', 0, null, 'backoff'], ['permanent', 3, null, 'backoff'], ['permanent', null, 'SIGKILL', 'backoff'],
    ['transient', 0, null, 'stopped'], ['transient', 3, null, 'backoff'],
    ['temporary', 0, null, 'stopped'], ['temporary', 3, null, 'failed'],
  ];
  for (const [restart, code, signal, expected] of table) {
    const a = actor({ restart });
    a.running();
    a.send({ type: 'exited', runId: a.d.run!.runId, code, signal, groupEmpty: true });
    t.equal(a.d.state, expected, `${restart} exit code=${code} signal=${signal} → ${expected}`);
  }
});

t.test('recovery disabled: a crash is final', async (t) => {
  const a = actor({}, { recoveryEnabled: false });
  a.running();
  a.send({ type: 'exited', runId: a.d.run!.runId, code: 1, signal: null, groupEmpty: true });
  t.equal(a.d.state, 'failed');
});

t.test('stop: signal, timeout, SIGKILL, and stopped only when the group is empty', async (t) => {
  const a = actor({ stop: { signal: 'SIGINT', timeout_seconds: 5 } });
  a.running(50);
  const runId = a.d.run!.runId;
  let fx = a.send({ type: 'stop', reason: 'user' });
  t.equal(a.d.state, 'stopping');
  t.same(ofType(fx, 'signal'), [{ type: 'signal', id: 'svc', runId, signal: 'SIGINT', cause: 'stopped' }]);
  t.equal(ofType(fx, 'set_timer').find((e) => e.name === 'stop_timeout')!.delayMs, 5000);
  fx = a.timer('stop_timeout');
  t.same(ofType(fx, 'signal').map((e) => e.signal), ['SIGKILL']);
  t.match(a.d.reason, /SIGKILL after 5s/);
  a.send({ type: 'exited', runId, code: null, signal: 'SIGKILL', groupEmpty: false });
  t.equal(a.d.state, 'stopping', 'leader gone but the group is not empty yet');
  fx = a.timer('stop_timeout');
  t.same(ofType(fx, 'signal').map((e) => e.signal), ['SIGKILL'], 'keeps killing the group');
  a.send({ type: 'group_empty', runId });
  t.equal(a.d.state, 'stopped');
  t.equal(a.d.run, null);
  t.equal(a.d.lastExit!.reason, 'stopped');
});

t.test('an exit that leaves grandchildren behind: clear the group before backoff', async (t) => {
  const a = actor({});
  a.running(60);
  const runId = a.d.run!.runId;
  const fx = a.send({ type: 'exited', runId, code: 0, signal: null, groupEmpty: false });
  t.equal(a.d.state, 'exited');
  t.same(ofType(fx, 'signal').map((e) => e.signal), ['SIGTERM'], 'the rest of the group is told to stop');
  t.same(ofType(fx, 'spawn'), [], 'no new process while the old group lives');
  a.send({ type: 'group_empty', runId });
  t.equal(a.d.state, 'backoff');
});

t.test('stop while the spawn is in flight stops the fresh process', async (t) => {
  const a = actor({});
  a.send({ type: 'start', reason: 'x' });
  const runId = a.d.spawn.pendingRunId!;
  a.send({ type: 'stop', reason: 'changed my mind' });
  t.equal(a.d.state, 'stopping');
  const fx = a.send({ type: 'spawned', run: { runId, pid: 9, pgid: 9, startedAt: a.now() } });
  t.same(ofType(fx, 'signal').map((e) => e.signal), ['SIGTERM']);
  a.send({ type: 'exited', runId, code: 0, signal: null, groupEmpty: true });
  t.equal(a.d.state, 'stopped');
});

t.test('restart by hand: stop, then start again at once, counted', async (t) => {
  const a = actor({});
  a.running(70);
  const runId = a.d.run!.runId;
  a.send({ type: 'restart', reason: 'user' });
  t.equal(a.d.state, 'stopping');
  const fx = a.send({ type: 'exited', runId, code: 0, signal: null, groupEmpty: true });
  t.equal(ofType(fx, 'spawn').length, 1);
  t.equal(a.d.restarts, 1);
  t.equal(a.d.lastExit!.reason, 'restarted');
});

t.test('stale timers and facts of an old run are ignored', async (t) => {
  const a = actor({ health_endpoint: 'http://x/health' });
  a.running(80);
  const oldGen = a.d.timers.probe;
  a.probe(true); // bumps the probe generation
  t.same(a.send(timerMsg('probe', oldGen)), [], 'stale probe timer dropped');
  t.same(a.send({ type: 'exited', runId: 'old.1', code: 1, signal: null, groupEmpty: true }), [], 'exit of another run dropped');
  t.equal(a.d.state, 'running');
  t.same(a.send({ type: 'probed', kind: 'liveness', runId: a.d.run!.runId, gen: oldGen, ok: false, latencyMs: 1 }), [], 'stale probe result dropped');
});

t.test('resource limits: 3 consecutive samples over the limit restart', async (t) => {
  const table: Array<[string, Record<string, unknown>, Array<[number, number]>, string | null]> = [
    ['memory', { max_memory: '100MB' }, [[1, 200e6], [1, 200e6], [1, 200e6]], 'memory_limit'],
    ['cpu', { max_cpu: '50%' }, [[90, 1], [95, 1], [99, 1]], 'cpu_limit'],
    ['not consecutive', { max_memory: '100MB' }, [[1, 200e6], [1, 200e6], [1, 50e6], [1, 200e6]], null],
    ['no limit', {}, [[400, 9e9], [400, 9e9], [400, 9e9]], null],
  ];
  for (const [name, resources, samples, reason] of table) {
    const a = actor({ resources });
    a.running();
    for (const [cpu, rss] of samples) a.send({ type: 'sampled', runId: a.d.run!.runId, cpu, rss, pids: 1 });
    if (reason) {
      t.equal(a.d.state, 'stopping', `${name}: restarting`);
      t.equal(a.d.ending.cause, reason, `${name}: reason`);
    } else {
      t.equal(a.d.state, 'running', `${name}: keeps running`);
    }
    t.ok(view(a.d).usage, `${name}: usage is in the view`);
  }
});

t.test('dependencies: waits in starting until ready, then spawns', async (t) => {
  const a = actor({ depends_on: ['db'] });
  let fx = a.send({ type: 'start', reason: 'auto' });
  t.equal(a.d.state, 'starting');
  t.same(ofType(fx, 'spawn'), []);
  t.match(a.d.reason, /waiting for db/);
  fx = a.send({ type: 'deps', ready: true, waitingFor: [] });
  t.equal(ofType(fx, 'spawn').length, 1);
});

t.test('healthy for reset_after_seconds resets the attempt counter', async (t) => {
  const a = actor({ health_endpoint: 'http://x/h', restart_policy: { reset_after_seconds: 10 } });
  a.running(1);
  a.send({ type: 'exited', runId: a.d.run!.runId, code: 1, signal: null, groupEmpty: true });
  a.timer('backoff');
  a.send({ type: 'spawned', run: { runId: a.d.spawn.pendingRunId!, pid: 2, pgid: 2, startedAt: a.now() } });
  t.equal(a.d.attempts, 1);
  const fx = a.probe(true);
  const stable = ofType(fx, 'set_timer').find((e) => e.name === 'stable')!;
  t.equal(stable.delayMs, 10_000);
  const reset = a.timer('stable');
  t.equal(a.d.attempts, 0);
  t.same(events(reset), ['attempts_reset:']);
});

t.test('give_up from the supervisor stops and marks failed', async (t) => {
  const a = actor({});
  a.running(5);
  a.send({ type: 'give_up', reason: 'too many restarts' });
  a.send({ type: 'exited', runId: a.d.run!.runId, code: null, signal: 'SIGTERM', groupEmpty: true });
  t.equal(a.d.state, 'failed');
  t.equal(a.d.reason, 'too many restarts');
});

t.test('external services are watched, never spawned, signalled or restarted', async (t) => {
  const spec = makeSpec({ id: 'ext', external: true, executable: undefined, health_endpoint: 'http://x/h', health: { failure_threshold: 1 } });
  const step = transition(initialData(spec, settings), { type: 'register_external' }, { now: 0, random: Math.random });
  let d = step.data;
  t.equal(d.state, 'running');
  t.equal(view(d).pid, null);
  const probeTimer = ofType(step.effects, 'set_timer').find((e) => e.name === 'probe')!;
  let r = transition(d, { type: 'timer', name: 'probe', gen: probeTimer.gen }, { now: 1, random: Math.random });
  d = r.data;
  const probe = ofType(r.effects, 'probe')[0]!;
  t.equal(probe.runId, EXTERNAL_RUN);
  for (let i = 0; i < 5; i++) {
    r = transition(d, { type: 'probed', kind: 'liveness', runId: EXTERNAL_RUN, gen: d.timers.probe, ok: false, latencyMs: 1, status: 500 }, { now: 1e9 + i, random: Math.random });
    d = r.data;
    t.same([...ofType(r.effects, 'signal'), ...ofType(r.effects, 'spawn')], [], 'nothing done to a process that is not ours');
  }
  t.equal(d.state, 'running');
  t.equal(d.health, 'unhealthy');
});
