/**
 * The data of a ServiceActor (src/actors/service.ts): its shape, its first value, the copy each
 * transition works on, and the view published from it. Kept apart from the transition so the
 * lifecycle steps (service-run.ts) and the state handlers (service.ts) share it without importing
 * each other.
 */
import type { ServiceSpec } from '../config/schema.js';
import { idleLimits, idleProbe, type LimitTrack, type ProbeTrack } from './health.js';
import type {
  Carry, ExitInfo, ExitReason, Health, RunInfo, ServiceState, ServiceView, TimerName, TreeSettings, Usage, Want,
} from './protocol.js';

/** The tree's settings plus the epoch: the prefix of run ids for this actor incarnation, unique across restarts of host and orchestrator. */
export type ServiceSettings = TreeSettings & { epoch: string };

/**
 * What follows once the current process group is gone: stay stopped or failed, start again at
 * once, back off and retry, or wait for the log disk to have space.
 */
export type After = 'stopped' | 'failed' | 'start' | 'backoff' | 'disk';

/** Why the actor sits in backoff: a counted retry, or waiting for log disk space (not counted). */
export type BackoffKind = 'retry' | 'disk';

export interface ServiceData {
  spec: ServiceSpec;
  settings: ServiceSettings;
  // The status: what the view shows, and what a replacing actor carries over (see Carry).
  state: ServiceState;
  want: Want;
  health: Health;
  /** Human text for the view and the state events; never branched on. */
  reason: string;
  /** The process this actor watches (null before the first spawn and once its group is empty). */
  run: RunInfo | null;
  restarts: number;
  /** Consecutive failed runs, against restart_policy.max_retries. */
  attempts: number;
  lastExit: ExitInfo | null;
  /** The spawn in flight (its run id), and the count that numbers run ids. */
  spawn: { pendingRunId: string | null; count: number };
  /** How the current run ends. */
  ending: {
    then: After;
    /** The exit reason to record when we are the ones ending the run; null when it ends on its own. */
    cause: ExitReason | null;
    /** The reason already says SIGKILL was sent. */
    killNoted: boolean;
  };
  backoff: { kind: BackoffKind; nextStartAt: number | null };
  probe: ProbeTrack;
  limits: LimitTrack;
  usage: Usage | null;
  deps: { ready: boolean; waitingFor: string[] };
  /** The current generation of each timer: a timer message of another generation is stale. */
  timers: Record<TimerName, number>;
}

/**
 * A new actor. With `run`, it is created around that live process, in state running (send it
 * `adopt` to watch the process); `carry` is what a previous actor of this service knew.
 */
export function initialData(spec: ServiceSpec, settings: ServiceSettings, run?: RunInfo, carry?: Carry): ServiceData {
  const d: ServiceData = {
    spec, settings,
    state: 'stopped', want: 'down', health: 'unknown', reason: 'not started',
    run: null, restarts: carry?.restarts ?? 0, attempts: carry?.attempts ?? 0, lastExit: carry?.lastExit ?? null,
    spawn: { pendingRunId: null, count: 0 },
    ending: { then: 'stopped', cause: null, killNoted: false },
    backoff: { kind: 'retry', nextStartAt: null },
    probe: idleProbe(),
    limits: idleLimits(),
    usage: null,
    deps: { ready: spec.depends_on.length === 0, waitingFor: [...spec.depends_on] },
    timers: { probe: 0, ready_probe: 0, sample: 0, stop_timeout: 0, backoff: 0, stable: 0, heartbeat: 0, silence: 0, drain: 0 },
  };
  if (run) {
    d.run = run;
    d.state = 'running';
    d.want = 'up';
    d.reason = run.adopted ? 'adopted' : 'reattached';
    if (carry?.health === 'healthy' && probesEnabled(d)) d.health = 'healthy';
  } else if (carry?.state === 'failed') {
    // A service that had given up stays failed (not silently "stopped") until someone starts it.
    d.state = 'failed';
    d.reason = carry.reason ?? 'failed';
  }
  return d;
}

/**
 * The copy a transition works on (the nested records it may change are copied too). Written out
 * field by field: a spread with overrides took V8's slow path (≈ 2 µs a copy against ≈ 0.1 µs, at
 * thousands of transitions a second for a large fleet), and the type makes a new field impossible
 * to forget here.
 */
export function draft(d: ServiceData): ServiceData {
  const { spawn: s, ending: e, backoff: b, probe: p, limits: l, timers: t } = d;
  return {
    spec: d.spec, settings: d.settings,
    state: d.state, want: d.want, health: d.health, reason: d.reason,
    run: d.run, restarts: d.restarts, attempts: d.attempts, lastExit: d.lastExit,
    spawn: { pendingRunId: s.pendingRunId, count: s.count },
    ending: { then: e.then, cause: e.cause, killNoted: e.killNoted },
    backoff: { kind: b.kind, nextStartAt: b.nextStartAt },
    probe: {
      inFlight: p.inFlight, sentAt: p.sentAt, okStreak: p.okStreak, failStreak: p.failStreak,
      fastDelay: p.fastDelay, graceUntil: p.graceUntil, everHealthy: p.everHealthy, last: p.last,
    },
    limits: { memory: l.memory, cpu: l.cpu },
    usage: d.usage, deps: d.deps,
    timers: { ...t },
  };
}

export function view(d: ServiceData): ServiceView {
  return {
    id: d.spec.id, state: d.state, health: d.health, want: d.want, reason: d.reason,
    pid: d.run?.pid ?? null, startedAt: d.run?.startedAt ?? null, adopted: d.run?.adopted ?? false,
    restarts: d.restarts, attempts: d.attempts, lastExit: d.lastExit, probe: d.probe.last,
    consecutiveFailures: d.probe.failStreak, usage: d.usage, waitingFor: d.deps.waitingFor,
    nextStartAt: d.backoff.nextStartAt,
    ready: isReady(d),
    heartbeatAt: null, progress: null, inflight: null, statusText: null, throttledUntil: null,
  };
}

export function probesEnabled(d: ServiceData): boolean {
  return d.settings.monitoringEnabled && !!d.spec.health_endpoint;
}

/** Ready for dependents: running, and healthy when it has a health check. */
export function isReady(d: ServiceData): boolean {
  return d.state === 'running' && (d.health === 'healthy' || !probesEnabled(d));
}

/** A process of ours exists or is being spawned: it has to be stopped before anything else runs. */
export function hasProcess(d: ServiceData): boolean {
  return d.run !== null || d.spawn.pendingRunId !== null;
}

/** Probes and samples are tied to a run; an external service (no process of ours) has this one. */
export const EXTERNAL_RUN = 'external';

/** The run probe results are accepted for. */
export function monitoredRun(d: ServiceData): string | null {
  return d.run?.runId ?? (d.spec.external && d.state === 'running' ? EXTERNAL_RUN : null);
}
