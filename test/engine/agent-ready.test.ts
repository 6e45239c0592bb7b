/**
 * The agent lifecycle end to end (issue 15): readiness (not ready, no restart, dependents wait)
 * and a slow first start. Real fixture agents (test/fixtures/agent.mjs) talk to a real
 * orchestrator over HTTP with their run token. Waits are on views and events; the only durations
 * asserted are the ones the behaviour itself names.
 */
import t from 'tap';
import { agent, fleet } from '../helpers/agents.js';
import { freePort } from '../helpers/process.mjs';

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
  // Should it ever restart, the events say why (a probe timing out on a swamped machine is not readiness).
  t.equal(model.restarts, 0, `not ready is no reason to restart (${JSON.stringify(h.events('model').filter((e) => /restart|exit|unhealthy|stall/.test(e.type)).map((e) => [e.type, e.data]))})`);
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
