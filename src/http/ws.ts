/**
 * The /ws feed, over either engine. Pub/sub topics do the fan-out:
 *   services        every registry event and every service update
 *   service/<id>    the events and updates of one service
 *   logs/<id>       live log lines of one service
 * On connect a client gets a hello, then (with ?since=SEQ) every event it missed from the registry,
 * then a snapshot, then live messages — all in one synchronous step, so nothing falls in between.
 * Events travel as {"type":"event","event":…} or, several at once, {"type":"events","from","to","events":[…]}.
 * A client whose send buffer passes a limit is closed with code 1013 and a reason; nobody waits
 * for a slow client.
 */
import type { Logger } from 'pino';
import type { ServiceView } from '../actors/protocol.js';
import { serviceOf, UNIT_ID_PATTERN } from '../config/instances.js';
import type { HttpPorts } from './ports.js';
import type { Stream } from '../os/logs.js';
import type { StoredEvent } from '../store/events.js';
import { version } from '../version.js';
import { CLOSE_TOO_SLOW, type FeedMessage, type PresentedService } from '../api/types.js';
import { presentEvent, presentService } from './present.js';
import type { Engine, WsConnection } from './engine/types.js';
import { guard, readRequest, sizeProblem, type Security } from './server.js';

interface ClientData {
  ip: string;
  since: number | null;
  topics: string[];
  /** Set while the replay and snapshot sent on connect drain: the limit is not applied yet. */
  catchingUp?: boolean;
}

export interface FeedOptions {
  /** A client with more than this many bytes waiting is closed (1013). */
  maxBufferedBytes?: number;
  /** Service updates are batched over this window. */
  updateIntervalMs?: number;
  /** Events replayed to a resuming client at most; further behind gets a reset. */
  maxReplay?: number;
  /** Called when the number of subscribers to a service's logs goes from 0 to 1 (true) or 1 to 0 (false). */
  onLogInterest?(service: string, interested: boolean): void;
}

/** Minimum spacing of event frames under load (a lone event is never held back). */
const EVENT_FRAME_MS = 10;
/** A frame of this many events or more means the feed is busy. */
const BUSY_FRAME = 8;
const TOPIC = /^(services|service\/[^/]+|logs\/[^/]+)$/;

export class Feed {
  private readonly clients = new Set<WsConnection<ClientData>>();
  private readonly pendingViews = new Map<string, ServiceView | null>();
  private pendingEvents: StoredEvent[] = [];
  private eventFlush: NodeJS.Timeout | NodeJS.Immediate | null = null;
  private lastEventFlush = 0;
  private lastFrameSize = 0;
  private flushTimer: NodeJS.Timeout | null = null;
  /** Looks for clients that do not keep up; runs only while there are clients (an idle orchestrator sleeps). */
  private checkTimer: NodeJS.Timeout | null = null;
  private readonly opts: Required<Omit<FeedOptions, 'onLogInterest'>> & Pick<FeedOptions, 'onLogInterest'>;

  constructor(private readonly engine: Engine, private readonly sec: Security, private readonly o: HttpPorts, private readonly log: Logger, opts: FeedOptions = {}) {
    this.opts = { maxBufferedBytes: 1024 * 1024, updateIntervalMs: 100, maxReplay: 10_000, ...opts };
    o.status.feedClients = () => this.clients.size;
    this.attach();
  }

  get clientCount(): number {
    return this.clients.size;
  }

  /**
   * A registry event, numbered. Events recorded in the same turn of the event loop leave together,
   * as one frame ({"type":"events","events":[…]}; a lone one as {"type":"event","event":…}): at
   * thousands of events a second, frames — not bytes — are what clients and sockets pay for.
   */
  publishEvent(e: StoredEvent): void {
    this.pendingEvents.push(e);
    if (this.eventFlush) return;
    // A busy feed (the last frame carried several events) sends at most one frame per
    // EVENT_FRAME_MS: each frame is a send on every client's socket, and those sends are the cost
    // of fan-out. A quiet feed sends at once.
    const wait = this.lastFrameSize >= BUSY_FRAME ? this.lastEventFlush + EVENT_FRAME_MS - performance.now() : 0;
    this.eventFlush = wait > 0 ? setTimeout(() => this.flushEvents(), wait) : setImmediate(() => this.flushEvents());
  }

  private flushEvents(): void {
    if (this.eventFlush) { clearTimeout(this.eventFlush as NodeJS.Timeout); clearImmediate(this.eventFlush as NodeJS.Immediate); }
    this.eventFlush = null;
    this.lastEventFlush = performance.now();
    const events = this.pendingEvents;
    this.pendingEvents = [];
    this.lastFrameSize = events.length;
    if (events.length === 0) return;
    let whole: string | null = null;
    if (this.engine.numSubscribers('services') > 0) this.engine.publish('services', whole = eventFrame(events));
    const byService = new Map<string, StoredEvent[]>();
    for (const e of events) {
      if (!e.service) continue;
      // An instance's events go to its own topic and to its service's (service/web has web#0's).
      for (const topic of topicsOf(e.service)) {
        if (this.engine.numSubscribers(`service/${topic}`) === 0) continue;
        const list = byService.get(topic);
        if (list) list.push(e); else byService.set(topic, [e]);
      }
    }
    // One service's events only (a restart, say): its topic gets the very frame the fleet got.
    for (const [service, list] of byService) this.engine.publish(`service/${service}`, list.length === events.length && whole ? whole : eventFrame(list));
  }

  /** Fresh views: batched, one message per window for all of them. */
  publishViews(views: ServiceView[], removed: string[]): void {
    for (const v of views) this.pendingViews.set(v.id, v);
    for (const id of removed) this.pendingViews.set(id, null);
    if (!this.flushTimer) this.flushTimer = setTimeout(() => this.flushViews(), this.opts.updateIntervalMs);
  }

  publishLog(service: string, stream: Stream, lines: string[]): void {
    this.engine.publish(`logs/${service}`, frame({ type: 'log', service, stream, lines }));
  }

  close(): void {
    if (this.checkTimer) clearInterval(this.checkTimer);
    this.checkTimer = null;
    if (this.flushTimer) clearTimeout(this.flushTimer);
    if (this.eventFlush) { clearTimeout(this.eventFlush as NodeJS.Timeout); clearImmediate(this.eventFlush as NodeJS.Immediate); }
    for (const ws of this.clients) {
      try { ws.end(1001, 'orchestrator shutting down'); } catch { /* already closed */ }
    }
    this.clients.clear();
  }

  private flushViews(): void {
    this.flushTimer = null;
    // Nobody listening to the fleet: only per-service subscribers (if any) need presenting.
    const fleet = this.engine.numSubscribers('services') > 0;
    if (!fleet && this.clients.size === 0) { this.pendingViews.clear(); return; }
    const updated: PresentedService[] = [];
    const removed: string[] = [];
    for (const [id, v] of this.pendingViews) {
      if (v === null) { removed.push(id); continue; }
      if (!this.o.fleet.has(id)) continue;
      const singles = topicsOf(id).filter((topic) => this.engine.numSubscribers(`service/${topic}`) > 0);
      if (!fleet && singles.length === 0) continue;
      const presented = presentService({ ...this.o.fleet.get(id), view: v });
      if (fleet) updated.push(presented);
      for (const topic of singles) this.engine.publish(`service/${topic}`, frame({ type: 'services', services: [presented], removed: [] }));
    }
    this.pendingViews.clear();
    if (fleet && (updated.length || removed.length)) this.engine.publish('services', frame({ type: 'services', services: updated, removed }));
  }

  private dropSlowClients(): void {
    for (const ws of this.clients) {
      const data = ws.data;
      const buffered = ws.bufferedAmount();
      // What we sent at connect (a replay can be megabytes) is ours to wait for, up to uWS's hard limit.
      if (data.catchingUp) {
        if (buffered <= this.opts.maxBufferedBytes) data.catchingUp = false;
        continue;
      }
      if (buffered > this.opts.maxBufferedBytes) {
        this.log.warn({ ip: ws.data.ip, buffered: ws.bufferedAmount() }, 'closing a /ws client that does not keep up');
        this.forget(ws);
        ws.end(CLOSE_TOO_SLOW, 'too slow: send buffer over limit; reconnect with ?since=<last seq>');
      }
    }
  }

  private attach(): void {
    this.engine.ws<ClientData>('/ws', {
      maxPayloadLength: 16 * 1024,
      idleTimeout: 120,
      // Hard backstop: the engine closes a socket whose buffer passes this before our check gets
      // to it, rather than silently skipping messages (which would be a gap).
      maxBackpressure: 16 * 1024 * 1024,
      upgrade: (raw, offered) => {
        const r = readRequest(raw);
        const denied = sizeProblem(raw) ?? guard(this.sec, r, null, { scope: 'read', limited: true, mutating: true });
        if (denied) {
          const headers: Array<[string, string]> = [['content-type', 'application/json']];
          const retry = (denied as { retryAfter?: number }).retryAfter;
          if (retry) headers.push(['retry-after', String(retry)]);
          return { deny: { status: denied.status, headers, body: JSON.stringify({ error: { code: denied.code, message: denied.message } }) } };
        }
        const sinceRaw = r.query.get('since');
        const since = sinceRaw !== null && /^\d+$/.test(sinceRaw) ? Number(sinceRaw) : null;
        const topics = (r.query.get('topics') ?? 'services').split(',').map((t) => t.trim()).filter((t) => validTopic(t));
        const protocol = offered.includes('orchestrator.v1') ? 'orchestrator.v1' : offered[0] ?? '';
        return { accept: { ip: r.ip, since, topics: topics.length ? topics : ['services'] }, protocol };
      },
      open: (ws) => this.onOpen(ws),
      message: (ws, message) => this.onMessage(ws, Buffer.from(message).toString('utf8')),
      subscription: (topic, newCount, oldCount) => {
        if (!topic.startsWith('logs/')) return;
        if (oldCount === 0 && newCount > 0) this.opts.onLogInterest?.(topic.slice(5), true);
        if (oldCount > 0 && newCount === 0) this.opts.onLogInterest?.(topic.slice(5), false);
      },
      close: (ws) => this.forget(ws),
    });
  }

  private forget(ws: WsConnection<ClientData>): void {
    this.clients.delete(ws);
    if (this.clients.size === 0 && this.checkTimer) {
      clearInterval(this.checkTimer);
      this.checkTimer = null;
    }
  }

  private onOpen(ws: WsConnection<ClientData>): void {
    // Events still waiting for their frame go to the clients already here: the replay below reads
    // the registry up to now, so the newcomer must not get them twice.
    if (this.pendingEvents.length) this.flushEvents();
    this.clients.add(ws);
    if (!this.checkTimer) {
      this.checkTimer = setInterval(() => this.dropSlowClients(), 250);
      this.checkTimer.unref();
    }
    const data = ws.data;
    data.catchingUp = true;
    const lastSeq = this.o.events.lastSeq();
    ws.cork(() => {
      ws.send(frame({ type: 'hello', version: version(), seq: lastSeq, server_time: new Date().toISOString() }));
      if (data.since !== null) this.replay(ws, data, lastSeq);
      ws.send(frame({ type: 'snapshot', seq: lastSeq, services: this.o.fleet.list().map(presentService) }));
      this.subscribe(ws, data.topics);
    });
  }

  /**
   * The events a resuming client missed, since+1 … lastSeq, or a reset when they cannot all be
   * given: too many, no longer kept, or numbered by another registry. Never a silent gap.
   */
  private replay(ws: WsConnection<ClientData>, data: ClientData, lastSeq: number): void {
    const since = data.since!;
    const reset = (reason: string): void => { ws.send(frame({ type: 'reset', reason: `${reason}; start from the snapshot`, seq: lastSeq })); };
    if (since === lastSeq) return;
    if (since > lastSeq) return reset(`since=${since} is ahead of the newest event ${lastSeq} (the registry was replaced)`);
    if (lastSeq - since > this.opts.maxReplay) return reset(`more than ${this.opts.maxReplay} events behind`);
    const first = this.o.events.after(since, 1)[0];
    if (!first || first.seq !== since + 1) return reset(`events after ${since} are no longer kept`);
    let cursor = since;
    while (cursor < lastSeq) {
      const batch = this.o.events.after(cursor, 1000).filter((e) => e.seq <= lastSeq);
      if (batch.length === 0) break;
      const wanted = batch.filter((e) => wantsEvent(data.topics, e));
      for (let i = 0; i < wanted.length; i += 100) ws.send(eventsFrame(wanted.slice(i, i + 100)));
      cursor = batch[batch.length - 1]!.seq;
    }
  }

  private onMessage(ws: WsConnection<ClientData>, text: string): void {
    let msg: { type?: unknown; topics?: unknown };
    try {
      msg = JSON.parse(text) as typeof msg;
    } catch (e) {
      ws.send(frame({ type: 'error', code: 'bad_message', message: `message is not valid JSON: ${(e as Error).message}` }));
      return;
    }
    if (!msg || typeof msg !== 'object' || Array.isArray(msg)) {
      ws.send(frame({ type: 'error', code: 'bad_message', message: 'a message must be a JSON object like {"type":"subscribe","topics":["services"]}' }));
      return;
    }
    switch (msg.type) {
      case 'ping':
        ws.send(frame({ type: 'pong', seq: this.o.events.lastSeq() }));
        return;
      case 'subscribe':
      case 'unsubscribe': {
        const topics = Array.isArray(msg.topics) ? msg.topics : [];
        const bad = topics.filter((t) => typeof t !== 'string' || !validTopic(t));
        if (topics.length === 0 || bad.length) {
          ws.send(frame({ type: 'error', code: 'bad_topic', message: `topics must be a non-empty list of "services", "service/<id>" or "logs/<id>"${bad.length ? `; not valid: ${JSON.stringify(bad).slice(0, 200)}` : ''}` }));
          return;
        }
        if (msg.type === 'subscribe') this.subscribe(ws, topics as string[]);
        else for (const t of topics as string[]) ws.unsubscribe(t);
        ws.send(frame({ type: 'subscribed', topics: ws.topics() }));
        return;
      }
      default:
        ws.send(frame({ type: 'error', code: 'bad_message', message: `unknown message type ${JSON.stringify(msg.type)}; expected subscribe, unsubscribe or ping` }));
    }
  }

  /** "services" covers every "service/<id>": holding both would deliver events twice. */
  private subscribe(ws: WsConnection<ClientData>, topics: string[]): void {
    for (const t of topics) {
      if (t === 'services') {
        for (const held of ws.topics()) if (held.startsWith('service/')) ws.unsubscribe(held);
        ws.subscribe(t);
      } else if (t.startsWith('service/')) {
        if (!ws.isSubscribed('services')) ws.subscribe(t);
      } else {
        ws.subscribe(t);
      }
    }
  }
}

/** The frame for events recorded together: a lone one as {"type":"event"}, several as eventsFrame. */
function eventFrame(list: StoredEvent[]): string {
  return list.length === 1 ? frame({ type: 'event', event: presentEvent(list[0]!) }) : eventsFrame(list);
}

/**
 * Several events in one frame. `from` and `to` (first and last seq) come first, so a client can
 * check for gaps without reading the events; for one topic's subset they need not be contiguous.
 */
function eventsFrame(list: StoredEvent[]): string {
  return frame({ type: 'events', from: list[0]!.seq, to: list[list.length - 1]!.seq, events: list.map(presentEvent) });
}

function validTopic(t: string): boolean {
  if (!TOPIC.test(t)) return false;
  const slash = t.indexOf('/');
  return slash < 0 || UNIT_ID_PATTERN.test(t.slice(slash + 1));
}

function wantsEvent(topics: string[], e: StoredEvent): boolean {
  return topics.includes('services') || (!!e.service && topicsOf(e.service).some((id) => topics.includes(`service/${id}`)));
}

/** The service/<id> topics a unit's events and views go to: its own, and its service's if it is an instance. */
function topicsOf(id: string): string[] {
  const service = serviceOf(id);
  return service === id ? [id] : [id, service];
}

/** Every frame the feed sends goes through here: the compiler holds it to the wire (api/types.ts). */
function frame(msg: FeedMessage): string {
  return JSON.stringify(msg);
}
