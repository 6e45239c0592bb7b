/**
 * Alert delivery: every recorded event is matched against the sinks (match.ts) and a match becomes
 * a row of the outbox (store/alerts.ts) at once, in the same call that recorded the event. Rows are
 * sent later, off the supervision path: a timer picks due rows, at most MAX_IN_FLIGHT at a time
 * (PER_SINK per sink, so one hanging receiver cannot hold every slot), each attempt cut at the
 * sink's timeout. Failures are retried with doubling waits up to a cap, then given up (an
 * alert_gave_up event). Delivery is at least once: a row is pending until a receiver answered 2xx,
 * across restarts, and every attempt of it carries the same body and delivery id.
 *
 * Matches of one sink, service and reason within min_interval_seconds of a message fold into ONE
 * later message (sent when the window ends) with a count, so a crash loop is a message per window.
 */
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { Agent } from 'undici';
import type { AlertsView, PresentedDelivery, PresentedEvent, PresentedService } from '../api/types.js';
import type { ServiceEvent } from '../actors/protocol.js';
import { bootNow } from '../clock.js';
import type { AlertOutbox, Attempt, DeliveryRow } from '../store/alerts.js';
import type { StoredEvent } from '../store/events.js';
import { keysOf, matches, reasonOf } from './match.js';
import { slackBody, webhookBody, type AlertContent } from './message.js';
import { post } from './send.js';
import { presentSink, type Sink } from './sinks.js';

const MAX_IN_FLIGHT = 8;
const PER_SINK = 2;
/** Finished deliveries kept in memory for GET /api/alerts. */
const RECENT = 200;
/** Attempts kept per delivery (the count goes on). */
const ATTEMPTS_KEPT = 50;
const PRUNE_EVERY_MS = 3_600_000;

export interface DispatcherOptions {
  sinks: Sink[];
  store: AlertOutbox;
  log: Logger;
  orchestrator: () => { name: string; url: string };
  present: { event(e: StoredEvent): PresentedEvent; service(id: string): PresentedService | null };
  /** Record an event (alert_gave_up) in the event log. */
  record: (events: ServiceEvent[]) => void;
  /** Finished rows older than this are pruned. */
  keepDays: number;
}

interface Delivery extends Omit<DeliveryRow, 'attempts' | 'content'> {
  attempts: Attempt[];
  /** Tries made (attempts may be cut to the newest ATTEMPTS_KEPT). */
  tries: number;
  content: AlertContent;
}

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

export class AlertDispatcher {
  private readonly sinks = new Map<string, Sink>();
  private readonly pending = new Map<string, Delivery>();
  private recent: Delivery[] = [];
  /** Per dedupe key: the end of its window, and the folded message still unsent (if any). */
  private readonly windows = new Map<string, { until: number; open: string | null }>();
  private readonly inFlight = new Map<string, AbortController>();
  private readonly agent = new Agent({ keepAliveTimeout: 4_000, connections: PER_SINK * 4 });
  private timer: NodeJS.Timeout | null = null;
  private timerAt = Infinity;
  private pruneTimer: NodeJS.Timeout | null = null;
  private running = false;
  private stopped = false;

  constructor(private readonly o: DispatcherOptions) {
    for (const s of o.sinks) this.sinks.set(s.config.name, s);
  }

  get configured(): boolean {
    return this.sinks.size > 0;
  }

  /** Load what an earlier run left pending and start sending. Problems of sinks are returned for /health. */
  start(): Array<{ sink: string; problem: string }> {
    const now = Date.now();
    this.guard('prune delivered alerts', () => this.o.store.pruneOlder(now - this.o.keepDays * 86_400_000));
    for (const row of this.o.store.pending()) this.pending.set(row.id, this.fromRow(row));
    this.recent = this.o.store.recent(RECENT).map((r) => this.fromRow(r));
    const longest = Math.max(0, ...[...this.sinks.values()].map((s) => s.config.min_interval_seconds));
    for (const row of this.o.store.windows(now - longest * 1000)) {
      const sink = this.sinks.get(row.sink);
      if (!sink || !row.dedupe_key) continue;
      const open = row.status === 'pending' && row.attempts === '[]' ? row.id : null;
      this.windows.set(row.dedupe_key, { until: row.due_at + sink.config.min_interval_seconds * 1000, open });
    }
    if (this.pending.size) this.o.log.info({ pending: this.pending.size }, 'resuming alert deliveries left pending');
    this.running = true;
    this.pruneTimer = setInterval(() => this.guard('prune delivered alerts', () => this.o.store.pruneOlder(Date.now() - this.o.keepDays * 86_400_000)), PRUNE_EVERY_MS);
    this.pruneTimer.unref();
    this.pump();
    const problems = [];
    for (const s of this.sinks.values()) {
      if (!s.problem) continue;
      this.o.log.error({ sink: s.config.name }, `alert sink ${s.config.name}: ${s.problem}`);
      problems.push({ sink: s.config.name, problem: s.problem });
    }
    return problems;
  }

  /** Stop sending; attempts under way are cut and stay pending (sent again after the next start). */
  stop(): void {
    this.stopped = true;
    this.running = false;
    if (this.timer) clearTimeout(this.timer);
    if (this.pruneTimer) clearInterval(this.pruneTimer);
    this.timer = null;
    for (const c of this.inFlight.values()) c.abort();
    void this.agent.destroy().catch(() => undefined);
  }

  /** Called for every event recorded: cheap when nothing matches. */
  consider(e: StoredEvent): void {
    if (this.sinks.size === 0 || this.stopped) return;
    let keys: string[] | undefined;
    for (const sink of this.sinks.values()) {
      keys ??= keysOf(e);
      if (!matches(sink.filter, e, keys)) continue;
      this.guard('queue an alert', () => this.enqueue(sink, e));
    }
  }

  /** A test message to one sink; undefined for an unknown sink. */
  test(name: string): PresentedDelivery | undefined {
    const sink = this.sinks.get(name);
    if (!sink) return undefined;
    const now = Date.now();
    const event: StoredEvent = { seq: 0, at: now, service: null, type: 'alert_test', data: { message: `test message to alert sink ${name}` } };
    const d = this.create(sink, event, { reason: 'alert_test', key: null, due: now, test: true });
    this.kick();
    return this.presentDelivery(d);
  }

  view(opts: { sink?: string; delivery?: string; limit: number }): AlertsView {
    const all = [...[...this.pending.values()].sort((a, b) => b.created_at - a.created_at), ...this.recent];
    const chosen = all.filter((d) => (!opts.sink || d.sink === opts.sink) && (!opts.delivery || d.id === opts.delivery)).slice(0, opts.limit);
    return {
      sinks: [...this.sinks.values()].map(presentSink),
      pending: this.pending.size,
      in_flight: this.inFlight.size,
      deliveries: chosen.map((d) => this.presentDelivery(d)),
    };
  }

  has(name: string): boolean {
    return this.sinks.has(name);
  }

  // ------------------------------------------------------------------------------------------

  private enqueue(sink: Sink, e: StoredEvent): void {
    const reason = reasonOf(e);
    const key = `${sink.config.name}|${e.service ?? '-'}|${e.type}:${reason}`;
    const interval = sink.config.min_interval_seconds * 1000;
    const now = Date.now();
    const w = this.windows.get(key);
    if (!w || now >= w.until) {
      this.create(sink, e, { reason, key, due: now, test: false });
      if (interval > 0) this.windows.set(key, { until: now + interval, open: null });
      else this.windows.delete(key);
      this.kick();
      return;
    }
    const open = w.open ? this.pending.get(w.open) : undefined;
    if (open && open.tries === 0 && !this.inFlight.has(open.id)) {
      // Not sent yet: the folded message grows (its body is fixed at the first attempt).
      open.count += 1;
      open.event_seq = e.seq;
      open.content = { ...open.content, count: open.count, event: this.o.present.event(e), service: this.serviceOf(e) };
      open.body = this.render(sink, open.content);
      open.updated_at = now;
      this.save(open);
      return;
    }
    // The window's messages are out: one more, when the window ends; the next window starts then.
    const d = this.create(sink, e, { reason, key, due: w.until, test: false });
    this.windows.set(key, { until: w.until + interval, open: d.id });
    this.kick();
  }

  private create(sink: Sink, e: StoredEvent, how: { reason: string; key: string | null; due: number; test: boolean }): Delivery {
    const now = Date.now();
    const id = randomUUID();
    const event = this.o.present.event(e);
    const content: AlertContent = {
      delivery_id: id, sink: sink.config.name, orchestrator: this.o.orchestrator(), reason: how.reason, count: 1,
      first_at: event.at, event, service: this.serviceOf(e), test: how.test,
    };
    const d: Delivery = {
      id, sink: sink.config.name, status: 'pending', dedupe_key: how.key, service: e.service, reason: how.reason,
      event_type: e.type, event_seq: e.seq || null, count: 1, test: how.test ? 1 : 0, body: this.render(sink, content),
      created_at: now, due_at: how.due, next_at: how.due, updated_at: now, attempts: [], tries: 0, content,
    };
    this.pending.set(id, d);
    this.save(d);
    return d;
  }

  private serviceOf(e: StoredEvent): PresentedService | null {
    return e.service ? this.o.present.service(e.service) : null;
  }

  private render(sink: Sink, c: AlertContent): string {
    return sink.config.type === 'slack' ? slackBody(c) : webhookBody(c);
  }

  /** Look for due work on the next turn (never inside the caller: record() must stay cheap). */
  private kick(): void {
    if (!this.running) return;
    this.arm(Date.now());
  }

  private arm(at: number): void {
    if (this.timer && this.timerAt <= at) return;
    if (this.timer) clearTimeout(this.timer);
    this.timerAt = at;
    this.timer = setTimeout(() => { this.timer = null; this.timerAt = Infinity; this.pump(); }, Math.max(0, at - Date.now()));
    this.timer.unref();
  }

  /** Start every due delivery the concurrency bounds allow; arm the timer for the next one. */
  private pump(): void {
    if (!this.running) return;
    const now = Date.now();
    const perSink = new Map<string, number>();
    for (const d of this.inFlight.keys()) { const s = this.pending.get(d)?.sink; if (s) perSink.set(s, (perSink.get(s) ?? 0) + 1); }
    let next = Infinity;
    const due = [...this.pending.values()].filter((d) => !this.inFlight.has(d.id)).sort((a, b) => (a.next_at ?? 0) - (b.next_at ?? 0));
    for (const d of due) {
      const at = d.next_at ?? now;
      if (at > now) { next = Math.min(next, at); continue; }
      if (this.inFlight.size >= MAX_IN_FLIGHT) break;
      if ((perSink.get(d.sink) ?? 0) >= PER_SINK) continue;
      perSink.set(d.sink, (perSink.get(d.sink) ?? 0) + 1);
      void this.attempt(d);
    }
    if (next < Infinity) this.arm(next);
  }

  private async attempt(d: Delivery): Promise<void> {
    const sink = this.sinks.get(d.sink);
    const abort = new AbortController();
    this.inFlight.set(d.id, abort);
    const at = Date.now();
    const started = bootNow();
    const outcome = sink
      ? await post(this.agent, sink, { id: d.id, body: d.body, eventType: d.event_type }, abort.signal)
      : { status: null, error: `alert sink ${d.sink} is no longer configured`, retryAfterMs: null };
    this.inFlight.delete(d.id);
    if (!outcome || this.stopped) return;
    this.finish(d, sink, { n: d.tries + 1, at, duration_ms: Math.round(bootNow() - started), status: outcome.status, error: outcome.error }, outcome.retryAfterMs);
    this.pump();
  }

  private finish(d: Delivery, sink: Sink | undefined, a: Attempt, retryAfter: number | null): void {
    d.tries = a.n;
    d.attempts = [...d.attempts, a].slice(-ATTEMPTS_KEPT);
    const now = Date.now();
    d.updated_at = now;
    const log = this.o.log.child({ sink: d.sink, delivery: d.id, attempt: a.n, ...(d.service ? { service: d.service } : {}) });
    if (a.error === null) {
      d.status = 'delivered';
      d.next_at = null;
      log.info({ status: a.status, ms: a.duration_ms, reason: d.reason, count: d.count }, `alert delivered to ${d.sink}`);
    } else if (!sink || a.n >= sink.config.max_attempts) {
      d.status = 'gave_up';
      d.next_at = null;
      log.warn({ status: a.status, error: a.error }, `alert to ${d.sink} given up after ${a.n} attempts`);
      this.o.record([{
        service: d.service, type: 'alert_gave_up', at: bootNow(),
        data: { sink: d.sink, delivery_id: d.id, attempts: a.n, last_error: a.error, reason: d.reason, event_type: d.event_type, event_seq: d.event_seq, count: d.count },
      }]);
    } else {
      const c = sink.config;
      let wait = Math.min(c.max_backoff_seconds * 1000, c.backoff_seconds * 1000 * 2 ** (a.n - 1));
      if (retryAfter !== null) wait = Math.max(wait, Math.min(retryAfter, c.max_backoff_seconds * 1000));
      d.next_at = now + wait;
      log.warn({ status: a.status, error: a.error, retryInMs: wait }, `alert to ${d.sink} failed; retrying`);
    }
    if (d.status !== 'pending') {
      this.pending.delete(d.id);
      this.recent = [d, ...this.recent].slice(0, RECENT);
    }
    this.save(d);
  }

  private save(d: Delivery): void {
    const { content, tries: _tries, attempts, ...row } = d;
    this.guard('save an alert delivery', () => this.o.store.save({ ...row, content: JSON.stringify(content), attempts: JSON.stringify(attempts) }));
  }

  private fromRow(row: DeliveryRow): Delivery {
    const attempts = JSON.parse(row.attempts) as Attempt[];
    return { ...row, attempts, tries: attempts.at(-1)?.n ?? 0, content: JSON.parse(row.content) as AlertContent };
  }

  private presentDelivery(d: Delivery): PresentedDelivery {
    return {
      id: d.id, sink: d.sink, status: d.status, test: d.test === 1, service: d.service, reason: d.reason, event_type: d.event_type,
      event_seq: d.event_seq, count: d.count, created_at: iso(d.created_at)!, due_at: iso(d.due_at)!, next_attempt_at: iso(d.next_at),
      in_flight: this.inFlight.has(d.id),
      attempts: d.attempts.map((a) => ({ n: a.n, at: iso(a.at)!, duration_ms: a.duration_ms, status: a.status, error: a.error })),
    };
  }

  private guard(what: string, fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.o.log.error({ err }, `could not ${what}`);
    }
  }
}
