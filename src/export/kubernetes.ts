/**
 * A service as Kubernetes objects in one file `<name>.yaml`: a Deployment (restart: permanent), a
 * Job (transient or temporary: runs to completion) or a CronJob (a schedule); a Service when it
 * listens on a port; a ConfigMap of its environment. Names are DNS-1123 labels (a renamed id is
 * reported); secrets and env files are referenced, never written. The YAML comes from the `yaml`
 * package, objects built in one fixed key order, so the same input gives the same bytes.
 */
import { stringify } from 'yaml';
import type { ServiceSpec } from '../config/schema.js';
import { unitsOf } from '../fleet/replicas.js';
import { CronUnsupported, fiveFields, intervalCron } from './cron.js';
import { container, endpoint, portsOf } from './k8s-container.js';
// Types only (erased at build): the compiler checks every field name and value against the API.
import type { IDeployment } from 'kubernetes-models/apps/v1/Deployment';
import type { ICronJob } from 'kubernetes-models/batch/v1/CronJob';
import type { IJob } from 'kubernetes-models/batch/v1/Job';
import type { IConfigMap } from 'kubernetes-models/v1/ConfigMap';
import type { IContainer } from 'kubernetes-models/v1/Container';
import type { IPodSpec } from 'kubernetes-models/v1/PodSpec';
import type { IService } from 'kubernetes-models/v1/Service';

type K8sObject = IDeployment | IJob | ICronJob | IService | IConfigMap;
type Metadata = NonNullable<IDeployment['metadata']>;
interface Pod { metadata: Metadata; spec: IPodSpec }
import { commonDrops, EXTERNAL, headerLines, Refusal, sourceOf, type ExportContext, type ExportOptions, type Recorder } from './model.js';

/** The image of the init container that waits for a dependency. */
export const WAIT_IMAGE = 'busybox:1.36';
const MANAGED_BY = 'orchestrator-export';

/** A DNS-1123 label (and DNS-1035: starts with a letter) of at most `max` characters. */
export function dnsName(id: string, max = 63): string {
  let n = id.toLowerCase().replace(/[^a-z0-9-]/g, '-').replace(/^-+/, '');
  if (!/^[a-z]/.test(n)) n = `s-${n}`;
  return n.slice(0, max).replace(/-+$/, '') || 's';
}

/** CronJob names are limited to 52 characters (the controller appends a suffix to its Jobs' names). */
export function objectName(spec: ServiceSpec): string {
  return dnsName(spec.id, spec.schedule ? 52 : 63);
}

export function kubernetesService(spec: ServiceSpec, all: Map<string, ServiceSpec>, ctx: ExportContext, opts: ExportOptions, r: Recorder): Record<string, string> {
  if (spec.external) throw new Refusal(EXTERNAL, true);
  const image = spec.image ?? opts.image;
  if (!image) throw new Refusal('no image: a pod runs a container image; add `image:` to the service file or pass --image');
  const name = objectName(spec);
  if (name !== spec.id) r.approx('id', `renamed to "${name}" (Kubernetes names are lowercase letters, digits and "-")`);
  else r.exact('id', `metadata.name ${name}`);
  r.exact('image', spec.image ? 'image' : `image from --image (${image})`);
  const source = sourceOf(spec, ctx.baseDir);
  const unit = unitsOf({ ...spec, replicas: spec.replicas === undefined ? undefined : 1 }, () => [], {})[0]!;
  const derived = { ...unit, replicas: spec.replicas };
  const labels = { 'app.kubernetes.io/name': name, 'app.kubernetes.io/managed-by': MANAGED_BY };
  const metadata = (n: string): Metadata => ({ name: n, labels, annotations: { 'orchestrator/source': source, 'orchestrator/id': spec.id } });
  const built = container(derived, image, { name, env: `${name}-env`, secrets: `${name}-secrets`, envFile: (i) => `${name}-env-file-${i}` }, r);
  r.exact('name', 'annotation orchestrator/id and the label app.kubernetes.io/name');

  const initContainers = waits(spec, all, r);
  const pod: Pod = {
    metadata: { labels },
    spec: {
      ...(initContainers.length ? { initContainers } : {}),
      containers: [built.container],
      restartPolicy: 'Always',
      terminationGracePeriodSeconds: built.grace,
    },
  };
  const objects: K8sObject[] = [];
  const p = spec.restart_policy;
  if (spec.schedule) objects.push(cronJob(spec, name, metadata(name), pod, r));
  else if (spec.restart === 'permanent') {
    const replicas = spec.auto_start ? spec.replicas ?? 1 : 0;
    const deploy: IDeployment = { apiVersion: 'apps/v1', kind: 'Deployment', metadata: metadata(name), spec: { replicas, selector: { matchLabels: { 'app.kubernetes.io/name': name } }, template: pod } };
    if (spec.replicas !== undefined) {
      const ro = spec.rollout;
      const minReady = Math.ceil(ro.min_healthy_seconds);
      deploy.spec = {
        ...deploy.spec!,
        strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: 0, maxUnavailable: ro.max_parallel } },
        minReadySeconds: minReady,
        progressDeadlineSeconds: Math.max(minReady + 1, Math.ceil(ro.healthy_deadline_seconds)),
      };
      r.exact('replicas', `spec.replicas ${spec.replicas}`);
      r.approx('rollout', 'RollingUpdate: maxUnavailable = max_parallel, minReadySeconds = min_healthy_seconds, progressDeadlineSeconds = healthy_deadline_seconds (a stuck rollout is marked failed, not halted before the next pod)');
      r.drop('replicas', 'REPLICA_INDEX: the pods of a Deployment are interchangeable and have no index (REPLICA_COUNT is set); SERVICE_PORT is port in every pod (each has its own address)');
    }
    objects.push(deploy);
    r.exact('restart', 'permanent: a Deployment, restartPolicy Always');
    r.drop('restart_policy', `the backoff curve (${p.backoff_seconds} s doubling to ${p.max_backoff_seconds} s) and max_retries ${p.max_retries}: the kubelet restarts a crashing container forever with its own backoff (10 s doubling to 5 min, CrashLoopBackOff)`);
    if (!spec.auto_start) r.approx('auto_start', 'false: replicas 0 (scale it up to start)');
  } else {
    pod.spec.restartPolicy = spec.restart === 'transient' ? 'OnFailure' : 'Never';
    const n = spec.replicas ?? 1;
    objects.push({
      apiVersion: 'batch/v1', kind: 'Job', metadata: metadata(name),
      spec: { ...(spec.auto_start ? {} : { suspend: true }), backoffLimit: spec.restart === 'transient' ? p.max_retries : 0, completions: n, parallelism: n, template: pod },
    });
    r.exact('restart', `${spec.restart}: a Job (runs to completion), restartPolicy ${pod.spec.restartPolicy}`);
    if (spec.restart === 'transient') r.approx('restart_policy', `backoffLimit ${p.max_retries} (max_retries); the backoff curve is Kubernetes' own (10 s doubling to 6 min)`);
    if (spec.replicas !== undefined) r.approx('replicas', `completions and parallelism ${n}; pods have no REPLICA_INDEX`);
    if (!spec.auto_start) r.exact('auto_start', 'false: suspend: true');
  }
  if (spec.auto_start) r.exact('auto_start', 'runs once applied');

  const ports = portsOf(derived);
  if (ports.length) {
    objects.push({
      apiVersion: 'v1', kind: 'Service', metadata: metadata(name),
      spec: { selector: { 'app.kubernetes.io/name': name }, ports: ports.map((port) => ({ name: `p-${port}`, port, targetPort: port, protocol: 'TCP' })) },
    });
    r.exact('port', `containerPort and a Service ${name} on port${ports.length > 1 ? 's' : ''} ${ports.join(', ')}`);
  }
  if (Object.keys(built.envData).length) {
    objects.push({ apiVersion: 'v1', kind: 'ConfigMap', metadata: metadata(`${name}-env`), data: built.envData });
  }
  if (spec.heartbeat) r.drop('heartbeat', 'no Kubernetes equivalent: the liveness probe is how a hung pod is found');
  commonDrops(spec, ctx, r, 'kubernetes');

  const file = `${name}.yaml`;
  const header = headerLines(file, source).map((l) => `# ${l}`).join('\n');
  const docs = objects.map((o) => stringify(o, { lineWidth: 0, sortMapEntries: false, aliasDuplicateObjects: false }));
  return { [file]: `${header}\n${docs.map((d) => `---\n${d}`).join('')}` };
}

function cronJob(spec: ServiceSpec, name: string, metadata: Metadata, pod: Pod, r: Recorder): ICronJob {
  const s = spec.schedule!;
  let schedule: string;
  try {
    if (s.cron !== undefined) {
      schedule = fiveFields(s.cron);
      r.exact('schedule.cron', `CronJob schedule "${schedule}"`);
    } else {
      const cron = intervalCron(s.interval_seconds!);
      if (!cron) throw new Refusal(`schedule.interval_seconds ${s.interval_seconds} has no cron equivalent (a CronJob runs on whole minutes that divide an hour, or hours that divide a day)`);
      schedule = cron;
      r.approx('schedule.interval_seconds', `CronJob schedule "${cron}": aligned to the clock, not counted from the start`);
    }
  } catch (e) {
    if (e instanceof CronUnsupported) throw new Refusal(`schedule.cron "${s.cron}": ${e.message}`);
    throw e;
  }
  if (s.timezone) r.exact('schedule.timezone', 'timeZone');
  if (s.run_on_start) r.drop('schedule.run_on_start', `a CronJob waits for its schedule; start a run at once with kubectl create job --from=cronjob/${name} ${name}-now`);
  if (s.catch_up) r.approx('schedule.catch_up', 'startingDeadlineSeconds unset: the controller starts one missed run when it comes back');
  if (!spec.auto_start) r.exact('auto_start', 'false: suspend: true');
  const policy = s.concurrency === 'replace' ? 'Replace' : 'Forbid';
  r.exact('schedule.concurrency', `concurrencyPolicy ${policy}`);
  if (s.timeout_seconds !== null) r.exact('schedule.timeout_seconds', 'activeDeadlineSeconds of each Job');
  const podSpec = pod.spec;
  podSpec.restartPolicy = spec.restart === 'temporary' ? 'Never' : 'OnFailure';
  r.exact('restart', `${spec.restart}: restartPolicy ${podSpec.restartPolicy} within each run`);
  const p = spec.restart_policy;
  r.approx('restart_policy', `backoffLimit ${spec.restart === 'temporary' ? 0 : p.max_retries}; the backoff curve is Kubernetes' own`);
  return {
    apiVersion: 'batch/v1', kind: 'CronJob', metadata,
    spec: {
      schedule,
      ...(s.timezone ? { timeZone: s.timezone } : {}),
      concurrencyPolicy: policy,
      ...(s.catch_up ? {} : { startingDeadlineSeconds: 60 }),
      ...(spec.auto_start ? {} : { suspend: true }),
      jobTemplate: {
        spec: {
          backoffLimit: spec.restart === 'temporary' ? 0 : p.max_retries,
          ...(s.timeout_seconds !== null ? { activeDeadlineSeconds: Math.ceil(s.timeout_seconds) } : {}),
          template: pod,
        },
      },
    },
  };
}

/** depends_on: an init container per dependency that waits until its readiness answers (over its Service). */
function waits(spec: ServiceSpec, all: Map<string, ServiceSpec>, r: Recorder): IContainer[] {
  const out: IContainer[] = [];
  for (const id of spec.depends_on) {
    const dep = all.get(id);
    const derived = dep ? unitsOf({ ...dep, replicas: dep.replicas === undefined ? undefined : 1 }, () => [], {})[0]! : undefined;
    const e = derived ? endpoint(derived.health.readiness_endpoint) ?? endpoint(derived.health_endpoint) : null;
    if (!dep || !e || dep.schedule || dep.external) {
      r.drop(`depends_on`, `${id}: no wait (it has no HTTP readiness or health endpoint to wait for, or is not a long-running service); start order is not guaranteed`);
      continue;
    }
    const host = objectName(dep);
    const url = `${e.scheme === 'HTTPS' ? 'https' : 'http'}://${host}:${e.port}${e.path}`;
    out.push({ name: `wait-for-${host}`.slice(0, 63).replace(/-+$/, ''), image: WAIT_IMAGE, command: ['sh', '-c', `until wget -q -O /dev/null '${url}'; do sleep 2; done`] });
    r.approx('depends_on', `${id}: an init container (${WAIT_IMAGE}) waits until ${url} answers — at pod start only; a later restart of ${id} does not affect this pod`);
  }
  return out;
}
