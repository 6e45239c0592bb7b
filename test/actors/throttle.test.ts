/**
 * Throttled exits (issue 15) as pure ServiceActor transitions: the named wait, exactly (±10 %),
 * no retry spent, no intensity charged; over throttle.max_seconds, failed with reason quota.
 */
import t from 'tap';
import type { ParentNote } from '../../src/actors/protocol.js';
import { view } from '../../src/actors/service.js';
import { initialGroup, superviseTransition } from '../../src/actors/supervisor.js';
import { driver, eventsOf, ofType } from '../helpers/service-driver.js';

const S = 1000;

t.test('exit 75 three times with max_retries 1: never failed, each wait the default ±10 %, attempts unchanged', async (t) => {
  const a = driver({ restart_policy: { max_retries: 1, backoff_seconds: 1 }, throttle: { default_seconds: 60 } });
  a.running();
  for (const [i, random] of [0, 0.999, 0.5].entries()) {
    a.random = random;
    a.take();
    a.exit(75);
    const fx = a.take();
    t.equal(a.d.state, 'throttled', `exit ${i + 1}: throttled`);
    const wait = ofType(fx, 'set_timer').find((e) => e.name === 'backoff')!.delayMs;
    t.ok(wait >= 54 * S && wait <= 66 * S, `exit ${i + 1}: waits ${wait} ms, within 60 s ± 10 %`);
    t.equal(view(a.d).throttledUntil, a.now + wait, 'the view says until when');
    t.equal(a.d.lastExit!.reason, 'throttled');
    t.same(eventsOf(fx).find((e) => e.event === 'throttled')?.data, { retry_after_seconds: 60, wait_seconds: wait / 1000, exit_code: 75 });
    t.same(ofType(fx, 'notify').find((e) => e.note.type === 'child_exit')?.note, { type: 'child_exit', id: 'svc', abnormal: false, willRestart: false });
    t.equal(a.d.attempts, 0, 'no retry spent');
    t.equal(a.d.restarts, i + 1, 'a restart all the same');
    a.advance(wait - 1);
    t.equal(a.d.state, 'throttled', 'not a millisecond early');
    a.advance(1);
    t.equal(a.d.state, 'starting', 'then started again');
    t.equal(view(a.d).throttledUntil, null);
    a.spawned(200 + i);
  }
  t.equal(a.d.state, 'running');
  a.exit(1);
  t.equal(a.d.state, 'backoff', 'a crash is still a crash');
  t.equal(a.d.attempts, 1);
});

t.test('throttle message: the next exit (any code, a signal too) waits the named time', async (t) => {
  for (const [code, signal] of [[1, null], [0, null], [null, 'SIGSEGV']] as const) {
    const a = driver({});
    a.running();
    a.send({ type: 'throttle', runId: a.d.run!.runId, retryAfterMs: 120 * S });
    t.equal(a.d.state, 'running', 'it may keep running');
    a.take();
    a.exit(code, signal);
    const fx = a.take();
    t.equal(a.d.state, 'throttled', `exit ${code ?? signal}: throttled`);
    t.equal(ofType(fx, 'set_timer').find((e) => e.name === 'backoff')!.delayMs, 120 * S, 'random 0.5: exactly the time');
    t.equal(eventsOf(fx).find((e) => e.event === 'throttled')?.data.retry_after_seconds, 120);
  }
  const b = driver({ restart_policy: { backoff_seconds: 1 } });
  b.running();
  b.send({ type: 'throttle', runId: '7.99', retryAfterMs: 120 * S });
  b.exit(1);
  t.equal(b.d.state, 'backoff', 'a throttle message about another run is ignored');
  b.advance(5 * S);
  b.spawned(101);
  b.send({ type: 'throttle', retryAfterMs: 30 * S });
  b.exit(1);
  t.equal(b.d.state, 'throttled', 'one without a run id (API key) applies to the current run');
  b.advance(31 * S);
  b.spawned(102);
  b.exit(1);
  t.equal(b.d.state, 'backoff', 'only that run\'s next exit: the next run starts clean');
});

t.test('a wait over throttle.max_seconds: failed, reason quota, no restart', async (t) => {
  const a = driver({ throttle: { max_seconds: 3600 } });
  a.running();
  a.send({ type: 'throttle', retryAfterMs: 7200 * S });
  a.take();
  a.exit(75);
  const fx = a.take();
  t.equal(a.d.state, 'failed');
  t.equal(a.d.lastExit!.reason, 'quota');
  t.match(a.d.reason, /quota: asked to wait 7200s, over throttle.max_seconds \(3600s\)/);
  t.same(eventsOf(fx).find((e) => e.event === 'quota')?.data, { retry_after_seconds: 7200, max_seconds: 3600 });
  t.same(ofType(fx, 'spawn'), []);
  t.equal(a.d.want, 'down');
  const b = driver({ throttle: { default_seconds: 60, max_seconds: 30 } });
  b.running();
  b.exit(75);
  t.equal(b.d.lastExit!.reason, 'quota', 'default_seconds over max_seconds too');
});

t.test('stop while throttled → stopped; start while throttled → at once', async (t) => {
  const a = driver({});
  a.running();
  a.exit(75);
  a.send({ type: 'stop', reason: 'user' });
  t.equal(a.d.state, 'stopped');
  t.equal(view(a.d).throttledUntil, null);
  a.advance(120 * S);
  t.equal(a.d.state, 'stopped', 'the wait\'s timer is gone');
  const b = driver({});
  b.running();
  b.exit(75);
  const fx = b.send({ type: 'start', reason: 'user' });
  t.equal(ofType(fx, 'spawn').length, 1, 'started by hand without waiting');
});

t.test('exits we asked for, and temporary services, are never throttled', async (t) => {
  const a = driver({});
  a.running();
  a.send({ type: 'throttle', retryAfterMs: 60 * S });
  a.send({ type: 'stop', reason: 'user' });
  a.exit(75);
  t.equal(a.d.state, 'stopped');
  t.equal(a.d.lastExit!.reason, 'stopped');
  const b = driver({ restart: 'temporary' });
  b.running();
  b.exit(75);
  t.equal(b.d.state, 'failed', 'temporary: exit 75 is an abnormal exit, never restarted');
});

t.test('throttled exits do not charge the group\'s intensity, nor restart siblings', async (t) => {
  const a = driver({});
  a.running();
  const notes: ParentNote[] = [];
  for (let i = 0; i < 5; i++) {
    a.exit(75);
    a.advance(61 * S);
    a.spawned(300 + i);
  }
  for (const e of ofType(a.take(), 'notify')) notes.push(e.note);
  let g = initialGroup('g', { strategy: 'one_for_all', intensity: 1, period_seconds: 3600 }, ['svc', 'other']);
  for (const note of notes) {
    const step = superviseTransition(g, note, { now: a.now, random: () => 0.5 });
    t.same(step.effects, [], `${note.type}: nothing for the supervisor to do`);
    g = step.data;
  }
  t.equal(notes.filter((n) => n.type === 'child_exit').length, 5);
  t.notOk(g.gaveUp, 'intensity 1, five throttled exits: the group stands');
  t.same(g.restarts, []);
});
