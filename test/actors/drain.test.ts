/**
 * Drains (issue 15) as pure ServiceActor transitions: a planned stop or restart of a run that
 * reported in-flight work waits for inflight 0 or drain.timeout_seconds before the stop signal.
 */
import t from 'tap';
import { isReady, view } from '../../src/actors/service.js';
import { driver, eventNames, eventsOf, ofType } from '../helpers/service-driver.js';

const S = 1000;

/** A running service that reported `inflight` work. */
function busy(input: Record<string, unknown> = {}, inflight = 2) {
  const a = driver({ stop: { timeout_seconds: 5 }, ...input });
  a.running();
  a.heartbeat({ inflight });
  a.take();
  return a;
}

t.test('stop: draining (not ready, no signal) until a heartbeat says inflight 0, then the usual stop', async (t) => {
  const a = busy();
  t.ok(isReady(a.d));
  let fx = a.send({ type: 'stop', reason: 'user' });
  t.equal(a.d.state, 'draining');
  t.notOk(view(a.d).ready);
  t.same(ofType(fx, 'signal'), [], 'no stop signal yet');
  t.same(eventNames(fx), ['drain_started', 'state', 'not_ready']);
  t.same(eventsOf(fx)[0]!.data, { inflight: 2, timeout_seconds: 120 });
  t.equal(eventsOf(fx).find((e) => e.event === 'not_ready')!.data.reason, 'draining');
  t.equal(a.due('drain'), a.now + 120 * S);
  a.advance(10 * S);
  fx = a.heartbeat({ inflight: 1 });
  t.equal(a.d.state, 'draining', 'inflight 1: still draining');
  t.equal(view(a.d).inflight, 1);
  a.advance(5 * S);
  fx = a.heartbeat({ inflight: 0 });
  t.equal(a.d.state, 'stopping');
  t.same(ofType(fx, 'signal').map((e) => e.signal), ['SIGTERM'], 'now the stop signal');
  t.same(eventsOf(fx).find((e) => e.event === 'drain_finished')?.data, { inflight: 0, waited_seconds: 15, timeout_seconds: 120, by: 'inflight' });
  t.equal(a.due('drain'), undefined);
  t.equal(a.due('stop_timeout'), a.now + 5 * S, 'then stop_timeout as usual');
  a.exit(0);
  t.equal(a.d.state, 'stopped');
  t.equal(a.d.lastExit!.reason, 'stopped');
});

t.test('restart: a drain cut by drain.timeout_seconds, then the restart', async (t) => {
  const a = busy({ drain: { timeout_seconds: 30 } });
  a.send({ type: 'restart', reason: 'user' });
  t.equal(a.d.state, 'draining');
  a.advance(29 * S);
  t.equal(a.d.state, 'draining');
  a.take();
  a.advance(1 * S);
  const fx = a.take();
  t.same(eventsOf(fx).find((e) => e.event === 'drain_timeout')?.data, { inflight: 2, waited_seconds: 30, timeout_seconds: 30, by: 'timeout' });
  t.same(ofType(fx, 'signal').map((e) => e.signal), ['SIGTERM']);
  t.match(a.d.reason, /drain timed out after 30s/);
  const exit = a.exit(null, 'SIGTERM');
  t.equal(ofType(exit, 'spawn').length, 1, 'restarted');
  t.equal(a.d.restarts, 1);
  t.equal(a.d.lastExit!.reason, 'restarted');
});

t.test('update with restart drains too', async (t) => {
  const a = busy();
  a.send({ type: 'update', spec: a.d.spec, restart: true });
  t.equal(a.d.state, 'draining');
  a.heartbeat({ inflight: 0 });
  const fx = a.exit(0);
  t.equal(ofType(fx, 'spawn').length, 1);
});

t.test('no drain: never reported inflight, drain.timeout_seconds 0, or a restart for a failure', async (t) => {
  const idle = driver({});
  idle.running();
  idle.heartbeat({ progress: 1 });
  idle.send({ type: 'stop', reason: 'user' });
  t.equal(idle.d.state, 'stopping', 'never reported inflight: stopped as before');
  const off = busy({ drain: { timeout_seconds: 0 } });
  off.send({ type: 'stop', reason: 'user' });
  t.equal(off.d.state, 'stopping', 'drain.timeout_seconds 0');
  const hung = busy({ heartbeat: { timeout_seconds: 10 } });
  hung.advance(10 * S);
  t.equal(hung.d.state, 'stopping', 'a heartbeat timeout restarts without draining');
  const fat = busy({ resources: { max_memory: '1MB' } });
  for (let i = 0; i < 3; i++) fat.send({ type: 'sampled', runId: fat.d.run!.runId, cpu: 1, rss: 5e6, pids: 1 });
  t.equal(fat.d.state, 'stopping', 'a limit breach does not drain');
  const crashed = busy();
  crashed.exit(1);
  t.equal(crashed.d.state, 'backoff', 'a crash is a crash');
  const gaveUp = busy();
  gaveUp.send({ type: 'give_up', reason: 'group gave up' });
  t.equal(gaveUp.d.state, 'stopping', 'nor does a give-up');
});

t.test('while draining: a second stop keeps draining; start calls a stop off; restart goes on', async (t) => {
  const a = busy();
  a.send({ type: 'stop', reason: 'first' });
  a.advance(5 * S);
  let fx = a.send({ type: 'stop', reason: 'second' });
  t.equal(a.d.state, 'draining');
  t.same(ofType(fx, 'signal'), []);
  t.equal(a.due('drain'), a.now - 5 * S + 120 * S, 'the drain timeout is not extended');
  fx = a.send({ type: 'start', reason: 'changed my mind' });
  t.equal(a.d.state, 'running', 'a start calls the stop off');
  t.equal(a.d.want, 'up');
  t.ok(isReady(a.d), 'ready again');
  t.same(ofType(fx, 'notify').map((e) => e.note), [{ type: 'child_ready', id: 'svc', ready: true }]);
  t.equal(a.due('drain'), undefined);
  a.advance(200 * S);
  t.equal(a.d.state, 'running', 'the old drain timer is gone');

  const b = busy();
  b.send({ type: 'restart', reason: 'user' });
  b.send({ type: 'start', reason: 'want it up' });
  t.equal(b.d.state, 'draining', 'a start while draining for a restart: the restart goes on');
  b.send({ type: 'restart', reason: 'again' });
  t.equal(b.d.restarts, 1, 'a second restart while draining for one is the same restart');
  b.send({ type: 'stop', reason: 'stop after all' });
  b.heartbeat({ inflight: 0 });
  b.exit(0);
  t.equal(b.d.state, 'stopped', 'the last command wins');
});

t.test('the process exits while draining: the planned stop, not a crash', async (t) => {
  const a = busy();
  a.send({ type: 'stop', reason: 'user' });
  a.take();
  a.exit(1);
  const fx = a.take();
  t.equal(a.d.state, 'stopped');
  t.equal(a.d.lastExit!.reason, 'stopped');
  t.equal(eventsOf(fx).find((e) => e.event === 'drain_finished')?.data.by, 'exit');
  t.same(ofType(fx, 'notify').filter((e) => e.note.type === 'child_exit'), [], 'nothing for the supervisor');
  const b = busy();
  b.send({ type: 'restart', reason: 'user' });
  const fx2 = b.send({ type: 'exited', runId: b.d.run!.runId, code: 0, signal: null, groupEmpty: false });
  t.equal(b.d.state, 'stopping', 'the leader is gone, the group is not: it is stopped');
  t.same(ofType(fx2, 'signal').map((e) => e.signal), ['SIGTERM']);
  const spawn = b.send({ type: 'group_empty', runId: b.d.run!.runId });
  t.equal(ofType(spawn, 'spawn').length, 1, 'then restarted');
});

t.test('inflight is per run: a new run has to report it again', async (t) => {
  const a = busy({ restart_policy: { backoff_seconds: 1 } });
  a.exit(1);
  a.advance(2 * S);
  a.spawned(101);
  a.send({ type: 'stop', reason: 'user' });
  t.equal(a.d.state, 'stopping');
});
