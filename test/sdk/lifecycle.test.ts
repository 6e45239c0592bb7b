/**
 * The SDKs' lifecycle calls (heartbeat, the background heartbeat, throttled, draining) against a
 * real HTTP receiver on loopback: the request shape (method, path, Authorization, JSON body), the
 * drain answer, the three environment variables, and failures that never reach the service.
 * Both the TypeScript SDK (in process and as a child) and the Python SDK (python3 children).
 */
import t from 'tap';
import { join } from 'node:path';
import { OrchestratorError, ServiceAgent } from '@agent-orchestrator/sdk';
import type { TestLike } from '../helpers/harness.js';
import { freePort, ROOT } from '../helpers/process.mjs';
import { start } from '../cli/run.js';
import { receiver, type Answer } from './receiver.js';

const PYTHONPATH = join(ROOT, 'sdk', 'python');

/** Run with ORCHESTRATOR_* set as a supervised child would see them, restored afterwards. */
function withEnv(t: TestLike, env: Record<string, string | undefined>): void {
  const old = Object.fromEntries(Object.keys(env).map((k) => [k, process.env[k]]));
  for (const [k, v] of Object.entries(env)) { if (v === undefined) delete process.env[k]; else process.env[k] = v; }
  t.teardown(() => { for (const [k, v] of Object.entries(old)) { if (v === undefined) delete process.env[k]; else process.env[k] = v; } });
}

t.test('TypeScript: heartbeat and throttled from the environment alone', async (t) => {
  const r = await receiver(t, (s, n) => (s.path.endsWith('/throttle') ? { status: 202 } : { status: 200, body: { drain: n >= 3 } }));
  withEnv(t, { ORCHESTRATOR_URL: `${r.url}/`, ORCHESTRATOR_SERVICE_ID: 'agent/1', ORCHESTRATOR_TOKEN: 'run-token', ORCHESTRATOR_API_KEY: 'the-key' });
  const agent = new ServiceAgent();
  t.equal(agent.serviceId, 'agent/1', 'the id from ORCHESTRATOR_SERVICE_ID');
  t.equal(agent.draining, false, 'not draining before any answer');

  t.same(await agent.heartbeat({ progress: 12.5, inflight: 2, status: 'summarising' }), { drain: false });
  t.same(r.seen[0], {
    method: 'POST', path: '/api/services/agent%2F1/heartbeat', authorization: 'Bearer run-token', apiKey: undefined,
    contentType: 'application/json', body: { progress: 12.5, inflight: 2, status: 'summarising' },
  }, 'POST to the service\'s own heartbeat path, the run token as Bearer, the JSON body');
  t.same(await agent.heartbeat(), { drain: false });
  t.same(r.seen[1]!.body, {}, 'no fields: an empty object');
  t.same(await agent.heartbeat({ inflight: 0 }), { drain: true }, 'the drain answer');
  t.equal(agent.draining, true, 'draining follows the last answer');

  await agent.throttled(30);
  t.same(r.seen[3], {
    method: 'POST', path: '/api/services/agent%2F1/throttle', authorization: 'Bearer run-token', apiKey: undefined,
    contentType: 'application/json', body: { retry_after_seconds: 30 },
  }, 'throttle: the wait in seconds, 202 accepted');

  // Registration and the other calls keep using the API key, never the run token.
  await agent.status().catch(() => undefined);
  t.equal(r.seen[4]!.apiKey, 'the-key');
  t.equal(r.seen[4]!.authorization, undefined);

  // Options beat the environment; without a token the API key goes along instead.
  const keyed = new ServiceAgent('svc', r.url, { token: '', apiKey: 'k2' });
  await keyed.heartbeat({ status: 'x' });
  t.equal(r.seen[5]!.apiKey, 'k2', 'no token: X-API-Key');
  t.equal(r.seen[5]!.authorization, undefined);
  await new ServiceAgent('svc', r.url, { token: 'opt' }).throttled(0.5);
  t.equal(r.seen[6]!.authorization, 'Bearer opt', 'token option');
});

t.test('TypeScript: bad input names the field; refusals are OrchestratorError', async (t) => {
  const r = await receiver(t, () => ({ status: 401, body: { error: { code: 'unauthorized', message: 'wrong token' } } }));
  const agent = new ServiceAgent('svc', r.url, { token: 'nope' });
  const bad = async (f: () => Promise<unknown>) => f().then(() => 'resolved', (e: Error) => `${e.name}: ${e.message}`);
  t.equal(await bad(() => agent.heartbeat({ inflight: -1 })), 'TypeError: inflight: expected a non-negative integer, got -1');
  t.equal(await bad(() => agent.heartbeat({ inflight: 1.5 })), 'TypeError: inflight: expected a non-negative integer, got 1.5');
  t.equal(await bad(() => agent.heartbeat({ progress: 'far' as unknown as number })), 'TypeError: progress: expected a number, got "far"');
  t.equal(await bad(() => agent.heartbeat({ status: 3 as unknown as string })), 'TypeError: status: expected a string, got 3');
  t.equal(await bad(() => agent.throttled(-5)), 'TypeError: retry_after_seconds: expected a non-negative number, got -5');
  t.equal(await bad(() => agent.throttled(Number.NaN)), 'TypeError: retry_after_seconds: expected a non-negative number, got null');
  t.equal(r.seen.length, 0, 'nothing was sent for bad input');
  t.throws(() => agent.startHeartbeat({ intervalSeconds: 0 }), /intervalSeconds: expected a positive number, got 0/);

  const refused = await agent.heartbeat().catch((e: unknown) => e);
  t.ok(refused instanceof OrchestratorError && refused.status === 401 && refused.code === 'unauthorized', 'a refusal: OrchestratorError 401');
  t.match((refused as Error).message, /heartbeat: wrong token/);
  const down = await new ServiceAgent('svc', `http://127.0.0.1:${await freePort()}`).heartbeat().catch((e: unknown) => e);
  t.ok(down instanceof OrchestratorError && down.status === 0, 'unreachable: status 0');
  t.throws(() => new ServiceAgent(''), /needs a service id \(or ORCHESTRATOR_SERVICE_ID/);
});

t.test('TypeScript: the background heartbeat — state, one call at a time, errors kept, onDrain, stop', async (t) => {
  // Each answer is held until the next request would be due many times over: an overlapping loop shows as two active.
  const answers: Answer[] = [{ status: 500, body: { error: { code: 'internal', message: 'boom' } } }];
  const r = await receiver(t, (_s, n) => new Promise((resolve) => setTimeout(() => resolve(answers[n - 1] ?? { status: 200, body: { drain: n >= 4 } }), 30)));
  const agent = new ServiceAgent('bg', r.url, { token: 'tk' });
  let progress = 0;
  const errors: Error[] = [];
  let drains = 0;
  let stop!: () => void;
  const drained = new Promise<void>((resolve) => {
    stop = agent.startHeartbeat({
      intervalSeconds: 0.005,
      state: () => ({ progress: ++progress, inflight: progress < 3 ? 1 : 0, status: `step ${progress}` }),
      onError: (e) => errors.push(e),
      onDrain: () => { drains++; resolve(); },
    });
  });
  await drained;
  t.equal(agent.draining, true, 'draining once an answer says so');
  await r.count(5);
  stop();
  t.equal(drains, 1, 'onDrain once, though later answers still say drain');
  t.equal(r.maxActive(), 1, 'never two heartbeats at once');
  t.equal(errors.length, 1, 'the failed heartbeat went to onError');
  t.ok(errors[0] instanceof OrchestratorError && (errors[0] as OrchestratorError).status === 500);
  t.same(r.seen.slice(0, 3).map((s) => s.body), [
    { progress: 1, inflight: 1, status: 'step 1' }, { progress: 2, inflight: 1, status: 'step 2' }, { progress: 3, inflight: 0, status: 'step 3' },
  ], 'each heartbeat carries the state of its moment; the loop went on after the failure');
  t.ok(r.seen.every((s) => s.method === 'POST' && s.path === '/api/services/bg/heartbeat' && s.authorization === 'Bearer tk'));

  // Stopped: the next request the receiver sees is this manual one, not the loop's.
  const before = r.seen.length;
  await agent.heartbeat({ status: 'manual' });
  t.same(r.seen[before]?.body, { status: 'manual' }, 'no loop heartbeat after stop');

  // A broken state callback still heartbeats (without fields); startHeartbeat twice keeps one loop.
  const other = await receiver(t);
  const a2 = new ServiceAgent('b2', other.url);
  a2.startHeartbeat({ intervalSeconds: 3600, state: () => { throw new Error('no state'); } });
  await other.count(1);
  t.same(other.seen[0]!.body, {}, 'heartbeat without the fields of a failing state()');
  const stop2 = a2.startHeartbeat({ intervalSeconds: 3600, state: () => ({ status: 'second' }) });
  await other.count(2);
  stop2();
  t.same(other.seen[1]!.body, { status: 'second' });
  a2.stopHeartbeat();
});

t.test('TypeScript: the heartbeat timer does not keep a process alive; failures only logged', async (t) => {
  const r = await receiver(t);
  const script = `import { ServiceAgent } from '@agent-orchestrator/sdk';
const a = new ServiceAgent();
a.startHeartbeat({ intervalSeconds: 3600, state: () => ({ inflight: 0 }) });
new ServiceAgent('down', 'http://127.0.0.1:${await freePort()}').startHeartbeat({ intervalSeconds: 3600 });`;
  const run = await start(t, process.execPath, ['--input-type=module', '-e', script], {
    env: { ORCHESTRATOR_URL: r.url, ORCHESTRATOR_SERVICE_ID: 'child', ORCHESTRATOR_TOKEN: 'ct' },
  }).exited;
  t.equal(run.code, 0, `exits by itself once nothing else is left\n${run.stderr}`);
  t.match(run.stderr, /^orchestrator heartbeat failed: cannot reach the orchestrator at http:\/\/127\.0\.0\.1:\d+: ECONNREFUSED\n$/, 'an unreachable orchestrator is one line on stderr, no crash');
  t.same(r.seen.map((s) => [s.path, s.authorization, s.body]), [['/api/services/child/heartbeat', 'Bearer ct', { inflight: 0 }]]);
});

const PY_SCRIPT = `
import json, sys, threading
from orchestrator_sdk import ServiceAgent, OrchestratorError

agent = ServiceAgent()
out = {"id": agent.service_id, "draining_before": agent.draining}
out["hb1"] = agent.heartbeat(progress=3, inflight=2, status="working")
out["hb2"] = agent.heartbeat(inflight=0)
out["draining"] = agent.draining
agent.throttled(42)
errors = []
for call in (lambda: agent.heartbeat(inflight=-1), lambda: agent.heartbeat(progress="x"),
             lambda: agent.heartbeat(status=5), lambda: agent.throttled(-1), lambda: agent.throttled(True)):
    try:
        call()
    except ValueError as e:
        errors.append(str(e))
out["errors"] = errors
keyed = ServiceAgent("keyed", token="", api_key="k3")
keyed.heartbeat()
drained = threading.Event()
n = [0]
def state():
    n[0] += 1
    if n[0] == 2:
        raise RuntimeError("no state")
    return {"progress": n[0], "inflight": 1}
failures = []
stop = agent.start_heartbeat(interval=0.005, state=state, on_drain=drained.set, on_error=failures.append)
out["drained"] = drained.wait(20)
stop()
out["failures"] = [type(e).__name__ + " " + str(getattr(e, "status", "")) for e in failures]
try:
    ServiceAgent("x", "http://127.0.0.1:1", timeout=2).heartbeat()
except OrchestratorError as e:
    out["down"] = e.status
print(json.dumps(out))
`;

t.test('Python: heartbeat, throttled, draining and the heartbeat thread from the environment alone', async (t) => {
  // Requests 1-2: manual heartbeats (drain on the 2nd), 3: throttle, 4: keyed, then the thread:
  // 5 fails (500), 6 has no fields (state raised), 7 answers drain.
  const r = await receiver(t, (s, n) => (s.path.endsWith('/throttle') ? { status: 202 }
    : n === 5 ? { status: 500, body: { error: { code: 'internal', message: 'boom' } } }
      : { status: 200, body: { drain: n === 2 || n >= 7 } }));
  const run = await start(t, 'python3', ['-c', PY_SCRIPT], {
    env: { PYTHONPATH, ORCHESTRATOR_URL: r.url, ORCHESTRATOR_SERVICE_ID: 'py one', ORCHESTRATOR_TOKEN: 'py-token', ORCHESTRATOR_API_KEY: 'not-for-heartbeats' },
  }).exited;
  t.equal(run.code, 0, run.stderr);
  const out = JSON.parse(run.stdout) as Record<string, unknown>;
  t.same(out, {
    id: 'py one', draining_before: false, hb1: { drain: false }, hb2: { drain: true }, draining: true,
    errors: [
      'inflight: expected a non-negative integer, got -1', "progress: expected a number, got 'x'",
      'status: expected a string, got 5', 'retry_after_seconds: expected a non-negative number, got -1',
      'retry_after_seconds: expected a non-negative number, got True',
    ],
    drained: true, failures: ['OrchestratorError 500'], down: 0,
  });
  t.same(r.seen.slice(0, 3), [
    { method: 'POST', path: '/api/services/py%20one/heartbeat', authorization: 'Bearer py-token', apiKey: undefined, contentType: 'application/json', body: { progress: 3, inflight: 2, status: 'working' } },
    { method: 'POST', path: '/api/services/py%20one/heartbeat', authorization: 'Bearer py-token', apiKey: undefined, contentType: 'application/json', body: { inflight: 0 } },
    { method: 'POST', path: '/api/services/py%20one/throttle', authorization: 'Bearer py-token', apiKey: undefined, contentType: 'application/json', body: { retry_after_seconds: 42 } },
  ], 'the request shape: POST, own path, Bearer run token, JSON body');
  t.same([r.seen[3]!.path, r.seen[3]!.apiKey, r.seen[3]!.authorization], ['/api/services/keyed/heartbeat', 'k3', undefined], 'no token: the API key');
  t.same(r.seen.slice(4, 7).map((s) => s.body), [{ progress: 1, inflight: 1 }, {}, { progress: 3, inflight: 1 }], 'the thread: state per beat, on after a failure and a raising state()');
  t.equal(r.maxActive(), 1, 'one call at a time');
});

t.test('Python: the heartbeat thread does not keep the interpreter alive; failures logged once', async (t) => {
  const port = await freePort();
  const run = await start(t, 'python3', ['-c', `
from orchestrator_sdk import ServiceAgent
import threading
a = ServiceAgent("p", "http://127.0.0.1:${port}", timeout=2)
done = threading.Event()
n = [0]
def state():
    n[0] += 1
    if n[0] == 3:
        done.set()
    return {}
a.start_heartbeat(interval=0.005, state=state)
done.wait(20)
print("main done")
`], { env: { PYTHONPATH } }).exited;
  t.equal(run.code, 0, run.stderr);
  t.equal(run.stdout, 'main done\n');
  t.match(run.stderr, /^orchestrator heartbeat failed: cannot reach the orchestrator at http:\/\/127\.0\.0\.1:\d+: .*\n$/, 'the same failure is logged once');
});
