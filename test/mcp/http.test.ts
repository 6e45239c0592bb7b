/**
 * /mcp over streamable HTTP, on both engines, with the official SDK client against a real
 * orchestrator (`orchestrator serve`, fixture services): the security checks of the API, every
 * tool, a service started over MCP really running, field-path errors, resources and a
 * resources/updated notification on the session's stream, and DELETE ending the session.
 */
import { ResourceUpdatedNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import t from 'tap';
import { FIXTURES, startOrchestrator, until } from '../helpers/process.mjs';
import { req } from '../http/lib.js';
import { ALL_TOOLS, call, httpClient, running } from './lib.js';

const KEY = 'mcp-test-key-0123456789';
const sleeper = `${process.execPath} ${FIXTURES}/sleeper.mjs`;
const INIT = { jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'raw', version: '1' } } };

for (const engine of ['uws', 'node'] as const) {
  t.test(`engine ${engine}`, async (t) => {
    const orch = await startOrchestrator({
      env: { ORCHESTRATOR_HTTP_ENGINE: engine === 'uws' ? 'auto' : 'node' },
      config: { api: { api_key: KEY, cors_origins: ['http://localhost:3000'], rate_limit: 0 } },
      services: {
        base: { id: 'base', executable: sleeper, group: 'core' },
        web: { id: 'web', executable: sleeper, depends_on: ['base'], group: 'edge' },
        idle: { id: 'idle', executable: sleeper, auto_start: false },
      },
    });
    t.teardown(() => orch.stop());
    const health = await (await fetch(`${orch.url}/health`)).json() as { engine: string };
    if (engine === 'uws' && health.engine !== 'uws') t.comment('no native uWS here: the auto run is on node too');
    else t.equal(health.engine, engine, `served by ${engine}`);
    const post = (headers: Record<string, string>) => fetch(`${orch.url}/mcp`, {
      method: 'POST', body: JSON.stringify(INIT),
      headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', ...headers },
    });

    t.test('the API\'s checks: key, Origin, Host', async (t) => {
      const noKey = await post({});
      t.equal(noKey.status, 401, 'no key: 401');
      t.equal(((await noKey.json()) as { error: { code: string } }).error.code, 'unauthorized');
      t.equal((await post({ 'x-api-key': 'wrong' })).status, 401, 'a wrong key: 401');
      t.equal((await post({ 'x-api-key': KEY, origin: 'http://evil.example' })).status, 403, 'a foreign Origin: 403');
      const get = await fetch(`${orch.url}/mcp`, { headers: { 'x-api-key': KEY, origin: 'http://evil.example', accept: 'text/event-stream' } });
      t.equal(get.status, 403, 'a foreign Origin on the GET stream too');
      await get.body?.cancel();
      // fetch cannot set Host: node:http can.
      const rebound = await req(orch.url, '/mcp', { method: 'POST', body: INIT, headers: { 'x-api-key': KEY, host: 'evil.example', accept: 'application/json, text/event-stream' } });
      t.equal(rebound.status, 421, 'a Host not served here (DNS rebinding): 421');
      const allowed = await post({ 'x-api-key': KEY, origin: 'http://localhost:3000' });
      t.equal(allowed.status, 200, 'a configured Origin may');
      t.ok(allowed.headers.get('mcp-session-id'), 'and gets a session');
      await allowed.body?.cancel();
      const noSession = await fetch(`${orch.url}/mcp`, { method: 'POST', headers: { 'x-api-key': KEY, 'content-type': 'application/json', accept: 'application/json, text/event-stream' }, body: JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'tools/list' }) });
      t.equal(noSession.status, 400, 'anything but initialize needs a session');
    });

    t.test('tools against the real fleet', async (t) => {
      const { client, errors } = await httpClient(t, orch.url, KEY);
      const listed = await client.listTools();
      t.same(listed.tools.map((x) => x.name).sort(), ALL_TOOLS, 'the one key may do everything: every tool');
      const reg = listed.tools.find((x) => x.name === 'register_service')!;
      t.equal(reg.inputSchema.type, 'object');
      t.match(reg.inputSchema.required, ['id'], 'JSON Schema from the API\'s service schema');
      t.ok((reg.inputSchema.properties as Record<string, unknown>).restart_policy, 'with its nested fields');

      await until(async () => (await call(client, 'list_services', { state: 'running' })).json.count === 2, 'base and web running');
      const summary = (await call(client, 'fleet_summary')).json;
      t.equal(summary.total, 3);
      t.equal(summary.status, 'ok');
      t.same((await call(client, 'list_services', { group: 'edge' })).json.services.map((s: { id: string }) => s.id), ['web'], 'filter by group');
      const paged = (await call(client, 'list_services', { limit: 1 })).json;
      t.equal(paged.count, 1);
      t.equal(paged.truncated, true, 'a page says truncated');
      t.match(paged.more, /offset 1/, 'and how to get more');

      const web = (await call(client, 'get_service', { id: 'web' })).json;
      t.equal(web.state, 'running');
      t.match(web.spec.executable, /sleeper\.mjs/);
      t.ok(web.events.length > 0, 'with recent events');
      const graph = (await call(client, 'dependency_graph')).json;
      t.same(graph.start_order, [['base', 'idle'], ['web']]);
      t.same(graph.services.find((s: { id: string }) => s.id === 'base').dependents, ['web']);

      const tail = await until(async () => { const a = (await call(client, 'tail_logs', { id: 'web' })).json; return a.count > 0 && a; }, 'web log lines');
      t.match(tail.lines[0], /\[stdout\] sleeper web up/);
      t.match((await call(client, 'search_logs', { id: 'web', text: 'web up', stream: 'stdout' })).json.lines, [/sleeper web up/]);
      t.equal((await call(client, 'search_logs', { id: 'web', regex: '^nothing like this$' })).json.count, 0);
      const events = (await call(client, 'list_events', { service: 'web', limit: 2 })).json;
      t.equal(events.count, 2);
      const after = (await call(client, 'list_events', { since: 0, limit: 1 })).json;
      t.equal(after.truncated, true, 'events paged from a seq');
      t.match(after.more, /since \d+/);

      // Field paths in errors.
      const badLimit = await call(client, 'list_services', { limit: 'ten' });
      t.equal(badLimit.isError, true);
      t.equal(badLimit.json.field, 'limit');
      t.match(badLimit.json.error, /limit: expected an integer/);
      const both = await call(client, 'search_logs', { id: 'web', text: 'a', regex: 'b' });
      t.equal(both.isError, true);
      t.match(both.json.error, /text: give text or regex/);
      const badSpec = await call(client, 'register_service', { id: 'bad', executable: 'true', restart_policy: { max_retries: -1 } });
      t.equal(badSpec.isError, true);
      t.equal(badSpec.json.field, 'restart_policy.max_retries', 'a nested field named by its path');
      const missing = await call(client, 'get_service', { id: 'nope' });
      t.equal(missing.isError, true);
      t.match(missing.json.error, /service "nope" not found/);

      // Resources, and a notification when a subscribed service changes state.
      const resources = await client.listResources();
      t.ok(resources.resources.some((r) => r.uri === 'orchestrator://services/idle/spec'));
      t.ok(resources.resources.some((r) => r.uri === 'orchestrator://services/web/logs'));
      const logs = await client.readResource({ uri: 'orchestrator://services/web/logs' });
      t.match((logs.contents[0] as { text: string }).text, /sleeper web up/);
      const updated: string[] = [];
      client.setNotificationHandler(ResourceUpdatedNotificationSchema, (n) => { updated.push(n.params.uri); });
      await client.subscribeResource({ uri: 'orchestrator://services/idle/spec' });

      const started = (await call(client, 'start_service', { id: 'idle' })).json;
      t.match(started.state, /starting|running/);
      const pid = await until(async () => { const s = (await call(client, 'get_service', { id: 'idle' })).json; return s.state === 'running' && s.pid; }, 'idle running');
      t.ok(running(pid), `the process ${pid} really runs`);
      await until(() => updated.includes('orchestrator://services/idle/spec'), 'resources/updated for idle');
      t.pass('resources/updated arrived over the session stream');
      const spec = await client.readResource({ uri: 'orchestrator://services/idle/spec' });
      t.match(JSON.parse((spec.contents[0] as { text: string }).text), { id: 'idle', state: 'running', pid });

      t.match((await call(client, 'restart_service', { id: 'idle' })).json, { id: 'idle' });
      const pid2 = await until(async () => { const s = (await call(client, 'get_service', { id: 'idle' })).json; return s.state === 'running' && s.pid !== pid && s.pid; }, 'idle restarted');
      t.ok(running(pid2));
      t.match((await call(client, 'stop_service', { id: 'idle' })).json, { id: 'idle' });
      await until(() => !running(pid2), 'idle stopped');

      // admin: register, update, remove.
      const reg1 = (await call(client, 'register_service', { id: 'extra', executable: sleeper, environment: { MODE: 1 } })).json;
      t.equal(reg1.created, true);
      const extraPid = await until(async () => { const s = (await call(client, 'get_service', { id: 'extra' })).json; return s.state === 'running' && s.pid; }, 'extra running');
      t.ok(running(extraPid));
      const upd = (await call(client, 'update_service', { id: 'extra', environment: { MODE: 2 } })).json;
      t.equal(upd.restarted, true, 'an environment change restarts');
      t.equal(upd.spec.environment.MODE, '2');
      const fileUpdate = await call(client, 'update_service', { id: 'web', auto_start: false });
      t.equal(fileUpdate.isError, true);
      t.match(fileUpdate.json.error, /defined in/, 'a file service is changed in its file');
      t.same((await call(client, 'remove_service', { id: 'extra' })).json, { id: 'extra', removed: true });
      t.equal((await call(client, 'get_service', { id: 'extra' })).isError, true, 'gone');
      const reload = (await call(client, 'reload_config')).json;
      t.same(reload.added, []);
      t.same(errors, [], 'no client errors');
    });

    t.test('DELETE ends the session', async (t) => {
      const { client, transport } = await httpClient(t, orch.url, KEY);
      const id = transport.sessionId!;
      t.ok(id);
      await transport.terminateSession();
      const after = await fetch(`${orch.url}/mcp`, { method: 'POST', headers: { 'x-api-key': KEY, 'mcp-session-id': id, 'content-type': 'application/json', accept: 'application/json, text/event-stream' }, body: JSON.stringify({ jsonrpc: '2.0', id: 5, method: 'tools/list' }) });
      t.equal(after.status, 404, 'an ended session is not found');
      await client.close();
    });
  });
}
