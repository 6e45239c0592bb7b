/**
 * The public wire: the JSON shapes the REST API answers with and the frames of the /ws feed. The
 * server builds them (http/present.ts, http/ws.ts); the dashboard, the CLI and the SDK read them —
 * all from this one file, so a change here is a change everywhere the compiler looks. The REST
 * bodies are also valibot schemas (api/schemas.ts, from which the OpenAPI document is generated);
 * `tsc` fails when a type here and its schema there differ.
 */
import type { Health, ServiceState, Want } from '../actors/protocol.js';
import type { ServiceSpec } from '../config/schema.js';

export type { Health, ServiceState, Want };

/** A service as GET /api/services (and the feed's snapshot and services frames) show it. */
export interface PresentedService {
  id: string;
  name: string;
  type: string;
  source: ServiceSpec['source'];
  /** Registered by the service itself and not started by the orchestrator. */
  external: boolean;
  group: string;
  state: ServiceState;
  health: Health;
  want: Want;
  reason: string;
  pid: number | null;
  adopted: boolean;
  started_at: string | null;
  uptime_seconds: number | null;
  restarts: number;
  attempts: number;
  last_exit: { code: number | null; signal: string | null; reason: string; at: string | null; detail?: string } | null;
  health_check: {
    endpoint: string | null;
    last: { ok: boolean; latency_ms: number; status: number | null; error: string | null; at: string | null } | null;
    consecutive_failures: number;
  };
  usage: { cpu_percent: number; rss_bytes: number; pids: number; sampled_at: string | null } | null;
  waiting_for: string[];
  next_start_at: string | null;
  api_endpoint: string | null;
  depends_on: string[];
  /** Ready for traffic and for dependents: running, live, and its readiness probe (if any) passes. */
  ready: boolean;
  /** Time of this run's last heartbeat (POST /api/services/{id}/heartbeat); null before the first. */
  heartbeat_at: string | null;
  /** Seconds since that heartbeat; null before the first. */
  heartbeat_age_seconds: number | null;
  /** As the service last reported them in a heartbeat; null until it does. */
  progress: number | null;
  inflight: number | null;
  status_text: string | null;
  /** While state is throttled: when the wait ends. */
  throttled_until: string | null;
  /** A scheduled job (spec.schedule): when its next tick is due; null for any other service. */
  next_run_at: string | null;
  /** An instance `<service>#<index>` of a replicated service; null for a service that is not one. */
  replica: { service: string; index: number; count: number } | null;
  /** Its SERVICE_PORT (spec.port + index, unless its environment sets one); null without `port`. */
  port: number | null;
  /** The GPUs it was given (its CUDA_VISIBLE_DEVICES); null without `gpus`. */
  gpus: number[] | null;
  /** GPU memory its processes use, as nvidia-smi last reported; null when not measured (no gpus, no nvidia-smi). */
  gpu_memory_bytes: number | null;
}

/** A rolling restart (PUT /api/services/{id}/restart?rolling=true), as GET /api/services/{id} shows it. */
export interface PresentedRollout {
  state: 'running' | 'finished' | 'halted';
  /** Who asked (an API key's name, or "orchestrator" for a reload). */
  actor: string;
  total: number;
  /** Instances restarted and healthy for min_healthy_seconds, in order. */
  done: string[];
  /** Instances restarting now (at most rollout.max_parallel). */
  current: string[];
  /** The instance that halted it, and why. */
  failed: { instance: string; reason: string } | null;
  started_at: string;
  finished_at: string | null;
}

/** One run of a service (GET /api/services/{id}/runs), newest first. */
export interface PresentedRun {
  /** Row id in the runs ledger: pass it as ?before= to page on. */
  id: number;
  run_id: string;
  pid: number;
  started_at: string;
  ended_at: string | null;
  duration_seconds: number | null;
  exit_code: number | null;
  signal: string | null;
  /** How it ended ("exited with code 0", "timeout: killed by SIGTERM", …); null while it runs. */
  reason: string | null;
  /** Byte offsets of its output in the live log files at start and end (null: not known). */
  logs: { stdout: { start: number | null; end: number | null }; stderr: { start: number | null; end: number | null } };
}

/** GET /api/services/{id}/runs. */
export interface RunsPage { service: string; runs: PresentedRun[]; total: number; next_before: number | null }

/** POST /api/services/{id}/heartbeat body (each field optional). */
export interface HeartbeatBody { progress?: number; inflight?: number; status?: string }
/** POST /api/services/{id}/heartbeat answer: drain is true while the service should finish in-flight work and take no more. */
export interface HeartbeatAnswer { drain: boolean }
/** POST /api/services/{id}/throttle body: its next exit waits this long (202). */
export interface ThrottleBody { retry_after_seconds: number }

/**
 * Every event type recorded today, by where it comes from. The names are a contract (stored in the
 * registry, shown by the dashboard and CLI, matched by clients): add, never rename. Emitters are
 * checked against this (actors/protocol.ts ServiceEvent); stored and presented events keep
 * `type: string`, since the registry may hold events another version wrote.
 */
export type EventType =
  // one service's actor (actors/service.ts)
  | 'state' | 'exit' | 'health' | 'limit' | 'attempts_reset'
  // agent lifecycle (actors/service.ts): stalls, throttling, drains, readiness
  | 'heartbeat_timeout' | 'silence' | 'throttled' | 'quota'
  | 'drain_started' | 'drain_finished' | 'drain_timeout' | 'not_ready' | 'ready'
  // scheduled jobs: a run stopped at schedule.timeout_seconds (actors/service.ts); a tick skipped
  // (concurrency forbid) or replacing a run (replace), runs missed while the orchestrator was down (fleet/jobs.ts)
  | 'run_timeout' | 'run_skipped' | 'run_replaced' | 'missed_runs'
  // rolling restarts of a replicated service (fleet/rollout.ts): one event per instance done
  | 'rollout_started' | 'rollout_progress' | 'rollout_finished' | 'rollout_halted'
  // the supervision tree (actors/host.ts, supervisor.ts, root.ts)
  | 'actor_crashed' | 'supervisor_gave_up' | 'group_escalated' | 'root_intensity_exceeded'
  // the orchestrator (its lifecycle, the catalogue, conditions, log disk shares)
  | 'orchestrator_started' | 'orchestrator_stopped' | 'gone_while_down' | 'orphan_stopped' | 'actor_host_restarted'
  // (registered, updated, removed, reloaded and command carry `actor`: the API key's name)
  | 'registered' | 'updated' | 'removed' | 'reloaded' | 'command' | 'condition' | 'condition_cleared' | 'logs_dropped'
  // the registry, summarising held events it had to drop (store/pending-writes.ts)
  | 'events_dropped'
  // alert delivery (alerts/dispatcher.ts): a sink did not take a message within its max_attempts
  | 'alert_gave_up'
  // synthetic load from the actor host (bench only, ORCHESTRATOR_BENCH=1)
  | 'bench';

/** An event of the registry, numbered (`seq`) in the order it was recorded. */
export interface PresentedEvent {
  seq: number;
  at: string;
  service: string | null;
  type: string;
  data: Record<string, unknown>;
}

/** GET /api/services/{id}: the service, its spec as configured, and its latest events. */
export interface ServiceDetail extends PresentedService {
  spec: Record<string, unknown>;
  events: PresentedEvent[];
  /** A replicated service: how many instances it wants, each instance, its latest rolling restart. */
  replicas?: number;
  instances?: PresentedService[];
  rollout?: PresentedRollout | null;
}

export type LogStream = 'stdout' | 'stderr';

/** Frames the /ws feed sends. */
export type FeedMessage =
  | { type: 'hello'; seq: number; version: string; server_time: string }
  | { type: 'event'; event: PresentedEvent }
  /** Events recorded together, `from` … `to` in seq order (a client checks for gaps from the head). */
  | { type: 'events'; from: number; to: number; events: PresentedEvent[] }
  | { type: 'snapshot'; seq: number; services: PresentedService[] }
  | { type: 'services'; services: PresentedService[]; removed: string[] }
  | { type: 'log'; service: string; stream: LogStream; lines: string[] }
  /** The client cannot be given every event it missed: start again from a snapshot. */
  | { type: 'reset'; seq: number; reason: string }
  | { type: 'pong'; seq: number }
  | { type: 'subscribed'; topics: string[] }
  | { type: 'error'; code: 'bad_message' | 'bad_topic'; message: string };

/** Messages a /ws client may send. */
export type ClientMessage =
  | { type: 'subscribe'; topics: string[] }
  | { type: 'unsubscribe'; topics: string[] }
  | { type: 'ping' };

/** Close code for a client that does not keep up (its send buffer passed the limit): reconnect with ?since=. */
export const CLOSE_TOO_SLOW = 1013;

/** An alert sink as GET /api/alerts shows it: never its secret, nor the path or query of its URL. */
export interface PresentedSink {
  name: string;
  type: 'webhook' | 'slack';
  /** Scheme, host and port; the rest hidden. */
  url: string | null;
  url_env: string | null;
  /** Messages carry X-Orchestrator-Signature (the secret itself is never shown). */
  signed: boolean;
  secret_env: string | null;
  on: string[];
  services: string[] | null;
  min_interval_seconds: number;
  timeout_seconds: number;
  backoff_seconds: number;
  max_backoff_seconds: number;
  max_attempts: number;
  problem: string | null;
}

/** One message to a sink and its attempts (GET /api/alerts). */
export interface PresentedDelivery {
  id: string; sink: string; status: 'pending' | 'delivered' | 'gave_up'; test: boolean; service: string | null; reason: string;
  event_type: string; event_seq: number | null; count: number; created_at: string; due_at: string;
  next_attempt_at: string | null; in_flight: boolean;
  attempts: Array<{ n: number; at: string; duration_ms: number; status: number | null; error: string | null }>;
}

/** GET /api/alerts. */
export interface AlertsView { sinks: PresentedSink[]; pending: number; in_flight: number; deliveries: PresentedDelivery[] }
