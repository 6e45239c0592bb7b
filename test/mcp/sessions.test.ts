/**
 * /mcp sessions: at most mcp.max_sessions, an idle one expires (one with an open stream is not
 * idle), and an open SSE stream outlives uWS's 10-second HTTP idle timeout on keep-alive comments.
 */
import t from 'tap';
import { startOrchestrator, until } from '../helpers/process.mjs';
import { call, httpClient } from './lib.js';

const HEADERS = { 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'mcp-protocol-version': '2025-06-18' };
const INIT = { jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'raw', version: '1' } } };

t.test('session cap, idle expiry, a long-lived stream', async (t) => {
  const orch = await startOrchestrator({ config: { mcp: { max_sessions: 3, session_idle_seconds: 2 }, api: { rate_limit: 0 } } });
  t.teardown(() => orch.stop());
  const open = async () => {
    const r = await fetch(`${orch.url}/mcp`, { method: 'POST', headers: HEADERS, body: JSON.stringify(INIT) });
    await r.text();
    return { status: r.status, id: r.headers.get('mcp-session-id') };
  };
  const alive = async (id: string) => {
    const r = await fetch(`${orch.url}/mcp`, { method: 'POST', headers: { ...HEADERS, 'mcp-session-id': id }, body: JSON.stringify({ jsonrpc: '2.0', id: 9, method: 'ping' }) });
    await r.text();
    return r.status;
  };

  // A client holding its GET stream open: never idle.
  const { client } = await httpClient(t, orch.url);
  const a = await open();
  t.equal(a.status, 200);
  const b = await open();
  t.equal(b.status, 200);
  const refused = await fetch(`${orch.url}/mcp`, { method: 'POST', headers: HEADERS, body: JSON.stringify(INIT) });
  t.equal(refused.status, 503, 'the fourth session is refused');
  t.match(await refused.text(), /mcp\.max_sessions = 3/);
  t.equal(refused.headers.get('retry-after'), '60');

  // Asking a session would keep it alive: wait for a place to come free instead.
  await until(async () => (await open()).status === 200, { what: 'an idle session to expire', timeoutMs: 10_000 });
  t.pass('idle sessions expire and free their place');
  t.equal(await alive(a.id!), 404, 'an expired session is not found');
  t.equal(await alive(b.id!), 404);
  t.same((await call(client, 'list_services')).json.services, [], 'the session with an open stream did not expire');

  // The raw GET stream: keep-alive comments every 5 s keep it open past uWS's 10 s idle timeout.
  const c = await open();
  const stream = await fetch(`${orch.url}/mcp`, { headers: { accept: 'text/event-stream', 'mcp-session-id': c.id!, 'mcp-protocol-version': '2025-06-18' } });
  t.equal(stream.status, 200);
  t.match(stream.headers.get('content-type'), /text\/event-stream/);
  const reader = stream.body!.getReader();
  let text = '';
  const started = Date.now();
  let ended = false;
  // Read what comes until 11 s passed (each read waits for the next keep-alive, 5 s apart).
  while (Date.now() - started < 11_000) {
    const { value, done } = await reader.read();
    if (done) { ended = true; break; }
    text += Buffer.from(value).toString();
  }
  t.notOk(ended, 'the stream is still open after 11 s without a request');
  t.ok((text.match(/^:/gm) ?? []).length >= 2, `keep-alive comments came: ${JSON.stringify(text)}`);
  t.equal(await alive(c.id!), 200, 'and its session is alive (not idle while the stream is open)');
  await reader.cancel();
});
