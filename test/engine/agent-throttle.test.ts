/**
 * The agent lifecycle end to end (issue 15): throttled exits (the named wait, no retry spent),
 * quota, and drains before a planned restart. Real fixture agents (test/fixtures/agent.mjs) talk
 * to a real orchestrator over HTTP with their run token. Waits are on views and events; the only
 * durations asserted are the ones the behaviour itself names.
 */
import t from 'tap';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { agent, fleet } from '../helpers/agents.js';

t.test('exit 75 three times with max_retries 1: throttled, never failed, each wait as named', async (t) => {
  const h = await fleet(t, {
    limited: agent('limited', { EXIT_CODE: 75, EXIT_AFTER_MS: 50 }, {
      restart_policy: { max_retries: 1, backoff_seconds: 0 }, throttle: { default_seconds: 1 },
    }),
  });
  const starts = () => h.events('limited', 'state').filter((e) => e.data.to === 'starting');
  await h.waitFor(() => starts().length >= 4, 'the first start and one after each of three throttled exits', 30_000);
  t.ok(h.events('limited', 'state').every((e) => e.data.to !== 'failed'), 'never failed');
  t.equal(h.view('limited').attempts, 0, 'no retry spent');
  const states = h.events('limited', 'state');
  for (const thr of h.events('limited', 'throttled').slice(0, 3)) {
    const start = states.find((e) => e.at > thr.at && e.data.to === 'starting');
    t.ok(start, 'started again after the wait');
    const planned = Number(thr.data.wait_seconds) * 1000;
    t.ok(planned >= 900 && planned <= 1100, `a wait of ${planned} ms planned for a named 1 s (±10 %)`);
    const waited = start!.at - thr.at;
    t.ok(waited >= planned - 5 && waited <= planned + 1000, `and ${waited} ms waited (a timer is never early; a loaded machine makes it late)`);
  }
});

t.test('a retry_after_seconds over throttle.max_seconds: failed, reason quota', async (t) => {
  const h = await fleet(t, {
    quota: agent('quota', { THROTTLE_SECONDS: 7200 }, { throttle: { max_seconds: 3600 } }),
  });
  const v = await h.waitView('quota', (v) => v.state === 'failed', 'quota failed');
  t.equal(v.lastExit!.reason, 'quota');
  const quota = await h.waitFor(() => h.events('quota', 'quota')[0], 'the quota event');
  t.same(quota.data, { retry_after_seconds: 7200, max_seconds: 3600 });
  t.equal(v.restarts, 0, 'not restarted');
});

t.test('drain: a restart waits for inflight 0; another is cut by the drain timeout', async (t) => {
  const h = await fleet(t, {
    worker: agent('worker', { HEARTBEAT_MS: 100, INFLIGHT: 2, DRAIN_WORK_MS: 300 }, { drain: { timeout_seconds: 30 } }),
    stubborn: agent('stubborn', { HEARTBEAT_MS: 100, INFLIGHT: 3, DRAIN_WORK_MS: 'never' }, { drain: { timeout_seconds: 0.5 } }),
  });
  for (const id of ['worker', 'stubborn']) await h.waitView(id, (v) => v.inflight !== null, `${id} reported inflight`);
  const [worker, stubborn] = await Promise.all([h.o.fleet.command('worker', 'restart'), h.o.fleet.command('stubborn', 'restart')]);
  t.equal(worker.view.state, 'draining', 'a planned restart drains first');
  t.equal(worker.view.ready, false, 'and is not ready meanwhile');
  t.equal(stubborn.view.state, 'draining');

  await h.waitView('worker', (v) => v.restarts >= 1 && v.state === 'running', 'worker restarted');
  await h.waitView('stubborn', (v) => v.restarts >= 1 && v.state === 'running', 'stubborn restarted');
  t.equal(h.events('worker', 'drain_started').length, 1);
  t.equal(h.events('worker', 'drain_finished').length, 1);
  t.same(h.events('worker', 'drain_timeout'), []);
  t.equal(h.events('stubborn', 'drain_timeout').length, 1);
  const log = (id: string) => readFileSync(join(h.dir, 'logs', 'services', `${id}.stdout.log`), 'utf8');
  t.match(log('worker'), /in-flight work done[\s\S]*stopped with inflight=0/, 'worker finished its work before the stop signal');
  t.match(log('stubborn'), /stopped with inflight=3/, 'stubborn was stopped with its work unfinished');
});
