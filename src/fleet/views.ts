/**
 * The latest view of every service, as the actors last published it. Queries (REST, /ws snapshots,
 * /health, /metrics) read these and never cross into the worker; every change passes through here
 * once and is published as one 'views' batch.
 */
import { EventEmitter } from 'node:events';
import type { Health, ServiceState, ServiceView, Want } from '../actors/protocol.js';
import type { ServiceSpec } from '../config/schema.js';
import { notFound } from '../errors.js';
import type { Catalog } from './catalog.js';
import type { UnitSpec } from './replicas.js';

export interface ServiceEntry {
  /** A unit's spec (an instance's carries `replica`), or a replicated service's definition. */
  spec: UnitSpec;
  view: ServiceView;
  /** A scheduled job's next tick (wall-clock ms); null or absent for any other service. */
  nextRunAt?: number | null;
  /** GPU memory its processes use (os/gpu.ts); null or absent when none was measured. */
  gpuMemoryBytes?: number | null;
}

export interface FleetSummary {
  total: number;
  by_state: Record<string, number>;
  healthy: number;
  unhealthy: number;
}

export interface ViewEvents {
  views: [ServiceView[], string[]];
}

export class Views extends EventEmitter<ViewEvents> {
  private readonly latest = new Map<string, ServiceView>();
  private summaryCache: FleetSummary | null = null;

  /** Where a job's next tick comes from (fleet/jobs.ts; set once at wiring). */
  nextRun: (id: string) => number | null = () => null;
  /** Where a service's GPU memory comes from (os/gpu.ts; set once at wiring). */
  gpuMemory: (id: string) => number | null = () => null;

  constructor(private readonly catalog: Catalog) {
    super();
    this.setMaxListeners(0);
  }

  /** Publish a service's view again, unchanged (its next run time moved). */
  touch(id: string): void {
    const view = this.latest.get(id);
    if (view) this.emit('views', [view], []);
  }

  /** A view taken from the answer to a command, ahead of the batch that will carry it too. */
  set(id: string, view: ServiceView): void {
    this.latest.set(id, view);
    this.summaryCache = null;
  }

  drop(id: string): void {
    this.latest.delete(id);
    this.summaryCache = null;
  }

  /** A batch from the actors: kept, then published. */
  apply(views: ServiceView[], removed: string[]): void {
    for (const v of views) this.set(v.id, v);
    for (const id of removed) this.drop(id);
    this.emit('views', views, removed);
  }

  /** The view of a service, if the actors have published one (not yet during boot). */
  peek(id: string): ServiceView | undefined {
    return this.latest.get(id);
  }

  list(): ServiceEntry[] {
    const out: ServiceEntry[] = [];
    for (const spec of this.catalog.all()) {
      const view = this.latest.get(spec.id);
      if (view) out.push({ spec, view, nextRunAt: this.nextRun(spec.id), gpuMemoryBytes: this.gpuMemory(spec.id) });
    }
    return out;
  }

  get(id: string): ServiceEntry {
    const spec = this.catalog.get(id);
    const view = this.latest.get(id);
    if (!spec || !view) throw notFound(`service "${id}"`);
    return { spec, view, nextRunAt: this.nextRun(id), gpuMemoryBytes: this.gpuMemory(id) };
  }

  has(id: string): boolean {
    return this.catalog.has(id);
  }

  /**
   * Counts by state and health, for GET /health: kept until a view changes, so a health check
   * costs the same for one service or a thousand.
   */
  summary(): FleetSummary {
    if (!this.summaryCache) {
      const byState: Record<string, number> = {};
      let healthy = 0;
      let unhealthy = 0;
      let total = 0;
      for (const { view } of this.list()) {
        total++;
        byState[view.state] = (byState[view.state] ?? 0) + 1;
        if (view.health === 'healthy') healthy++;
        else if (view.health === 'unhealthy') unhealthy++;
      }
      this.summaryCache = { total, by_state: byState, healthy, unhealthy };
    }
    return this.summaryCache;
  }
}

/** States from most to least in need of attention: a replicated service shows its worst instance's. */
const ATTENTION: ServiceState[] = ['failed', 'backoff', 'throttled', 'exited', 'starting', 'draining', 'stopping', 'running', 'stopped'];

/**
 * One view for a replicated service from its instances' views: the state most in need of attention,
 * health unhealthy or stalled if any instance is, healthy if all are; ready if every instance is
 * (a service scaled to 0 is stopped, and not ready). Counters add up; pid and times are per instance.
 */
export function aggregateView(id: string, views: ServiceView[], want: Want): ServiceView {
  const state = ATTENTION.find((s) => views.some((v) => v.state === s)) ?? 'stopped';
  const health: Health = views.some((v) => v.health === 'unhealthy') ? 'unhealthy'
    : views.some((v) => v.health === 'stalled') ? 'stalled'
      : views.length > 0 && views.every((v) => v.health === 'healthy') ? 'healthy' : 'unknown';
  const running = views.filter((v) => v.state === 'running').length;
  const ready = views.filter((v) => v.ready).length;
  return {
    id, state, health, want: views[0]?.want ?? want,
    reason: views.length === 0 ? 'scaled to 0 replicas' : `${running} of ${views.length} instances running, ${ready} ready`,
    pid: null, startedAt: null, adopted: false,
    restarts: views.reduce((n, v) => n + v.restarts, 0),
    attempts: views.reduce((n, v) => n + v.attempts, 0),
    lastExit: null, probe: null,
    consecutiveFailures: Math.max(0, ...views.map((v) => v.consecutiveFailures)),
    usage: null,
    waitingFor: [...new Set(views.flatMap((v) => v.waitingFor))],
    nextStartAt: null,
    ready: views.length > 0 && ready === views.length,
    heartbeatAt: null, progress: null,
    inflight: views.some((v) => v.inflight !== null) ? views.reduce((n, v) => n + (v.inflight ?? 0), 0) : null,
    statusText: null, throttledUntil: null,
  };
}
