/**
 * A receiver that never answers does not slow supervision: with every attempt hanging (a long
 * per-attempt timeout), a service still restarts and comes back healthy on command, /health
 * answers, at most PER_SINK attempts per sink are under way, the rest wait in the outbox — and the
 * orchestrator still stops promptly (hanging attempts are cut and stay pending).
 */
import t from 'tap';
import { join } from 'node:path';
import { FIXTURES, freePort, startOrchestrator } from '../helpers/process.mjs';
import { allEvents, getJson, Receiver, until } from './lib.js';

t.test('a hanging receiver: restarts, health and /health go on; attempts bounded; stop is prompt', async (t) => {
  const rx = await Receiver.create();
  await rx.up('hang');
  t.teardown(() => rx.down());
  const port = await freePort();
  const o = await startOrchestrator({
    config: {
      alerts: [{ name: 'hang', type: 'webhook', url: rx.url, on: ['state', 'health', 'exit'], min_interval_seconds: 0, timeout_seconds: 120 }],
    },
    services: {
      web: { id: 'web', executable: `${process.execPath} ${join(FIXTURES, 'healthy.mjs')}`, health_endpoint: `http://127.0.0.1:${port}/health`, environment: { PORT: port } },
    },
    stopTimeoutMs: 15_000,
  });
  t.teardown(() => o.stop());
  await until(async () => (await getJson(`${o.url}/api/services/web`)).health === 'healthy', 'web healthy');
  await until(() => rx.received.length >= 2, 'two attempts hanging at the receiver');

  for (let i = 1; i <= 3; i++) {
    const before = (await allEvents(o.url)).at(-1).seq;
    const res = await fetch(`${o.url}/api/services/web/restart`, { method: 'PUT' });
    t.equal(res.status, 202, `restart ${i} accepted`);
    const back = await until(async () => {
      const events = (await getJson(`${o.url}/api/services/web/events?since=${before}&limit=1000`)).events;
      return events.find((e: any) => e.type === 'health' && e.data.to === 'healthy') && events;
    }, `web healthy again after restart ${i}`);
    t.ok(back.some((e: any) => e.type === 'state' && e.data.to === 'running'), `restart ${i}: running again`);
    const health = await fetch(`${o.url}/health`);
    t.equal(health.status, 200, '/health answers');
  }
  const view = await getJson(`${o.url}/api/alerts`);
  t.equal(view.in_flight, 2, 'two attempts under way to the one sink (PER_SINK), no more');
  t.equal(rx.received.length, 2, 'the receiver saw only those two');
  t.ok(view.pending > 10, `the rest wait in the outbox (${view.pending})`);
  t.equal(view.deliveries.filter((d: any) => d.in_flight).length, 2);
  t.ok(view.deliveries.every((d: any) => d.status === 'pending' && d.attempts.length === 0), 'no attempt finished: none counted');

  // Stopping cuts the hanging attempts (not counted; they stay pending for the next start).
  const started = Date.now();
  await o.stop();
  t.ok(Date.now() - started < 15_000, 'stopped before the stop timeout (SIGTERM was enough)');
  t.equal(o.run.child.exitCode, 0, 'a clean exit');
});
