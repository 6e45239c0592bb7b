/**
 * orchestrator export kubernetes: every object of the example fleet and of the test fleet validates
 * against the Kubernetes API schemas (kubernetes-models, offline); byte-for-byte snapshots; the
 * report names every key that did not map exactly; a service without an image is refused with a
 * reason; ids that are not DNS names are renamed (and the report says so); no secret value is written.
 */
import t from 'tap';
import { EXAMPLE_CONFIG, exportFor, FLEET_CONFIG, snapshot, validateManifests } from './lib.js';
import { sortedMappings } from '../../src/export/report.js';
import { dnsName } from '../../src/export/kubernetes.js';

const IMAGE = 'registry.example/agents/all:1.0';

t.test('the test fleet: snapshot, validation, determinism', async (t) => {
  const a = exportFor(FLEET_CONFIG, { target: 'kubernetes', image: IMAGE });
  snapshot(t, 'kubernetes-fleet', { ...a.result.files, 'EXPORT-REPORT.md': a.report });
  t.same(exportFor(FLEET_CONFIG, { target: 'kubernetes', image: IMAGE }).result.files, a.result.files, 'exported twice: the same bytes');
  const objects = validateManifests(t, a.result.files);
  const kinds = objects.map((o) => `${o.kind} ${o.metadata.name}`).sort();
  t.same(kinds, [
    'ConfigMap web-api-v2-env', 'ConfigMap worker-env', 'CronJob monthly', 'CronJob nightly', 'CronJob poller',
    'Deployment web-api-v2', 'Job worker', 'Service web-api-v2',
  ], 'a Deployment, a Job, three CronJobs, a Service and the ConfigMaps');
  const web = objects.find((o) => o.kind === 'Deployment')!;
  const c = web.spec.template.spec.containers[0];
  t.same(c.resources.limits, { memory: '1073741824', cpu: '1500m', 'nvidia.com/gpu': '1' }, 'limits: memory, cpu, GPUs');
  t.same(c.livenessProbe.httpGet, { path: '/healthz', port: 9000, scheme: 'HTTP' }, 'liveness from health_endpoint');
  t.same(c.readinessProbe.httpGet, { path: '/ready', port: 9100, scheme: 'HTTP' }, 'readiness from readiness_endpoint');
  t.equal(c.startupProbe.failureThreshold, 12, 'startup: 60 s in 5 s steps');
  t.equal(web.spec.replicas, 3);
  t.equal(web.spec.template.spec.terminationGracePeriodSeconds, 25, 'stop timeout + the preStop sleep');
  t.same(c.lifecycle, { preStop: { sleep: { seconds: 5 } } }, 'drain → preStop');
  t.same(c.env.map((e: any) => e.valueFrom.secretKeyRef), [
    { name: 'web-api-v2-secrets', key: 'API_TOKEN' }, { name: 'web-api-v2-secrets', key: 'DB_PASSWORD' }, { name: 'web-api-v2-secrets', key: 'SIGNING_KEY' },
  ], 'secrets by reference');
  t.notOk(objects.some((o) => o.kind === 'Secret'), 'no Secret object is generated');
  const worker = objects.find((o) => o.kind === 'Job')!;
  t.equal(worker.spec.template.spec.restartPolicy, 'OnFailure', 'transient → OnFailure');
  t.match(worker.spec.template.spec.initContainers[0].command[2], /wget .*http:\/\/web-api-v2:9100\/ready/, 'depends_on → an init container waiting for readiness');
  const nightly = objects.find((o) => o.metadata.name === 'nightly')!;
  t.same([nightly.spec.schedule, nightly.spec.timeZone, nightly.spec.concurrencyPolicy, nightly.spec.suspend], ['30 2 * * 1-5', 'Europe/Berlin', 'Replace', true]);
  t.equal(objects.find((o) => o.metadata.name === 'poller')!.spec.schedule, '*/5 * * * *', 'interval 300 s → every five minutes');
});

t.test('the example fleet: snapshot and validation', async (t) => {
  const a = exportFor(EXAMPLE_CONFIG, { target: 'kubernetes', image: IMAGE });
  snapshot(t, 'kubernetes-example', { ...a.result.files, 'EXPORT-REPORT.md': a.report });
  const objects = validateManifests(t, a.result.files);
  t.same(objects.map((o) => `${o.kind} ${o.metadata.name}`).sort(), [
    'ConfigMap echo-agent-env', 'ConfigMap indexer-env', 'ConfigMap summarizer-agent-env',
    'Deployment echo-agent', 'Deployment summarizer-agent', 'Job indexer', 'Service echo-agent', 'Service summarizer-agent',
  ]);
});

t.test('without an image a service is refused, with the reason; the others are exported', async (t) => {
  const { result, report } = exportFor(FLEET_CONFIG, { target: 'kubernetes' });
  const refused = Object.fromEntries(result.services.filter((s) => s.refused).map((s) => [s.id, s.refused]));
  const noImage = 'no image: a pod runs a container image; add `image:` to the service file or pass --image';
  t.same(refused, {
    monthly: noImage, poller: noImage, worker: noImage,
    remote: 'an external service registers itself and is not started by the orchestrator: there is nothing to run',
  });
  t.same(Object.keys(result.files), ['nightly.yaml', 'web-api-v2.yaml'], 'the services with an image of their own');
  t.match(report, /## worker\n\nSource: \.\.\/services\/worker\.yaml\n\n\*\*Refused:\*\* no image/);
});

t.test('the report lists every key of the test fleet that is approximated or dropped', async (t) => {
  const { result } = exportFor(FLEET_CONFIG, { target: 'kubernetes', image: IMAGE });
  const not = (id: string) => sortedMappings(result.services.find((s) => s.id === id)!.mappings)
    .filter((m) => m.outcome !== 'exact').map((m) => `${m.outcome} ${m.key}`);
  t.same(not('Web_API.v2'), [
    'approximate id', 'approximate env_file', 'approximate secrets', 'approximate health.success_threshold', 'approximate health.interval_seconds',
    'approximate health.startup_timeout_seconds', 'approximate resources.max_memory', 'approximate resources.max_cpu', 'approximate drain', 'approximate rollout',
    'dropped working_dir', 'dropped gpus.devices', 'dropped stop.signal', 'dropped replicas', 'dropped restart_policy', 'dropped heartbeat',
    'dropped group', 'dropped silence', 'dropped throttle', 'dropped api_endpoint', 'dropped type',
  ], 'Web_API.v2');
  t.same(not('worker'), [
    'approximate depends_on', 'approximate restart_policy', 'dropped working_dir', 'dropped health', 'dropped heartbeat', 'dropped group', 'dropped throttle',
  ], 'worker');
  t.same(not('nightly'), [
    'approximate drain', 'approximate schedule.catch_up', 'approximate restart_policy', 'dropped working_dir', 'dropped health', 'dropped schedule.run_on_start', 'dropped throttle',
  ], 'nightly');
  t.same(not('poller'), [
    'approximate drain', 'approximate schedule.interval_seconds', 'approximate schedule.catch_up', 'approximate restart_policy', 'dropped working_dir', 'dropped health', 'dropped throttle',
  ], 'poller');
});

t.test('names: DNS-1123 labels, renamed ids reported, collisions refused', async (t) => {
  t.equal(dnsName('Web_API.v2'), 'web-api-v2');
  t.equal(dnsName('9lives'), 's-9lives', 'a Service name starts with a letter');
  t.equal(dnsName(`a${'b'.repeat(70)}`).length, 63);
  const { result } = exportFor(FLEET_CONFIG, { target: 'kubernetes', image: IMAGE });
  t.match(result.services[0]!.mappings.find((m) => m.key === 'id')!.detail, /renamed to "web-api-v2"/);
});
