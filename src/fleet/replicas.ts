/**
 * Replicas: a service with `replicas: N` runs as N instances, `<id>#0` … `<id>#N-1`. Each instance
 * is a unit of its own everywhere below the catalogue — one ServiceActor (limits, health,
 * heartbeat, backoff and logs of its own), a child of the service's supervision group — with a
 * spec derived here from the service's:
 *
 *   REPLICA_INDEX, REPLICA_COUNT     always (an unreplicated service gets 0 and 1 too)
 *   SERVICE_PORT = port + index      when `port` is set and `environment` does not set SERVICE_PORT
 *   CUDA_VISIBLE_DEVICES             when `gpus` is set: per_replica devices each, round-robin over
 *                                    the listed devices or, for `auto`, those `nvidia-smi -L` lists
 *   ${VAR}                           expanded in executable, health_endpoint, readiness_endpoint,
 *                                    api_endpoint and environment values, from the instance's
 *                                    environment, then the orchestrator's; an unknown name stays
 *
 * A service without `replicas` is one unit with its own id, as before (expanded only when it sets
 * `port` or `gpus`, so a literal "${…}" in an older service file means what it meant).
 */
import { execFileSync } from 'node:child_process';
import { instanceId } from '../config/instances.js';
import type { ServiceSpec } from '../config/schema.js';

export { instanceId, parseInstanceId, serviceOf } from '../config/instances.js';

/** Where an instance came from, on its derived spec. */
export interface ReplicaOf {
  service: string;
  index: number;
  count: number;
  /** GPU indexes it was given (empty without `gpus`). */
  gpus: number[];
}

export type UnitSpec = ServiceSpec & { replica?: ReplicaOf };

/** GPUs `nvidia-smi -L` lists ("GPU 0: NVIDIA A100 (UUID: …)"); none when it is absent or fails. */
export function detectGpus(): number[] {
  try {
    const out = execFileSync('nvidia-smi', ['-L'], { encoding: 'utf8', timeout: 5_000, stdio: ['ignore', 'pipe', 'ignore'] });
    return [...out.matchAll(/^GPU (\d+):/gm)].map((m) => Number(m[1]));
  } catch {
    return [];
  }
}

/** Devices of instance `index`: per_replica of them, round-robin over `devices`. */
export function gpusFor(index: number, perReplica: number, devices: number[]): number[] {
  if (devices.length === 0) return [];
  return Array.from({ length: perReplica }, (_, j) => devices[(index * perReplica + j) % devices.length]!);
}

/** `${NAME}` → its value in `vars`; an unknown name stays as written. */
export function expandVars(text: string, vars: Record<string, string | undefined>): string {
  return text.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g, (whole, name: string) => vars[name] ?? whole);
}

/**
 * The units a service runs as. `gpus` answers the detected devices (asked only when a service
 * says `devices: auto`); `env` is the orchestrator's environment, for ${VAR} references.
 */
export function unitsOf(spec: ServiceSpec, gpus: () => number[], env: NodeJS.ProcessEnv = process.env): UnitSpec[] {
  if (spec.replicas === undefined) {
    return spec.port !== null || spec.gpus ? [derive(spec, 0, 1, gpus, env, false)] : [spec];
  }
  return Array.from({ length: spec.replicas }, (_, n) => derive(spec, n, spec.replicas!, gpus, env, true));
}

function derive(spec: ServiceSpec, index: number, count: number, gpus: () => number[], env: NodeJS.ProcessEnv, instance: boolean): UnitSpec {
  const own: Record<string, string> = { REPLICA_INDEX: String(index), REPLICA_COUNT: String(count) };
  if (spec.port !== null && spec.environment.SERVICE_PORT === undefined) own.SERVICE_PORT = String(spec.port + index);
  let given: number[] = [];
  if (spec.gpus) {
    given = gpusFor(index, spec.gpus.per_replica, spec.gpus.devices === 'auto' ? gpus() : spec.gpus.devices);
    own.CUDA_VISIBLE_DEVICES = given.join(',');
  }
  const vars = { ...env, ...spec.environment, ...own };
  const environment: Record<string, string> = {};
  for (const [k, v] of Object.entries(spec.environment)) environment[k] = expandVars(v, vars);
  Object.assign(environment, own);
  const expanded = { ...vars, ...environment };
  const url = (u: string | null) => (u === null ? null : expandVars(u, expanded));
  return {
    ...spec,
    id: instance ? instanceId(spec.id, index) : spec.id,
    ...(instance ? { name: `${spec.name} #${index}` } : {}),
    executable: spec.executable === undefined ? undefined : expandVars(spec.executable, expanded),
    health_endpoint: url(spec.health_endpoint),
    api_endpoint: url(spec.api_endpoint),
    health: { ...spec.health, readiness_endpoint: url(spec.health.readiness_endpoint) },
    environment,
    ...(instance ? { replica: { service: spec.id, index, count, gpus: given } } : {}),
  };
}
