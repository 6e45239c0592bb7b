/**
 * The REST API's JSON bodies as valibot schemas: the one description of the wire that the OpenAPI
 * document (http/openapi.ts, through @valibot/to-json-schema) is generated from. The TypeScript
 * types the server and its clients use (api/types.ts and a few beside their producers) are checked
 * against these at compile time (the `agree` lines at the bottom), so a field added to one and not
 * the other fails `tsc`. Objects are strict: a field the server sends and this file does not name
 * fails test/http/openapi-responses.test.ts.
 */
import * as v from 'valibot';
import type * as fleet from '../fleet/views.js';
import type * as exported from '../export/model.js';
import type * as wire from './types.js';

const s = (description: string) => v.pipe(v.string(), v.description(description));
const time = () => v.pipe(v.string(), v.isoTimestamp());
const int = () => v.pipe(v.number(), v.integer());
const nullable = <T extends v.GenericSchema>(schema: T) => v.nullable(schema);
const described = <T extends v.GenericSchema>(schema: T, description: string) => v.pipe(schema, v.description(description));

export const ErrorBody = v.strictObject({
  error: v.strictObject({
    code: v.string(), message: v.string(),
    field: v.optional(s('The field (dotted path) the problem is in')),
    problems: v.optional(v.array(v.strictObject({ field: v.string(), message: v.string() }))),
  }),
});

export const ServiceSummary = v.pipe(v.strictObject({
  id: v.string(), name: v.string(), type: v.string(), source: v.picklist(['file', 'api']),
  external: described(v.boolean(), 'Registered by the service itself and not started by the orchestrator'),
  group: v.string(),
  state: v.picklist(['stopped', 'starting', 'running', 'draining', 'stopping', 'exited', 'backoff', 'throttled', 'failed']),
  health: v.picklist(['unknown', 'healthy', 'unhealthy', 'stalled']),
  want: v.picklist(['up', 'down']),
  reason: v.string(),
  pid: nullable(int()), adopted: v.boolean(), started_at: nullable(time()), uptime_seconds: nullable(v.number()),
  restarts: int(), attempts: int(),
  last_exit: nullable(v.strictObject({ code: nullable(int()), signal: nullable(v.string()), reason: v.string(), at: nullable(time()), detail: v.optional(v.string()) })),
  health_check: v.strictObject({
    endpoint: nullable(v.string()),
    last: nullable(v.strictObject({ ok: v.boolean(), latency_ms: v.number(), status: nullable(int()), error: nullable(v.string()), at: nullable(time()) })),
    consecutive_failures: int(),
  }),
  usage: nullable(v.strictObject({ cpu_percent: v.number(), rss_bytes: v.number(), pids: int(), sampled_at: nullable(time()) })),
  waiting_for: v.array(v.string()), next_start_at: nullable(time()),
  api_endpoint: nullable(v.string()), depends_on: v.array(v.string()),
  ready: described(v.boolean(), 'Running, live, and its readiness probe (if any) passes'),
  heartbeat_at: nullable(time()), heartbeat_age_seconds: nullable(v.number()),
  progress: nullable(v.number()), inflight: nullable(int()), status_text: nullable(v.string()),
  throttled_until: nullable(time()),
  next_run_at: described(nullable(time()), 'A scheduled job: its next tick'),
  replica: described(nullable(v.strictObject({ service: v.string(), index: int(), count: int() })), 'An instance <service>#<index> of a replicated service'),
  port: described(nullable(int()), 'Its SERVICE_PORT (spec.port + index)'),
  gpus: described(nullable(v.array(int())), 'The GPUs it was given (CUDA_VISIBLE_DEVICES)'),
  gpu_memory_bytes: described(nullable(v.number()), 'GPU memory of its processes (nvidia-smi); null when not measured'),
}), v.description('A service as GET /api/services shows it'));

export const Rollout = v.strictObject({
  state: v.picklist(['running', 'finished', 'halted']), actor: v.string(), total: int(),
  done: v.array(v.string()), current: v.array(v.string()),
  failed: nullable(v.strictObject({ instance: v.string(), reason: v.string() })),
  started_at: time(), finished_at: nullable(time()),
});

export const Event = v.strictObject({
  seq: int(), at: time(), service: nullable(v.string()), type: v.string(), data: v.record(v.string(), v.unknown()),
});

const detailEntries = {
  ...ServiceSummary.pipe[0].entries,
  spec: described(v.record(v.string(), v.unknown()), 'The spec as configured, in the keys a service file uses; secrets shown as {"value": "***", …}'),
  events: described(v.array(Event), 'Its latest events'),
  replicas: described(v.optional(int()), 'A replicated service: instances wanted'),
  instances: described(v.optional(v.array(ServiceSummary)), 'A replicated service: each instance'),
  rollout: described(v.optional(nullable(Rollout)), 'A replicated service: its latest rolling restart'),
};
export const ServiceDetail = v.strictObject(detailEntries);
export const UpdatedService = v.strictObject({ ...detailEntries, restarted: v.boolean() });
export const ServiceList = v.strictObject({ services: v.array(ServiceSummary), count: int() });
export const Removed = v.strictObject({ id: v.string(), removed: v.literal(true) });
export const EventsPage = v.strictObject({ events: v.array(Event), last_seq: int() });

const offsets = v.strictObject({ start: nullable(int()), end: nullable(int()) });
export const Run = v.strictObject({
  id: described(int(), 'Row id; ?before= pages on'), run_id: v.string(), pid: int(),
  started_at: time(), ended_at: nullable(time()), duration_seconds: nullable(v.number()),
  exit_code: nullable(int()), signal: nullable(v.string()), reason: nullable(v.string()),
  logs: described(v.strictObject({ stdout: offsets, stderr: offsets }), 'Byte offsets in the live stdout/stderr files at start and end'),
});
export const RunsPage = v.strictObject({ service: v.string(), runs: v.array(Run), total: int(), next_before: nullable(int()) });

export const MetricsPage = v.strictObject({
  service: v.string(), bucket_seconds: int(),
  points: v.array(v.strictObject({ at: time(), cpu_percent: v.number(), cpu_max: v.number(), rss_bytes: v.number(), rss_max: v.number(), samples: int() })),
});

/** One line of GET /api/services/{id}/logs with Accept: application/x-ndjson. */
export const LogLine = v.strictObject({
  stream: v.picklist(['stdout', 'stderr']), line: v.string(), at: time(), offset: v.number(),
  instance: v.optional(s('A replicated service: the instance that wrote it')),
});

const FleetSummary = v.strictObject({ total: int(), by_state: v.record(v.string(), int()), healthy: int(), unhealthy: int() });
export const Health = v.strictObject({
  status: v.picklist(['ok', 'degraded', 'unavailable']), version: v.string(), pid: int(), engine: v.picklist(['uws', 'node']),
  started_at: time(), uptime_seconds: v.number(), services: FleetSummary, problems: v.array(v.string()), timestamp: time(),
});

export const HeartbeatBody = v.strictObject({
  progress: v.optional(v.number()), inflight: v.optional(v.pipe(int(), v.minValue(0))),
  status: v.optional(v.pipe(v.string(), v.description('At most 500 characters; longer is cut'))),
});
export const HeartbeatAnswer = v.strictObject({ drain: described(v.boolean(), 'Finish in-flight work and take no more') });
export const ThrottleBody = v.strictObject({ retry_after_seconds: v.pipe(v.number(), v.gtValue(0)) });
export const ThrottleAnswer = v.strictObject({ accepted: v.boolean(), retry_after_seconds: v.number() });

export const ReloadResult = v.strictObject({
  added: v.array(v.string()), removed: v.array(v.string()), changed: v.array(v.string()), restarted: v.array(v.string()),
  problems: v.array(v.strictObject({ file: v.optional(v.string()), line: v.optional(int()), col: v.optional(int()), field: v.string(), message: v.string() })),
});

export const Whoami = v.strictObject({ name: v.string(), scopes: v.array(v.picklist(['read', 'operate', 'admin'])) });

export const Sink = v.strictObject({
  name: v.string(), type: v.picklist(['webhook', 'slack']),
  url: described(nullable(v.string()), 'Scheme, host and port; the rest hidden'), url_env: nullable(v.string()),
  signed: v.boolean(), secret_env: nullable(v.string()), on: v.array(v.string()), services: nullable(v.array(v.string())),
  min_interval_seconds: v.number(), timeout_seconds: v.number(), backoff_seconds: v.number(), max_backoff_seconds: v.number(),
  max_attempts: int(), problem: nullable(v.string()),
});
export const Delivery = v.strictObject({
  id: v.string(), sink: v.string(), status: v.picklist(['pending', 'delivered', 'gave_up']), test: v.boolean(),
  service: nullable(v.string()), reason: v.string(), event_type: v.string(), event_seq: nullable(int()), count: int(),
  created_at: time(), due_at: time(), next_attempt_at: nullable(time()), in_flight: v.boolean(),
  attempts: v.array(v.strictObject({ n: int(), at: time(), duration_ms: v.number(), status: nullable(int()), error: nullable(v.string()) })),
});
export const AlertsView = v.strictObject({ sinks: v.array(Sink), pending: int(), in_flight: int(), deliveries: v.array(Delivery) });
export const AlertTest = v.strictObject({ delivery: described(Delivery, 'Queued; follow it with GET /api/alerts?delivery=ID') });

const ExportServiceReport = v.strictObject({
  id: v.string(), source: v.string(), files: v.array(v.string()),
  mappings: v.array(v.strictObject({ key: v.string(), outcome: v.picklist(['exact', 'approximate', 'dropped']), detail: v.string() })),
  refused: v.optional(s('Nothing was generated for the service, and why')),
  skipped: v.optional(described(v.boolean(), 'Refused by its nature (an external service), not by a problem')),
});
export const ExportResult = v.strictObject({
  target: v.picklist(['systemd', 'kubernetes']),
  files: described(v.record(v.string(), v.string()), 'Relative file name → contents'),
  report: s('EXPORT-REPORT.md: what maps exactly, approximately or not at all'),
  services: v.array(ExportServiceReport),
});

/** Every named schema of the document's components (the request ServiceSpec is added by openapi.ts). */
export const components = {
  Error: ErrorBody, Service: ServiceSummary, ServiceDetail, UpdatedService, ServiceList, Removed, Rollout, Event, EventsPage,
  Run, RunsPage, MetricsPage, LogLine, Health, FleetSummary, HeartbeatBody, HeartbeatAnswer, ThrottleBody, ThrottleAnswer,
  ReloadResult, Whoami, Sink, Delivery, AlertsView, AlertTest, ExportServiceReport, ExportResult,
};

// ---------------------------------------------------------------------------------------------
// Compile-time agreement with the TypeScript types: each line fails `tsc` when the two differ.

/** Objects spelled out field by field, at every depth (valibot's inferred types are intersections and mapped types). */
type Plain<T> = T extends object ? { [K in keyof T]: Plain<T[K]> } : T;
/** true when A and B are the same type: the same fields, the same optionality, the same field types, at every depth. */
type Same<A, B> = (<X>() => X extends Plain<A> ? 1 : 2) extends (<X>() => X extends Plain<B> ? 1 : 2) ? true : false;
type Agree<T extends v.GenericSchema, U> = Same<v.InferOutput<T>, U>;
const agree = <_ extends true>() => undefined;
agree<Agree<typeof ServiceSummary, wire.PresentedService>>();
agree<Agree<typeof ServiceDetail, wire.ServiceDetail>>();
agree<Agree<typeof Rollout, wire.PresentedRollout>>();
agree<Agree<typeof Event, wire.PresentedEvent>>();
agree<Agree<typeof Run, wire.PresentedRun>>();
agree<Agree<typeof RunsPage, wire.RunsPage>>();
agree<Agree<typeof FleetSummary, fleet.FleetSummary>>();
agree<Agree<typeof HeartbeatBody, wire.HeartbeatBody>>();
agree<Agree<typeof HeartbeatAnswer, wire.HeartbeatAnswer>>();
agree<Agree<typeof ThrottleBody, wire.ThrottleBody>>();
agree<Agree<typeof Sink, wire.PresentedSink>>();
agree<Agree<typeof Delivery, wire.PresentedDelivery>>();
agree<Agree<typeof AlertsView, wire.AlertsView>>();
agree<Agree<typeof ExportServiceReport, exported.ServiceReport>>();
