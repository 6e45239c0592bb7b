/**
 * What the fleet remembers: the event log (every event is stored, then published), the degrading
 * conditions shown in /health, the status rows a restarted orchestrator starts from, and the
 * resource history. One writer of each, so nothing else writes events or status to the registry.
 *
 * A registry that refuses writes must not take the orchestrator down: writes are held by the store
 * (store/pending-writes.ts) and anything unexpected is logged, never thrown into a lifecycle.
 */
import { EventEmitter } from 'node:events';
import type { Logger } from 'pino';
import type { ProbeKind, ServiceEvent, ServiceView, Want } from '../actors/protocol.js';
import { bootNow, bootToWall } from '../clock.js';
import type { EventLog, StoredEvent } from '../store/events.js';
import type { Registry } from '../store/index.js';
import { Histogram } from './histogram.js';

/** Resource samples are kept per minute in memory and written at most this often. */
const SAMPLE_FLUSH_MS = 15_000;

/** The read side of the event log, as HTTP and the feed need it. */
export type EventQuery = Pick<EventLog, 'after' | 'matching' | 'latest' | 'lastSeq'>;

export interface HistoryEvents {
  event: [StoredEvent];
}

export class History extends EventEmitter<HistoryEvents> {
  private readonly conditionsByKey = new Map<string, string>();
  /** The status last written per service, so only changes are written. */
  private readonly saved = new Map<string, string>();
  private sampleFlush: NodeJS.Timeout | null = null;
  /** drain_started events per service since the orchestrator started (/metrics). */
  private readonly drainCounts = new Map<string, number>();
  private readonly cpuTotals = new Map<string, number>();
  private readonly probeLatency = new Map<string, Histogram>();

  constructor(private readonly registry: Registry, private readonly log: Logger) {
    super();
    this.setMaxListeners(0);
    // Held writes: the 'registry' condition shows them, and an events_dropped summary reaches
    // the feed like any event.
    registry.writes.on('change', (problem: string | null) => this.setCondition('registry', problem));
    registry.writes.on('event', (e: StoredEvent) => this.emit('event', e));
  }

  get events(): EventQuery {
    return this.registry.events;
  }

  /** Figures of the registry's write path, for /metrics. */
  writes(): { writable: boolean; held: number; dropped: number } {
    const w = this.registry.writes;
    return { writable: w.writable, held: w.held, dropped: w.dropped };
  }

  /** Store events (wall-clock times) and publish them with their sequence numbers. */
  record(events: ServiceEvent[]): void {
    for (const e of events) if (e.type === 'drain_started' && e.service) this.drainCounts.set(e.service, (this.drainCounts.get(e.service) ?? 0) + 1);
    let stored: StoredEvent[];
    try {
      stored = this.registry.events.append(events.map((e) => ({ at: Math.round(bootToWall(e.at)), service: e.service, type: e.type, data: e.data })));
    } catch (err) {
      this.log.error({ err, events: events.length }, 'could not record events');
      return;
    }
    for (const e of stored) this.emit('event', e);
  }

  /** Drains started per service since the orchestrator started. */
  drains(id: string): number {
    return this.drainCounts.get(id) ?? 0;
  }

  /** Conditions that degrade the orchestrator without stopping it (shown in /health). */
  conditions(): string[] {
    return [...this.conditionsByKey.values()];
  }

  /** Set (message) or clear (null) a degrading condition; each change is an event. */
  setCondition(key: string, message: string | null): void {
    const before = this.conditionsByKey.get(key);
    if ((before ?? null) === message) return;
    if (message === null) this.conditionsByKey.delete(key);
    else this.conditionsByKey.set(key, message);
    this.record([{ service: null, type: message === null ? 'condition_cleared' : 'condition', at: bootNow(), data: { key, message: message ?? before } }]);
  }

  /** Persist what a restarted orchestrator needs to know about a service; only when it changed. */
  saveStatus(v: ServiceView): void {
    const key = `${v.want}|${v.state === 'failed'}|${v.restarts}|${v.attempts}|${v.lastExit?.at ?? ''}`;
    if (this.saved.get(v.id) === key) return;
    this.saved.set(v.id, key);
    this.guard('persist the service status', () => this.registry.services.saveStatus(v.id, {
      want: v.want, state: v.state, reason: v.reason, restarts: v.restarts, attempts: v.attempts,
      last_exit: v.lastExit ? JSON.stringify({ ...v.lastExit, at: Math.round(bootToWall(v.lastExit.at)) }) : null,
    }));
  }

  /** The start or stop an operator commanded last: what a clean restart brings the service back to. */
  saveCommanded(id: string, want: Want): void {
    this.guard('record the command', () => this.registry.services.setCommanded(id, want));
  }

  forget(id: string): void {
    this.saved.delete(id);
  }

  /** Resource history comes from every sample, not from the (throttled) views. */
  /** A resource sample: kept (per minute) in the registry; its CPU seconds add to the service's counter. */
  sample(id: string, cpu: number, rss: number, cpuSeconds = 0): void {
    this.registry.samples.add(id, Date.now(), cpu, rss);
    this.cpuTotals.set(id, (this.cpuTotals.get(id) ?? 0) + cpuSeconds);
  }

  /** A health check's latency (liveness or readiness), into the service's histogram for /metrics. */
  probed(id: string, kind: ProbeKind, latencyMs: number): void {
    const key = `${id}\u0000${kind}`;
    let h = this.probeLatency.get(key);
    if (!h) this.probeLatency.set(key, h = new Histogram());
    h.observe(latencyMs / 1000);
  }

  /** Every service's probe-latency histogram, by service and probe kind. */
  probeLatencies(): Array<{ service: string; probe: string; histogram: Histogram }> {
    return [...this.probeLatency].map(([key, histogram]) => {
      const [service, probe] = key.split('\u0000') as [string, string];
      return { service, probe, histogram };
    });
  }

  /** CPU seconds a service's processes used while this orchestrator sampled them (a counter for /metrics). */
  cpuSeconds(id: string): number {
    return this.cpuTotals.get(id) ?? 0;
  }

  samplesSince(id: string, since: number, limit: number): ReturnType<Registry['samples']['since']> {
    return this.registry.samples.since(id, since, limit);
  }

  start(): void {
    this.sampleFlush = setInterval(() => this.guard('flush resource history', () => this.registry.samples.flush(Date.now())), SAMPLE_FLUSH_MS);
    this.sampleFlush.unref();
  }

  stop(): void {
    if (this.sampleFlush) clearInterval(this.sampleFlush);
    this.sampleFlush = null;
    this.guard('flush resource history', () => this.registry.samples.flush(Date.now(), true));
  }

  /** Run a registry write that must not take the orchestrator down; a failure is logged. */
  private guard(what: string, fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.log.error({ err }, `could not ${what}`);
    }
  }
}
