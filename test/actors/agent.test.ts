/**
 * The agent lifecycle of a ServiceActor (issue 15) as pure transitions on a fake clock: heartbeat
 * and output-silence deadlines (restart or alert), throttled exits, drains before a planned stop,
 * readiness, and the start-up timeout of the first liveness probe.
 */
import t from 'tap';
import { isReady, view } from '../../src/actors/service.js';
import { driver, eventNames, eventsOf, ofType } from '../helpers/service-driver.js';

const S = 1000;

t.test('heartbeat, action restart: none for timeout_seconds → heartbeat_timeout, restarted like an unhealthy run', async (t) => {
  const a = driver({ heartbeat: { timeout_seconds: 10 }, restart_policy: { max_retries: 3, backoff_seconds: 1 } });
  a.running();
  t.equal(a.due('heartbeat'), a.now + 10 * S, 'armed when the run starts');
  a.advance(4 * S).heartbeat({ status: 'thinking' });
  a.advance(9 * S);
  t.equal(a.d.state, 'running', 'a heartbeat 9 s ago: still in time');
  t.equal(view(a.d).statusText, 'thinking');
  a.take();
  a.advance(1 * S);
  const fx = a.take();
  t.same(eventsOf(fx).find((e) => e.event === 'heartbeat_timeout')?.data, { action: 'restart', timeout_seconds: 10, last_heartbeat_age_seconds: 10 });
  t.equal(a.d.state, 'stopping');
  t.match(a.d.reason, /^heartbeat_timeout: no heartbeat for 10s/);
  t.same(ofType(fx, 'notify').find((e) => e.note.type === 'child_exit')?.note, { type: 'child_exit', id: 'svc', abnormal: true, willRestart: true }, 'counted like an unhealthy restart');
  a.exit(null, 'SIGTERM');
  t.equal(a.d.lastExit!.reason, 'heartbeat_timeout');
  t.equal(a.d.state, 'backoff');
  t.equal(a.d.attempts, 1, 'a retry spent');
});

t.test('heartbeat, action alert: stalled (not ready), then a heartbeat brings back what the probes say', async (t) => {
  const a = driver({ heartbeat: { timeout_seconds: 10, action: 'alert' }, health_endpoint: 'http://x/h', health: { interval_seconds: 5 } });
  a.answer = () => true;
  a.running();
  a.advance(1);
  t.equal(view(a.d).health, 'healthy');
  t.ok(isReady(a.d));
  a.take();
  a.advance(10 * S);
  let fx = a.take();
  t.same(eventNames(fx).filter((e) => e !== 'state'), ['heartbeat_timeout', 'health', 'not_ready']);
  t.same(eventsOf(fx).find((e) => e.event === 'health')?.data, { from: 'healthy', to: 'stalled', reason: 'heartbeat' });
  t.same(eventsOf(fx).find((e) => e.event === 'not_ready')?.data, { reason: 'stalled: no heartbeat' });
  t.same(ofType(fx, 'notify').map((e) => e.note), [{ type: 'child_ready', id: 'svc', ready: false }], 'dependents learn it is not ready');
  t.equal(a.d.state, 'running', 'no restart');
  t.equal(view(a.d).health, 'stalled');
  t.equal(view(a.d).ready, false);
  t.equal(a.due('heartbeat'), undefined, 'not watched again until a heartbeat');
  a.advance(60 * S);
  t.equal(view(a.d).health, 'stalled', 'stays stalled; probes keep passing underneath');
  t.equal(a.d.restarts, 0);
  a.take();
  a.heartbeat();
  fx = a.take();
  t.same(eventsOf(fx).find((e) => e.event === 'health')?.data, { from: 'stalled', to: 'healthy', reason: 'heartbeat' });
  t.same(eventsOf(fx).find((e) => e.event === 'ready')?.data, { reason: 'healthy' });
  t.equal(view(a.d).ready, true);
  t.equal(a.due('heartbeat'), a.now + 10 * S, 'watched again');
});

t.test('heartbeat alert without a health check: back to unknown, and ready again', async (t) => {
  const a = driver({ heartbeat: { timeout_seconds: 5, action: 'alert' } });
  a.running();
  t.ok(isReady(a.d));
  a.advance(5 * S);
  t.equal(view(a.d).health, 'stalled');
  t.notOk(isReady(a.d));
  a.heartbeat();
  t.equal(view(a.d).health, 'unknown');
  t.ok(isReady(a.d));
});

t.test('require_progress: only a changed progress value counts; every heartbeat shows', async (t) => {
  const a = driver({ heartbeat: { timeout_seconds: 10, require_progress: true } });
  a.running();
  a.advance(5 * S).heartbeat({ progress: 1 });
  t.equal(a.d.agent.heartbeatDue, a.now + 10 * S, 'the first progress value counts');
  const counted = a.now;
  a.advance(3 * S).heartbeat({ progress: 1, inflight: 2 });
  a.advance(3 * S).heartbeat({ status: 'no progress field' });
  t.equal(a.d.agent.heartbeatDue, counted + 10 * S, 'same progress, or none: the deadline stays');
  t.same([view(a.d).progress, view(a.d).inflight, view(a.d).statusText, view(a.d).heartbeatAt], [1, 2, 'no progress field', a.now], 'the view shows every heartbeat');
  a.take();
  a.advance(4 * S);
  t.same(eventNames(a.take()).slice(0, 1), ['heartbeat_timeout'], '10 s without progress');
  t.match(a.d.reason, /no progress for 10s/);

  const b = driver({ heartbeat: { timeout_seconds: 10, require_progress: true } });
  b.running();
  for (let i = 0; i < 10; i++) b.advance(6 * S).heartbeat({ progress: i });
  t.equal(b.d.state, 'running', 'advancing progress keeps it running');
  t.equal(view(b.d).progress, 9);
});

t.test('heartbeats of another run are ignored; none named (API key) are taken', async (t) => {
  const a = driver({ heartbeat: { timeout_seconds: 10 } });
  a.running();
  const due = a.due('heartbeat');
  a.advance(1 * S);
  t.same(a.heartbeat({ progress: 5 }, '7.99'), [], 'another run: nothing');
  t.equal(view(a.d).heartbeatAt, null);
  t.equal(a.due('heartbeat'), due);
  a.heartbeat({ progress: 6 }, undefined);
  t.equal(view(a.d).progress, 6);
  t.equal(view(a.d).heartbeatAt, a.now);
});

t.test('startup_timeout_seconds stretches the first heartbeat deadline only', async (t) => {
  const a = driver({ heartbeat: { timeout_seconds: 10 }, health: { startup_timeout_seconds: 60 } });
  a.running();
  const start = a.now;
  t.equal(a.due('heartbeat'), start + 60 * S, 'first deadline: max(timeout, startup)');
  a.advance(55 * S);
  t.equal(a.d.state, 'running');
  a.heartbeat();
  t.equal(a.d.agent.heartbeatDue, start + 65 * S, 'then the timeout');
  a.advance(6 * S);
  t.equal(a.due('heartbeat'), start + 65 * S, 'lazily: the timer fired at 60 s and was armed again for the rest');
  t.equal(a.d.state, 'running');
  a.advance(4 * S);
  t.equal(a.d.state, 'stopping', 'timed out at 65 s');
});

t.test('view: heartbeat fields are per run', async (t) => {
  const a = driver({ restart_policy: { backoff_seconds: 1 } });
  a.running();
  a.heartbeat({ progress: 3, inflight: 1, status: 'x' });
  t.equal(view(a.d).inflight, 1);
  a.exit(1);
  t.equal(view(a.d).progress, 3, 'kept while between runs');
  a.advance(2 * S);
  t.same([view(a.d).heartbeatAt, view(a.d).progress, view(a.d).inflight, view(a.d).statusText], [null, null, null, null], 'reset for the new run');
});

t.test('silence: no output for timeout_seconds → restart (reason silence) or stalled until the next output', async (t) => {
  const a = driver({ silence: { timeout_seconds: 30, action: 'restart' } });
  a.running();
  for (let i = 0; i < 5; i++) a.advance(20 * S).send({ type: 'output' });
  t.equal(a.d.state, 'running', 'output keeps it in time');
  a.take();
  a.advance(30 * S);
  const fx = a.take();
  t.same(eventsOf(fx).find((e) => e.event === 'silence')?.data, { action: 'restart', timeout_seconds: 30 });
  t.equal(a.d.state, 'stopping');
  a.exit(null, 'SIGTERM');
  t.equal(a.d.lastExit!.reason, 'silence');

  const b = driver({ silence: { timeout_seconds: 30 } });
  b.running();
  b.advance(30 * S);
  t.equal(b.d.spec.silence!.action, 'alert', 'alert is the default');
  t.equal(view(b.d).health, 'stalled');
  t.equal(b.d.state, 'running');
  b.take();
  b.send({ type: 'output' });
  t.same(eventsOf(b.take()).find((e) => e.event === 'health')?.data, { from: 'stalled', to: 'unknown', reason: 'silence' });
  t.equal(b.due('silence'), b.now + 30 * S, 'watched again');
});

t.test('an update without restart that changes heartbeat or silence re-arms the deadlines (a stall ends)', async (t) => {
  const a = driver({ heartbeat: { timeout_seconds: 5, action: 'alert' } });
  a.running();
  a.advance(5 * S);
  t.equal(view(a.d).health, 'stalled');
  const spec = { ...a.d.spec, heartbeat: { timeout_seconds: 60, require_progress: false, action: 'alert' as const }, silence: { timeout_seconds: 30, action: 'restart' as const } };
  a.take();
  a.send({ type: 'update', spec, restart: false });
  t.equal(view(a.d).health, 'unknown', 'the stall ends');
  t.equal(eventsOf(a.take()).find((e) => e.event === 'health')?.data.to, 'unknown');
  t.equal(a.due('heartbeat'), a.now + 60 * S);
  t.equal(a.due('silence'), a.now + 30 * S);
  a.advance(30 * S);
  t.equal(a.d.state, 'stopping', 'the new silence rule applies');
});
