/**
 * The pure parts of replicas: instance ids, ${VAR} expansion, GPU round-robin, the units a
 * definition runs as, a replicated service's view made of its instances', and alert sinks that
 * name a service hearing its instances.
 */
import t from 'tap';
import type { ServiceView } from '../../src/actors/protocol.js';
import { compileFilter, keysOf, matches } from '../../src/alerts/match.js';
import { dependsOn, instanceId, parseInstanceId, serviceOf, UNIT_ID_PATTERN } from '../../src/config/instances.js';
import { parseServiceInput, serviceDefaults } from '../../src/config/load.js';
import { loadOrchestratorConfig } from '../../src/config/load.js';
import { expandVars, gpusFor, unitsOf } from '../../src/fleet/replicas.js';
import { aggregateView } from '../../src/fleet/views.js';
import type { StoredEvent } from '../../src/store/events.js';

const defaults = serviceDefaults(loadOrchestratorConfig(undefined, {}));
const spec = (input: Record<string, unknown>) => {
  const parsed = parseServiceInput({ executable: 'sleep 1', ...input }, defaults, '/tmp', 'api');
  if (!parsed.spec) throw new Error(JSON.stringify(parsed.problems));
  return parsed.spec;
};

t.test('instance ids', async (t) => {
  t.equal(instanceId('web', 2), 'web#2');
  t.same(parseInstanceId('web#12'), { service: 'web', index: 12 });
  for (const bad of ['web', 'web#', 'web#01', 'web#-1', '#1', 'web#1x']) t.equal(parseInstanceId(bad), null, `${bad} is not an instance id`);
  t.equal(serviceOf('web#3'), 'web');
  t.equal(serviceOf('web'), 'web');
  t.ok(UNIT_ID_PATTERN.test('web#0') && UNIT_ID_PATTERN.test('web') && !UNIT_ID_PATTERN.test('web#01') && !UNIT_ID_PATTERN.test('../x#1'), 'the URL pattern');
  t.ok(dependsOn(['web'], 'web#1') && dependsOn(['web#1'], 'web#1') && !dependsOn(['api'], 'web#1'), 'depending on a service is depending on each instance');
});

t.test('${VAR} expansion and GPU round-robin', async (t) => {
  t.equal(expandVars('http://h:${SERVICE_PORT}/x/${NOPE}', { SERVICE_PORT: '9001' }), 'http://h:9001/x/${NOPE}', 'an unknown name stays');
  t.same([0, 1, 2, 3].map((n) => gpusFor(n, 1, [0, 1])), [[0], [1], [0], [1]]);
  t.same([0, 1].map((n) => gpusFor(n, 2, [0, 1, 2])), [[0, 1], [2, 0]], 'per_replica 2 over 3 devices');
  t.same(gpusFor(0, 1, []), [], 'no devices: none');
});

t.test('the units of a definition', async (t) => {
  t.same(unitsOf(spec({ id: 'plain' }), () => []).map((u) => u.id), ['plain'], 'no replicas: itself');
  t.equal(unitsOf(spec({ id: 'plain', executable: 'echo ${HOME}' }), () => [])[0]!.executable, 'echo ${HOME}', 'and left as written');
  const units = unitsOf(spec({
    id: 'web', replicas: 3, port: 9000, executable: 'serve --port ${SERVICE_PORT} --gpu ${CUDA_VISIBLE_DEVICES}',
    health_endpoint: 'http://127.0.0.1:${SERVICE_PORT}/health', environment: { URL: 'http://x:${SERVICE_PORT}' },
    gpus: { per_replica: 1, devices: [4, 5] },
  }), () => { throw new Error('not asked: devices are listed'); });
  t.same(units.map((u) => u.id), ['web#0', 'web#1', 'web#2']);
  t.same(units.map((u) => u.executable), ['serve --port 9000 --gpu 4', 'serve --port 9001 --gpu 5', 'serve --port 9002 --gpu 4']);
  t.same(units.map((u) => u.health_endpoint), ['http://127.0.0.1:9000/health', 'http://127.0.0.1:9001/health', 'http://127.0.0.1:9002/health']);
  t.same(units[1]!.environment, { URL: 'http://x:9001', REPLICA_INDEX: '1', REPLICA_COUNT: '3', SERVICE_PORT: '9001', CUDA_VISIBLE_DEVICES: '5' });
  t.same(units[2]!.replica, { service: 'web', index: 2, count: 3, gpus: [4] });
  const own = unitsOf(spec({ id: 'own', replicas: 2, port: 9000, environment: { SERVICE_PORT: '7000' } }), () => []);
  t.same(own.map((u) => u.environment.SERVICE_PORT), ['7000', '7000'], 'environment sets SERVICE_PORT: it wins');
  t.same(unitsOf(spec({ id: 'none', replicas: 0 }), () => []), [], 'scaled to zero');
});

t.test('config: replicas do not go with a schedule or external', async (t) => {
  const problems = (input: Record<string, unknown>) => parseServiceInput({ executable: 'x', ...input }, defaults, '/tmp', 'api').problems.map((p) => `${p.field}: ${p.message}`);
  t.match(problems({ id: 'j', replicas: 2, schedule: { interval_seconds: 5 } }), [/^replicas: a scheduled job runs one process/]);
  t.match(problems({ id: 'e', replicas: 2, external: true }), [/^replicas: an external service is not started here/]);
  t.match(problems({ id: 'n', replicas: -1 }), [/^replicas: expected a number of replicas/]);
  t.match(problems({ id: 'u', health_endpoint: 'not a url ${X}' }), [/^health_endpoint: expected an http/]);
});

t.test('a replicated service\'s view is made of its instances\'', async (t) => {
  const v = (over: Partial<ServiceView>): ServiceView => ({
    id: 'x', state: 'running', health: 'healthy', want: 'up', reason: '', pid: 1, startedAt: 0, adopted: false, restarts: 1, attempts: 0,
    lastExit: null, probe: null, consecutiveFailures: 0, usage: null, waitingFor: [], nextStartAt: null, ready: true,
    heartbeatAt: null, progress: null, inflight: null, statusText: null, throttledUntil: null, ...over,
  });
  const all = aggregateView('web', [v({}), v({ state: 'backoff', health: 'unknown', ready: false, restarts: 3 }), v({})], 'up');
  t.same([all.state, all.health, all.ready, all.restarts, all.pid], ['backoff', 'unknown', false, 5, null], 'the state most in need of attention; counters add up');
  t.equal(all.reason, '2 of 3 instances running, 2 ready');
  t.same([aggregateView('web', [v({}), v({ health: 'unhealthy' })], 'up').health], ['unhealthy']);
  const none = aggregateView('web', [], 'down');
  t.same([none.state, none.ready, none.reason], ['stopped', false, 'scaled to 0 replicas']);
});

t.test('an alert sink for a service hears its instances', async (t) => {
  const e: StoredEvent = { seq: 1, at: 0, service: 'web#1', type: 'exit', data: { reason: 'crashed' } };
  t.ok(matches(compileFilter('s', ['crashed'], ['web']), e, keysOf(e)), 'services: [web]');
  t.ok(matches(compileFilter('s', ['crashed'], ['web#1']), e, keysOf(e)), 'services: [web#1]');
  t.notOk(matches(compileFilter('s', ['crashed'], ['api']), e, keysOf(e)), 'not another service\'s');
});
