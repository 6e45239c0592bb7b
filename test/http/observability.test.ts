/**
 * What the API reports about services beyond their state: the logs endpoint (lines, streams, text
 * or NDJSON, caps), GET /metrics in the Prometheus text format, and the OpenAPI document checked
 * against the route table the server actually registers.
 */
import t from 'tap';
import { fileURLToPath } from 'node:url';
import { harness, node } from '../helpers/harness.js';
import { freePort, until } from '../helpers/process.mjs';
import { apiRoutes } from '../../src/http/routes.js';
import { errorShape, req } from './lib.js';

const printer = `${process.execPath} ${fileURLToPath(new URL('./fixtures/printer.mjs', import.meta.url))}`;

t.test('GET /api/services/{id}/logs', async (t) => {
  const h = await harness(t, {
    http: true,
    services: {
      printer: { id: 'printer', executable: printer, environment: { LINES: 20_000, ERR_LINES: 3 } },
      never: { id: 'never', executable: node('sleeper.mjs'), auto_start: false },
    },
  });
  const url = h.url;
  await h.waitView('printer', (v) => v.state === 'running');
  // The child writes its files itself; wait until its last line is there.
  await until(async () => (await req(url, '/api/services/printer/logs?stream=stdout&lines=1')).text === 'printed\n', 'the printer to finish');

  const both = await req(url, '/api/services/printer/logs');
  t.equal(both.status, 200);
  t.match(both.headers['content-type'], /^text\/plain/);
  const lines = both.text.trimEnd().split('\n');
  t.equal(lines.filter((l) => l.startsWith('[stdout] ')).length, 100, 'default: the last 100 lines of stdout (per stream, merged in time order)');
  t.same(lines.filter((l) => l.startsWith('[stderr] ')), ['[stderr] err 0', '[stderr] err 1', '[stderr] err 2'], 'and of stderr, labelled');
  t.equal(lines.filter((l) => l.startsWith('[stdout] '))[98], '[stdout] out 19999');

  const five = await req(url, '/api/services/printer/logs?lines=5&stream=stdout');
  t.equal(five.text, 'out 19996\nout 19997\nout 19998\nout 19999\nprinted\n', '?lines=5&stream=stdout: unlabelled, oldest first');
  const err = await req(url, '/api/services/printer/logs?stream=stderr');
  t.equal(err.text, 'err 0\nerr 1\nerr 2\n', '?stream=stderr');

  const capped = await req(url, '/api/services/printer/logs?lines=50000&stream=stdout');
  t.equal(capped.status, 200, 'a huge ?lines is capped, not refused');
  const cappedLines = capped.text.trimEnd().split('\n');
  t.equal(cappedLines.length, 10_000, 'at 10000 lines');
  t.equal(cappedLines[0], 'out 10001');

  for (const accept of ['application/x-ndjson', 'application/json']) {
    const nd = await req(url, '/api/services/printer/logs?lines=2', { headers: { accept } });
    t.equal(nd.status, 200);
    t.match(nd.headers['content-type'], /^application\/x-ndjson/, `Accept: ${accept} → JSON lines`);
    const records = nd.text.trimEnd().split('\n').map((l) => JSON.parse(l) as { stream: string; line: string; at: string | null; offset: number });
    t.ok(records.every((r) => typeof r.offset === 'number' && (r.at === null || !Number.isNaN(Date.parse(r.at)))), 'each line has its offset and the time it was written by');
    t.same(records.map(({ stream, line }) => ({ stream, line })), [
      { stream: 'stdout', line: 'out 19999' }, { stream: 'stdout', line: 'printed' },
      { stream: 'stderr', line: 'err 1' }, { stream: 'stderr', line: 'err 2' },
    ]);
  }

  const empty = await req(url, '/api/services/never/logs');
  t.equal(empty.status, 200, 'a service that never ran has no lines, not an error');
  t.equal(empty.text, '');

  errorShape(t, await req(url, '/api/services/printer/logs?lines=0'), 400, 'bad_request', 'lines');
  errorShape(t, await req(url, '/api/services/printer/logs?lines=ten'), 400, 'bad_request', 'lines');
  errorShape(t, await req(url, '/api/services/printer/logs?lines=-3'), 400, 'bad_request', 'lines');
  errorShape(t, await req(url, '/api/services/printer/logs?stream=stdin'), 400, 'bad_request', 'stream');
  errorShape(t, await req(url, '/api/services/nope/logs'), 404, 'not_found');
});

/** Parse the Prometheus text format strictly enough to catch malformed output. */
function parseMetrics(text: string): { types: Map<string, string>; helps: Set<string>; samples: Array<{ name: string; labels: Record<string, string>; value: number }>; errors: string[] } {
  const types = new Map<string, string>();
  const helps = new Set<string>();
  const samples: Array<{ name: string; labels: Record<string, string>; value: number }> = [];
  const errors: string[] = [];
  for (const line of text.split('\n')) {
    if (line === '') continue;
    let m = /^# HELP ([a-zA-Z_:][a-zA-Z0-9_:]*) .+$/.exec(line);
    if (m) { helps.add(m[1]!); continue; }
    m = /^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram|summary|untyped)$/.exec(line);
    if (m) { types.set(m[1]!, m[2]!); continue; }
    m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{((?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\.)*",?)*)\})? (-?(?:\d+(?:\.\d+)?(?:e[+-]?\d+)?|NaN|\+Inf|-Inf))$/.exec(line);
    if (!m) { errors.push(line); continue; }
    const labels: Record<string, string> = {};
    for (const [, k, v] of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[k!] = v!;
    if (!types.has(m[1]!) && types.get(m[1]!.replace(/_(bucket|sum|count)$/, '')) !== 'histogram') errors.push(`sample before its TYPE: ${line}`);
    samples.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  return { types, helps, samples, errors };
}

t.test('GET /metrics: Prometheus text format, per service and for the orchestrator itself', async (t) => {
  const port = await freePort();
  const h = await harness(t, {
    http: true,
    config: { monitoring: { interval: 1, timeout: 1, enabled: true, sample_interval: 0.2 } },
    services: {
      web: { id: 'web', executable: node('healthy.mjs'), health_endpoint: `http://127.0.0.1:${port}/health`, environment: { PORT: port } },
      idle: { id: 'idle', executable: node('sleeper.mjs'), auto_start: false },
    },
  });
  await h.waitView('web', (v) => v.health === 'healthy' && !!v.usage && !!v.probe, 'web healthy, probed and sampled');
  await req(h.url, '/api/services/web/restart', { method: 'PUT' });
  const first = h.view('web').pid;
  await h.waitView('web', (v) => v.state === 'running' && v.pid !== first && v.health === 'healthy' && !!v.usage, 'web back');

  const seqBefore = h.o.registry.events.lastSeq();
  const a = await req(h.url, '/metrics');
  const seqAfter = h.o.registry.events.lastSeq();
  t.equal(a.status, 200);
  t.match(a.headers['content-type'], /^text\/plain; version=0\.0\.4/);
  const { types, helps, samples, errors } = parseMetrics(a.text);
  t.same(errors, [], 'every line is well-formed');
  for (const name of types.keys()) t.ok(helps.has(name), `${name} has HELP`);
  const get = (name: string, labels: Record<string, string> = {}) => samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
  const one = (name: string, labels: Record<string, string> = {}) => {
    const found = get(name, labels);
    t.equal(found.length, 1, `one sample ${name}${JSON.stringify(labels)}`);
    return found[0]?.value ?? NaN;
  };

  t.equal(one('orchestrator_service_up', { service: 'web' }), 1, 'web up');
  t.equal(one('orchestrator_service_up', { service: 'idle' }), 0, 'idle down');
  t.equal(types.get('orchestrator_service_up'), 'gauge');
  t.equal(one('orchestrator_service_state', { service: 'web', state: 'running' }), 1);
  t.equal(one('orchestrator_service_state', { service: 'idle', state: 'stopped' }), 1);
  t.equal(get('orchestrator_service_state', { service: 'web' }).reduce((n, s) => n + s.value, 0), 1, 'exactly one state is 1');
  t.equal(one('orchestrator_service_health', { service: 'web', health: 'healthy' }), 1);
  t.equal(get('orchestrator_service_health', { service: 'web' }).reduce((n, s) => n + s.value, 0), 1, 'exactly one health is 1');
  t.equal(one('orchestrator_service_health', { service: 'idle', health: 'unknown' }), 1, 'unknown is a label value, not -1');
  t.equal(types.get('orchestrator_service_restarts_total'), 'counter');
  t.equal(one('orchestrator_service_restarts_total', { service: 'web' }), h.view('web').restarts, 'restarts as the API reports them');
  t.ok(one('orchestrator_service_cpu_seconds_total', { service: 'web' }) > 0, 'cpu in seconds, a counter');
  t.equal(types.get('orchestrator_service_cpu_seconds_total'), 'counter');
  t.ok(one('orchestrator_service_resident_memory_bytes', { service: 'web' }) > 1024 * 1024, 'memory in bytes');
  t.equal(types.get('orchestrator_health_check_duration_seconds'), 'histogram');
  const probes = one('orchestrator_health_check_duration_seconds_count', { service: 'web', probe: 'liveness' });
  t.ok(probes >= 1, `health checks counted (${probes})`);
  t.equal(one('orchestrator_health_check_duration_seconds_bucket', { service: 'web', probe: 'liveness', le: '+Inf' }), probes, 'the +Inf bucket holds them all');
  const sum = one('orchestrator_health_check_duration_seconds_sum', { service: 'web', probe: 'liveness' });
  t.ok(sum > 0 && sum / probes < 1, `latency in seconds (mean ${sum / probes})`);
  t.equal(get('orchestrator_service_resident_memory_bytes', { service: 'idle' }).length, 0, 'no usage for a service that never ran');

  t.ok(one('process_cpu_seconds_total') > 0, 'process CPU, under the standard name');
  t.equal(types.get('process_cpu_seconds_total'), 'counter');
  t.ok(one('process_resident_memory_bytes') > 10 * 1024 * 1024, 'process RSS');
  t.ok(one('nodejs_heap_size_used_bytes') > 0);
  t.ok(one('process_open_fds') > 0);
  t.ok(Math.abs(one('process_start_time_seconds') - h.o.startedAt / 1000) < 1, 'start time in unix seconds');
  t.equal(one('orchestrator_feed_clients'), 0, 'no feed client yet');
  t.ok(one('orchestrator_uptime_seconds') > 0);
  // Events go on being recorded (views now reach the main thread ahead of their events).
  const seq = one('orchestrator_events_total');
  t.ok(seq >= seqBefore && seq <= seqAfter, `the registry's newest seq at the time of the scrape (${seq})`);
  t.equal(one('orchestrator_actor_host_up'), 1);
  const p99 = one('nodejs_eventloop_lag_p99_seconds');
  const max = one('nodejs_eventloop_lag_max_seconds');
  t.ok(p99 > 0 && p99 < 1, `loop delay measured from the start, not from the first scrape (p99 ${p99})`);
  t.ok(max >= p99, 'max ≥ p99');
});

t.test('GET /api/openapi.json describes every route the server registers', async (t) => {
  const h = await harness(t, { http: true });
  const a = await req(h.url, '/api/openapi.json');
  t.equal(a.status, 200);
  const doc = a.json;
  t.equal(doc.openapi, '3.1.0');
  t.type(doc.info.version, 'string');

  const table = apiRoutes(h.o.ports, h.http!.engine).map((r) => `${r.method === 'del' ? 'delete' : r.method} ${r.pattern.replace(/:([A-Za-z_]+)/g, '{$1}')}`);
  table.push('get /ws');
  const documented: string[] = [];
  const operationIds = new Set<string>();
  for (const [path, item] of Object.entries<any>(doc.paths)) {
    for (const [method, op] of Object.entries<any>(item)) {
      documented.push(`${method} ${path}`);
      t.type(op.operationId, 'string', `${method} ${path} has an operationId`);
      t.notOk(operationIds.has(op.operationId), `operationId ${op.operationId} is unique`);
      operationIds.add(op.operationId);
      t.ok(op.responses && Object.keys(op.responses).length > 0, `${method} ${path} lists its responses`);
      for (const p of path.match(/\{[a-z_]+\}/gi) ?? []) {
        t.ok(op.parameters?.some((q: any) => q.in === 'path' && `{${q.name}}` === p), `${method} ${path} declares ${p}`);
      }
    }
  }
  t.same([...documented].sort(), [...table].sort(), 'documented routes == registered routes');

  // Every $ref resolves.
  const refs = JSON.stringify(doc).match(/"\$ref":"[^"]+"/g) ?? [];
  for (const ref of new Set(refs)) {
    const name = /#\/components\/schemas\/([^"]+)/.exec(ref)?.[1];
    t.ok(name && doc.components.schemas[name], `${ref} resolves`);
  }
  // The documented id pattern is the one the server enforces (a service id, or an instance <id>#n).
  const { UNIT_ID_PATTERN } = await import('../../src/config/instances.js');
  t.equal(doc.paths['/api/services/{id}'].get.parameters[0].schema.pattern, UNIT_ID_PATTERN.source);
});
