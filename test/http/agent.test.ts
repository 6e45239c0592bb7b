/**
 * A supervised service's own calls: every child gets ORCHESTRATOR_URL, ORCHESTRATOR_SERVICE_ID and
 * a fresh ORCHESTRATOR_TOKEN per run; POST /api/services/{id}/heartbeat and /throttle take that
 * token (only for its own service) or the API key, check their bodies, and hand one message to the
 * service's actor. The token survives an orchestrator restart that re-adopts its process. /metrics
 * shows the new per-service figures. Run with ORCHESTRATOR_HTTP_ENGINE=node for the other engine.
 */
import t from 'tap';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Fact } from '../../src/actors/protocol.js';
import { alive, harness, node, type Harness } from '../helpers/harness.js';
import { freePort, until } from '../helpers/process.mjs';
import { errorShape, req } from './lib.js';

// These services report inflight once and heartbeat only when a test says so: a planned stop or
// restart (the tests' own, and the teardown's) would wait out a drain for a heartbeat never sent.
const NO_DRAIN = { timeout_seconds: 0 };
const KEY = 'test-key-0123456789';

interface ChildEnv { url: string; id: string; token: string }

/** What the fixture's latest run printed: its three variables and the answer to its own heartbeat. */
async function childSaw(h: Harness, id: string): Promise<{ env: ChildEnv; heartbeat: string }> {
  return until(() => {
    let text = '';
    try { text = readFileSync(join(h.dir, 'logs', 'services', `${id}.stdout.log`), 'utf8'); } catch { return undefined; }
    text = text.slice(text.lastIndexOf('env {'));
    const env = /^env (.*)$/m.exec(text)?.[1];
    const heartbeat = /^heartbeat (.*)$/m.exec(text)?.[1];
    return env && heartbeat ? { env: JSON.parse(env) as ChildEnv, heartbeat } : undefined;
  }, `${id} to print its environment and heartbeat answer`);
}

/** The facts the main thread hands the actor host (observed on their way, still delivered). */
function watchFacts(h: Harness): Fact[] {
  const seen: Fact[] = [];
  const host = h.o.host;
  const deliver = host.deliver.bind(host);
  host.deliver = (fact: Fact) => { seen.push(fact); deliver(fact); };
  return seen;
}

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
const post = (h: Harness, path: string, body: unknown, headers: Record<string, string> = {}) => req(h.url, path, { method: 'POST', body, headers });
const runIdOf = (h: Harness, id: string) => h.o.kernel.liveRuns().get(id)!.run.runId;

t.test('with an API key: the run token authorises its own service only; the key authorises any', async (t) => {
  const h = await harness(t, {
    http: true,
    config: { api: { api_key: KEY, rate_limit: 5 } },
    services: {
      a: { id: 'a', executable: node('agent-env.mjs'), drain: NO_DRAIN },
      b: { id: 'b', executable: node('agent-env.mjs'), drain: NO_DRAIN },
    },
  });
  const facts = watchFacts(h);
  const a = await childSaw(h, 'a');
  const b = await childSaw(h, 'b');
  t.equal(a.env.url, h.url, 'ORCHESTRATOR_URL is where the server listens (the port it got for port 0)');
  t.equal(a.env.id, 'a', 'ORCHESTRATOR_SERVICE_ID');
  t.match(a.env.token, /^[A-Za-z0-9_-]{43}$/, 'ORCHESTRATOR_TOKEN: 32 random bytes, base64url');
  t.not(a.env.token, b.env.token, 'each run has its own token');
  t.equal(a.heartbeat, '200 {"drain":false}', 'the child heartbeats with its own token, as the SDKs do');
  const key = { 'x-api-key': KEY };

  const own = await post(h, '/api/services/a/heartbeat', { progress: 2.5, inflight: 3, status: 'thinking' }, bearer(a.env.token));
  t.equal(own.status, 200);
  t.same(own.json, { drain: false }, 'drain is false while nothing drains');
  const runA = runIdOf(h, 'a');
  await until(() => facts.find((f) => f.id === 'a' && f.msg.type === 'heartbeat' && f.msg.progress === 2.5), 'the heartbeat fact');
  t.same(facts.find((f) => f.msg.type === 'heartbeat' && f.msg.progress === 2.5), { id: 'a', msg: { type: 'heartbeat', runId: runA, progress: 2.5, inflight: 3, status: 'thinking' } },
    'one heartbeat message to the actor, with the run id the token belongs to');

  const empty = await req(h.url, '/api/services/a/heartbeat', { method: 'POST', headers: bearer(a.env.token) });
  t.equal(empty.status, 200, 'a heartbeat without a body is a heartbeat');
  const withKey = await post(h, '/api/services/a/heartbeat', { inflight: 0, status: null }, key);
  t.equal(withKey.status, 200, 'the API key (X-API-Key) authorises it too');
  const withKeyBearer = await post(h, '/api/services/b/heartbeat', { progress: 7 }, bearer(KEY));
  t.equal(withKeyBearer.status, 200, 'and as Authorization: Bearer');
  await until(() => facts.find((f) => f.id === 'b' && f.msg.type === 'heartbeat' && f.msg.progress === 7), 'b heartbeat fact');
  t.same(facts.find((f) => f.id === 'b' && f.msg.type === 'heartbeat' && f.msg.progress === 7)!.msg, { type: 'heartbeat', progress: 7 }, 'with the API key: no run id');

  const throttled = await post(h, '/api/services/b/throttle', { retry_after_seconds: 1.5 }, bearer(b.env.token));
  t.equal(throttled.status, 202);
  t.same(throttled.json, { accepted: true, retry_after_seconds: 1.5 });
  await until(() => facts.find((f) => f.msg.type === 'throttle'), 'the throttle fact');
  t.same(facts.find((f) => f.msg.type === 'throttle'), { id: 'b', msg: { type: 'throttle', runId: runIdOf(h, 'b'), retryAfterMs: 1500 } });

  // Many heartbeats: not rate limited per address (every local service calls from 127.0.0.1).
  const many = await Promise.all(Array.from({ length: 20 }, () => post(h, '/api/services/b/heartbeat', {}, bearer(b.env.token))));
  t.same([...new Set(many.map((m) => m.status))], [200], '20 heartbeats over a rate limit of 5 a minute all answered');

  errorShape(t, await post(h, '/api/services/b/heartbeat', {}, bearer(a.env.token)), 403, 'forbidden');
  errorShape(t, await post(h, '/api/services/b/throttle', { retry_after_seconds: 1 }, bearer(a.env.token)), 403, 'forbidden');
  errorShape(t, await post(h, '/api/services/a/heartbeat', {}), 401, 'unauthorized');
  errorShape(t, await post(h, '/api/services/a/heartbeat', {}, bearer('not-a-token')), 401, 'unauthorized');
  errorShape(t, await post(h, '/api/services/a/throttle', { retry_after_seconds: 1 }), 401, 'unauthorized');
  errorShape(t, await req(h.url, '/api/services', { headers: bearer(a.env.token) }), 401, 'unauthorized');
  errorShape(t, await req(h.url, '/api/services/a/stop', { method: 'PUT', headers: bearer(a.env.token) }), 401, 'unauthorized');
  t.equal(h.view('a').state, 'running', 'a run token authorises no other route');
  errorShape(t, await post(h, '/api/services/nope/heartbeat', {}, key), 404, 'not_found');
  errorShape(t, await post(h, '/api/services/nope/heartbeat', {}), 401, 'unauthorized', undefined);
  errorShape(t, await post(h, '/api/services/bad%20id/heartbeat', {}, key), 400, 'bad_request', 'id');

  const bad: Array<[string, unknown, string | undefined]> = [
    ['heartbeat', { progress: 'x' }, 'progress'],
    ['heartbeat', { progress: true }, 'progress'],
    ['heartbeat', { inflight: -1 }, 'inflight'],
    ['heartbeat', { inflight: 1.5 }, 'inflight'],
    ['heartbeat', { status: 5 }, 'status'],
    ['heartbeat', [1], undefined],
    ['throttle', {}, 'retry_after_seconds'],
    ['throttle', { retry_after_seconds: 0 }, 'retry_after_seconds'],
    ['throttle', { retry_after_seconds: -3 }, 'retry_after_seconds'],
    ['throttle', { retry_after_seconds: '60' }, 'retry_after_seconds'],
  ];
  for (const [route, body, field] of bad) {
    errorShape(t, await post(h, `/api/services/a/${route}`, body, bearer(a.env.token)), 400, 'bad_request', field);
  }
  errorShape(t, await req(h.url, '/api/services/a/throttle', { method: 'POST', headers: bearer(a.env.token) }), 400, 'bad_request', 'retry_after_seconds');
  errorShape(t, await post(h, '/api/services/a/heartbeat', '{"progress": 1e999}', { ...bearer(a.env.token), 'content-type': 'application/json' }), 400, 'bad_request', 'progress');
  errorShape(t, await post(h, '/api/services/a/heartbeat', '{nope', { ...bearer(a.env.token), 'content-type': 'application/json' }), 400, 'bad_request');

  const long = await post(h, '/api/services/a/heartbeat', { status: `${'x'.repeat(499)}😀tail` }, bearer(a.env.token));
  t.equal(long.status, 200, 'a long status line is cut, not refused');
  await until(() => facts.find((f) => f.msg.type === 'heartbeat' && (f.msg.status?.length ?? 0) > 400), 'the long status fact');
  const cut = facts.find((f) => f.msg.type === 'heartbeat' && (f.msg.status?.length ?? 0) > 400)!.msg as { status: string };
  t.equal(cut.status, 'x'.repeat(499), 'to 500 characters, never half a surrogate pair');

  // A run's token ends with the run; the next run gets a new one.
  t.equal((await req(h.url, '/api/services/a/restart', { method: 'PUT', headers: key })).status, 202);
  await h.waitFor(() => { const l = h.o.kernel.liveRuns().get('a'); return l && l.run.runId !== runA; }, 'a new run of a');
  errorShape(t, await post(h, '/api/services/a/heartbeat', {}, bearer(a.env.token)), 401, 'unauthorized');
  const a2 = await until(async () => {
    const s = await childSaw(h, 'a');
    return s.env.token !== a.env.token ? s : undefined;
  }, 'the new run to print its token');
  t.not(a2.env.token, a.env.token, 'the new run has a new token');
  t.equal((await post(h, '/api/services/a/heartbeat', {}, bearer(a2.env.token))).status, 200);
});

t.test('without an API key: open as the rest of the API, but another service\'s token is still refused', async (t) => {
  const h = await harness(t, {
    http: true,
    services: {
      a: { id: 'a', executable: node('agent-env.mjs'), drain: NO_DRAIN },
      b: { id: 'b', executable: node('agent-env.mjs'), drain: NO_DRAIN },
    },
  });
  const facts = watchFacts(h);
  const a = await childSaw(h, 'a');
  await childSaw(h, 'b');
  t.equal(a.heartbeat, '200 {"drain":false}');
  const open = await post(h, '/api/services/a/heartbeat', { progress: 42 });
  t.equal(open.status, 200, 'no credentials needed');
  await until(() => facts.find((f) => f.msg.type === 'heartbeat' && f.msg.progress === 42), 'fact');
  t.notOk('runId' in facts.find((f) => f.msg.type === 'heartbeat' && f.msg.progress === 42)!.msg, 'and no run id without a token');
  t.equal((await post(h, '/api/services/a/heartbeat', {}, bearer('whatever'))).status, 200, 'a token of no live run: as without credentials');
  t.equal((await post(h, '/api/services/a/heartbeat', {}, bearer(a.env.token))).status, 200);
  errorShape(t, await post(h, '/api/services/b/heartbeat', {}, bearer(a.env.token)), 403, 'forbidden');
  errorShape(t, await post(h, '/api/services/nope/throttle', { retry_after_seconds: 5 }), 404, 'not_found');
  t.equal((await post(h, '/api/services/b/throttle', { retry_after_seconds: 5 })).status, 202);
});

t.test('/metrics: ready, heartbeat age, inflight, throttled seconds, drains', async (t) => {
  const h = await harness(t, { http: true, services: { a: { id: 'a', executable: node('agent-env.mjs'), drain: NO_DRAIN } } });
  await childSaw(h, 'a');
  await h.waitView('a', (v) => v.state === 'running');
  const text = (await req(h.url, '/metrics')).text;
  for (const name of ['orchestrator_service_ready', 'orchestrator_service_heartbeat_age_seconds', 'orchestrator_service_inflight', 'orchestrator_service_throttle_remaining_seconds', 'orchestrator_service_drains_total']) {
    t.match(text, new RegExp(`^# HELP ${name} .+\\n# TYPE ${name} (gauge|counter)$`, 'm'), `${name} is described`);
  }
  t.match(text, /^orchestrator_service_throttle_remaining_seconds\{service="a"\} 0$/m, 'not throttled: 0');
  t.match(text, /^orchestrator_service_drains_total\{service="a"\} 0$/m, 'no drain yet');
  t.match(text, /^orchestrator_service_ready\{service="a"\} [01]$/m);
  t.match(text, /^orchestrator_service_state\{service="a",state="draining"\} 0$/m, 'the new states are listed');
  t.match(text, /^orchestrator_service_state\{service="a",state="throttled"\} 0$/m);
  h.o.history.record([{ service: 'a', type: 'drain_started', at: 0, data: {} }]);
  t.match((await req(h.url, '/metrics')).text, /^orchestrator_service_drains_total\{service="a"\} 1$/m, 'drain_started events are counted');
});

t.test('after an orchestrator restart, an adopted run\'s token still authorises it', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'orch-token-'));
  const port = await freePort();
  const config = { api: { api_key: KEY }, orchestrator: { port } };
  const running: Harness[] = [];
  t.teardown(async () => {
    for (const x of running) await x.shutdown();
    rmSync(dir, { recursive: true, force: true });
  });
  const h1 = await harness(t, { dir, http: true, noTeardown: true, config, services: { a: { id: 'a', executable: node('agent-env.mjs'), drain: NO_DRAIN } } });
  running.push(h1);
  const a = await childSaw(h1, 'a');
  t.equal(a.env.url, `http://127.0.0.1:${port}`);
  const pid = h1.view('a').pid!;
  await h1.shutdown({ keepServices: true });
  t.ok(alive(pid), 'the service outlives the orchestrator');

  const h2 = await harness(t, { dir, http: true, noTeardown: true, config });
  running.push(h2);
  const v = await h2.waitView('a', (x) => x.state === 'running' && x.adopted, 'a adopted');
  t.equal(v.pid, pid, 'the same process');
  const facts = watchFacts(h2);
  const again = await post(h2, '/api/services/a/heartbeat', { progress: 9 }, bearer(a.env.token));
  t.equal(again.status, 200, 'its old token still works');
  await until(() => facts.find((f) => f.msg.type === 'heartbeat' && f.msg.progress === 9), 'fact');
  t.same(facts.find((f) => f.msg.type === 'heartbeat' && f.msg.progress === 9)!.msg, { type: 'heartbeat', runId: runIdOf(h2, 'a'), progress: 9 }, 'with the adopted run\'s id');
  const row = h2.o.registry.runs.openRuns().find((r) => r.service === 'a')!;
  t.match(row.token_hash, /^[0-9a-f]{64}$/, 'the ledger keeps only the SHA-256 of the token');
  const stored = readdirSync(join(dir, 'data')).filter((f) => f.startsWith('registry.db')).map((f) => readFileSync(join(dir, 'data', f)));
  t.ok(stored.length > 0 && stored.every((bytes) => !bytes.includes(a.env.token)), 'never the token itself');
  await h2.shutdown();
});
