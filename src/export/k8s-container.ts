/**
 * The container of a service's pod for the Kubernetes export: command, environment by reference
 * (a ConfigMap of `environment`, ConfigMaps for env files, a Secret for secrets — no secret value is
 * ever written), ports, probes from the health settings, limits, GPUs and the stop hook.
 */
import type { ServiceSpec } from '../config/schema.js';
import { splitCommandLine } from '../config/argv.js';
import type { UnitSpec } from '../fleet/replicas.js';
import type { Recorder } from './model.js';

// Types only (erased at build): the compiler checks every field name and value against the API.
import type { IContainer } from 'kubernetes-models/v1/Container';
import type { IEnvFromSource } from 'kubernetes-models/v1/EnvFromSource';
import type { IProbe } from 'kubernetes-models/v1/Probe';

type Probes = Pick<IContainer, 'livenessProbe' | 'readinessProbe' | 'startupProbe'>;

const LOCAL_HOSTS = new Set(['127.0.0.1', 'localhost', '[::1]', '0.0.0.0', '[::]']);
/** How long preStop waits for the pod to leave its Service's endpoints (the not-ready part of a drain). */
export const PRESTOP_SLEEP_SECONDS = 5;

export interface Endpoint { path: string; port: number; scheme: 'HTTP' | 'HTTPS'; host: string }

export function endpoint(url: string | null): Endpoint | null {
  if (!url) return null;
  let u: URL;
  try { u = new URL(url); } catch { return null; }
  const port = u.port ? Number(u.port) : u.protocol === 'https:' ? 443 : 80;
  if (!Number.isInteger(port) || port < 1) return null;
  return { path: `${u.pathname}${u.search}`, port, scheme: u.protocol === 'https:' ? 'HTTPS' : 'HTTP', host: u.hostname };
}

/** The ports a service listens on: `port`, then those of its endpoints. */
export function portsOf(spec: UnitSpec): number[] {
  const out: number[] = [];
  if (spec.port !== null) out.push(spec.port);
  for (const url of [spec.api_endpoint, spec.health_endpoint, spec.health.readiness_endpoint]) {
    const e = endpoint(url);
    if (e && !out.includes(e.port)) out.push(e.port);
  }
  return out;
}

/** Whole seconds (Kubernetes counts in int32 seconds), and whether rounding changed the value. */
const whole = (n: number, min = 1) => Math.max(min, Math.ceil(n));

function probe(e: Endpoint, spec: ServiceSpec, extra: Pick<IProbe, 'failureThreshold' | 'successThreshold'>): IProbe {
  return {
    httpGet: { path: e.path, port: e.port, scheme: e.scheme },
    initialDelaySeconds: whole(spec.health.initial_delay_seconds, 0),
    periodSeconds: whole(spec.health.interval_seconds),
    timeoutSeconds: whole(spec.health.timeout_seconds),
    ...extra,
  };
}

export function probes(spec: UnitSpec, r: Recorder): Probes {
  const h = spec.health;
  const live = endpoint(spec.health_endpoint);
  const ready = endpoint(h.readiness_endpoint) ?? live;
  const out: Probes = {};
  const rounded = [h.interval_seconds, h.timeout_seconds, h.initial_delay_seconds].some((n) => !Number.isInteger(n));
  for (const [key, e] of [['health_endpoint', live], ['health.readiness_endpoint', endpoint(h.readiness_endpoint)]] as const) {
    if (e && !LOCAL_HOSTS.has(e.host)) r.approx(key, `the probe goes to the pod's own address, not to ${e.host}`);
  }
  if (live) {
    out.livenessProbe = probe(live, spec, { failureThreshold: h.failure_threshold, successThreshold: 1 });
    r.exact('health_endpoint', `livenessProbe httpGet ${live.path} on port ${live.port}`);
    r.exact('health.failure_threshold', 'livenessProbe.failureThreshold');
    if (h.success_threshold > 1) r.approx('health.success_threshold', 'readinessProbe.successThreshold only (Kubernetes requires 1 for liveness)');
  }
  if (ready) {
    out.readinessProbe = probe(ready, spec, { failureThreshold: h.failure_threshold, successThreshold: h.success_threshold });
    r.exact('health.readiness_endpoint', h.readiness_endpoint ? `readinessProbe httpGet ${ready.path} on port ${ready.port}` : 'none: readinessProbe on the health endpoint (ready = healthy, as here)');
  }
  if (live || ready) {
    (rounded ? r.approx : r.exact).call(r, 'health.interval_seconds', `periodSeconds, timeoutSeconds, initialDelaySeconds${rounded ? ' (rounded up to whole seconds)' : ''}`);
  }
  if (live && h.startup_timeout_seconds !== null) {
    const period = whole(h.interval_seconds);
    const tries = Math.ceil(h.startup_timeout_seconds / period);
    out.startupProbe = { httpGet: { path: live.path, port: live.port, scheme: live.scheme }, periodSeconds: period, timeoutSeconds: whole(h.timeout_seconds), failureThreshold: tries, successThreshold: 1 };
    r.approx('health.startup_timeout_seconds', `startupProbe: ${tries} tries ${period} s apart (${tries * period} s)`);
  }
  if (!live && !ready) r.drop('health', 'no health_endpoint: no probes (Kubernetes then only sees the process)');
  return out;
}

export interface ContainerNames { name: string; env: string; secrets: string; envFile: (i: number) => string }

export function container(spec: UnitSpec, image: string, names: ContainerNames, r: Recorder): { container: IContainer; envData: Record<string, string>; grace: number } {
  // Kubernetes expands $(VAR) in command; $$ keeps a literal one.
  const c: IContainer = { name: names.name, image, command: splitCommandLine(spec.executable!).map((w) => w.replace(/\$\(/g, '$$$$(')) };
  r.exact('executable', 'command (as written: the image must have the program, and replaces its ENTRYPOINT)');
  r.drop('working_dir', `a host folder (${spec.working_dir}); the image's WORKDIR applies`);

  // The environment, by reference: env files first, then `environment` (which wins, as here), then secrets.
  const envData: Record<string, string> = {};
  for (const k of Object.keys(spec.environment).sort()) envData[k] = spec.environment[k]!;
  delete envData.REPLICA_INDEX;
  delete envData.CUDA_VISIBLE_DEVICES; // the GPU device plugin sets the devices of each pod
  if (spec.replicas !== undefined) envData.REPLICA_COUNT = String(spec.replicas);
  const envFrom: IEnvFromSource[] = spec.env_file.map((_f, i) => ({ configMapRef: { name: names.envFile(i) } }));
  if (spec.env_file.length) r.approx('env_file', `envFrom ConfigMaps ${spec.env_file.map((_f, i) => names.envFile(i)).join(', ')}, not generated: create each with kubectl create configmap NAME --from-env-file=FILE (read once, not at each start)`);
  if (Object.keys(envData).length) {
    envFrom.push({ configMapRef: { name: names.env } });
    if (Object.keys(spec.environment).length) r.exact('environment', `ConfigMap ${names.env} (envFrom)`);
  }
  if (envFrom.length) c.envFrom = envFrom;
  const secretEnv = Object.keys(spec.secrets).sort().map((k) => ({ name: k, valueFrom: { secretKeyRef: { name: names.secrets, key: k } } }));
  if (secretEnv.length) {
    c.env = secretEnv;
    const how = Object.entries(spec.secrets).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([k, s]) =>
      (s.file !== undefined ? `--from-file=${k}=${s.file}` : s.env !== undefined ? `--from-literal=${k}="$${s.env}"` : `--from-literal=${k}="$(${s.command})"`));
    r.approx('secrets', `secretKeyRef to the Secret ${names.secrets}, not generated (no value is written): create it with kubectl create secret generic ${names.secrets} ${how.join(' ')}; values are read then, not at each start`);
  }

  const ports = portsOf(spec);
  if (ports.length) c.ports = ports.map((p) => ({ containerPort: p, name: `p-${p}`, protocol: 'TCP' }));

  Object.assign(c, probes(spec, r));

  const limits: Record<string, string> = {};
  const { max_memory, max_cpu } = spec.resources;
  if (max_memory !== null) {
    limits.memory = String(max_memory);
    r.approx('resources.max_memory', `limits.memory ${max_memory}: enforced (the container is OOM-killed at once) where the orchestrator restarts after several samples over it`);
  }
  if (max_cpu !== null) {
    limits.cpu = `${Math.round(max_cpu * 10)}m`;
    r.approx('resources.max_cpu', `limits.cpu ${limits.cpu}: throttled where the orchestrator restarts a service that stays over it`);
  }
  if (spec.gpus) {
    limits['nvidia.com/gpu'] = String(spec.gpus.per_replica);
    r.exact('gpus.per_replica', 'limits nvidia.com/gpu per pod');
    if (spec.gpus.devices !== 'auto') r.drop('gpus.devices', 'the scheduler picks the devices of each pod');
  }
  if (Object.keys(limits).length) c.resources = { limits };

  const drain = spec.drain.timeout_seconds > 0 ? Math.min(PRESTOP_SLEEP_SECONDS, whole(spec.drain.timeout_seconds)) : 0;
  if (drain > 0) {
    c.lifecycle = { preStop: { sleep: { seconds: drain } } };
    r.approx('drain', `preStop sleeps ${drain} s while Kubernetes takes the pod out of its Service (the not-ready part); there is no wait for in-flight work to reach 0`);
  }
  if (spec.stop.signal === 'SIGTERM') r.exact('stop.signal', 'SIGTERM, as Kubernetes sends');
  else r.drop('stop.signal', `Kubernetes sends SIGTERM (or the image's STOPSIGNAL): set STOPSIGNAL ${spec.stop.signal} in the image`);
  const grace = whole(spec.stop.timeout_seconds, 0) + drain;
  r.exact('stop.timeout_seconds', `terminationGracePeriodSeconds ${grace}${drain ? ' (with the preStop sleep)' : ''}, then SIGKILL`);
  return { container: c, envData, grace };
}
