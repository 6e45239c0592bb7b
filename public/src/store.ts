/**
 * The dashboard's state: services by id (from the feed's snapshot and batched updates), the
 * connection, the server's version and clock, and ~10 minutes of CPU/RSS per service for the
 * sparklines. Listeners are told at most once per animation frame.
 */
import { messageArrived, measureApply } from './perf.js';
import type { FeedEvent, FeedMessage, LogStream, Service } from './types.js';

export type ConnState = 'connecting' | 'live' | 'reconnecting' | 'unauthorized';

export interface Connection {
  state: ConnState;
  /** When the next attempt is due (reconnecting). */
  retryAt: number | null;
  detail: string;
}

export interface UsagePoint {
  t: number;
  cpu: number;
  rss: number;
}

export const HISTORY_MS = 10 * 60_000;
const HISTORY_MAX_POINTS = 600;

type LogListener = (service: string, stream: LogStream, lines: string[]) => void;

export class Store {
  services = new Map<string, Service>();
  /** Bumped whenever the set of services or any of them changes. */
  rev = 0;
  conn: Connection = { state: 'connecting', retryAt: null, detail: '' };
  version: string | null = null;
  /** Server clock minus ours, in ms (from the feed's hello). */
  clockOffset = 0;
  serverStartedAt: number | null = null;
  needKey = false;
  /**
   * Who the dashboard's key is and its scopes (GET /api/whoami, asked on every connection); null
   * until known. Buttons the key may not use are disabled with a reason rather than failing with 403.
   */
  principal: { name: string; scopes: string[] } | null = null;
  /** Set once the first snapshot arrived. */
  loaded = false;
  /** Feed connections so far (bumped on every hello): views that hold live-only data reload on a new one. */
  sessions = 0;
  readonly history = new Map<string, UsagePoint[]>();
  /** The latest rolling restart of each replicated service seen on the feed, as one line of text. */
  readonly rollouts = new Map<string, string>();

  private readonly listeners = new Set<() => void>();
  private readonly eventListeners = new Set<(e: FeedEvent | 'reset') => void>();
  private readonly logListeners = new Set<LogListener>();
  private scheduled = false;

  subscribe(fn: () => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  onEvent(fn: (e: FeedEvent | 'reset') => void): () => void {
    this.eventListeners.add(fn);
    return () => this.eventListeners.delete(fn);
  }

  onLog(fn: LogListener): () => void {
    this.logListeners.add(fn);
    return () => this.logListeners.delete(fn);
  }

  /** Server time now, in ms since the epoch. */
  serverNow(): number {
    return Date.now() + this.clockOffset;
  }

  setConnection(conn: Connection): void {
    this.conn = conn;
    if (conn.state === 'unauthorized') this.needKey = true;
    this.changed();
  }

  setPrincipal(principal: { name: string; scopes: string[] } | null): void {
    this.principal = principal;
    this.changed();
  }

  /** May the key do this? True while unknown: the server decides, and a 403 says why. */
  may(scope: 'operate' | 'admin'): boolean {
    return !this.principal || this.principal.scopes.includes(scope);
  }

  setNeedKey(need: boolean): void {
    if (this.needKey === need) return;
    this.needKey = need;
    this.changed();
  }

  setServerInfo(info: { startedAt: string | null }): void {
    this.serverStartedAt = info.startedAt ? Date.parse(info.startedAt) : null;
    this.changed();
  }

  apply(msg: FeedMessage, arrived: number): void {
    switch (msg.type) {
      case 'hello':
        this.sessions++;
        this.version = msg.version;
        this.clockOffset = Date.parse(msg.server_time) - Date.now();
        break;
      case 'snapshot': {
        messageArrived('snapshot', arrived);
        const next = new Map<string, Service>();
        for (const s of msg.services) { next.set(s.id, s); this.record(s); }
        for (const id of this.history.keys()) if (!next.has(id)) this.history.delete(id);
        this.services = next;
        this.loaded = true;
        this.rev++;
        break;
      }
      case 'services':
        messageArrived('update', arrived);
        for (const s of msg.services) { this.services.set(s.id, s); this.record(s); }
        for (const id of msg.removed) { this.services.delete(id); this.history.delete(id); }
        this.rev++;
        break;
      case 'event':
        for (const fn of this.eventListeners) fn(msg.event);
        if (msg.event.type.startsWith('rollout_') && msg.event.service) {
          this.rollouts.set(msg.event.service, rolloutText(msg.event));
          this.rev++;
          break;
        }
        return;
      case 'reset':
        for (const fn of this.eventListeners) fn('reset');
        return;
      case 'log':
        for (const fn of this.logListeners) fn(msg.service, msg.stream, msg.lines);
        return;
      case 'error':
        console.error(`feed error ${msg.code}: ${msg.message}`);
        return;
      case 'pong':
      case 'subscribed':
        return;
    }
    measureApply(arrived);
    this.changed();
  }

  /** Seed a service's history from the API (GET …/metrics), keeping what the feed already gave. */
  seedHistory(id: string, points: UsagePoint[]): void {
    const have = this.history.get(id) ?? [];
    const first = have[0]?.t ?? Infinity;
    const merged = [...points.filter((p) => p.t < first), ...have];
    this.history.set(id, trim(merged, this.serverNow()));
    this.changed();
  }

  private record(s: Service): void {
    const u = s.usage;
    if (!u || !u.sampled_at) return;
    const t = Date.parse(u.sampled_at);
    let h = this.history.get(s.id);
    if (!h) { h = []; this.history.set(s.id, h); }
    const last = h[h.length - 1];
    if (last && last.t >= t) return;
    h.push({ t, cpu: u.cpu_percent, rss: u.rss_bytes });
    if (h.length > HISTORY_MAX_POINTS || (h[0] && h[0].t < t - HISTORY_MS - 60_000)) this.history.set(s.id, trim(h, t));
  }

  private changed(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    const flush = () => {
      this.scheduled = false;
      for (const fn of this.listeners) fn();
    };
    // Hidden tabs get no animation frames; a timer keeps them current at a slower pace.
    if (document.hidden) setTimeout(flush, 250);
    else requestAnimationFrame(flush);
  }
}

/** One line for a rollout event: "rolling restart: 2 of 4 done", "… halted at web#1: …". */
export function rolloutText(e: FeedEvent): string {
  const d = e.data as { instances?: string[]; done?: number | string[]; total?: number; instance?: string; reason?: string };
  switch (e.type) {
    case 'rollout_started': return `rolling restart: 0 of ${d.instances?.length ?? 0} done`;
    case 'rollout_progress': return `rolling restart: ${d.done} of ${d.total} done`;
    case 'rollout_finished': return `rolling restart finished (${d.instances?.length ?? 0} instances)`;
    default: return `rolling restart halted at ${d.instance}: ${d.reason}`;
  }
}

function trim(points: UsagePoint[], now: number): UsagePoint[] {
  const from = now - HISTORY_MS;
  const kept = points.filter((p) => p.t >= from);
  return kept.length > HISTORY_MAX_POINTS ? kept.slice(kept.length - HISTORY_MAX_POINTS) : kept;
}
