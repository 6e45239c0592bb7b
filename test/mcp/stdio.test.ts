/**
 * `orchestrator mcp` on stdio, with the official SDK client spawning it (StdioClientTransport)
 * against a real orchestrator: nothing but protocol on stdout, the tools over the REST API with
 * the address and key from ORCHESTRATOR_URL and ORCHESTRATOR_API_KEY, a service started through
 * it really running, field-path errors, resources; and a wrong key told, not crashed on.
 */
import t from 'tap';
import { FIXTURES, startOrchestrator, until } from '../helpers/process.mjs';
import { ALL_TOOLS, call, running, stdioClient } from './lib.js';

const KEY = 'mcp-stdio-key-0123456789';
const sleeper = `${process.execPath} ${FIXTURES}/sleeper.mjs`;

t.test('orchestrator mcp on stdio', async (t) => {
  const orch = await startOrchestrator({
    config: { api: { api_key: KEY, rate_limit: 0 } },
    services: {
      base: { id: 'base', executable: sleeper },
      idle: { id: 'idle', executable: sleeper, auto_start: false, depends_on: ['base'] },
    },
  });
  t.teardown(() => orch.stop());

  t.test('tools over the REST API', async (t) => {
    const { client, errors, stderr } = await stdioClient(t, { ORCHESTRATOR_URL: orch.url, ORCHESTRATOR_API_KEY: KEY });
    t.same((await client.listTools()).tools.map((x) => x.name).sort(), ALL_TOOLS, 'every tool for the one key');
    await until(async () => (await call(client, 'list_services', { state: 'running' })).json.count === 1, 'base running');
    t.match((await call(client, 'fleet_summary')).json, { status: 'ok', total: 2 });
    t.same((await call(client, 'dependency_graph')).json.start_order, [['base'], ['idle']]);
    const tail = await until(async () => { const a = (await call(client, 'tail_logs', { id: 'base', stream: 'stdout' })).json; return a.count > 0 && a; }, 'base log lines');
    t.match(tail.lines[0], /sleeper base up/);
    t.equal((await call(client, 'search_logs', { id: 'base', regex: 'base\\s+up' })).json.count, 1);
    t.ok((await call(client, 'list_events', { service: 'base' })).json.count > 0);

    const bad = await call(client, 'register_service', { id: 'x', executable: 'true', health: { failure_threshold: 0 } });
    t.equal(bad.isError, true);
    t.equal(bad.json.field, 'health.failure_threshold', 'a field-path error');
    const refused = await call(client, 'remove_service', { id: 'base' });
    t.equal(refused.isError, true, 'the orchestrator\'s refusal comes back as a tool error');
    t.match(refused.json.error, /defined in|required by/);

    t.match((await call(client, 'start_service', { id: 'idle' })).json, { id: 'idle' });
    const pid = await until(async () => { const s = (await call(client, 'get_service', { id: 'idle' })).json; return s.state === 'running' && s.pid; }, 'idle running');
    t.ok(running(pid), `the process ${pid} really runs`);
    await call(client, 'stop_service', { id: 'idle' });
    await until(() => !running(pid), 'idle stopped');

    const reg = (await call(client, 'register_service', { id: 'extra', executable: sleeper, auto_start: false })).json;
    t.equal(reg.created, true);
    t.equal((await call(client, 'update_service', { id: 'extra', name: 'Extra' })).json.name, 'Extra');
    t.same((await call(client, 'remove_service', { id: 'extra' })).json, { id: 'extra', removed: true });

    const resources = await client.listResources();
    t.equal(resources.resources.length, 4, 'a spec and a log resource per service');
    const spec = await client.readResource({ uri: 'orchestrator://services/base/spec' });
    t.match(JSON.parse((spec.contents[0] as { text: string }).text), { id: 'base', state: 'running' });
    t.same(errors, [], 'nothing but protocol on stdout');
    t.match(stderr(), /"msg":"MCP server on stdio"/, 'logs go to stderr, as JSON lines');
  });

  t.test('a wrong key: tools/list says so; the server stays up', async (t) => {
    const { client, errors } = await stdioClient(t, { ORCHESTRATOR_URL: orch.url, ORCHESTRATOR_API_KEY: 'wrong' });
    await t.rejects(client.listTools(), /unauthorized: the API key was not accepted/);
    await t.rejects(client.listTools(), /unauthorized/, 'and again (asked anew, not cached)');
    t.same(errors, []);
  });
});
