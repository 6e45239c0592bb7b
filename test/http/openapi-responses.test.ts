/**
 * Every route against the OpenAPI document the server itself serves: a real orchestrator (a plain
 * service, a replicated one with ports and GPUs, a scheduled job, external services registered as
 * the TypeScript and Python SDKs register them), every route it registers called for real — its
 * answers and the usual refusals — and each answer's status, content type and body validated with
 * ajv against the schema the document gives that status; each accepted request body against the
 * documented request schema. A route the table does not call fails the test, as does a route the
 * document leaves out. The document itself is checked as OpenAPI 3.1 first (openapi-check.ts).
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { apiRoutes } from '../../src/http/routes.js';
import { ServiceAgent } from '@agent-orchestrator/sdk';
import { harness, node } from '../helpers/harness.js';
import { refusedUpgrade, req, WsClient, type Answer, type RequestOptions } from './lib.js';
import { METHODS, OpenApiChecker } from './openapi-check.js';

const ROOT = 'root-key-0123456789abcdef';
const READER = 'reader-key-0123456789abcdef';
const sleeper = node('sleeper.mjs');

/** One request: the route it exercises ("method /template"), the path, what to send, the status it must get. */
interface Call { route: string; path: string; status: number; body?: unknown; key?: string | null; opts?: RequestOptions }

const call = (route: string, path: string, status: number, extra: Partial<Call> = {}): Call => ({ route, path, status, ...extra });
const S = '/api/services';

t.test('every route answers as the generated OpenAPI document says', async (t) => {
  const h = await harness(t, {
    http: true,
    config: {
      api: { api_key: ROOT, rate_limit: 0, keys: [{ name: 'reader', key: READER, scopes: ['read'] }] },
      alerts: [{ name: 'hook', type: 'webhook', url: 'http://127.0.0.1:9/hook', on: ['alert_test'], max_attempts: 1 }],
    },
    services: {
      // It reports inflight below: a short drain, so its stop at teardown does not wait out the default 120 s.
      svc: { id: 'svc', executable: sleeper, drain: { timeout_seconds: 1 } },
      pool: { id: 'pool', executable: sleeper, replicas: 2, port: 47100, gpus: { per_replica: 1, devices: [0, 1] }, rollout: { min_healthy_seconds: 0 } },
      job: { id: 'job', executable: node('job.mjs'), schedule: { interval_seconds: 3600, run_on_start: true } },
    },
  });
  // Generous deadlines: the machines that run the suite are shared.
  await h.waitView('svc', (v) => v.state === 'running', 'svc running', 60_000);
  await h.waitView('pool#1', (v) => v.state === 'running', 'pool#1 running', 60_000);
  await h.waitFor(() => h.o.registry.runs.before('job', Number.MAX_SAFE_INTEGER, 1)[0]?.ended_at, 'a finished run of job', 60_000);

  const doc = (await req(h.url, '/api/openapi.json', { headers: { 'x-api-key': ROOT } })).json;
  const check = new OpenApiChecker(doc);
  t.same(check.structure(), [], 'the document is structurally valid OpenAPI 3.1');

  const template = (r: { method: string; pattern: string }) => `${r.method === 'del' ? 'delete' : r.method} ${r.pattern.replace(/:([A-Za-z_]+)/g, '{$1}')}`;
  const registered = [...apiRoutes(h.o.ports, h.http!.engine).map(template), 'get /ws'].sort();
  const documented = Object.entries<Record<string, unknown>>(doc.paths).flatMap(([path, item]) => Object.keys(item).filter((m) => (METHODS as readonly string[]).includes(m)).map((m) => `${m} ${path}`)).sort();
  t.same(documented, registered, 'the document describes every registered route, and only those');

  const sdkBody = new ServiceAgent('ext-ts', h.url, { healthEndpoint: 'http://127.0.0.1:9/health', name: 'TS agent', type: 'ai-agent' }).definition();
  const pythonBody = { id: 'ext-py', external: true, name: 'Py agent', type: 'ai-agent', health_endpoint: 'http://127.0.0.1:9/health' }; // orchestrator_sdk.py definition()
  const fullBody = {
    id: 'full', executable: sleeper, auto_start: false, replicas: 2, port: 47200, gpus: { per_replica: 1, devices: 'auto' },
    rollout: { max_parallel: 1, min_healthy_seconds: 0 }, image: 'ghcr.io/acme/agent:1.2', env_file: [], secrets: { TOKEN: { env: 'HOME' } },
    environment: { A: 1, B: true }, resources: { max_memory: '512MB', max_cpu: '50%' }, stop: { signal: 'TERM', timeout_seconds: 5 },
    health: { interval_seconds: 30, readiness_endpoint: null }, heartbeat: { timeout_seconds: 60, action: 'alert' }, depends_on: ['svc'],
  };
  const reloadBad = () => writeFileSync(join(h.dir, 'services', 'broken.yaml'), 'id: broken\nreplicas: -1\n');

  /** Calls in order (state carries over: made is patched, then removed; the rolling restart is waited for). */
  const steps: Array<Call | (() => unknown)> = [
    call('get /health', '/health', 200, { key: null }),
    call('get /api/services', S, 200), call('get /api/services', `${S}?state=running`, 200), call('get /api/services', S, 401, { key: null }),
    call('get /api/services/{id}', `${S}/svc`, 200), call('get /api/services/{id}', `${S}/pool`, 200), call('get /api/services/{id}', `${S}/pool%231`, 200),
    call('get /api/services/{id}', `${S}/job`, 200), call('get /api/services/{id}', `${S}/nope`, 404), call('get /api/services/{id}', `${S}/.bad`, 400),
    call('post /api/services', S, 201, { body: { id: 'made', executable: sleeper, auto_start: false } }),
    call('post /api/services', S, 201, { body: sdkBody }), call('post /api/services', S, 200, { body: sdkBody }),
    call('post /api/services', S, 201, { body: pythonBody }), call('post /api/services', S, 201, { body: fullBody }),
    call('post /api/services', S, 201, { body: { id: 'cron', executable: node('job.mjs'), schedule: { cron: '*/15 * * * *', timezone: 'Europe/Berlin' } } }),
    call('post /api/services', S, 409, { body: { id: 'made', executable: sleeper } }), call('post /api/services', S, 400, { body: { id: 'noexe' } }),
    call('post /api/services', S, 403, { key: READER, body: { id: 'x', executable: sleeper } }),
    call('post /api/services', S, 415, { opts: { body: '{}', headers: { 'content-type': 'text/plain' } } }),
    call('patch /api/services/{id}', `${S}/made`, 200, { body: { name: 'patched', environment: { X: '1' }, health_endpoint: null } }),
    call('patch /api/services/{id}', `${S}/svc`, 409, { body: { name: 'x' } }), call('patch /api/services/{id}', `${S}/nope`, 404, { body: { name: 'x' } }),
    call('patch /api/services/{id}', `${S}/made`, 400, { body: { replicas: 'many' } }),
    call('put /api/services/{id}/stop', `${S}/svc/stop`, 202), call('put /api/services/{id}/start', `${S}/svc/start`, 202),
    call('put /api/services/{id}/restart', `${S}/svc/restart`, 202), call('put /api/services/{id}/restart', `${S}/pool/restart?rolling=true`, 202),
    () => h.waitFor(() => h.o.fleet.rollout('pool')?.state === 'finished', 'the rolling restart of pool to finish', 60_000),
    call('get /api/services/{id}', `${S}/pool`, 200),
    call('put /api/services/{id}/restart', `${S}/pool%230/restart`, 202), call('put /api/services/{id}/stop', `${S}/pool/stop`, 202),
    call('put /api/services/{id}/start', `${S}/pool/start`, 202), call('put /api/services/{id}/start', `${S}/ext-ts/start`, 409),
    call('put /api/services/{id}/restart', `${S}/pool/restart?rolling=maybe`, 400), call('put /api/services/{id}/stop', `${S}/nope/stop`, 404),
    call('put /api/services/{id}/stop', `${S}/svc/stop`, 403, { key: READER }),
    () => h.waitView('svc', (v) => v.state === 'running', 'svc running again', 60_000),
    call('post /api/services/{id}/heartbeat', `${S}/svc/heartbeat`, 200, { body: { progress: 1, inflight: 0, status: 'working' } }),
    call('post /api/services/{id}/heartbeat', `${S}/svc/heartbeat`, 200), call('post /api/services/{id}/heartbeat', `${S}/svc/heartbeat`, 400, { body: { progress: 'x' } }),
    call('post /api/services/{id}/heartbeat', `${S}/nope/heartbeat`, 404, { body: {} }), call('post /api/services/{id}/heartbeat', `${S}/svc/heartbeat`, 401, { key: null }),
    call('post /api/services/{id}/throttle', `${S}/svc/throttle`, 202, { body: { retry_after_seconds: 5 } }),
    call('post /api/services/{id}/throttle', `${S}/svc/throttle`, 400, { body: {} }),
    call('get /api/services/{id}/logs', `${S}/svc/logs`, 200),
    call('get /api/services/{id}/logs', `${S}/svc/logs`, 200, { opts: { headers: { accept: 'application/x-ndjson' } } }),
    call('get /api/services/{id}/logs', `${S}/pool/logs?stream=stdout`, 200, { opts: { headers: { accept: 'application/x-ndjson' } } }),
    call('get /api/services/{id}/logs', `${S}/svc/logs?stream=bad`, 400), call('get /api/services/{id}/logs', `${S}/nope/logs`, 404),
    call('get /api/services/{id}/metrics', `${S}/svc/metrics?since=0`, 200), call('get /api/services/{id}/metrics', `${S}/svc/metrics?since=yesterday`, 400),
    call('get /api/services/{id}/metrics', `${S}/nope/metrics`, 404),
    call('get /api/services/{id}/runs', `${S}/job/runs`, 200), call('get /api/services/{id}/runs', `${S}/svc/runs?limit=1`, 200),
    call('get /api/services/{id}/runs', `${S}/nope/runs`, 404),
    call('get /api/services/{id}/events', `${S}/svc/events`, 200), call('get /api/services/{id}/events', `${S}/pool/events?since=0`, 200),
    call('get /api/services/{id}/events', `${S}/svc/events?limit=x`, 400), call('get /api/services/{id}/events', `${S}/nope/events`, 404),
    call('get /api/events', '/api/events', 200), call('get /api/events', '/api/events?service=pool&type=state', 200), call('get /api/events', '/api/events?limit=x', 400),
    reloadBad, call('post /api/reload', '/api/reload', 200), call('post /api/reload', '/api/reload', 403, { key: READER }),
    call('get /metrics', '/metrics', 200), call('get /api/whoami', '/api/whoami', 200), call('get /api/whoami', '/api/whoami', 200, { key: READER }),
    call('post /api/alerts/{name}/test', '/api/alerts/hook/test', 202), call('post /api/alerts/{name}/test', '/api/alerts/nope/test', 404),
    call('post /api/alerts/{name}/test', '/api/alerts/.x/test', 400), call('post /api/alerts/{name}/test', '/api/alerts/hook/test', 403, { key: READER }),
    call('get /api/alerts', '/api/alerts', 200), call('get /api/alerts', '/api/alerts?sink=nope', 404), call('get /api/alerts', '/api/alerts?limit=x', 400),
    call('get /api/export/{target}', '/api/export/systemd?self=1', 200), call('get /api/export/{target}', '/api/export/kubernetes?image=busybox', 200),
    call('get /api/export/{target}', '/api/export/systemd?format=tar', 200), call('get /api/export/{target}', '/api/export/nope', 404),
    call('get /api/export/{target}', '/api/export/systemd?systemd_version=x', 400), call('get /api/export/{target}', '/api/export/systemd?ids=nope', 404),
    call('get /api/openapi.json', '/api/openapi.json', 200), call('get /api/openapi.json', '/api/openapi.json', 401, { key: null }),
    call('delete /api/services/{id}', `${S}/made`, 200), call('delete /api/services/{id}', `${S}/svc`, 409), call('delete /api/services/{id}', `${S}/nope`, 404),
  ];

  const exercised = new Set<string>(['get /ws']);
  for (const step of steps) {
    if (typeof step === 'function') { await step(); continue; }
    const [method, path] = step.route.split(' ') as [string, string];
    const headers = { ...step.opts?.headers, ...(step.key === null ? {} : { 'x-api-key': step.key ?? ROOT }) };
    const a: Answer = await req(h.url, step.path, { method: method.toUpperCase(), ...step.opts, headers, ...(step.body === undefined ? {} : { body: step.body }) });
    const what = `${method.toUpperCase()} ${step.path}${step.body === undefined ? '' : ` ${JSON.stringify(step.body).slice(0, 60)}`}`;
    t.equal(a.status, step.status, `${what}: ${step.status}${a.status === step.status ? '' : ` (${a.text.slice(0, 300)})`}`);
    t.same(check.answer(method, path, a), [], `${what}: the ${a.status} answer matches the document`);
    if (a.status < 400) {
      t.same(check.params(method, path, step.path), [], `${what}: the path parameters match the document`);
      if (step.body !== undefined) t.same(check.request(method, path, step.body), [], `${what}: the document accepts the request body`);
    }
    exercised.add(step.route);
  }

  // /ws: refused without a key (the documented error), and a feed with one (101).
  const refused = await refusedUpgrade(h.url, '/ws');
  t.equal(refused.status, 401);
  t.same(check.validate('#/paths/~1ws/get/responses/401/content/application~1json/schema', refused.json), [], 'the /ws 401 matches the document');
  t.ok(doc.paths['/ws'].get.responses['101'], '101 is documented');
  const ws = await WsClient.open(h.url, `/ws?api_key=${ROOT}`);
  t.type((await ws.next((m) => m.type === 'hello', 'hello')).seq, 'number', '/ws with a key: the feed');
  await ws.close();

  t.same([...exercised].sort(), registered, 'every registered route was called');
});

t.test('the document rejects what validation rejects, where JSON Schema can say so', async (t) => {
  const h = await harness(t, { http: true });
  const check = new OpenApiChecker((await req(h.url, '/api/openapi.json')).json);
  const post = (body: unknown) => check.request('post', S, body);
  t.same(post({ id: 'ok', external: true }), [], 'external without an executable');
  t.not(post({ id: 'x', executable: 'a', unknown_key: 1 }).length, 0, 'an unknown key');
  t.not(post({ executable: 'a' }).length, 0, 'no id');
  t.not(post({ id: '.x', executable: 'a' }).length, 0, 'an id the server refuses');
  t.not(post({ id: 'x', executable: 'a', replicas: -1 }).length, 0, 'negative replicas');
  t.not(post({ id: 'x', executable: 'a', restart: 'sometimes' }).length, 0, 'an unknown restart type');
  t.not(check.request('patch', `${S}/{id}`, { nonsense: 1 }).length, 0, 'a patch of an unknown key');
});
