/**
 * Readiness and the start-up timeout (issue 15) as pure ServiceActor transitions: a failing
 * readiness probe makes a service not ready and never restarts it; startup_timeout_seconds gives a
 * fresh run that long to pass its first liveness probe.
 */
import t from 'tap';
import type { ProbeKind } from '../../src/actors/protocol.js';
import { isReady, view } from '../../src/actors/service.js';
import { driver, eventsOf, ofType } from '../helpers/service-driver.js';

const S = 1000;

t.test('readiness: probed with kind readiness; failing → not ready, never restarted', async (t) => {
  const a = driver({ health_endpoint: 'http://x/live', health: { readiness_endpoint: 'http://x/ready', interval_seconds: 2, failure_threshold: 2 } });
  let ready = false;
  a.answer = (kind: ProbeKind) => kind === 'liveness' || ready;
  a.running();
  a.advance(1);
  const probes = ofType(a.take(), 'probe');
  t.same([...new Set(probes.map((p) => `${p.kind} ${p.url}`))].sort(), ['liveness http://x/live', 'readiness http://x/ready']);
  t.equal(view(a.d).health, 'healthy', 'live');
  t.notOk(view(a.d).ready, 'but not ready');
  a.advance(120 * S);
  t.equal(a.d.state, 'running', 'two minutes of failing readiness: no restart');
  t.equal(a.d.restarts, 0);
  t.notOk(isReady(a.d));
  ready = true;
  a.take();
  a.advance(100);
  let fx = a.take();
  t.ok(isReady(a.d), 'ready once the readiness probe passes');
  t.same(eventsOf(fx).filter((e) => e.event === 'ready').map((e) => e.data), [{ reason: 'readiness probe passed' }]);
  t.same(ofType(fx, 'notify').map((e) => e.note), [{ type: 'child_ready', id: 'svc', ready: true }]);
  ready = false;
  a.advance(2 * S + 10);
  t.ok(isReady(a.d), 'one failure is under failure_threshold 2');
  a.advance(2 * S);
  fx = a.take();
  t.notOk(isReady(a.d), 'two failures in a row: not ready');
  t.match(eventsOf(fx).find((e) => e.event === 'not_ready')?.data.reason, /^readiness probe failing: HTTP 503/);
  t.same(ofType(fx, 'notify').map((e) => e.note), [{ type: 'child_ready', id: 'svc', ready: false }]);
  t.equal(a.d.state, 'running');
  t.equal(view(a.d).health, 'healthy', 'still live');
});

t.test('readiness without a liveness endpoint; liveness failing makes it not ready too', async (t) => {
  const a = driver({ health: { readiness_endpoint: 'http://x/ready' } });
  a.answer = () => true;
  a.running();
  t.notOk(isReady(a.d), 'running is not enough with a readiness endpoint');
  a.advance(1);
  t.ok(isReady(a.d));
  const b = driver({ health_endpoint: 'http://x/live', health: { readiness_endpoint: 'http://x/ready', interval_seconds: 1, failure_threshold: 5 } });
  let live = true;
  b.answer = (kind) => kind === 'readiness' || live;
  b.running();
  b.advance(1);
  t.ok(isReady(b.d));
  live = false;
  b.take();
  b.advance(1 * S + 10);
  t.equal(view(b.d).health, 'unhealthy');
  t.notOk(isReady(b.d), 'unhealthy: not ready, readiness passing or not');
  t.match(eventsOf(b.take()).find((e) => e.event === 'not_ready')?.data.reason, /unhealthy/);
});

t.test('readiness probe results of the other kind or an old generation are dropped', async (t) => {
  const a = driver({ health_endpoint: 'http://x/live', health: { readiness_endpoint: 'http://x/ready' } });
  a.running();
  a.advance(1);
  const [p] = ofType(a.take(), 'probe').filter((e) => e.kind === 'readiness');
  t.ok(p);
  t.same(a.send({ type: 'probed', kind: 'readiness', runId: p!.runId, gen: p!.gen + 1, ok: true, latencyMs: 1 }), [], 'old or unknown generation');
  a.send({ type: 'probed', kind: 'readiness', runId: p!.runId, gen: p!.gen, ok: true, latencyMs: 1 });
  t.ok(a.d.readiness.passing);
  t.notOk(isReady(a.d), 'liveness not yet healthy');
});

t.test('startup_timeout_seconds: first success at 20 s of 30 (interval 1 s, failure_threshold 3) → one run', async (t) => {
  const a = driver({ health_endpoint: 'http://x/live', health: { startup_timeout_seconds: 30, interval_seconds: 1, failure_threshold: 3 } });
  a.running();
  const start = a.now;
  a.answer = () => a.now - start >= 20 * S;
  a.advance(19_900);
  t.equal(a.d.state, 'running', 'failing for 19.9 s: failures do not count yet');
  t.equal(view(a.d).consecutiveFailures, 0);
  a.advance(200);
  t.equal(view(a.d).health, 'healthy', 'healthy at 20 s');
  a.advance(60 * S);
  t.equal(a.d.state, 'running');
  t.equal(a.d.spawn.count, 1, 'one run');
  t.equal(a.d.restarts, 0);
  let fast = 0;
  a.answer = () => { fast++; return false; };
  a.advance(2 * S + 10);
  t.equal(a.d.state, 'running', 'after the first success, failure_threshold counts as usual');
  a.advance(1 * S);
  t.equal(a.d.state, 'stopping');
  t.match(a.d.reason, /3 consecutive failed health checks/);
  t.equal(fast, 3);
});

t.test('startup_timeout_seconds: not healthy by then → restart, reason unhealthy (startup timeout)', async (t) => {
  const a = driver({ health_endpoint: 'http://x/live', health: { startup_timeout_seconds: 30, interval_seconds: 1 } });
  a.answer = () => false;
  a.running();
  a.advance(29_990);
  t.equal(a.d.state, 'running');
  const sent = a.d.timers.probe;
  t.ok(sent > 500, `fast probing stays on meanwhile (${sent} probes)`);
  a.advance(60);
  t.equal(a.d.state, 'stopping');
  t.equal(a.d.ending.cause, 'unhealthy');
  t.match(a.d.reason, /^unhealthy: startup timeout: not healthy within 30s of start/);
});
