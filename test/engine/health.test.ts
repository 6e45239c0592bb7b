import t from 'tap';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { harness, node } from '../helpers/harness.js';
import { freePort } from '../helpers/process.mjs';

t.test('fast probing: a fresh service is seen healthy right after it answers, not an interval later', async (t) => {
  const port = await freePort();
  const h = await harness(t, {
    services: {
      slowboot: {
        id: 'slowboot', executable: node('healthy.mjs'), environment: { PORT: port, BOOT_DELAY_MS: 700 },
        health_endpoint: `http://127.0.0.1:${port}/health`, health: { interval_seconds: 30 },
      },
    },
  });
  const v = await h.waitView('slowboot', (v) => v.health === 'healthy', 'healthy', 15_000);
  const healthy = await h.waitFor(() => h.events('slowboot', 'health').find((e) => e.data.to === 'healthy'), 'the health event');
  const running = h.events('slowboot', 'state').find((e) => e.data.to === 'running')!;
  const tookMs = healthy.at - running.at;
  t.ok(tookMs < 10_000, `healthy ${tookMs} ms after start, far less than the 30 s interval`);
  t.ok(tookMs >= 600, 'and not before the service could answer');
  t.equal(v.probe!.ok, true);
  t.comment(`start → healthy: ${tookMs} ms for a 700 ms boot (wall-clock event times, 1 ms resolution)`);
});

t.test('a hanging health endpoint: probes are cut at the timeout, never overlap, stall nothing else, and restart it', async (t) => {
  const [hangPort, okPort] = [await freePort(), await freePort()];
  const h = await harness(t, {
    services: {
      hang: {
        id: 'hang', executable: node('hangs.mjs'), environment: { PORT: hangPort },
        health_endpoint: `http://127.0.0.1:${hangPort}/health`,
        health: { interval_seconds: 0.2, timeout_seconds: 0.3, failure_threshold: 2 },
        // (start-up grace is 2 s: several probes hang and are cut before the restart)
        restart_policy: { max_retries: 0 },
      },
      ok: {
        id: 'ok', executable: node('healthy.mjs'), environment: { PORT: okPort },
        health_endpoint: `http://127.0.0.1:${okPort}/health`, health: { interval_seconds: 0.2 },
      },
    },
  });
  await h.waitView('ok', (v) => v.health === 'healthy');
  const failed = await h.waitView('hang', (v) => v.state === 'failed', 'hang restarted for being unhealthy and then failed (max_retries 0)');
  t.equal(failed.lastExit!.reason, 'unhealthy');
  const probeErrors = h.events('hang', 'health').map((e) => e.data.error).filter(Boolean);
  t.ok(probeErrors.some((e) => /timed out after 300 ms/.test(String(e))), 'the probe was cut at the timeout');
  const inflight = readFileSync(join(h.dir, 'logs', 'services', 'hang.stdout.log'), 'utf8').match(/inflight \d+/g) ?? [];
  t.ok(inflight.length >= 2, `several probes were sent (${inflight.length})`);
  t.same([...new Set(inflight)], ['inflight 1'], 'never more than one probe in flight');
  // The healthy neighbour kept being probed the whole time.
  const okView = h.view('ok');
  t.equal(okView.health, 'healthy');
  t.ok(okView.probe!.latencyMs < 300, 'its probes were not held up by the hanging ones');
});

t.test('failure_threshold consecutive failures → restart with reason unhealthy', async (t) => {
  const port = await freePort();
  const h = await harness(t, {
    services: {
      sick: {
        id: 'sick', executable: node('unhealthy-after.mjs'), environment: { PORT: port, HEALTHY_PROBES: 2 },
        health_endpoint: `http://127.0.0.1:${port}/health`, health: { interval_seconds: 0.1, failure_threshold: 3 },
        restart_policy: { backoff_seconds: 0, max_retries: 5 },
      },
    },
  });
  const first = await h.waitView('sick', (v) => v.health === 'healthy');
  const restarted = await h.waitView('sick', (v) => v.state === 'running' && v.pid !== first.pid && v.restarts >= 1, 'restarted');
  t.equal(restarted.lastExit!.reason, 'unhealthy');
  const unhealthyEvents = h.events('sick', 'health').filter((e) => e.data.to === 'unhealthy');
  t.ok(unhealthyEvents.length >= 1, 'health went unhealthy first');
  t.match(String(unhealthyEvents[0]!.data.error ?? ''), /reported status "unhealthy"|HTTP 503/, 'with the probe error recorded');
  const stopping = h.events('sick', 'state').find((e) => e.data.to === 'stopping')!;
  t.match(String(stopping.data.reason), /^unhealthy: 3 consecutive failed health checks/);
});

t.test('a flapping endpoint (500 every other probe) stays up', async (t) => {
  const port = await freePort();
  const h = await harness(t, {
    services: {
      flap: {
        id: 'flap', executable: node('flappy.mjs'), environment: { PORT: port },
        health_endpoint: `http://127.0.0.1:${port}/health`, health: { interval_seconds: 0.05, failure_threshold: 2 },
      },
    },
  });
  const first = await h.waitView('flap', (v) => v.health === 'healthy');
  await h.waitFor(() => h.events('flap', 'health').length >= 12, '12 health flips');
  const v = h.view('flap');
  t.equal(v.state, 'running');
  t.equal(v.pid, first.pid, 'never restarted');
  t.equal(v.restarts, 0);
});
