/**
 * Security and limits over real connections: API key (every way to present it, and /health open),
 * Host against DNS rebinding, CORS and Origin on mutations and /ws, JSON-only bodies, the 1 MB
 * body limit, and the per-client rate limit with Retry-After.
 */
import t from 'tap';
import { harness, node } from '../helpers/harness.js';
import { errorShape, refusedUpgrade, req, WsClient } from './lib.js';

const KEY = 'k3y-for-tests-0123456789';

t.test('API key: every /api, /metrics and /ws request needs it; /health stays open', async (t) => {
  const h = await harness(t, { http: true, config: { api: { api_key: KEY, cors_origins: [], rate_limit: 0 } } });
  const url = h.url;

  const health = await req(url, '/health');
  t.equal(health.status, 200, '/health without a key');
  t.equal(health.json.status, 'ok');

  for (const path of ['/api/services', '/metrics', '/api/events', '/api/openapi.json', '/api/services/x']) {
    const missing = await req(url, path);
    errorShape(t, missing, 401, 'unauthorized');
    t.match(missing.json.error.message, /X-API-Key/, 'says how to send the key');
    errorShape(t, await req(url, path, { headers: { 'x-api-key': 'wrong' } }), 401, 'unauthorized');
    errorShape(t, await req(url, path, { headers: { 'x-api-key': `${KEY}x` } }), 401, 'unauthorized');
    errorShape(t, await req(url, path, { headers: { authorization: `Bearer ${KEY.slice(0, -1)}` } }), 401, 'unauthorized');
    errorShape(t, await req(url, path, { headers: { authorization: `Basic ${KEY}` } }), 401, 'unauthorized');
  }
  t.equal((await req(url, '/api/services', { headers: { 'x-api-key': KEY } })).status, 200, 'X-API-Key');
  t.equal((await req(url, '/api/services', { headers: { authorization: `Bearer ${KEY}` } })).status, 200, 'Authorization: Bearer');
  t.equal((await req(url, '/metrics', { headers: { authorization: `bearer ${KEY}` } })).status, 200, 'scheme is case-insensitive');

  // Mutations are refused before the body is even looked at.
  const post = await req(url, '/api/services', { method: 'POST', body: { id: 'sneaky', executable: node('sleeper.mjs') } });
  errorShape(t, post, 401, 'unauthorized');
  errorShape(t, await req(url, '/api/reload', { method: 'POST' }), 401, 'unauthorized');
  t.notOk(h.o.fleet.has('sneaky'), 'nothing registered without the key');
  const ok = await req(url, '/api/services', { method: 'POST', headers: { 'x-api-key': KEY }, body: { id: 'legit', executable: node('sleeper.mjs'), auto_start: false } });
  t.equal(ok.status, 201, 'with the key');

  // /ws: query parameter, subprotocol or header; otherwise 401.
  const noKey = await refusedUpgrade(url, '/ws');
  t.equal(noKey.status, 401, '/ws without a key');
  t.equal(noKey.json?.error?.code, 'unauthorized');
  t.equal((await refusedUpgrade(url, '/ws?api_key=wrong')).status, 401, '/ws with a wrong key');
  t.equal((await refusedUpgrade(url, '/ws', { 'sec-websocket-protocol': 'orchestrator.v1, api-key.wrong' })).status, 401, 'wrong key as subprotocol');

  for (const [how, path, init] of [
    ['query parameter', `/ws?api_key=${KEY}`, {}],
    ['subprotocol', '/ws', { protocols: ['orchestrator.v1', `api-key.${KEY}`] }],
    ['X-API-Key header', '/ws', { headers: { 'x-api-key': KEY } }],
  ] as const) {
    const c = await WsClient.open(url, path, init);
    const hello = await c.next((m) => m.type === 'hello', 'hello');
    t.type(hello.seq, 'number', `/ws with the key as ${how}`);
    if (how === 'subprotocol') t.equal(c.ws.protocol, 'orchestrator.v1', 'the server picks orchestrator.v1, not the key');
    await c.close();
  }
});

t.test('Host header: only the bind address, localhost and configured names (DNS rebinding)', async (t) => {
  const h = await harness(t, { http: true, config: { orchestrator: { allowed_hosts: ['orchestrator.internal'] } } });
  const url = h.url;
  const port = new URL(url).port;
  for (const host of ['evil.example', `evil.example:${port}`, 'localhost.evil.example', `127.0.0.1.nip.io:${port}`]) {
    for (const path of ['/api/services', '/health', '/metrics']) {
      const a = await req(url, path, { headers: { host } });
      errorShape(t, a, 421, 'forbidden');
      t.match(a.json.error.message, new RegExp(`Host "${host.replace(/\./g, '\\.')}" is not served here`), 'names the refused Host');
      t.match(a.json.error.message, /DNS rebinding/, 'says why');
      t.match(a.json.error.message, /add the name to orchestrator\.allowed_hosts/, 'and how to allow it');
    }
  }
  const post = await req(url, '/api/services', { method: 'POST', headers: { host: 'evil.example' }, body: { id: 'rebind', executable: node('sleeper.mjs') } });
  t.equal(post.status, 421, 'a mutation through a rebound name is refused');
  t.notOk(h.o.fleet.has('rebind'));
  t.equal((await refusedUpgrade(url, '/ws', { host: 'evil.example' })).status, 421, '/ws through a rebound name');

  for (const host of [`localhost:${port}`, `127.0.0.1:${port}`, 'localhost', `orchestrator.internal:${port}`, 'ORCHESTRATOR.internal', `[::1]:${port}`]) {
    t.equal((await req(url, '/api/services', { headers: { host } })).status, 200, `Host ${host} is served`);
  }
});

t.test('CORS, Origin on mutations and /ws, JSON-only bodies', async (t) => {
  const allowed = 'http://localhost:3000';
  const foreign = 'http://evil.example';
  const h = await harness(t, { http: true, config: { api: { cors_origins: [allowed], api_key: null, rate_limit: 0 } }, services: { svc: { id: 'svc', executable: node('sleeper.mjs'), auto_start: false } } });
  const url = h.url;
  const self = `http://127.0.0.1:${new URL(url).port}`;

  t.test('CORS headers and preflight', async (t) => {
    const a = await req(url, '/api/services', { headers: { origin: allowed } });
    t.equal(a.status, 200);
    t.equal(a.headers['access-control-allow-origin'], allowed, 'allowed origin is echoed');
    t.match(a.headers.vary, /Origin/);
    const b = await req(url, '/api/services', { headers: { origin: foreign } });
    t.equal(b.headers['access-control-allow-origin'], undefined, 'a foreign origin gets no CORS header');

    const pre = await req(url, '/api/services', { method: 'OPTIONS', headers: { origin: allowed, 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type' } });
    t.equal(pre.status, 204, 'preflight from an allowed origin');
    t.equal(pre.headers['access-control-allow-origin'], allowed);
    t.match(pre.headers['access-control-allow-methods'], /POST/);
    t.match(pre.headers['access-control-allow-methods'], /PATCH/);
    t.match(pre.headers['access-control-allow-headers'], /content-type/);
    t.match(pre.headers['access-control-allow-headers'], /x-api-key/);
    const preBad = await req(url, '/api/services/svc/start', { method: 'OPTIONS', headers: { origin: foreign, 'access-control-request-method': 'PUT' } });
    errorShape(t, preBad, 403, 'forbidden');
    t.equal(preBad.headers['access-control-allow-origin'], undefined);
  });

  t.test('a foreign Origin cannot mutate', async (t) => {
    const post = await req(url, '/api/services', { method: 'POST', headers: { origin: foreign }, body: { id: 'csrf', executable: node('sleeper.mjs') } });
    errorShape(t, post, 403, 'forbidden');
    t.match(post.json.error.message, /Origin http:\/\/evil\.example is not allowed/);
    t.notOk(h.o.fleet.has('csrf'), 'nothing registered');
    errorShape(t, await req(url, '/api/services/svc/start', { method: 'PUT', headers: { origin: foreign } }), 403, 'forbidden');
    t.equal(h.view('svc').want, 'down', 'the service was not started');
    errorShape(t, await req(url, '/api/services/svc', { method: 'DELETE', headers: { origin: foreign } }), 403, 'forbidden');
    errorShape(t, await req(url, '/api/reload', { method: 'POST', headers: { origin: foreign } }), 403, 'forbidden');
    errorShape(t, await req(url, '/api/services', { method: 'POST', headers: { origin: 'null' }, body: { id: 'csrf', executable: 'x' } }), 403, 'forbidden', undefined);
    t.ok(h.o.fleet.has('svc'), 'not removed');

    const fromAllowed = await req(url, '/api/services', { method: 'POST', headers: { origin: allowed }, body: { id: 'from-ui', executable: node('sleeper.mjs'), auto_start: false } });
    t.equal(fromAllowed.status, 201, 'a configured origin may');
    t.equal(fromAllowed.headers['access-control-allow-origin'], allowed);
    const fromSelf = await req(url, '/api/services/from-ui/start', { method: 'PUT', headers: { origin: self } });
    t.equal(fromSelf.status, 202, 'the dashboard served from this very server may');
  });

  t.test('/ws refuses a foreign Origin', async (t) => {
    const refused = await refusedUpgrade(url, '/ws', { origin: foreign });
    t.equal(refused.status, 403);
    t.equal(refused.json?.error?.code, 'forbidden');
    t.notOk(refused.upgraded);
    for (const origin of [allowed, self]) {
      const ok = await refusedUpgrade(url, '/ws', { origin });
      t.equal(ok.status, 101, `Origin ${origin} may open /ws`);
    }
    const c = await WsClient.open(url, '/ws', { headers: { origin: allowed } });
    t.equal((await c.next((m) => m.type === 'hello')).type, 'hello', 'a browser-like client from an allowed origin gets the feed');
    await c.close();
  });

  t.test('mutations must be application/json', async (t) => {
    const body = JSON.stringify({ id: 'plain', executable: node('sleeper.mjs') });
    for (const type of ['text/plain', 'text/plain;charset=UTF-8', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x']) {
      const a = await req(url, '/api/services', { method: 'POST', headers: { 'content-type': type }, body });
      errorShape(t, a, 415, 'unsupported_media_type');
      t.match(a.json.error.message, /must be application\/json/);
    }
    errorShape(t, await req(url, '/api/services', { method: 'POST', body }), 415, 'unsupported_media_type');
    errorShape(t, await req(url, '/api/services/from-ui', { method: 'PATCH', headers: { 'content-type': 'text/plain' }, body: '{"name":"x"}' }), 415, 'unsupported_media_type');
    t.notOk(h.o.fleet.has('plain'), 'a text/plain POST registered nothing');
    const charset = await req(url, '/api/services', { method: 'POST', headers: { 'content-type': 'application/json; charset=utf-8' }, body });
    t.equal(charset.status, 201, 'application/json with a charset');
    const merge = await req(url, '/api/services/plain', { method: 'PATCH', headers: { 'content-type': 'application/merge-patch+json' }, body: '{"name":"Plain"}' });
    t.equal(merge.status, 200, 'application/merge-patch+json');
    t.equal(merge.json.name, 'Plain');
  });
});

t.test('request bodies over 1 MB get 413; the server stays up', async (t) => {
  const h = await harness(t, { http: true });
  const url = h.url;
  const big = JSON.stringify({ id: 'big', executable: 'x', name: 'n'.repeat(1024 * 1024) });
  const declared = await req(url, '/api/services', { method: 'POST', body: big, headers: { 'content-type': 'application/json' } });
  errorShape(t, declared, 413, 'too_large');
  const chunked = await req(url, '/api/services', { method: 'POST', body: big, chunked: true, headers: { 'content-type': 'application/json' } });
  errorShape(t, chunked, 413, 'too_large');
  const patch = await req(url, '/api/services/any', { method: 'PATCH', body: big, chunked: true, headers: { 'content-type': 'application/json' } });
  errorShape(t, patch, 413, 'too_large');
  t.notOk(h.o.fleet.has('big'));

  // Just under the limit is read and judged on its content.
  const under = JSON.stringify({ id: 'under', executable: node('sleeper.mjs'), auto_start: false, name: 'n'.repeat(1024 * 1024 - 200 - node('sleeper.mjs').length) });
  t.ok(Buffer.byteLength(under) <= 1024 * 1024);
  const ok = await req(url, '/api/services', { method: 'POST', body: under, chunked: true, headers: { 'content-type': 'application/json' } });
  t.equal(ok.status, 201, 'a body just under 1 MB is accepted');
  t.equal((await req(url, '/health')).status, 200, 'still serving');
});

t.test('rate limit: per client, 429 with Retry-After; /health is not limited', async (t) => {
  const h = await harness(t, { http: true, config: { api: { rate_limit: 60, cors_origins: [], api_key: null } } });
  const url = h.url;
  let allowed = 0;
  let refused: Awaited<ReturnType<typeof req>> | undefined;
  const began = Date.now();
  for (let i = 0; i < 200 && !refused; i++) {
    const a = await req(url, i % 2 ? '/api/services' : '/metrics');
    if (a.status === 200) allowed++;
    else refused = a;
  }
  t.ok(refused, 'refused after a while');
  // The bucket refills at one token per second while the burst runs.
  const refill = Math.ceil((Date.now() - began) / 1000);
  t.ok(allowed >= 60 && allowed <= 60 + refill, `a full bucket of 60 first, plus what refilled in ${refill}s (got ${allowed})`);
  errorShape(t, refused!, 429, 'rate_limited');
  const retryAfter = Number(refused!.headers['retry-after']);
  t.ok(Number.isInteger(retryAfter) && retryAfter >= 1 && retryAfter <= 2, `Retry-After in whole seconds (${refused!.headers['retry-after']})`);
  t.match(refused!.json.error.message, /60 requests per minute/);

  t.equal((await req(url, '/health')).status, 200, '/health is open while limited');
  errorShape(t, await req(url, '/api/services', { method: 'POST', body: { id: 'x', executable: 'x' } }), 429, 'rate_limited');
  const ws = await refusedUpgrade(url, '/ws');
  t.equal(ws.status, 429, '/ws upgrades count too');
  t.equal(ws.json?.error?.code, 'rate_limited');
  t.match(ws.headers['retry-after'], /^\d+$/, 'with Retry-After');

  // Retry-After is honest: a request succeeds again within it (polled, with a deadline).
  const started = Date.now();
  let status = 0;
  while (status !== 200 && Date.now() - started < retryAfter * 1000 + 3000) {
    status = (await req(url, '/api/services')).status;
    if (status !== 200) await new Promise((r) => setTimeout(r, 100));
  }
  t.equal(status, 200, 'allowed again');
  t.ok(Date.now() - started <= retryAfter * 1000 + 1000, `within Retry-After, give or take a poll (${Date.now() - started} ms)`);
});
