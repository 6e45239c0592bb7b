/**
 * Scopes over MCP, with keys of each scope (api.keys): tools/list shows only what a key may use,
 * a tool beyond its scope is refused when called anyway, a change is recorded with the key's name
 * as actor, and a session stays bound to the key that opened it. Over HTTP and over stdio
 * (which learns its scopes from GET /api/whoami).
 */
import t from 'tap';
import { FIXTURES, startOrchestrator, until } from '../helpers/process.mjs';
import { ADMIN_TOOLS, call, httpClient, OPERATE_TOOLS, READ_TOOLS, running, stdioClient } from './lib.js';

const KEYS = { reader: 'reader-key-0123456789', operator: 'operator-key-0123456789', boss: 'boss-key-0123456789' };
const sleeper = `${process.execPath} ${FIXTURES}/sleeper.mjs`;
const sorted = (names: string[]) => [...names].sort();

t.test('tools by scope', async (t) => {
  const orch = await startOrchestrator({
    config: {
      api: {
        rate_limit: 0,
        keys: [
          { name: 'reader', key: KEYS.reader, scopes: ['read'] },
          { name: 'operator', key: KEYS.operator, scopes: ['operate'] },
          { name: 'boss', key: KEYS.boss, scopes: ['admin'] },
        ],
      },
    },
    services: { idle: { id: 'idle', executable: sleeper, auto_start: false } },
  });
  t.teardown(() => orch.stop());
  const expected = {
    reader: sorted(READ_TOOLS),
    operator: sorted([...READ_TOOLS, ...OPERATE_TOOLS]),
    boss: sorted([...READ_TOOLS, ...OPERATE_TOOLS, ...ADMIN_TOOLS]),
  };

  t.test('over HTTP', async (t) => {
    const reader = await httpClient(t, orch.url, KEYS.reader);
    const operator = await httpClient(t, orch.url, KEYS.operator);
    const boss = await httpClient(t, orch.url, KEYS.boss);
    for (const [name, c] of Object.entries({ reader, operator, boss })) {
      t.same((await c.client.listTools()).tools.map((x) => x.name).sort(), expected[name as keyof typeof expected], `${name} sees its tools`);
    }
    const refused = await call(reader.client, 'start_service', { id: 'idle' });
    t.equal(refused.isError, true, 'a read key calling an operate tool is refused');
    t.match(refused.json.error, /start_service needs the operate scope; the key "reader" has read/);
    t.equal((await call(operator.client, 'register_service', { id: 'x', executable: 'true' })).isError, true, 'operate may not register');

    t.match((await call(operator.client, 'start_service', { id: 'idle' })).json, { id: 'idle' });
    const pid = await until(async () => { const s = (await call(reader.client, 'get_service', { id: 'idle' })).json; return s.state === 'running' && s.pid; }, 'idle running');
    t.ok(running(pid));
    const events = (await call(reader.client, 'list_events', { service: 'idle', limit: 50 })).json.events as Array<{ type: string; data: { actor?: string; command?: string } }>;
    t.ok(events.some((e) => e.type === 'command' && e.data.command === 'start' && e.data.actor === 'operator'), 'the start is recorded with the key\'s name');

    t.equal((await call(boss.client, 'register_service', { id: 'extra', executable: sleeper, auto_start: false })).json.created, true, 'admin registers');
    await call(boss.client, 'remove_service', { id: 'extra' });

    // A session is bound to the key that opened it.
    const sid = reader.transport.sessionId!;
    const hijack = await fetch(`${orch.url}/mcp`, {
      method: 'POST',
      headers: { 'x-api-key': KEYS.boss, 'mcp-session-id': sid, 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 7, method: 'tools/list' }),
    });
    t.equal(hijack.status, 403, 'another key presenting the session id is refused');
    t.match(await hijack.text(), /belongs to another API key/);
    t.ok((await reader.client.listTools()).tools.length, 'the owner goes on');
    await call(operator.client, 'stop_service', { id: 'idle' });
    await until(() => !running(pid), 'idle stopped');
  });

  t.test('over stdio', async (t) => {
    for (const name of ['reader', 'operator'] as const) {
      const c = await stdioClient(t, { ORCHESTRATOR_URL: orch.url, ORCHESTRATOR_API_KEY: KEYS[name] });
      t.same((await c.client.listTools()).tools.map((x) => x.name).sort(), expected[name], `${name} sees its tools`);
      const r = await call(c.client, 'remove_service', { id: 'idle' });
      t.equal(r.isError, true, `${name} may not remove`);
      t.match(r.json.error, /needs the admin scope/);
      await c.client.close();
    }
  });
});
