/**
 * The data of a ServiceActor (src/actors/service.ts): its shape, its first value, the copy each
 * transition works on, and the view published from it. Kept apart from the transition so the
 * lifecycle steps (service-run.ts) and the state handlers (service.ts) share it without importing
 * each other.
 */
import type { ServiceSpec } from '../config/schema.js';
import { idleLimits, idleProbe, idleReadiness, type LimitTrack, type ProbeTrack, type ReadinessTrack } from './health.js';
import type {
  Carry, ExitInfo, ExitReason, Health, RunInfo, ServiceState, ServiceView, TimerName, TreeSettings, Usage, Want,
} from './protocol.js';

/** The tree's settings plus the epoch: the prefix of run ids for this actor incarnation, unique across restarts of host and orchestrator. */
export type ServiceSettings = TreeSettings & { epoch: string };

/**
 * What follows once the current process group is gone: stay stopped or failed, start again at
 * once, back off and retry, wait for the log disk to have space, or wait out a throttle.
 */
export type After = 'stopped' | 'failed' | 'start' | 'backoff' | 'disk' | 'throttle';

/**
 * Why the actor waits to start again: a counted retry (backoff), log disk space (backoff, not
 * counted), or the time a throttled run named (throttled, not counted).
 */
export type BackoffKind = 'retry' | 'disk' | 'throttle';

/**
 * What the current run said of itself (heartbeats, output, a throttle notice), and the deadlines
 * kept from it. Reset when a run starts. Deadlines are lazy: a heartbeat or output moves the due
 * time, and the timer, when it fires early, is armed again for the rest.
 */
export interface AgentTrack {
  heartbeatAt: number | null;
  progress: number | null;
  inflight: number | null;
  statusText: string | null;
  /** The progress value of the last counted heartbeat (require_progress). */
  countedProgress: number | null;
  /** It reported `inflight` at least once: a planned stop drains it. */
  everInflight: boolean;
  /** When the heartbeat (silence) deadline falls; null while not watched (none configured, or stalled). */
  heartbeatDue: number | null;
  silenceDue: number | null;
  /** Health is "stalled" (action alert): no counted heartbeat, or no output, for too long. */
  stalledHeartbeat: boolean;
  stalledSilence: boolean;
  /** Its next exit is throttled with this wait (a throttle message); at the exit, the wait chosen. */
  throttleMs: number | null;
}

export function idleAgent(): AgentTrack {
  return {
    heartbeatAt: null, progress: null, inflight: null, statusText: null, countedProgress: null, everInflight: false,
    heartbeatDue: null, silenceDue: null, stalledHeartbeat: false, stalledSilence: false, throttleMs: null,
  };
}

/** A planned stop or restart waiting for the run's in-flight work: what to do once it is over. */
export interface Drain {
  then: After;
  cause: ExitReason;
  reason: string;
  startedAt: number;
}

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
  readiness: ReadinessTrack;
  agent: AgentTrack;
  /** Set while draining. */
  drain: Drain | null;
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
    readiness: idleReadiness(),
    agent: idleAgent(),
    drain: null,
    limits: idleLimits(),
    usage: null,
    deps: { ready: spec.depends_on.length === 0, waitingFor: [...spec.depends_on] },
    timers: { probe: 0, ready_probe: 0, sample: 0, stop_timeout: 0, backoff: 0, stable: 0, heartbeat: 0, silence: 0, drain: 0, job_timeout: 0 },
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
  const { spawn: s, ending: e, backoff: b, probe: p, readiness: r, agent: a, limits: l, timers: t } = d;
  return {
    spec: d.spec, settings: d.settings,
    state: d.state, want: d.want, health: d.health, reason: d.reason,
    run: d.run, restarts: d.restarts, attempts: d.attempts, lastExit: d.lastExit,
    spawn: { pendingRunId: s.pendingRunId, count: s.count },
    ending: { then: e.then, cause: e.cause, killNoted: e.killNoted },
    backoff: { kind: b.kind, nextStartAt: b.nextStartAt },
    probe: {
      inFlight: p.inFlight, sentAt: p.sentAt, okStreak: p.okStreak, failStreak: p.failStreak,
      fastDelay: p.fastDelay, graceUntil: p.graceUntil, startupTimeout: p.startupTimeout, everHealthy: p.everHealthy, last: p.last,
    },
    readiness: {
      inFlight: r.inFlight, sentAt: r.sentAt, okStreak: r.okStreak, failStreak: r.failStreak,
      fastDelay: r.fastDelay, passing: r.passing, everPassed: r.everPassed, last: r.last,
    },
    agent: {
      heartbeatAt: a.heartbeatAt, progress: a.progress, inflight: a.inflight, statusText: a.statusText,
      countedProgress: a.countedProgress, everInflight: a.everInflight, heartbeatDue: a.heartbeatDue, silenceDue: a.silenceDue,
      stalledHeartbeat: a.stalledHeartbeat, stalledSilence: a.stalledSilence, throttleMs: a.throttleMs,
    },
    drain: d.drain,
    limits: { memory: l.memory, cpu: l.cpu },
    usage: d.usage, deps: d.deps,
    // Written out like the rest: a spread is V8's slow path, and this copy is made at every turn.
    timers: {
      probe: t.probe, ready_probe: t.ready_probe, sample: t.sample, stop_timeout: t.stop_timeout, backoff: t.backoff,
      stable: t.stable, heartbeat: t.heartbeat, silence: t.silence, drain: t.drain, job_timeout: t.job_timeout,
    },
  };
}

export function view(d: ServiceData): ServiceView {
  const a = d.agent;
  return {
    id: d.spec.id, state: d.state, health: publicHealth(d), want: d.want, reason: d.reason,
    pid: d.run?.pid ?? null, startedAt: d.run?.startedAt ?? null, adopted: d.run?.adopted ?? false,
    restarts: d.restarts, attempts: d.attempts, lastExit: d.lastExit, probe: d.probe.last,
    consecutiveFailures: d.probe.failStreak, usage: d.usage, waitingFor: d.deps.waitingFor,
    nextStartAt: d.backoff.nextStartAt,
    ready: isReady(d),
    heartbeatAt: a.heartbeatAt, progress: a.progress, inflight: a.inflight, statusText: a.statusText,
    throttledUntil: d.state === 'throttled' ? d.backoff.nextStartAt : null,
  };
}

/** Health as shown: the probes' verdict (d.health), unless the run is stalled (heartbeat or silence, action alert). */
export function publicHealth(d: ServiceData): Health {
  return d.agent.stalledHeartbeat || d.agent.stalledSilence ? 'stalled' : d.health;
}

export function readinessEnabled(d: ServiceData): boolean {
  return d.settings.monitoringEnabled && !!d.spec.health.readiness_endpoint;
}

export function probesEnabled(d: ServiceData): boolean {
  return d.settings.monitoringEnabled && !!d.spec.health_endpoint;
}

/**
 * Ready for traffic and for dependents: running; live (healthy when it has a health check, and
 * neither unhealthy nor stalled); and passing its readiness probe when it has one.
 */
export function isReady(d: ServiceData): boolean {
  if (d.state !== 'running') return false;
  const health = publicHealth(d);
  if (health === 'unhealthy' || health === 'stalled') return false;
  if (probesEnabled(d) && health !== 'healthy') return false;
  return !readinessEnabled(d) || d.readiness.passing;
}

/** Why it is not ready (for the not_ready event); only asked while it is not. */
export function notReadyReason(d: ServiceData): string {
  if (d.state === 'draining') return 'draining';
  const health = publicHealth(d);
  if (health === 'stalled') return d.agent.stalledHeartbeat ? 'stalled: no heartbeat' : 'stalled: no output';
  if (health !== 'healthy' && probesEnabled(d)) return health === 'unhealthy' ? 'unhealthy' : 'not yet healthy';
  const last = d.readiness.last;
  return last ? `readiness probe failing: ${last.error ?? `HTTP ${last.status}`}` : 'readiness probe not yet passed';
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
