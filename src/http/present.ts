/**
 * The API's JSON shape of a service, from its spec and latest view. Boot-clock times become ISO
 * timestamps and uptimes here, at the edge, and nowhere else.
 */
import type { PresentedEvent, PresentedRun, PresentedService } from '../api/types.js';
import { bootNow, bootToWall } from '../clock.js';
import type { ServiceSpec } from '../config/schema.js';
import type { ServiceEntry } from '../fleet/views.js';
import { MASK } from '../os/secrets.js';
import type { StoredEvent } from '../store/events.js';
import type { RunRow } from '../store/runs.js';

const iso = (bootMs: number | null | undefined) => (bootMs === null || bootMs === undefined ? null : new Date(bootToWall(bootMs)).toISOString());

export function presentService({ spec, view, nextRunAt, gpuMemoryBytes }: ServiceEntry): PresentedService {
  const nextRun = nextRunAt === null || nextRunAt === undefined ? null : new Date(nextRunAt).toISOString();
  return {
    id: spec.id,
    name: spec.name,
    type: spec.type,
    source: spec.source,
    external: spec.external,
    group: spec.group,
    state: view.state,
    health: view.health,
    want: view.want,
    // A job between runs waits for its next tick: the reason says when.
    reason: nextRun && (view.state === 'stopped' || view.state === 'failed') ? `${view.reason}; next run at ${nextRun}` : view.reason,
    pid: view.pid,
    adopted: view.adopted,
    started_at: iso(view.startedAt),
    uptime_seconds: view.startedAt === null || view.pid === null ? null : Math.max(0, Math.round((bootNow() - view.startedAt) / 100) / 10),
    restarts: view.restarts,
    attempts: view.attempts,
    last_exit: view.lastExit && {
      code: view.lastExit.code, signal: view.lastExit.signal, reason: view.lastExit.reason, at: iso(view.lastExit.at),
      ...(view.lastExit.detail ? { detail: view.lastExit.detail } : {}),
    },
    health_check: {
      endpoint: spec.health_endpoint,
      last: view.probe && {
        ok: view.probe.ok, latency_ms: view.probe.latencyMs, status: view.probe.status ?? null, error: view.probe.error ?? null, at: iso(view.probe.at),
      },
      consecutive_failures: view.consecutiveFailures,
    },
    usage: view.usage && { cpu_percent: view.usage.cpu, rss_bytes: view.usage.rss, pids: view.usage.pids, sampled_at: iso(view.usage.at) },
    waiting_for: view.waitingFor,
    next_start_at: iso(view.nextStartAt),
    api_endpoint: spec.api_endpoint,
    depends_on: spec.depends_on,
    ready: view.ready,
    heartbeat_at: iso(view.heartbeatAt),
    heartbeat_age_seconds: view.heartbeatAt === null ? null : Math.max(0, Math.round((bootNow() - view.heartbeatAt) / 100) / 10),
    progress: view.progress,
    inflight: view.inflight,
    status_text: view.statusText,
    throttled_until: iso(view.throttledUntil),
    next_run_at: nextRun,
    replica: spec.replica ? { service: spec.replica.service, index: spec.replica.index, count: spec.replica.count } : null,
    port: spec.port === null ? null : Number(spec.environment.SERVICE_PORT ?? spec.port),
    gpus: spec.gpus ? (spec.environment.CUDA_VISIBLE_DEVICES ?? '').split(',').filter(Boolean).map(Number) : null,
    gpu_memory_bytes: gpuMemoryBytes ?? null,
  };
}

/** The spec as the API shows it: what was configured, in the same keys a service file uses. */
export function presentSpec(spec: ServiceSpec): Record<string, unknown> {
  const { source, file, secrets, ...rest } = spec;
  return { ...rest, secrets: presentSecrets(secrets), ...(file ? { file } : {}) };
}

/**
 * Secrets as the API, the feed and the CLI show them: the value always "***" (the spec holds none:
 * values are read at each start and kept in memory only), beside where it comes from, e.g.
 * {"OPENAI_API_KEY": {"value": "***", "file": "/srv/agents/secrets/openai.key"}}.
 */
export function presentSecrets(secrets: ServiceSpec['secrets'] | undefined): Record<string, Record<string, string>> {
  const out: Record<string, Record<string, string>> = {};
  for (const [name, source] of Object.entries(secrets ?? {})) out[name] = { value: MASK, ...source };
  return out;
}

export type { PresentedEvent, PresentedService };

export function presentEvent(e: StoredEvent): PresentedEvent {
  return { seq: e.seq, at: new Date(e.at).toISOString(), service: e.service, type: e.type, data: e.data };
}

/** A row of the runs ledger (wall-clock ms) as GET /api/services/{id}/runs shows it. */
export function presentRun(r: RunRow): PresentedRun {
  return {
    id: r.id, run_id: r.run_id, pid: r.pid,
    started_at: new Date(r.started_at).toISOString(),
    ended_at: r.ended_at === null ? null : new Date(r.ended_at).toISOString(),
    duration_seconds: r.ended_at === null ? null : Math.max(0, r.ended_at - r.started_at) / 1000,
    exit_code: r.exit_code, signal: r.signal, reason: r.reason,
    logs: { stdout: { start: r.stdout_start, end: r.stdout_end }, stderr: { start: r.stderr_start, end: r.stderr_end } },
  };
}
