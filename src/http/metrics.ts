/** GET /metrics in the Prometheus text exposition format (0.0.4). */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import type { ServiceState } from '../actors/protocol.js';
import { bootNow } from '../clock.js';
import type { HttpPorts } from './ports.js';

const STATES: readonly ServiceState[] = ['stopped', 'starting', 'running', 'draining', 'stopping', 'exited', 'backoff', 'throttled', 'failed'];

let loopDelay: ReturnType<typeof monitorEventLoopDelay> | undefined;

/** Start sampling event-loop delay when the server starts, so the first scrape has data too. */
export function startLoopMonitor(): void {
  if (!loopDelay) { loopDelay = monitorEventLoopDelay({ resolution: 10 }); loopDelay.enable(); }
}

export function renderMetrics(o: HttpPorts): string {
  startLoopMonitor();
  const out: string[] = [];
  const metric = (name: string, type: 'gauge' | 'counter', help: string, samples: Array<[Record<string, string>, number]>) => {
    out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
    for (const [labels, value] of samples) {
      const l = Object.entries(labels).map(([k, v]) => `${k}="${v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`).join(',');
      out.push(`${name}${l ? `{${l}}` : ''} ${Number.isFinite(value) ? value : 0}`);
    }
  };
  const services = o.fleet.list();
  metric('orchestrator_service_up', 'gauge', '1 when the service has a running process.',
    services.map(({ spec, view }) => [{ service: spec.id }, view.state === 'running' ? 1 : 0]));
  metric('orchestrator_service_state', 'gauge', 'Lifecycle state of the service (1 for the current state).',
    services.flatMap(({ spec, view }) => STATES.map((state): [Record<string, string>, number] => [{ service: spec.id, state }, view.state === state ? 1 : 0])));
  metric('orchestrator_service_healthy', 'gauge', '1 healthy, 0 unhealthy or stalled, -1 unknown.',
    services.map(({ spec, view }) => [{ service: spec.id }, view.health === 'healthy' ? 1 : view.health === 'unknown' ? -1 : 0]));
  metric('orchestrator_service_ready', 'gauge', '1 when the service is ready for traffic and for its dependents.',
    services.map(({ spec, view }) => [{ service: spec.id }, view.ready ? 1 : 0]));
  metric('orchestrator_service_restarts_total', 'counter', 'Restarts of the service since the orchestrator started it.',
    services.map(({ spec, view }) => [{ service: spec.id }, view.restarts]));
  metric('orchestrator_service_cpu_percent', 'gauge', 'CPU use of the process tree, percent of one core.',
    services.filter(({ view }) => view.usage).map(({ spec, view }) => [{ service: spec.id }, view.usage!.cpu]));
  metric('orchestrator_service_memory_bytes', 'gauge', 'Resident memory of the process tree.',
    services.filter(({ view }) => view.usage).map(({ spec, view }) => [{ service: spec.id }, view.usage!.rss]));
  const now = bootNow();
  metric('orchestrator_service_heartbeat_age_seconds', 'gauge', 'Seconds since the service\'s last heartbeat in this run (only services that sent one).',
    services.filter(({ view }) => view.heartbeatAt !== null).map(({ spec, view }) => [{ service: spec.id }, Math.max(0, (now - view.heartbeatAt!) / 1000)]));
  metric('orchestrator_service_inflight', 'gauge', 'In-flight work the service last reported in a heartbeat (only services that reported it).',
    services.filter(({ view }) => view.inflight !== null).map(({ spec, view }) => [{ service: spec.id }, view.inflight!]));
  metric('orchestrator_service_throttled_seconds', 'gauge', 'Seconds left of a throttled wait; 0 when not throttled.',
    services.map(({ spec, view }) => [{ service: spec.id }, view.state === 'throttled' && view.throttledUntil !== null ? Math.max(0, (view.throttledUntil - now) / 1000) : 0]));
  metric('orchestrator_service_drains_total', 'counter', 'Drains (a planned stop waiting for in-flight work) started since the orchestrator started.',
    services.map(({ spec }) => [{ service: spec.id }, o.history.drains(spec.id)]));
  metric('orchestrator_service_health_latency_seconds', 'gauge', 'Latency of the last health check.',
    services.filter(({ view }) => view.probe).map(({ spec, view }) => [{ service: spec.id }, view.probe!.latencyMs / 1000]));
  const mem = process.memoryUsage();
  const cpu = process.cpuUsage();
  metric('orchestrator_process_cpu_seconds_total', 'counter', 'CPU time used by the orchestrator process.', [[{}, (cpu.user + cpu.system) / 1e6]]);
  metric('orchestrator_process_resident_memory_bytes', 'gauge', 'Resident memory of the orchestrator process.', [[{}, mem.rss]]);
  metric('orchestrator_process_heap_used_bytes', 'gauge', 'V8 heap in use.', [[{}, mem.heapUsed]]);
  metric('orchestrator_process_start_time_seconds', 'gauge', 'Start time of the orchestrator, unix seconds.', [[{}, o.status.startedAt / 1000]]);
  metric('orchestrator_uptime_seconds', 'gauge', 'Seconds since the orchestrator started.', [[{}, o.status.uptimeSeconds()]]);
  // Since the previous scrape: a stall shows up once, then ages out instead of hiding in a lifetime histogram.
  const loop = loopDelay!;
  metric('orchestrator_event_loop_delay_p99_seconds', 'gauge', 'p99 event loop delay of the main thread since the previous scrape.', [[{}, loop.count ? loop.percentile(99) / 1e9 : 0]]);
  metric('orchestrator_event_loop_delay_max_seconds', 'gauge', 'Longest event loop delay of the main thread since the previous scrape.', [[{}, loop.count ? loop.max / 1e9 : 0]]);
  loop.reset();
  metric('orchestrator_events_last_seq', 'counter', 'Sequence number of the newest registry event.', [[{}, o.events.lastSeq()]]);
  const writes = o.history.writes();
  metric('orchestrator_registry_writable', 'gauge', '1 when the registry takes writes; 0 while records are held in memory.', [[{}, writes.writable ? 1 : 0]]);
  metric('orchestrator_registry_held_records', 'gauge', 'Records held in memory until the registry takes writes again.', [[{}, writes.held]]);
  metric('orchestrator_registry_dropped_records_total', 'counter', 'Held records dropped (oldest events, resource-history minutes) to stay within the bound.', [[{}, writes.dropped]]);
  metric('orchestrator_actor_host_up', 'gauge', '1 when the actor-host worker is running.', [[{}, o.status.hostReady() ? 1 : 0]]);
  return `${out.join('\n')}\n`;
}
