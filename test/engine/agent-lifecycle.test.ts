/**
 * The agent lifecycle end to end (issue 15): real fixture agents (test/fixtures/agent.mjs) that
 * heartbeat, go quiet, get throttled and drain over the real HTTP API with their run token, under
 * a real orchestrator. Waits are on views and events; the only durations asserted are the ones
 * the behaviour itself names (a throttled wait is exactly the named time, ±10 %).
 */
import t from 'tap';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { harness, node, type TestLike } from '../helpers/harness.js';
import { freePort } from '../helpers/process.mjs';

async function fleet(t: TestLike, services: Record<string, Record<string, unknown>>) {
  const port = await freePort();
  return harness(t, { http: true, config: { orchestrator: { port } }, services });
}

const agent = (id: string, environment: Record<string, unknown>, more: Record<string, unknown> = {}) => ({
  id, executable: node('agent.mjs'), environment, stop: { timeout_seconds: 2 }, ...more,
});

t.test('a heartbeat that stops: restart (heartbeat_timeout), or stalled with action alert', async (t) => {
  const h = await fleet(t, {
    hangs: agent('hangs', { HEARTBEAT_MS: 100, HEARTBEATS: 5 }, {
      heartbeat: { timeout_seconds: 0.6 }, restart_policy: { backoff_seconds: 0, max_retries: 5 },
    }),
    watched: agent('watched', { HEARTBEAT_MS: 100, HEARTBEATS: 5 }, { heartbeat: { timeout_seconds: 0.6, action: 'alert' } }),
  });
  const restarted = await h.waitView('hangs', (v) => v.restarts >= 1 && v.state === 'running', 'hangs restarted');
  t.equal(restarted.lastExit!.reason, 'heartbeat_timeout');
  t.ok(h.events('hangs', 'heartbeat_timeout').length >= 1, 'a heartbeat_timeout event');

  const stalled = await h.waitView('watched', (v) => v.health === 'stalled', 'watched stalled');
  t.equal(stalled.restarts, 0, 'alert does not restart');
  t.equal(stalled.state, 'running');
  t.equal(stalled.progress, null);
  t.match(stalled.statusText, /^beat \d+$/, 'the last status line is shown');
  t.ok(stalled.heartbeatAt !== null, 'with the time of the last heartbeat');
  t.equal((await h.waitFor(() => h.events('watched', 'heartbeat_timeout')[0], 'its event')).data.action, 'alert');
});

t.test('require_progress: heartbeats whose progress does not move count as none', async (t) => {
  const h = await fleet(t, {
    stuck: agent('stuck', { HEARTBEAT_MS: 100, PROGRESS: 'stuck' }, { heartbeat: { timeout_seconds: 0.8, require_progress: true, action: 'alert' } }),
    moving: agent('moving', { HEARTBEAT_MS: 100, PROGRESS: 'advance' }, { heartbeat: { timeout_seconds: 0.8, require_progress: true, action: 'alert' } }),
  });
  const stuck = await h.waitView('stuck', (v) => v.health === 'stalled', 'stuck stalled although it heartbeats');
  t.equal(stuck.progress, 1);
  // moving started with stuck and heartbeats as often: by now it has passed the same deadline.
  const moving = await h.waitView('moving', (v) => (v.progress ?? 0) >= 12, 'moving past two deadlines');
  t.not(moving.health, 'stalled', 'advancing progress keeps it live');
  t.same(h.events('moving', 'heartbeat_timeout'), []);
});

t.test('output silence: alert makes it stalled; a service that writes is never silent', async (t) => {
  const h = await fleet(t, {
    quiet: agent('quiet', { QUIET: 1 }, { silence: { timeout_seconds: 0.5 } }),
    chatty: agent('chatty', { HEARTBEAT_MS: 100 }, { silence: { timeout_seconds: 0.5, action: 'restart' } }),
  });
  const quiet = await h.waitView('quiet', (v) => v.health === 'stalled', 'quiet stalled');
  t.equal(quiet.restarts, 0);
  t.equal((await h.waitFor(() => h.events('quiet', 'silence')[0], 'its event')).data.action, 'alert');
  const chatty = await h.waitView('chatty', (v) => Number((v.statusText ?? 'beat 0').split(' ')[1]) >= 15, 'chatty past three silence windows');
  t.equal(chatty.restarts, 0, 'a service that writes is never silent');
  t.same(h.events('chatty', 'silence'), []);
});

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
    const waited = start!.at - thr.at;
    t.ok(waited >= 900 && waited <= 1100 + 250, `waited ${waited} ms for a named 1 s (±10 %, plus event timing)`);
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

t.test('a failing readiness endpoint: not ready, no restart, dependents wait', async (t) => {
  const port = await freePort();
  const h = await fleet(t, {
    model: agent('model', { PORT: port, READY: 'fail' }, {
      health_endpoint: `http://127.0.0.1:${port}/health`,
      health: { interval_seconds: 0.2, readiness_endpoint: `http://127.0.0.1:${port}/ready` },
    }),
    api: agent('api', {}, { depends_on: ['model'] }),
  });
  const healthy = await h.waitView('model', (v) => v.health === 'healthy', 'model live');
  // Ten more liveness probes: readiness is probed on the same interval, so it failed all along.
  await h.waitView('model', (v) => v.probe!.at >= healthy.probe!.at + 2000, 'two more seconds of probes');
  const model = h.view('model');
  t.equal(model.ready, false, 'live but not ready');
  t.equal(model.restarts, 0, 'not ready is no reason to restart');
  const api = h.view('api');
  t.not(api.state, 'running', 'the dependent has not started');
  t.same(api.waitingFor, ['model']);
});

t.test('startup_timeout_seconds: a 20 s warm-up with 1 s probes is one run', async (t) => {
  const port = await freePort();
  const h = await fleet(t, {
    slow: agent('slow', { PORT: port, BOOT_DELAY_MS: 20_000 }, {
      health_endpoint: `http://127.0.0.1:${port}/health`,
      health: { interval_seconds: 1, failure_threshold: 3, startup_timeout_seconds: 30 },
    }),
  });
  const v = await h.waitView('slow', (v) => v.health === 'healthy', 'slow healthy', 40_000);
  t.equal(v.restarts, 0, 'no restart');
  t.equal(h.events('slow', 'state').filter((e) => e.data.to === 'running').length, 1, 'one run');
  t.equal(v.ready, true);
});
