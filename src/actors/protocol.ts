/**
 * Every message, effect, fact and view of the actor tree, as tagged unions. Plain,
 * structured-clone-safe data only: these values cross the worker boundary (see src/workers/wire.ts).
 *
 * Vocabulary: commands are imperative (start, stop), facts are past tense (spawned, exited,
 * probed, sampled). Times are milliseconds on the boot clock (monotonic, shared with the kernel's
 * process start times), never wall-clock time.
 */
import type { EventType } from '../api/types.js';
import type { OrchestratorConfig, ServiceSpec } from '../config/schema.js';

/**
 * throttled: it exited rate-limited (an exit code in throttle.exit_codes, or it said so first) and
 * waits exactly the named time — not a crash, no retry spent. draining: a planned stop or restart
 * waits for its in-flight work (it reported `inflight`) before the stop signal.
 */
export type ServiceState = 'stopped' | 'starting' | 'running' | 'draining' | 'stopping' | 'exited' | 'backoff' | 'throttled' | 'failed';
/** stalled: alive, but no heartbeat (or no progress, or no output) for too long, with action alert. */
export type Health = 'unknown' | 'healthy' | 'unhealthy' | 'stalled';
export type Want = 'up' | 'down';

/** One process the kernel started (or adopted) for a service. */
export interface RunInfo {
  /** Unique per service across orchestrator and actor-host restarts ("<epoch>.<n>"). */
  runId: string;
  pid: number;
  /** Process group id: equals pid, the child is a group leader (spawned detached). */
  pgid: number;
  /** Boot-clock ms at which the process started (from /proc/PID/stat). */
  startedAt: number;
  /** True when this orchestrator did not spawn it (re-adopted after an orchestrator restart). */
  adopted?: boolean;
}

/**
 * Why a run ended, as a code (the human text is the state's `reason`). The process ended on its own:
 * exited (status 0), crashed (other status), killed (by a signal nobody here sent), log_disk_full
 * (abnormally, with its log disk full). We ended it: stopped, restarted, gave_up (its supervisor or
 * the host gave up on it), unhealthy, memory_limit, cpu_limit. It never ran: spawn_failed, or env_file /
 * secret (an env file or a secret of the service could not be read at this start). The
 * orchestrator found it gone after its own restart: gone_while_down.
 */
export type ExitReason =
  | 'exited' | 'crashed' | 'killed' | 'log_disk_full' | 'throttled' | 'quota'
  | 'stopped' | 'restarted' | 'gave_up' | 'unhealthy' | 'memory_limit' | 'cpu_limit' | 'heartbeat_timeout' | 'silence'
  | 'spawn_failed' | 'env_file' | 'secret' | 'gone_while_down'
  /** A scheduled job's run took longer than schedule.timeout_seconds and was stopped. */
  | 'timeout';

export interface ExitInfo {
  code: number | null;
  signal: string | null;
  reason: ExitReason;
  at: number;
  detail?: string;
}

export interface ProbeResult {
  ok: boolean;
  latencyMs: number;
  status?: number;
  error?: string;
  at: number;
}

export interface Usage {
  /** Percent of one core, summed over the process tree. */
  cpu: number;
  /** Resident set size in bytes, summed over the process tree. */
  rss: number;
  pids: number;
  at: number;
}

export type TimerName = 'probe' | 'ready_probe' | 'sample' | 'stop_timeout' | 'backoff' | 'stable' | 'heartbeat' | 'silence' | 'drain' | 'job_timeout';

/** Which of a service's two probes: liveness (health_endpoint) or readiness (health.readiness_endpoint). */
export type ProbeKind = 'liveness' | 'readiness';

/** Everything a ServiceActor can receive. */
export type ServiceMsg =
  // commands (from the API through the host, or from a supervisor)
  | { type: 'start'; reason: string }
  | { type: 'stop'; reason: string }
  | { type: 'restart'; reason: string }
  /** The supervisor gave up on this service's group: stop and stay failed. */
  | { type: 'give_up'; reason: string }
  | { type: 'update'; spec: ServiceSpec; restart: boolean }
  /**
   * The actor was created around a live process of this service (orchestrator re-adoption, actor or
   * actor-host restart; see initialData): watch it.
   */
  | { type: 'adopt' }
  /** An external service (running outside the orchestrator) is up: watch its health, never spawn or signal it. */
  | { type: 'register_external' }
  // facts from the kernel (main thread)
  | { type: 'spawned'; run: RunInfo }
  /** cause: the run's environment could not be built (an env file or a secret); the error names it, never a value. */
  | { type: 'spawn_failed'; runId: string; error: string; cause?: 'env_file' | 'secret' }
  /** cause log_disk_full: it exited with the log disk full (its own log writes failed, most likely). */
  | { type: 'exited'; runId: string; code: number | null; signal: string | null; groupEmpty: boolean; cause?: 'log_disk_full' }
  /** The log disk has space again: a service waiting for it restarts now. */
  | { type: 'log_disk_ok' }
  | { type: 'group_empty'; runId: string }
  | { type: 'probed'; kind: ProbeKind; runId: string; gen: number; ok: boolean; latencyMs: number; status?: number; error?: string }
  /** Output from the service (stdout/stderr bytes), at most about once a second: silence is its absence. */
  | { type: 'output' }
  // from the service itself, over the API (its run token or the API key; runId when a run token said it)
  /** POST /api/services/{id}/heartbeat: it is working; progress, in-flight count and a status line, each optional. */
  | { type: 'heartbeat'; runId?: string; progress?: number; inflight?: number; status?: string }
  /** POST /api/services/{id}/throttle: its next exit is throttled with this wait. */
  | { type: 'throttle'; runId?: string; retryAfterMs: number }
  | { type: 'sampled'; runId: string; cpu: number; rss: number; pids: number; /** CPU seconds since the previous sample (metrics only). */ cpuSeconds?: number }
  // from the tree
  | { type: 'deps'; ready: boolean; waitingFor: string[] }
  // from the runtime's timers
  | { type: 'timer'; name: TimerName; gen: number };

/** What an actor that replaces another one takes over (actor, actor-host or orchestrator restart). */
export interface Carry {
  restarts: number;
  attempts: number;
  lastExit: ExitInfo | null;
  state?: ServiceState;
  reason?: string;
  /** A healthy verdict is kept over a re-adoption, so the service does not flap through "unknown". */
  health?: Health;
}

/** The public, query-side view of a ServiceActor (REST, dashboard, the registry's status rows). */
export interface ServiceView {
  id: string;
  state: ServiceState;
  health: Health;
  want: Want;
  /** Human text: why the service is in its state. Display only: code never branches on it. */
  reason: string;
  pid: number | null;
  startedAt: number | null;
  adopted: boolean;
  restarts: number;
  attempts: number;
  lastExit: ExitInfo | null;
  probe: ProbeResult | null;
  consecutiveFailures: number;
  usage: Usage | null;
  waitingFor: string[];
  nextStartAt: number | null;
  /** Ready for traffic and for dependents: running, live, and its readiness probe passes (if any). */
  ready: boolean;
  /** Boot-clock time of the last heartbeat of this run; null before the first. */
  heartbeatAt: number | null;
  progress: number | null;
  inflight: number | null;
  statusText: string | null;
  /** While throttled: boot-clock time the wait ends. */
  throttledUntil: number | null;
}

/** A fact from the kernel (main thread) for one service's actor. */
export interface Fact {
  id: string;
  msg: ServiceMsg;
}

/**
 * What a ServiceActor tells its supervisor. child_exit with willRestart false charges nothing and
 * restarts no sibling: an exit that is not restarted, and one that waits outside the retry budget
 * (the log disk full, or throttled: it restarts after its wait all the same).
 */
export type ParentNote =
  | { type: 'child_exit'; id: string; abnormal: boolean; willRestart: boolean }
  | { type: 'child_ready'; id: string; ready: boolean };

/** Effects the kernel performs for an actor (they leave the worker). */
export type KernelEffect =
  | { type: 'spawn'; id: string; runId: string; spec: ServiceSpec }
  /** cause: why we end the run (the ledger records it with the exit); none when it ended on its own. */
  | { type: 'signal'; id: string; runId: string; signal: string; cause?: ExitReason }
  /** keepAlive: keep the connection for the next probe (probes under KEEP_ALIVE_BELOW_MS apart, policy.ts). */
  | { type: 'probe'; kind: ProbeKind; id: string; runId: string; gen: number; url: string; timeoutMs: number; keepAlive: boolean }
  | { type: 'sample'; id: string; runId: string };

/** A registry event: recorded with a sequence number and fanned out to /ws. */
export interface ServiceEvent {
  /** The service concerned; null for events of the tree itself (a supervisor, the actor host). */
  service: string | null;
  type: EventType;
  at: number;
  data: Record<string, unknown>;
}

export type ServiceEffect =
  | KernelEffect
  | { type: 'set_timer'; name: TimerName; gen: number; delayMs: number }
  | { type: 'cancel_timer'; name: TimerName }
  | { type: 'event'; event: EventType; data: Record<string, unknown> }
  | { type: 'notify'; note: ParentNote };

/** Messages a group supervisor receives. */
export type SupervisorMsg = ParentNote | { type: 'reset' } | { type: 'set_children'; children: string[] };

export type SupervisorEffect =
  | { type: 'send'; to: string; msg: ServiceMsg }
  | { type: 'event'; event: EventType; data: Record<string, unknown> }
  /** Tell the root supervisor (this group gave up). */
  | { type: 'escalate'; msg: RootMsg };

/**
 * Messages the root supervisor receives. OTP's supervisor past its intensity exits, and its parent
 * sees a child exit; here the group stays (its members failed) and says so to the root instead.
 */
export type RootMsg = { type: 'group_gave_up'; group: string; trigger: string; restarts: number; period_seconds: number };

export type RootEffect = { type: 'event'; event: EventType; data: Record<string, unknown> };

// ---------------------------------------------------------------------------------------------
// The tree as the main thread builds it (actors/host.ts; sent to the worker, see workers/wire.ts)

/** A command from the API, through the host, to one service. */
export type Command = 'start' | 'stop' | 'restart';

/** One service for the tree: its spec, what is wanted of it, and what is already known. */
export interface HostEntry {
  spec: ServiceSpec;
  want: Want;
  /** A live process this service already has (actor-host restart, or orchestrator re-adoption). */
  run?: RunInfo;
  /** What a previous incarnation of the actor knew (after an actor or actor-host restart). */
  carry?: Carry;
}

/** Settings every ServiceActor of the tree shares (each actor adds the host's epoch to them). */
export interface TreeSettings {
  monitoringEnabled: boolean;
  recoveryEnabled: boolean;
  sampleIntervalMs: number;
}

export interface HostConfig {
  settings: TreeSettings;
  /** Unique per host incarnation; run ids are "<epoch>.<n>". */
  epoch: string;
  supervision: OrchestratorConfig['supervision'];
}

/** Context injected into pure logic: time and randomness are inputs, never ambient. */
export interface LogicContext {
  now: number;
  random: () => number;
}

export interface Step<D, E> {
  data: D;
  effects: E[];
}

export function assertNever(x: never): never {
  throw new Error(`unexpected message: ${JSON.stringify(x)}`);
}
