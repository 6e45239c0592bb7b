/**
 * Both HTTP engines, side by side in one run: native uWebSockets.js (where a binary for this Node
 * and libc loads) and Node's http + ws (everywhere). The same requests get the same answers —
 * request size limits before any handler, HEAD, errors, the /ws handshake and feed — and the
 * choice itself is told: /health names the engine, `uws` asked for where it cannot load is refused
 * with the reason.
 */
import { execFile } from 'node:child_process';
import { connect } from 'node:net';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { loadOrchestratorConfig, ConfigError } from '../../src/config/load.js';
import { createEngine } from '../../src/http/engine/index.js';
import { LIMITS } from '../../src/http/engine/types.js';
import { load } from '../../src/http/engine/uws.js';
import { harness, node } from '../helpers/harness.js';
import { errorShape, refusedUpgrade, req, WsClient } from './lib.js';

// This file picks each engine itself: an engine forced for the whole run (CI's node-engine pass)
// must not override that choice.
delete process.env.ORCHESTRATOR_HTTP_ENGINE;

const native = load();
const engines = native.uws ? (['uws', 'node'] as const) : (['node'] as const);
t.comment(native.uws ? `native uWS: ${native.from}` : `no native uWS here: ${native.reason}`);

/** Send raw bytes and read until the server closes or answers one status line. */
function rawExchange(port: number, request: string | Buffer): Promise<{ status: number | null; closed: boolean }> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    let got = '';
    let done = false;
    const finish = (closed: boolean) => {
      if (done) return;
      done = true;
      s.destroy();
      const m = /^HTTP\/1\.1 (\d{3})/.exec(got);
      resolve({ status: m ? Number(m[1]) : null, closed });
    };
    s.on('data', (d) => { got += d.toString('latin1'); if (/\r\n\r\n/.test(got)) finish(false); });
    s.on('error', () => finish(true));
    s.on('close', () => finish(true));
    s.write(request, () => { /* written */ });
  });
}

for (const engine of engines) {
  t.test(`engine ${engine}`, async (t) => {
    const h = await harness(t, {
      http: true,
      config: { orchestrator: { http_engine: engine } },
      services: { web: { id: 'web', executable: node('healthy.mjs'), auto_start: false } },
    });
    const url = h.url;
    const port = Number(new URL(url).port);

    t.test('/health names the engine', async (t) => {
      const a = await req(url, '/health');
      t.equal(a.status, 200);
      t.equal(a.json.engine, engine);
      t.equal(h.http!.engine, engine);
      const head = await req(url, '/health', { method: 'HEAD' });
      t.equal(head.status, 200, 'HEAD answers');
      t.equal(head.text, '', 'without a body');
      t.ok(Number(head.headers['content-length']) > 0, 'with the length GET would have');
    });

    t.test('a request target over 8 KB → 414, header lines over 16 KB → 431, before any handler', async (t) => {
      const longQuery = 'x='.concat('a'.repeat(LIMITS.maxUrlBytes));
      errorShape(t, await req(url, `/api/services?${longQuery}`), 414, 'uri_too_long');
      errorShape(t, await req(url, `/${'p'.repeat(LIMITS.maxUrlBytes)}`), 414, 'uri_too_long');
      // Just under both limits is served.
      t.equal((await req(url, `/api/services?x=${'a'.repeat(LIMITS.maxUrlBytes - 100)}`)).status, 200, 'a 8 KB - 100 target is fine');
      t.equal((await req(url, '/health', { headers: { 'x-pad': 'h'.repeat(LIMITS.maxHeaderBytes - 1024) } })).status, 200, '15 KB of headers is fine');
      errorShape(t, await req(url, '/health', { headers: { 'x-pad': 'h'.repeat(LIMITS.maxHeaderBytes) } }), 431, 'headers_too_large');
      // Many small headers count together.
      const many: Record<string, string> = {};
      for (let i = 0; i < 40; i++) many[`x-pad-${i}`] = 'h'.repeat(500);
      errorShape(t, await req(url, '/health', { headers: many }), 431, 'headers_too_large');
      // A mutation with oversized headers is refused before it runs.
      const post = await req(url, '/api/services', { method: 'POST', headers: { 'x-pad': 'h'.repeat(20_000) }, body: { id: 'never', executable: 'true' } });
      errorShape(t, post, 431, 'headers_too_large');
      t.equal((await req(url, '/api/services/never')).status, 404, 'the handler never ran');
    });

    t.test('far past the limits the connection is refused, and the server stays healthy', async (t) => {
      for (const size of [64 * 1024, 256 * 1024, 1024 * 1024]) {
        const r = await rawExchange(port, `GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Pad: ${'h'.repeat(size)}\r\n\r\n`);
        t.ok(r.status === 431 || (r.status === null && r.closed), `${size / 1024} KB of headers: ${r.status ?? 'closed'}`);
        const u = await rawExchange(port, `GET /${'u'.repeat(size)} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`);
        t.ok(u.status === 414 || u.status === 431 || (u.status === null && u.closed), `${size / 1024} KB target: ${u.status ?? 'closed'}`);
        t.equal((await req(url, '/health')).status, 200, 'still healthy');
      }
    });

    t.test('errors, routing and bodies are the same', async (t) => {
      errorShape(t, await req(url, '/api/nothing'), 404, 'not_found');
      const wrong = await req(url, '/api/services/web/start', { method: 'GET' });
      errorShape(t, wrong, 405, 'method_not_allowed');
      t.equal(wrong.headers.allow, 'PUT');
      errorShape(t, await req(url, '/api/services', { method: 'POST', body: '{"id":', headers: { 'content-type': 'application/json' } }), 400, 'bad_request');
      errorShape(t, await req(url, '/api/services', { method: 'POST', body: 'id=x', headers: { 'content-type': 'text/plain' } }), 415, 'unsupported_media_type');
      errorShape(t, await req(url, '/api/services', { method: 'POST', body: Buffer.alloc(1024 * 1024 + 10, 0x20).toString(), headers: { 'content-type': 'application/json' }, chunked: true }), 413, 'too_large');
      errorShape(t, await req(url, '/health', { headers: { host: 'evil.example' } }), 421, 'forbidden');
      const put = await req(url, '/api/services/web/start', { method: 'PUT' });
      t.equal(put.status, 202, 'a command is accepted');
      await h.waitView('web', (v) => v.state === 'running', 'web running');
      const stop = await req(url, '/api/services/web/stop', { method: 'PUT' });
      t.equal(stop.status, 202);
      await h.waitView('web', (v) => v.state === 'stopped', 'web stopped');
      const page = await req(url, '/', { headers: { 'accept-encoding': 'gzip' } });
      t.equal(page.status, 200, 'the dashboard page');
      t.match(String(page.headers['content-type']), /text\/html/);
    });

    t.test('/ws: the handshake is checked the same way, and the feed flows', async (t) => {
      const foreign = await refusedUpgrade(url, '/ws', { origin: 'http://evil.example' });
      t.equal(foreign.status, 403, 'foreign Origin refused');
      t.equal(foreign.json?.error?.code, 'forbidden');
      const big = await refusedUpgrade(url, '/ws', { 'x-pad': 'h'.repeat(LIMITS.maxHeaderBytes) });
      t.equal(big.status, 431, 'oversized upgrade refused');
      const c = await WsClient.open(url, '/ws', { protocols: ['orchestrator.v1'] });
      t.teardown(() => c.ws.close());
      t.equal(c.ws.protocol, 'orchestrator.v1', 'the offered protocol is chosen');
      const hello = await c.next((m) => m.type === 'hello');
      await c.next((m) => m.type === 'snapshot');
      await req(url, '/api/services/web/start', { method: 'PUT' });
      const ev = await c.next((m) => m.type === 'event' && m.event.service === 'web' && m.event.data?.to === 'running', 'web running event');
      t.ok(ev.event.seq > hello.seq, 'numbered after hello');
      c.send({ type: 'subscribe', topics: ['logs/web'] });
      t.same((await c.next((m) => m.type === 'subscribed')).topics.sort(), ['logs/web', 'services']);
      await req(url, '/api/services/web/stop', { method: 'PUT' });
      await c.next((m) => m.type === 'event' && m.event.service === 'web' && m.event.data?.to === 'stopped', 'web stopped event');
    });
  });
}

t.test('ORCHESTRATOR_HTTP_ENGINE overrides the file and is checked', async (t) => {
  t.equal(loadOrchestratorConfig(undefined, {}).orchestrator.http_engine, 'auto', 'default auto');
  t.equal(loadOrchestratorConfig(undefined, { ORCHESTRATOR_HTTP_ENGINE: 'node' }).orchestrator.http_engine, 'node');
  let err: unknown;
  try { loadOrchestratorConfig(undefined, { ORCHESTRATOR_HTTP_ENGINE: 'fast' }); } catch (e) { err = e; }
  t.ok(err instanceof ConfigError, 'a bad value is a configuration error');
  t.match((err as Error).message, /environment ORCHESTRATOR_HTTP_ENGINE: expected one of auto, uws, node, got "fast"/);
});

t.test('the node engine and its `ws` module are loaded only when that engine is taken', async (t) => {
  const fixture = fileURLToPath(new URL('../fixtures/engine-modules.ts', import.meta.url));
  type Loaded = { engine: string; ws: boolean };
  const run = (wanted: string) => new Promise<Loaded>((resolve, reject) => {
    execFile(process.execPath, [...process.execArgv, fixture, wanted], (err, stdout) => (err ? reject(err) : resolve(JSON.parse(stdout) as Loaded)));
  });
  const auto = await run('auto');
  t.equal(auto.engine, native.uws ? 'uws' : 'node', 'auto takes what loads here');
  t.equal(auto.ws, auto.engine === 'node', `ws loaded: ${auto.ws}, with engine ${auto.engine}`);
  t.same(await run('node'), { engine: 'node', ws: true }, 'the node engine brings ws');
});

t.test('auto takes native uWS where it loads, and says why not where it does not', async (t) => {
  const auto = await createEngine('auto');
  t.teardown(() => auto.engine.close());
  if (native.uws) {
    t.equal(auto.engine.name, 'uws');
    t.match(auto.reason, /native uWebSockets\.js from .*\.node$/);
    const forced = await createEngine('uws');
    t.equal(forced.engine.name, 'uws');
    forced.engine.close();
  } else {
    t.equal(auto.engine.name, 'node');
    t.match(auto.reason, new RegExp(`no native uWebSockets\\.js for Node ${process.version.replace(/\./g, '\\.')}`));
    await t.rejects(createEngine('uws'), /http_engine: uws was asked for, but no native uWebSockets\.js/);
  }
  const n = await createEngine('node');
  t.equal(n.engine.name, 'node');
  n.engine.close();
});
