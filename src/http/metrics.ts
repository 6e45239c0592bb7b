/**
 * GET /metrics in the Prometheus text exposition format (0.0.4), named by Prometheus' conventions:
 * base units in the name (`_seconds`, `_bytes`, `_ratio`), counters end in `_total`, states are
 * label values of a 0/1 gauge (never a magic number), and the standard process metrics
 * (`process_*`, `nodejs_*`) carry no prefix of ours, so stock dashboards find them. Nothing here
 * changes when it is scraped: two Prometheus servers see the same series.
 */
import { readdirSync } from 'node:fs';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import type { Health, ServiceState } from '../actors/protocol.js';
import { bootNow } from '../clock.js';
import type { HttpPorts } from './ports.js';

const STATES: readonly ServiceState[] = ['stopped', 'starting', 'running', 'draining', 'stopping', 'exited', 'backoff', 'throttled', 'failed'];
const HEALTHS: readonly Health[] = ['unknown', 'healthy', 'unhealthy', 'stalled'];

/** The event-loop delay of the main thread over a fixed window, independent of scrapes. */
const LOOP_WINDOW_MS = 10_000;
/**
 * Measuring the delay wakes the main thread a hundred times a second (a 10 ms timer): on an idle
 * fleet that is most of the orchestrator's CPU. So it runs only while somebody reads it: from the
 * start (a scraper's first scrape has a window), and for LOOP_KEEP_MS after each scrape, which spans
 * any usual scrape interval (Prometheus' default is 1 min). The first scrape after a longer pause
 * wakes it and shows zeros (no delay measured yet); the next one shows the delay since.
 */
const LOOP_KEEP_MS = 120_000;
type Lag = { p50: number; p99: number; max: number };
/** `last`: the last whole window; null until one has passed (then the delay so far is shown). */
interface LoopWindow {
  monitor: ReturnType<typeof monitorEventLoopDelay>;
  last: Lag | null;
  /** While measuring: the window's timer, and the timer that stops measuring if nobody reads. */
  window: NodeJS.Timeout | null;
  keep: NodeJS.Timeout | null;
}
let loop: LoopWindow | undefined;

const lagOf = (m: ReturnType<typeof monitorEventLoopDelay>): Lag =>
  (m.count ? { p50: m.percentile(50) / 1e9, p99: m.percentile(99) / 1e9, max: m.max / 1e9 } : { p50: 0, p99: 0, max: 0 });

/**
 * Measure event-loop delay from now on, for LOOP_KEEP_MS more (called when the server starts, so
 * the first scrape has a window too, and at every scrape).
 */
export function startLoopMonitor(): void {
  const state = loop ??= { monitor: monitorEventLoopDelay({ resolution: 10 }), last: null, window: null, keep: null };
  if (!state.window) {
    state.monitor.reset();
    state.monitor.enable();
    state.window = setInterval(() => {
      state.last = lagOf(state.monitor);
      state.monitor.reset();
    }, LOOP_WINDOW_MS).unref();
  }
  if (state.keep) state.keep.refresh();
  else {
    state.keep = setTimeout(() => {
      state.monitor.disable();
      if (state.window) clearInterval(state.window);
      state.window = state.keep = null;
      state.last = null;
    }, LOOP_KEEP_MS).unref();
  }
}

type Labels = Record<string, string>;
type Sample = [Labels, number];

const escape = (v: string) => v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
const labelText = (labels: Labels) => {
  const l = Object.entries(labels).map(([k, v]) => `${k}="${escape(v)}"`).join(',');
  return l ? `{${l}}` : '';
};

function openFds(): number {
  try { return readdirSync('/proc/self/fd').length; } catch { return 0; }
}

export function renderMetrics(o: HttpPorts): string {
  startLoopMonitor();
  const out: string[] = [];
  const head = (name: string, type: 'gauge' | 'counter' | 'histogram', help: string) => out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
  const metric = (name: string, type: 'gauge' | 'counter', help: string, samples: Sample[]) => {
    head(name, type, help);
    for (const [labels, value] of samples) out.push(`${name}${labelText(labels)} ${Number.isFinite(value) ? value : 0}`);
  };
  const services = o.fleet.list();
  const each = (value: (e: (typeof services)[number]) => number | null): Sample[] =>
    services.flatMap((e) => { const v = value(e); return v === null ? [] : [[{ service: e.spec.id }, v] as Sample]; });
  const now = bootNow();

  metric('orchestrator_service_up', 'gauge', '1 when the service has a running process.', each(({ view }) => (view.state === 'running' ? 1 : 0)));
  metric('orchestrator_service_state', 'gauge', 'Lifecycle state of the service: 1 for the current state, 0 for the others.',
    services.flatMap(({ spec, view }) => STATES.map((state): Sample => [{ service: spec.id, state }, view.state === state ? 1 : 0])));
  metric('orchestrator_service_health', 'gauge', 'Health of the service: 1 for the current one (unknown, healthy, unhealthy, stalled), 0 for the others.',
    services.flatMap(({ spec, view }) => HEALTHS.map((health): Sample => [{ service: spec.id, health }, view.health === health ? 1 : 0])));
  metric('orchestrator_service_ready', 'gauge', '1 when the service is ready for traffic and for its dependents.', each(({ view }) => (view.ready ? 1 : 0)));
  metric('orchestrator_service_restarts_total', 'counter', 'Restarts of the service since the orchestrator started it.', each(({ view }) => view.restarts));
  metric('orchestrator_service_drains_total', 'counter', 'Drains (a planned stop waiting for in-flight work) started since the orchestrator started.', each(({ spec }) => o.history.drains(spec.id)));
  metric('orchestrator_service_cpu_seconds_total', 'counter', 'CPU time (user + system) of the service\'s process tree while this orchestrator sampled it.',
    each(({ spec }) => o.history.cpuSeconds(spec.id)));
  metric('orchestrator_service_resident_memory_bytes', 'gauge', 'Resident memory of the service\'s process tree at the last sample.', each(({ view }) => view.usage?.rss ?? null));
  metric('orchestrator_service_gpu_memory_bytes', 'gauge', 'GPU memory of the service\'s processes (nvidia-smi; only services with gpus where it exists).', each((e) => e.gpuMemoryBytes ?? null));
  metric('orchestrator_service_heartbeat_age_seconds', 'gauge', 'Seconds since the service\'s last heartbeat in this run (only services that sent one).',
    each(({ view }) => (view.heartbeatAt === null ? null : Math.max(0, (now - view.heartbeatAt) / 1000))));
  metric('orchestrator_service_inflight', 'gauge', 'In-flight work the service last reported in a heartbeat (only services that reported it).', each(({ view }) => view.inflight));
  metric('orchestrator_service_throttle_remaining_seconds', 'gauge', 'Seconds left of a throttled wait; 0 when not throttled.',
    each(({ view }) => (view.state === 'throttled' && view.throttledUntil !== null ? Math.max(0, (view.throttledUntil - now) / 1000) : 0)));

  head('orchestrator_health_check_duration_seconds', 'histogram', 'Latency of health checks (liveness and readiness probes), by service and probe.');
  for (const { service, probe, histogram } of o.history.probeLatencies()) {
    for (const [le, count] of histogram.cumulative()) out.push(`orchestrator_health_check_duration_seconds_bucket${labelText({ service, probe, le })} ${count}`);
    out.push(`orchestrator_health_check_duration_seconds_sum${labelText({ service, probe })} ${histogram.sum}`);
    out.push(`orchestrator_health_check_duration_seconds_count${labelText({ service, probe })} ${histogram.count}`);
  }

  metric('orchestrator_uptime_seconds', 'gauge', 'Seconds since the orchestrator started.', [[{}, o.status.uptimeSeconds()]]);
  metric('orchestrator_events_total', 'counter', 'Registry events recorded (the sequence number of the newest).', [[{}, o.events.lastSeq()]]);
  metric('orchestrator_feed_clients', 'gauge', 'Open /ws feed connections (dashboards, CLI -f, SDK subscribers).', [[{}, o.status.feedClients()]]);
  const writes = o.history.writes();
  metric('orchestrator_registry_writable', 'gauge', '1 when the registry takes writes; 0 while records are held in memory.', [[{}, writes.writable ? 1 : 0]]);
  metric('orchestrator_registry_held_records', 'gauge', 'Records held in memory until the registry takes writes again.', [[{}, writes.held]]);
  metric('orchestrator_registry_dropped_records_total', 'counter', 'Held records dropped (oldest events, resource-history minutes) to stay within the bound.', [[{}, writes.dropped]]);
  metric('orchestrator_actor_host_up', 'gauge', '1 when the actor-host worker is running.', [[{}, o.status.hostReady() ? 1 : 0]]);

  // The standard process and Node.js metrics, as prom-client names them.
  const mem = process.memoryUsage();
  const cpu = process.cpuUsage();
  metric('process_cpu_user_seconds_total', 'counter', 'User CPU time spent in seconds.', [[{}, cpu.user / 1e6]]);
  metric('process_cpu_system_seconds_total', 'counter', 'System CPU time spent in seconds.', [[{}, cpu.system / 1e6]]);
  metric('process_cpu_seconds_total', 'counter', 'Total user and system CPU time spent in seconds.', [[{}, (cpu.user + cpu.system) / 1e6]]);
  metric('process_resident_memory_bytes', 'gauge', 'Resident memory size in bytes.', [[{}, mem.rss]]);
  metric('process_start_time_seconds', 'gauge', 'Start time of the process since unix epoch in seconds.', [[{}, Math.round(o.status.startedAt / 1000)]]);
  metric('process_open_fds', 'gauge', 'Number of open file descriptors.', [[{}, openFds()]]);
  metric('nodejs_heap_size_total_bytes', 'gauge', 'Process heap size from Node.js in bytes.', [[{}, mem.heapTotal]]);
  metric('nodejs_heap_size_used_bytes', 'gauge', 'Process heap size used from Node.js in bytes.', [[{}, mem.heapUsed]]);
  const lag = loop!.last ?? lagOf(loop!.monitor);
  metric('nodejs_eventloop_lag_p50_seconds', 'gauge', `The 50th percentile of the main thread's event loop delay over the last ${LOOP_WINDOW_MS / 1000} s.`, [[{}, lag.p50]]);
  metric('nodejs_eventloop_lag_p99_seconds', 'gauge', `The 99th percentile of the main thread's event loop delay over the last ${LOOP_WINDOW_MS / 1000} s.`, [[{}, lag.p99]]);
  metric('nodejs_eventloop_lag_max_seconds', 'gauge', `The longest event loop delay of the main thread over the last ${LOOP_WINDOW_MS / 1000} s.`, [[{}, lag.max]]);
  return `${out.join('\n')}\n`;
}
