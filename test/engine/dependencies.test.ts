import t from 'tap';
import { harness, node } from '../helpers/harness.js';
import { freePort } from '../helpers/process.mjs';

t.test('depends_on: a dependent starts only after its dependency is healthy, and stops before it', async (t) => {
  const port = await freePort();
  const h = await harness(t, {
    services: {
      db: {
        id: 'db', executable: node('healthy.mjs'), environment: { PORT: port, BOOT_DELAY_MS: 400 },
        health_endpoint: `http://127.0.0.1:${port}/health`, health: { interval_seconds: 5 },
      },
      api: { id: 'api', executable: node('sleeper.mjs'), depends_on: ['db'] },
      web: { id: 'web', executable: node('sleeper.mjs'), depends_on: ['api'] },
    },
  });
  await h.waitView('web', (v) => v.state === 'running', 'web running');
  await h.waitFor(() => h.events('web', 'state').some((e) => e.data.to === 'running'), 'the event of web running');
  const ev = h.events();
  const seq = (service: string, pred: (d: Record<string, unknown>) => boolean, type = 'state') =>
    ev.find((e) => e.service === service && e.type === type && pred(e.data))!.seq;
  const dbHealthy = seq('db', (d) => d.to === 'healthy', 'health');
  const apiSpawned = seq('api', (d) => d.to === 'running');
  const webSpawned = seq('web', (d) => d.to === 'running');
  t.ok(dbHealthy < apiSpawned, 'api started after db became healthy');
  t.ok(apiSpawned < webSpawned, 'web after api');
  t.ok(ev.some((e) => e.service === 'api' && e.type === 'state' && /waiting for db/.test(String(e.data.reason))), 'api waited, with the reason shown');

  await h.shutdown();
  const stops = h.events().filter((e) => e.type === 'state' && e.data.to === 'stopped');
  t.same(stops.map((e) => e.service), ['web', 'api', 'db'], 'stopped in reverse dependency order');
});
