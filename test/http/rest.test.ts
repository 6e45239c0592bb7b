/**
 * The REST API over real HTTP against a real orchestrator: the seed's endpoints, registration,
 * commands, PATCH/DELETE semantics, history, and every error answer with its status and shape.
 */
import t from 'tap';
import { alive, harness, node } from '../helpers/harness.js';
import { freePort } from '../helpers/process.mjs';
import { errorShape, req } from './lib.js';


t.test('REST API', async (t) => {
  const port = await freePort();
  const h = await harness(t, {
    http: true,
    config: { monitoring: { interval: 1, timeout: 1, enabled: true, sample_interval: 0.2 } },
    services: {
      web: { id: 'web', name: 'Web agent', executable: node('healthy.mjs'), health_endpoint: `http://127.0.0.1:${port}/health`, environment: { PORT: port } },
      idle: { id: 'idle', executable: node('sleeper.mjs'), auto_start: false },
    },
  });
  const url = h.url;
  await h.waitView('web', (v) => v.state === 'running' && v.health === 'healthy' && !!v.usage, 'web healthy and sampled');

  t.test('GET /health', async (t) => {
    const a = await req(url, '/health');
    t.equal(a.status, 200);
    t.equal(a.json.status, 'ok');
    t.equal(a.json.services.total, 2);
    t.equal(a.json.services.healthy, 1);
    t.same(a.json.services.by_state, { running: 1, stopped: 1 });
    t.equal(a.json.pid, process.pid);
    t.match(a.headers['content-type'], /^application\/json/);
  });

  t.test('GET /health follows the fleet at once and stamps every answer afresh (its body is reused only within a millisecond)', async (t) => {
    const before = await req(url, '/health');
    await req(url, '/api/services/idle/start', { method: 'PUT' });
    await h.waitView('idle', (v) => v.state === 'running', 'idle running');
    const during = await req(url, '/health');
    t.same(during.json.services.by_state, { running: 2 }, 'the start is counted in the very next answer');
    t.ok(Date.parse(during.json.timestamp) > Date.parse(before.json.timestamp), 'a later answer has a later timestamp');
    await req(url, '/api/services/idle/stop', { method: 'PUT' });
    await h.waitView('idle', (v) => v.state === 'stopped', 'idle stopped again');
    t.same((await req(url, '/health')).json.services.by_state, { running: 1, stopped: 1 }, 'and the stop in the next one');
  });

  t.test('GET /api/services lists every service; ?state filters', async (t) => {
    const a = await req(url, '/api/services');
    t.equal(a.status, 200);
    t.equal(a.json.count, 2);
    t.same(a.json.services.map((s: any) => s.id).sort(), ['idle', 'web']);
    const running = await req(url, '/api/services?state=running');
    t.same(running.json.services.map((s: any) => s.id), ['web']);
  });

  t.test('GET /api/services/{id}: spec, state, health, pid, uptime, restarts, usage, last exit, events', async (t) => {
    const a = await req(url, '/api/services/web');
    t.equal(a.status, 200);
    const s = a.json;
    t.equal(s.id, 'web');
    t.equal(s.name, 'Web agent');
    t.equal(s.spec.executable, node('healthy.mjs'), 'spec as configured');
    t.equal(s.spec.health_endpoint, `http://127.0.0.1:${port}/health`);
    t.equal(s.source, 'file');
    t.equal(s.state, 'running');
    t.equal(s.health, 'healthy');
    t.equal(s.pid, h.view('web').pid);
    t.ok(alive(s.pid), 'pid is a live process');
    t.type(s.uptime_seconds, 'number');
    t.ok(s.uptime_seconds >= 0);
    t.equal(s.restarts, 0);
    t.equal(s.last_exit, null, 'never exited yet');
    t.equal(s.health_check.endpoint, `http://127.0.0.1:${port}/health`);
    t.equal(s.health_check.last.ok, true, 'last probe result');
    t.type(s.health_check.last.latency_ms, 'number', 'probe latency');
    t.equal(s.health_check.last.status, 200);
    t.equal(s.health_check.consecutive_failures, 0);
    t.type(s.usage.cpu_percent, 'number', 'CPU%');
    t.ok(s.usage.rss_bytes > 1024 * 1024, 'RSS in bytes');
    t.ok(Array.isArray(s.events) && s.events.length > 0, 'recent events');
    t.ok(s.events.every((e: any) => e.service === 'web' && typeof e.seq === 'number'), 'events of this service, numbered');

    // After a stop, the last exit is reported.
    await req(url, '/api/services/web/restart', { method: 'PUT' });
    const old = s.pid;
    await h.waitView('web', (v) => v.state === 'running' && v.pid !== old && v.health === 'healthy', 'web restarted');
    const after = (await req(url, '/api/services/web')).json;
    t.not(after.last_exit, null, 'last_exit after a restart');
    t.type(after.last_exit.reason, 'string');
    t.match(after.last_exit.at, /^\d{4}-\d\d-\d\dT/);
  });

  t.test('unknown id → 404, malformed id → 400 naming the id field', async (t) => {
    errorShape(t, await req(url, '/api/services/nope'), 404, 'not_found');
    for (const verb of ['start', 'stop', 'restart']) errorShape(t, await req(url, `/api/services/nope/${verb}`, { method: 'PUT' }), 404, 'not_found');
    errorShape(t, await req(url, '/api/services/nope/logs'), 404, 'not_found');
    errorShape(t, await req(url, '/api/services/nope/events'), 404, 'not_found');
    errorShape(t, await req(url, '/api/services/nope', { method: 'DELETE' }), 404, 'not_found');
    errorShape(t, await req(url, '/api/services/nope', { method: 'PATCH', body: { name: 'x' } }), 404, 'not_found');
    // Path traversal through the id: encoded slashes and dots never reach the file system.
    for (const bad of ['..%2F..%2Fetc', '..%2F', '.hidden', 'a%2Fb', '-x', 'a%00b', 'a%20b', 'x'.repeat(65)]) {
      errorShape(t, await req(url, `/api/services/${bad}/logs`), 400, 'bad_request', 'id');
      errorShape(t, await req(url, `/api/services/${bad}`), 400, 'bad_request', 'id');
      errorShape(t, await req(url, `/api/services/${bad}/start`, { method: 'PUT' }), 400, 'bad_request', 'id');
    }
    // uWS resolves dot segments itself: these never reach a service route at all.
    for (const path of ['/api/services/%2e%2e/logs', '/api/services/../logs', '/api/services/%2E%2E']) {
      const a = await req(url, path);
      t.equal(a.status, 404, `${path} → 404`);
    }
    // Broken percent-encoding is a client error, not a crash.
    errorShape(t, await req(url, '/api/services/%E0%A4%A/logs'), 400, 'bad_request', 'id');
    errorShape(t, await req(url, '/api/services/%zz'), 400, 'bad_request', 'id');
    t.equal((await req(url, '/health')).status, 200, 'server still up');
  });

  t.test('unknown route → 404; wrong method → 405 with Allow', async (t) => {
    errorShape(t, await req(url, '/api/nothing'), 404, 'not_found');
    const a = await req(url, '/api/services/web/start', { method: 'GET' });
    errorShape(t, a, 405, 'method_not_allowed');
    t.equal(a.headers.allow, 'PUT');
    const b = await req(url, '/api/services', { method: 'DELETE' });
    t.equal(b.status, 405);
    t.same(String(b.headers.allow).split(', ').sort(), ['GET', 'HEAD', 'POST']);
  });

  t.test('HEAD answers like GET without the body', async (t) => {
    const get = await req(url, '/health');
    const head = await req(url, '/health', { method: 'HEAD' });
    t.equal(head.status, 200);
    t.equal(head.text, '', 'no body');
    t.match(head.headers['content-type'], /^application\/json/);
    t.ok(Math.abs(Number(head.headers['content-length']) - Buffer.byteLength(get.text)) < 16, `content-length of the GET body (${head.headers['content-length']} vs ${Buffer.byteLength(get.text)})`);
    const missing = await req(url, '/api/services/nope', { method: 'HEAD' });
    t.equal(missing.status, 404);
    t.equal(missing.text, '');
    t.equal((await req(url, '/api/services', { method: 'HEAD' })).status, 200);
  });

  t.test('start / stop / restart answer 202 with the state, and are idempotent', async (t) => {
    let a = await req(url, '/api/services/idle/start', { method: 'PUT' });
    t.equal(a.status, 202);
    t.equal(a.json.id, 'idle');
    t.equal(a.json.want, 'up');
    t.ok(['starting', 'running'].includes(a.json.state), `state right after start: ${a.json.state}`);
    const up = await h.waitView('idle', (v) => v.state === 'running', 'idle running');
    a = await req(url, '/api/services/idle/start', { method: 'PUT' });
    t.equal(a.status, 202, 'second start is accepted');
    t.equal(a.json.state, 'running');
    t.equal(a.json.pid, up.pid, 'and changes nothing');

    a = await req(url, '/api/services/idle/restart', { method: 'PUT' });
    t.equal(a.status, 202);
    const again = await h.waitView('idle', (v) => v.state === 'running' && v.pid !== up.pid, 'idle restarted');
    t.notOk(alive(up.pid!), 'old process gone');

    a = await req(url, '/api/services/idle/stop', { method: 'PUT' });
    t.equal(a.status, 202);
    t.equal(a.json.want, 'down');
    await h.waitView('idle', (v) => v.state === 'stopped', 'idle stopped');
    t.notOk(alive(again.pid!), 'process gone after stop');
    a = await req(url, '/api/services/idle/stop', { method: 'PUT' });
    t.equal(a.status, 202, 'second stop is accepted');
    t.equal(a.json.state, 'stopped');
  });

  t.test('POST /api/services: 201, then the service runs', async (t) => {
    const a = await req(url, '/api/services', { method: 'POST', body: { id: 'reg-a', executable: node('sleeper.mjs'), environment: { A: '1' } } });
    t.equal(a.status, 201);
    t.equal(a.json.id, 'reg-a');
    t.equal(a.json.source, 'api');
    t.equal(a.json.spec.environment.A, '1');
    await h.waitView('reg-a', (v) => v.state === 'running', 'reg-a running');
    const list = await req(url, '/api/services');
    t.ok(list.json.services.some((s: any) => s.id === 'reg-a'), 'listed');
  });

  t.test('POST errors: duplicate id 409, bad JSON 400, schema errors 400 with the field path', async (t) => {
    errorShape(t, await req(url, '/api/services', { method: 'POST', body: { id: 'reg-a', executable: node('sleeper.mjs') } }), 409, 'conflict', 'id');
    errorShape(t, await req(url, '/api/services', { method: 'POST', body: { id: 'web', executable: node('sleeper.mjs') } }), 409, 'conflict', 'id');

    const badJson = await req(url, '/api/services', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"id": "x", ' });
    errorShape(t, badJson, 400, 'bad_request');
    t.match(badJson.json.error.message, /not valid JSON/);

    const schema = await req(url, '/api/services', { method: 'POST', body: { id: 'bad', executable: 'x', restart_policy: { max_retries: 'three' } } });
    errorShape(t, schema, 400, 'validation', 'restart_policy.max_retries');
    t.match(schema.json.error.message, /restart_policy\.max_retries: expected a non-negative integer, got "three"/);

    const several = await req(url, '/api/services', { method: 'POST', body: { id: 'bad', executable: 'x', auto_start: 'yes', environment: { 'NOT VALID': 1 } } });
    errorShape(t, several, 400, 'validation');
    t.ok(Array.isArray(several.json.error.problems) && several.json.error.problems.length >= 2, 'every problem listed');
    t.ok(several.json.error.problems.some((p: any) => p.field === 'auto_start'), 'auto_start named');

    errorShape(t, await req(url, '/api/services', { method: 'POST', body: { executable: 'x' } }), 400, 'validation', 'id');
    errorShape(t, await req(url, '/api/services', { method: 'POST', body: { id: 'noexec' } }), 400, 'validation', 'executable');
    errorShape(t, await req(url, '/api/services', { method: 'POST', body: { id: '../../etc', executable: 'x' } }), 400, 'validation', 'id');
    errorShape(t, await req(url, '/api/services', { method: 'POST', body: { id: 'u', executable: 'x', bogus: 1 } }), 400, 'validation', 'bogus');
    errorShape(t, await req(url, '/api/services', { method: 'POST', body: { id: 'dep', executable: 'x', depends_on: ['ghost'] } }), 400, 'validation', 'depends_on[0]');
    errorShape(t, await req(url, '/api/services', { method: 'POST', body: [1, 2] }), 400, 'validation');
    errorShape(t, await req(url, '/api/services', { method: 'POST', headers: { 'content-type': 'application/json' } }), 400, 'bad_request');
    t.notOk(h.o.fleet.has('bad') || h.o.fleet.has('u') || h.o.fleet.has('dep') || h.o.fleet.has('noexec'), 'nothing invalid was registered');
  });

  t.test('PATCH restarts only when executable, environment or working_dir change', async (t) => {
    const before = h.view('reg-a');
    let a = await req(url, '/api/services/reg-a', { method: 'PATCH', body: { name: 'Renamed', restart_policy: { max_retries: 7 }, health: { interval_seconds: 5 } } });
    t.equal(a.status, 200);
    t.equal(a.json.restarted, false, 'name/policy/health change: no restart');
    t.equal(a.json.name, 'Renamed');
    t.equal(a.json.spec.restart_policy.max_retries, 7);
    t.equal(a.json.spec.environment.A, '1', 'merge patch keeps what was not mentioned');
    t.equal(h.view('reg-a').pid, before.pid, 'same process');

    a = await req(url, '/api/services/reg-a', { method: 'PATCH', body: { environment: { A: '2' } } });
    t.equal(a.status, 200);
    t.equal(a.json.restarted, true, 'environment change restarts');
    const env = await h.waitView('reg-a', (v) => v.state === 'running' && v.pid !== before.pid, 'reg-a restarted for env');
    t.notOk(alive(before.pid!), 'old process gone');

    a = await req(url, '/api/services/reg-a', { method: 'PATCH', body: { executable: node('sleeper.mjs', 'extra-arg') } });
    t.equal(a.json.restarted, true, 'executable change restarts');
    const exe = await h.waitView('reg-a', (v) => v.state === 'running' && v.pid !== env.pid, 'reg-a restarted for executable');

    a = await req(url, '/api/services/reg-a', { method: 'PATCH', body: { working_dir: '/tmp' } });
    t.equal(a.json.restarted, true, 'working_dir change restarts');
    await h.waitView('reg-a', (v) => v.state === 'running' && v.pid !== exe.pid, 'reg-a restarted for working_dir');

    const stored = (await req(url, '/api/services/reg-a')).json.spec;
    t.equal(stored.name, 'Renamed');
    t.equal(stored.environment.A, '2');
    t.equal(stored.working_dir, '/tmp');

    // Errors.
    errorShape(t, await req(url, '/api/services/reg-a', { method: 'PATCH', body: { restart_policy: { max_retries: 'three' } } }), 400, 'validation', 'restart_policy.max_retries');
    errorShape(t, await req(url, '/api/services/reg-a', { method: 'PATCH', body: { id: 'other' } }), 400, 'validation', 'id');
    errorShape(t, await req(url, '/api/services/reg-a', { method: 'PATCH', body: [1] }), 400, 'bad_request');
    const file = await req(url, '/api/services/web', { method: 'PATCH', body: { name: 'x' } });
    errorShape(t, file, 409, 'conflict');
    t.match(file.json.error.message, /web\.yaml/, 'names the file to edit');
    t.equal((await req(url, '/api/services/reg-a')).json.spec.restart_policy.max_retries, 7, 'a refused patch changed nothing');
  });

  t.test('PATCH of a stopped service does not start it', async (t) => {
    await req(url, '/api/services', { method: 'POST', body: { id: 'reg-stopped', executable: node('sleeper.mjs'), auto_start: false } });
    const a = await req(url, '/api/services/reg-stopped', { method: 'PATCH', body: { environment: { B: '1' } } });
    t.equal(a.status, 200);
    t.equal(a.json.restarted, false);
    t.equal(a.json.state, 'stopped');
  });

  t.test('DELETE stops and removes an API service; a file-defined one answers 409 naming its file', async (t) => {
    const pid = h.view('reg-a').pid!;
    t.ok(alive(pid));
    const a = await req(url, '/api/services/reg-a', { method: 'DELETE' });
    t.equal(a.status, 200);
    t.same(a.json, { id: 'reg-a', removed: true });
    t.notOk(alive(pid), 'its process was stopped before the answer');
    errorShape(t, await req(url, '/api/services/reg-a'), 404, 'not_found');
    errorShape(t, await req(url, '/api/services/reg-a', { method: 'DELETE' }), 404, 'not_found');
    t.ok(h.events('reg-a', 'removed').length === 1, 'a removed event was recorded');

    const file = await req(url, '/api/services/web', { method: 'DELETE' });
    errorShape(t, file, 409, 'conflict');
    t.match(file.json.error.message, /defined in .*services\/web\.yaml/, 'names its file');
    t.match(file.json.error.message, /remove that file/);
    t.ok(h.o.fleet.has('web'), 'still there');
  });

  t.test('DELETE of a service others depend on → 409', async (t) => {
    await req(url, '/api/services', { method: 'POST', body: { id: 'base', executable: node('sleeper.mjs'), auto_start: false } });
    const dep = await req(url, '/api/services', { method: 'POST', body: { id: 'needs-base', executable: node('sleeper.mjs'), auto_start: false, depends_on: ['base'] } });
    t.equal(dep.status, 201);
    const a = await req(url, '/api/services/base', { method: 'DELETE' });
    errorShape(t, a, 409, 'conflict');
    t.match(a.json.error.message, /needs-base/);
  });

  t.test('history: /api/services/{id}/events and /api/events', async (t) => {
    const all = await req(url, '/api/events?limit=1000');
    t.equal(all.status, 200);
    const seqs = all.json.events.map((e: any) => e.seq);
    t.same(seqs, [...seqs].sort((a: number, b: number) => a - b), 'oldest first');
    t.equal(all.json.last_seq, seqs[seqs.length - 1]);
    t.ok(all.json.events.some((e: any) => e.type === 'orchestrator_started'));

    const mid = seqs[Math.floor(seqs.length / 2)];
    const since = await req(url, `/api/events?since=${mid}&limit=3`);
    t.equal(since.json.events.length, 3);
    t.ok(since.json.events.every((e: any) => e.seq > mid));
    t.equal(since.json.events[0].seq, seqs[seqs.indexOf(mid) + 1], 'continues right after since');

    const web = await req(url, '/api/services/web/events?limit=2');
    t.equal(web.json.events.length, 2);
    t.ok(web.json.events.every((e: any) => e.service === 'web'));
    t.ok(web.json.events[0].seq < web.json.events[1].seq, 'oldest first');
    const webSeqs = all.json.events.filter((e: any) => e.service === 'web').map((e: any) => e.seq);
    t.same(web.json.events.map((e: any) => e.seq), webSeqs.slice(-2), 'the latest two');
    const webSince = await req(url, `/api/services/web/events?since=${webSeqs[0]}&limit=1000`);
    t.same(webSince.json.events.map((e: any) => e.seq), webSeqs.slice(1));

    const removed = await req(url, '/api/services/reg-a/events');
    t.equal(removed.status, 200, 'history of a removed service stays readable');
    t.ok(removed.json.events.some((e: any) => e.type === 'removed'));

    errorShape(t, await req(url, '/api/events?since=abc'), 400, 'bad_request', 'since');
    errorShape(t, await req(url, '/api/events?limit=-1'), 400, 'bad_request', 'limit');
    errorShape(t, await req(url, '/api/services/web/events?limit=0'), 400, 'bad_request', 'limit');
    const capped = await req(url, '/api/events?limit=99999999');
    t.equal(capped.status, 200, 'a huge limit is capped, not refused');
  });
});
