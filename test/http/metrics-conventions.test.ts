/**
 * /metrics against Prometheus' naming conventions, parsed by a real exposition-format parser
 * (parse-prometheus-text-format, prom2json's shape): counters end in _total, base units in the
 * name (seconds, bytes; no percent, no milliseconds), no magic -1 values, the standard process and
 * Node.js metrics unprefixed, a histogram for health-check latency, a gauge of feed clients —
 * and nothing resets when it is scraped (two scrapes, the same event-loop window).
 */
import t from 'tap';
import parsePrometheusTextFormat from 'parse-prometheus-text-format';
import WebSocket from 'ws';
import { harness, node } from '../helpers/harness.js';
import { freePort } from '../helpers/process.mjs';

const UNITS = /_(seconds|bytes|ratio|total|info)$/;
/** Names whose value is a plain count or a state flag (no unit applies). */
const UNITLESS = /_(up|state|health|ready|inflight|clients|writable|records|fds)$/;

t.test('/metrics parses and follows the naming conventions', async (t) => {
  const port = await freePort();
  const h = await harness(t, {
    http: true,
    services: {
      web: { id: 'web', executable: node('healthy.mjs'), health_endpoint: `http://127.0.0.1:${port}/health`, environment: { PORT: port } },
      idle: { id: 'idle', executable: node('sleeper.mjs'), auto_start: false },
    },
  });
  await h.waitView('web', (v) => v.health === 'healthy' && !!v.usage, 'web healthy and sampled');
  const ws = new WebSocket(`${h.url.replace('http', 'ws')}/ws`);
  t.teardown(() => ws.close());
  await new Promise((resolve) => ws.once('message', resolve));

  const text = await (await fetch(`${h.url}/metrics`)).text();
  const families = parsePrometheusTextFormat(text);
  t.ok(families.length >= 25, `${families.length} metric families parsed`);
  const byName = new Map(families.map((f) => [f.name, f]));
  for (const f of families) {
    t.match(f.name, /^[a-z][a-z0-9_]*$/, `${f.name}: snake_case`);
    t.ok(f.help.length > 0, `${f.name}: has HELP`);
    if (f.type === 'COUNTER') t.match(f.name, /_total$/, `${f.name}: a counter ends in _total`);
    else t.notMatch(f.name, /_total$/, `${f.name}: only counters end in _total`);
    t.notMatch(f.name, /_(percent|ms|milliseconds|kb|mb)$/, `${f.name}: base units only`);
    t.ok(UNITS.test(f.name) || UNITLESS.test(f.name), `${f.name}: its unit (or that it has none) is in its name`);
    t.ok(f.name.startsWith('orchestrator_') || f.name.startsWith('process_') || f.name.startsWith('nodejs_'), `${f.name}: ours are prefixed, the standard ones are not`);
    for (const m of f.metrics) if (m.value !== undefined) t.ok(Number(m.value) >= 0, `${f.name}${JSON.stringify(m.labels ?? {})}: no negative magic value`);
  }
  for (const name of ['process_cpu_seconds_total', 'process_resident_memory_bytes', 'process_start_time_seconds', 'nodejs_heap_size_used_bytes', 'nodejs_eventloop_lag_p99_seconds']) {
    t.ok(byName.has(name), `the standard ${name}`);
  }
  t.notOk(families.some((f) => f.name.startsWith('orchestrator_process_')), 'no prefixed copies of the process metrics');

  const latency = byName.get('orchestrator_health_check_duration_seconds');
  t.equal(latency?.type, 'HISTOGRAM', 'health-check latency is a histogram');
  // (This parser drops a histogram's labels, sum and count when it has labels; observability.test.ts
  // checks those line by line for web's liveness probe.)
  t.ok(latency?.metrics.some((m) => m.buckets && Number(m.buckets['+Inf']) >= 1 && Object.keys(m.buckets).length === 14), 'with 13 buckets and +Inf');
  t.equal(byName.get('orchestrator_feed_clients')?.metrics[0]?.value, '1', 'the one /ws client is counted');
  const health = byName.get('orchestrator_service_health')!.metrics.filter((m) => m.labels?.service === 'idle');
  t.same(health.filter((m) => m.value === '1').map((m) => m.labels?.health), ['unknown'], 'unknown health is a label value');

  // A scrape changes nothing: a second one sees the same event-loop figures for the same window.
  const again = parsePrometheusTextFormat(await (await fetch(`${h.url}/metrics`)).text());
  const lag = (fs: typeof families) => fs.find((f) => f.name === 'nodejs_eventloop_lag_max_seconds')?.metrics[0]?.value;
  t.ok(Number(lag(again)) >= Number(lag(families)), 'the event-loop delay is not reset by a scrape');
});
