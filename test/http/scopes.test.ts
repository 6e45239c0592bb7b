/**
 * API keys with scopes (api.keys): every route the server registers, against a key of each scope,
 * the single api.api_key, no key and a wrong one — a table that must name every route, so a new
 * route cannot be added without deciding who may call it. Then: mutations are events with the
 * key's name (`actor`), queryable; a secret never shows in a response, an event or the log; and
 * the configuration's mistakes point at their line.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { apiRoutes } from '../../src/http/routes.js';
import { ConfigError, formatProblem, loadOrchestratorConfig } from '../../src/config/load.js';
import { harness, node } from '../helpers/harness.js';
import { errorShape, refusedUpgrade, req, WsClient, type RequestOptions } from './lib.js';

type Scope = 'read' | 'operate' | 'admin';
const RANK: Record<Scope, number> = { read: 0, operate: 1, admin: 2 };

/** The keys under test: name → secret and the one scope it is given. */
const KEYS: Record<string, { key: string; scope: Scope }> = {
  reader: { key: 'read-key-0123456789abcdef', scope: 'read' },
  operator: { key: 'operate-key-0123456789abcdef', scope: 'operate' },
  ops_admin: { key: 'admin-key-0123456789abcdef', scope: 'admin' },
  api_key: { key: 'single-api-key-0123456789', scope: 'admin' }, // api.api_key: every scope
};
const ROOT = KEYS.api_key!.key;

/** A request against a route; `target` is a service made for this one call when the route changes or removes one. */
interface Call { path: string; opts?: RequestOptions; ok: number }
/** What each route needs, and a call that succeeds with a key that has it. `fresh`: an API-registered service of its own. */
const ROUTES: Record<string, { scope: Scope | 'public'; fresh?: boolean; call: (id: string, who: string) => Call }> = {
  'get /health': { scope: 'public', call: () => ({ path: '/health', ok: 200 }) },
  'get /api/services': { scope: 'read', call: () => ({ path: '/api/services', ok: 200 }) },
  'get /api/services/{id}': { scope: 'read', call: () => ({ path: '/api/services/svc', ok: 200 }) },
  'get /api/services/{id}/logs': { scope: 'read', call: () => ({ path: '/api/services/svc/logs', ok: 200 }) },
  'get /api/services/{id}/metrics': { scope: 'read', call: () => ({ path: '/api/services/svc/metrics', ok: 200 }) },
  'get /api/services/{id}/events': { scope: 'read', call: () => ({ path: '/api/services/svc/events', ok: 200 }) },
  'get /api/services/{id}/runs': { scope: 'read', call: () => ({ path: '/api/services/svc/runs', ok: 200 }) },
  'get /api/events': { scope: 'read', call: () => ({ path: '/api/events', ok: 200 }) },
  'get /metrics': { scope: 'read', call: () => ({ path: '/metrics', ok: 200 }) },
  'get /api/whoami': { scope: 'read', call: () => ({ path: '/api/whoami', ok: 200 }) },
  'get /api/openapi.json': { scope: 'read', call: () => ({ path: '/api/openapi.json', ok: 200 }) },
  'get /api/export/{target}': { scope: 'read', call: () => ({ path: '/api/export/systemd', ok: 200 }) },
  'put /api/services/{id}/start': { scope: 'operate', call: () => ({ path: '/api/services/svc/start', opts: { method: 'PUT' }, ok: 202 }) },
  'put /api/services/{id}/stop': { scope: 'operate', call: () => ({ path: '/api/services/svc/stop', opts: { method: 'PUT' }, ok: 202 }) },
  'put /api/services/{id}/restart': { scope: 'operate', call: () => ({ path: '/api/services/svc/restart', opts: { method: 'PUT' }, ok: 202 }) },
  'post /api/reload': { scope: 'operate', call: () => ({ path: '/api/reload', opts: { method: 'POST' }, ok: 200 }) },
  // A service's own calls: its run token, or a key that may operate.
  'post /api/services/{id}/heartbeat': { scope: 'operate', call: () => ({ path: '/api/services/svc/heartbeat', opts: { method: 'POST', body: { progress: 1 } }, ok: 200 }) },
  'post /api/services/{id}/throttle': { scope: 'operate', call: () => ({ path: '/api/services/svc/throttle', opts: { method: 'POST', body: { retry_after_seconds: 5 } }, ok: 202 }) },
  'get /api/alerts': { scope: 'read', call: () => ({ path: '/api/alerts', ok: 200 }) },
  // Queued for a receiver that is not there: the 202 is the acceptance, delivery is tried later.
  'post /api/alerts/{name}/test': { scope: 'operate', call: () => ({ path: '/api/alerts/hook/test', opts: { method: 'POST' }, ok: 202 }) },
  'post /api/services': { scope: 'admin', call: (_id, who) => ({ path: '/api/services', opts: { method: 'POST', body: { id: `new-${who}`.replace(/_/g, '-'), executable: node('sleeper.mjs'), auto_start: false } }, ok: 201 }) },
  'patch /api/services/{id}': { scope: 'admin', fresh: true, call: (id) => ({ path: `/api/services/${id}`, opts: { method: 'PATCH', body: { name: 'patched' } }, ok: 200 }) },
  'delete /api/services/{id}': { scope: 'admin', fresh: true, call: (id) => ({ path: `/api/services/${id}`, opts: { method: 'DELETE' }, ok: 200 }) },
};

function config() {
  return {
    // A sink for the alert routes; port 9 (discard) on loopback: nothing answers, nothing is disturbed.
    alerts: [{ name: 'hook', type: 'webhook', url: 'http://127.0.0.1:9/hook', on: ['alert_test'], max_attempts: 1 }],
    api: {
      api_key: ROOT, rate_limit: 0, cors_origins: [],
      keys: Object.entries(KEYS).filter(([name]) => name !== 'api_key').map(([name, k]) => ({ name, key: k.key, scopes: [k.scope] })),
    },
  };
}

t.test('every route, against a key of each scope, api_key, no key and a wrong key', async (t) => {
  const h = await harness(t, { http: true, config: config(), services: { svc: { id: 'svc', executable: node('sleeper.mjs'), auto_start: false } } });
  const registered = apiRoutes(h.o.ports, h.http!.engine).map((r) => `${r.method === 'del' ? 'delete' : r.method} ${r.pattern.replace(/:([A-Za-z_]+)/g, '{$1}')}`);
  t.same(Object.keys(ROUTES).sort(), registered.sort(), 'the table names every registered route, and only those');

  let n = 0;
  const freshService = async () => {
    const id = `fresh-${++n}`;
    const made = await req(h.url, '/api/services', { method: 'POST', headers: { 'x-api-key': ROOT }, body: { id, executable: node('sleeper.mjs'), auto_start: false } });
    t.equal(made.status, 201, `made ${id}`);
    return id;
  };

  for (const [route, spec] of Object.entries(ROUTES)) {
    // No key and a wrong key: 401 (a public route answers anyway).
    for (const [who, headers] of [['no key', {}], ['a wrong key', { 'x-api-key': 'not-a-key-of-this-orchestrator' }]] as const) {
      const c = spec.call(spec.fresh ? await freshService() : 'svc', 'nobody');
      const a = await req(h.url, c.path, { ...c.opts, headers: { ...c.opts?.headers, ...headers } });
      if (spec.scope === 'public') t.equal(a.status, c.ok, `${route} with ${who}: ${c.ok}`);
      else errorShape(t, a, 401, 'unauthorized');
    }
    for (const [who, k] of Object.entries(KEYS)) {
      const id = spec.fresh ? await freshService() : 'svc';
      const c = spec.call(id, who);
      const a = await req(h.url, c.path, { ...c.opts, headers: { ...c.opts?.headers, authorization: `Bearer ${k.key}` } });
      if (spec.scope === 'public' || RANK[k.scope] >= RANK[spec.scope]) {
        t.equal(a.status, c.ok, `${route} with ${who} (${k.scope}): ${c.ok} (${a.text.slice(0, 200)})`);
      } else {
        errorShape(t, a, 403, 'forbidden');
        t.match(a.json.error.message, new RegExp(`"${who}".*${spec.scope}`), `${route} with ${who}: the 403 names the key and the scope it lacks`);
        if (spec.fresh) t.ok(h.o.fleet.has(id), `${route} refused to ${who}: ${id} is untouched`);
      }
    }
  }

  // /ws needs read: every key may follow the feed; without one, 401.
  t.equal((await refusedUpgrade(h.url, '/ws')).status, 401, '/ws without a key');
  for (const [who, k] of Object.entries(KEYS)) {
    const c = await WsClient.open(h.url, `/ws?api_key=${encodeURIComponent(k.key)}`);
    t.type((await c.next((m) => m.type === 'hello', 'hello')).seq, 'number', `/ws with ${who}`);
    await c.close();
  }

  // whoami: the name and the scopes a key has (each includes the ones before it).
  for (const [who, k] of Object.entries(KEYS)) {
    const me = await req(h.url, '/api/whoami', { headers: { 'x-api-key': k.key } });
    t.same(me.json, { name: who, scopes: ['read', 'operate', 'admin'].slice(0, RANK[k.scope] + 1) }, `whoami for ${who}`);
  }
});

t.test('mutations are events with the key\'s name; secrets are never shown or logged', async (t) => {
  const h = await harness(t, { http: true, config: config(), services: { svc: { id: 'svc', executable: node('sleeper.mjs'), auto_start: false } } });
  const as = (who: string) => ({ 'x-api-key': KEYS[who]!.key });
  t.equal((await req(h.url, '/api/services/svc/start', { method: 'PUT', headers: as('operator') })).status, 202);
  t.equal((await req(h.url, '/api/services', { method: 'POST', headers: as('ops_admin'), body: { id: 'made', executable: node('sleeper.mjs'), auto_start: false } })).status, 201);
  t.equal((await req(h.url, '/api/services/made', { method: 'PATCH', headers: as('ops_admin'), body: { name: 'x' } })).status, 200);
  t.equal((await req(h.url, '/api/services/made', { method: 'DELETE', headers: as('api_key') })).status, 200);
  t.equal((await req(h.url, '/api/reload', { method: 'POST', headers: as('operator') })).status, 200);
  const denied = await req(h.url, '/api/services/svc/stop', { method: 'PUT', headers: as('reader') });
  t.equal(denied.status, 403, 'a refused command changes nothing');

  const get = async (q: string) => (await req(h.url, `/api/events?${q}`, { headers: as('reader') })).json.events as Array<{ service: string | null; type: string; data: Record<string, unknown> }>;
  const commands = await get('type=command');
  t.same(commands.map((e) => [e.service, e.data.command, e.data.actor]), [['svc', 'start', 'operator']], 'one command event: the start, by operator (the refused stop is none)');
  const byAdmin = await get('actor=ops_admin');
  t.same(byAdmin.map((e) => [e.type, e.service]), [['registered', 'made'], ['updated', 'made']], 'what ops_admin did, by ?actor=');
  t.same((await get('actor=api_key&service=made')).map((e) => e.type), ['removed'], '?actor= and ?service= together');
  t.same((await get('type=reloaded')).map((e) => e.data.actor), ['operator'], 'the reload names its key');
  t.same(await get('actor=reader'), [], 'the reader changed nothing');
  const detail = await req(h.url, '/api/services/svc', { headers: as('reader') });
  t.ok(detail.json.events.some((e: { type: string; data: { actor?: string } }) => e.type === 'command' && e.data.actor === 'operator'), 'the service\'s own events show who commanded it');

  // Everything the orchestrator said or wrote: no secret anywhere.
  const all = JSON.stringify((await req(h.url, '/api/events?limit=1000', { headers: as('reader') })).json);
  const openapi = (await req(h.url, '/api/openapi.json', { headers: as('reader') })).text;
  const metrics = (await req(h.url, '/metrics', { headers: as('reader') })).text;
  await h.shutdown();
  const log = readFileSync(join(h.dir, 'logs', 'orchestrator.log'), 'utf8');
  t.ok(log.length > 0, 'the orchestrator log has lines');
  for (const [who, k] of Object.entries(KEYS)) {
    for (const [where, text] of [['events', all], ['the OpenAPI document', openapi], ['/metrics', metrics], ['the orchestrator log', log], ['a 403', denied.text]] as const) {
      t.notOk(text.includes(k.key), `${who}'s secret is not in ${where}`);
    }
  }
});

t.test('api.keys in the config: key_file and key_env; mistakes point at their line', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'orch-keys-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'ops.key'), 'from-a-file-0123456789\n');
  const file = join(dir, 'o.yaml');
  const load = (yaml: string, env: NodeJS.ProcessEnv = {}) => {
    writeFileSync(file, yaml);
    return loadOrchestratorConfig(file, env);
  };
  const ok = load([
    'api:',
    '  keys:',
    '    - { name: ci, key_file: ops.key, scopes: [operate] }',
    '    - { name: bot, key_env: BOT_KEY, scopes: [read, admin] }',
  ].join('\n'), { BOT_KEY: ' from-the-env \n' });
  t.same(ok.api.keys, [
    { name: 'ci', key: 'from-a-file-0123456789', scopes: ['operate'] },
    { name: 'bot', key: 'from-the-env', scopes: ['read', 'admin'] },
  ], 'secrets read from the file (next to the config) and the environment, trimmed');

  const problems = (yaml: string, env: NodeJS.ProcessEnv = {}) => {
    try {
      load(yaml, env);
    } catch (e) {
      if (e instanceof ConfigError) return e.problems.map(formatProblem);
      throw e;
    }
    return [];
  };
  const head = 'api:\n  keys:\n';
  t.match(problems(`${head}    - name: a\n      key_env: NOPE\n      scopes: [read]\n`), [/o\.yaml:4:7 api\.keys\[0\]\.key_env: environment variable NOPE is not set/]);
  t.match(problems(`${head}    - name: a\n      key_file: missing.key\n      scopes: [read]\n`), [/o\.yaml:4:7 api\.keys\[0\]\.key_file: cannot read key file .*missing\.key: ENOENT/]);
  t.match(problems(`${head}    - name: a\n      key: x1\n      key_env: K\n      scopes: [read]\n`, { K: 'y' }), [/o\.yaml:3:7 api\.keys\[0\]: give exactly one of key, key_file or key_env \(got key and key_env\)/]);
  t.match(problems(`${head}    - name: a\n      scopes: [read]\n`), [/api\.keys\[0\]: give exactly one of key, key_file or key_env$/]);
  t.match(problems(`${head}    - name: a\n      key: x1\n      scopes: [write]\n`), [/o\.yaml:5:\d+ api\.keys\[0\]\.scopes\[0\]: expected one of read, operate, admin, got "write"/]);
  t.match(problems(`${head}    - name: a\n      key: x1\n      scopes: []\n`), [/api\.keys\[0\]\.scopes: expected at least one scope/]);
  t.match(problems(`${head}    - { name: a, key: x1, scopes: [read] }\n    - { name: a, key: x2, scopes: [read] }\n`), [/o\.yaml:4:\d+ api\.keys\[1\]\.name: the key name "a" is already used by api\.keys\[0\]/]);
  t.match(problems(`${head}    - { name: a, key: same, scopes: [read] }\n    - { name: b, key: same, scopes: [admin] }\n`), [/o\.yaml:4:\d+ api\.keys\[1\]: the same secret as api\.keys\[0\]/]);
  t.match(problems(`${head}    - { name: a, key: x, scopes: [read], extra: 1 }\n`), [/o\.yaml:3:\d+ api\.keys\[0\]\.extra: unknown key "extra"/]);
  const secretShown = problems(`${head}    - { name: a, key: hunter2-secret, scopes: [write] }\n`).join('\n');
  t.notOk(secretShown.includes('hunter2-secret'), 'a problem never quotes the secret');
});
