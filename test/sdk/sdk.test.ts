/**
 * The SDKs against a real orchestrator: a real Python service (orchestrator_sdk.py) and a real Node
 * service ('@agent-orchestrator/sdk') register themselves, are probed healthy, are shown as
 * external, refuse start/stop, and deregister on SIGTERM. Plus the SDK's own behaviour in process.
 */
import t from 'tap';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { OrchestratorError, ServiceAgent } from '@agent-orchestrator/sdk';
import { harness, node } from '../helpers/harness.js';
import { freePort, ROOT } from '../helpers/process.mjs';
import { cli, start } from '../cli/run.js';

const FIXTURES = fileURLToPath(new URL('./fixtures/', import.meta.url));
const PYTHONPATH = join(ROOT, 'sdk', 'python');

interface Svc { id: string; name: string; type: string; external: boolean; state: string; health: string; pid: number | null; health_check: { endpoint: string | null } }

async function getService(url: string, id: string): Promise<{ status: number; body: Svc }> {
  const res = await fetch(`${url}/api/services/${id}`);
  return { status: res.status, body: await res.json() as Svc };
}

t.test('a real Python service registers through orchestrator_sdk and is seen healthy', async (t) => {
  const h = await harness(t, { http: true });
  const base = `http://localhost:${h.http!.port}`; // as in the seed: http://localhost:8000
  const py = start(t, 'python3', [join(FIXTURES, 'python_agent.py')], { env: { PYTHONPATH, SERVICE_ID: 'py-agent', ORCHESTRATOR_URL: base } });
  await py.waitOutput(/registered py-agent external=True health=http:\/\/127\.0\.0\.1:\d+\/health\n/);
  await h.waitView('py-agent', (v) => v.state === 'running' && v.health === 'healthy', 'py-agent healthy');

  const { status, body } = await getService(h.url, 'py-agent');
  t.equal(status, 200);
  t.equal(body.external, true, 'marked external');
  t.equal(body.pid, null, 'no process of the orchestrator');
  t.equal(body.name, 'SDK Python agent');
  t.equal(body.type, 'ai-agent');
  t.match(body.health_check.endpoint, /^http:\/\/127\.0\.0\.1:\d+\/health$/);
  const probe = await (await fetch(body.health_check.endpoint!)).json() as Record<string, string>;
  t.equal(probe.status, 'healthy', "the seed's /health payload");
  t.equal(probe.service, 'py-agent');
  t.ok(!Number.isNaN(Date.parse(probe.timestamp!)), 'with an ISO timestamp');

  const stop = await cli(t, ['stop', 'py-agent', '--url', h.url]);
  t.equal(stop.code, 1, 'stop is refused for an external service without an executable');
  t.match(stop.stderr, /conflict: service "py-agent" is external/);
  t.equal(h.view('py-agent').state, 'running');

  py.child.kill('SIGTERM');
  const end = await py.exited;
  t.equal(end.code, 0, end.stderr);
  t.match(end.stdout, /deregistered True/);
  t.notOk(h.o.fleet.has('py-agent'), 'deregistered on SIGTERM');
  t.ok(h.events('py-agent', 'removed').length === 1, 'and the removal is recorded');
});

t.test("the seed's three lines, exactly; registering twice; errors", async (t) => {
  const h = await harness(t, { http: true, config: { api: { api_key: 'secret', rate_limit: 0 } } });
  const base = `http://localhost:${h.http!.port}`;
  const seed = `from orchestrator_sdk import ServiceAgent\nagent = ServiceAgent("my-service", "${base}")\nagent.register()\nagent.register()\n`;
  const ok = await start(t, 'python3', ['-c', seed], { env: { PYTHONPATH, ORCHESTRATOR_API_KEY: 'secret' } }).exited;
  t.equal(ok.code, 0, `the seed's snippet runs (registering twice is fine)\n${ok.stderr}`);
  const v = h.view('my-service');
  t.equal(v.state, 'running', 'an external service without a health endpoint is shown running');
  t.equal(h.o.fleet.get('my-service').spec.external, true);
  t.equal(h.events('my-service', 'registered').length, 1, 'the second registration updated the first');

  const wrong = await start(t, 'python3', ['-c', `
from orchestrator_sdk import ServiceAgent, OrchestratorError
try:
    ServiceAgent("other", "${base}", api_key="wrong").register()
except OrchestratorError as e:
    print(e.status, e.code)
try:
    ServiceAgent("other", "http://127.0.0.1:1", api_key="secret", timeout=2).register()
except OrchestratorError as e:
    print(e.status, e.code)
a = ServiceAgent("my-service", "${base}", api_key="secret")
print(a.deregister(), a.deregister())
`], { env: { PYTHONPATH } }).exited;
  t.equal(wrong.code, 0, wrong.stderr);
  t.equal(wrong.stdout, '401 unauthorized\n0 unreachable\nTrue False\n', 'wrong key → 401, unreachable → 0, deregister is idempotent');
  t.notOk(h.o.fleet.has('my-service'));
});

t.test('a real Node service registers through @agent-orchestrator/sdk and is seen healthy', async (t) => {
  const h = await harness(t, { http: true });
  const healthyFile = join(h.dir, 'healthy');
  writeFileSync(healthyFile, '');
  const base = `http://localhost:${h.http!.port}`;
  const agent = start(t, process.execPath, [join(FIXTURES, 'node-agent.mjs')], { env: { SERVICE_ID: 'node-agent', ORCHESTRATOR_URL: base, HEALTHY_FILE: healthyFile } });
  await agent.waitOutput(/registered node-agent external=true health=http:\/\/127\.0\.0\.1:\d+\/health\n/);
  await h.waitView('node-agent', (v) => v.state === 'running' && v.health === 'healthy', 'node-agent healthy');
  const { body } = await getService(h.url, 'node-agent');
  t.equal(body.external, true);
  t.equal(body.pid, null);
  t.equal(body.type, 'ai-agent');

  // The service's own health check drives what the orchestrator sees.
  rmSync(healthyFile);
  await h.waitView('node-agent', (v) => v.health === 'unhealthy', 'node-agent unhealthy once its check fails');
  writeFileSync(healthyFile, '');
  await h.waitView('node-agent', (v) => v.health === 'healthy', 'healthy again');
  t.equal(h.view('node-agent').state, 'running', 'never restarted: not the orchestrator\'s process');

  const list = await cli(t, ['list', '--url', h.url]);
  t.match(list.stdout, /node-agent\s+ai-agent\s+running\s+healthy\s+(yes|no)\s+external/, 'the CLI shows it as external');

  agent.child.kill('SIGTERM');
  const end = await agent.exited;
  t.equal(end.code, 0, end.stderr);
  t.match(end.stdout, /deregistered true/);
  t.notOk(h.o.fleet.has('node-agent'), 'deregistered on SIGTERM');
});

t.test('ServiceAgent in process: payload, handlers, idempotent register, errors, retry', async (t) => {
  const h = await harness(t, { http: true, config: { api: { api_key: 'k', rate_limit: 0 } } });
  const agent = new ServiceAgent('inproc', h.url, { apiKey: 'k', name: 'In process', apiEndpoint: 'http://127.0.0.1:9/api' });
  const hs = await agent.serveHealth();
  t.teardown(() => hs.close());
  t.equal(agent.healthEndpoint, hs.url, 'serveHealth fills in the health endpoint');
  const res = await fetch(hs.url);
  t.equal(res.status, 200);
  const payload = await res.json() as Record<string, string>;
  t.same(Object.keys(payload).sort(), ['service', 'status', 'timestamp']);
  t.equal(payload.status, 'healthy');
  t.equal((await fetch(hs.url.replace('/health', '/other'))).status, 404);

  const first = await agent.register();
  t.equal(first.id, 'inproc');
  t.equal(first.external, true);
  t.equal(first.api_endpoint, 'http://127.0.0.1:9/api');
  const second = await agent.register();
  t.equal(second.id, 'inproc', 'registering again updates instead of failing');
  await h.waitView('inproc', (v) => v.health === 'healthy', 'inproc healthy');
  t.equal((await agent.status()).health, 'healthy');

  const taken = new ServiceAgent('inproc', h.url, { apiKey: 'k' });
  const port = await freePort();
  await h.o.fleet.register({ id: 'managed', executable: node('healthy.mjs'), environment: { PORT: port }, auto_start: false });
  const clash = await new ServiceAgent('managed', h.url, { apiKey: 'k' }).register().catch((e: unknown) => e);
  t.ok(clash instanceof OrchestratorError && clash.status === 409, 'an id used by a managed service is refused (409)');
  const wrongKey = await new ServiceAgent('x', h.url, { apiKey: 'nope' }).register().catch((e: unknown) => e);
  t.ok(wrongKey instanceof OrchestratorError && wrongKey.status === 401 && wrongKey.code === 'unauthorized', 'wrong key: 401');
  const down = `http://127.0.0.1:${await freePort()}`;
  const unreachable = await new ServiceAgent('x', down).register().catch((e: unknown) => e);
  t.ok(unreachable instanceof OrchestratorError && unreachable.status === 0, 'unreachable: status 0');

  t.equal(await taken.deregister(), true);
  t.equal(await taken.deregister(), false, 'deregister twice: false, no error');

  // register({ retryForMs }) waits for an orchestrator that is not up yet.
  const later = await freePort();
  const waiting = new ServiceAgent('late', `http://127.0.0.1:${later}`).register({ retryForMs: 20_000 }).catch((e: Error) => e);
  const h2 = await harness(t, { http: true, config: { orchestrator: { port: later } } });
  const late = await waiting;
  t.equal((late as { id?: string }).id, 'late', `registered once the orchestrator came up (${String(late)})`);
  t.ok(h2.o.fleet.has('late'));

  // handleHealth inside an existing server, with a failing check.
  const sick = new ServiceAgent('sick', h.url, { healthCheck: () => { throw new Error('db down'); } });
  const { createServer } = await import('node:http');
  const srv = createServer((req, res) => { if (!sick.handleHealth(req, res)) res.end('app'); });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  t.teardown(() => { srv.close(); });
  const addr = `http://127.0.0.1:${(srv.address() as { port: number }).port}`;
  const sickRes = await fetch(`${addr}/health`);
  t.equal(sickRes.status, 503, 'a failing check answers 503');
  t.equal(((await sickRes.json()) as { status: string }).status, 'unhealthy');
  t.equal(await (await fetch(`${addr}/`)).text(), 'app', 'other paths are left to the app');
});
