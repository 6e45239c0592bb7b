/**
 * The /ws client: connects, reconnects by itself with backoff, and resumes from the last event
 * seq it saw (?since=SEQ) so the events timeline has no gaps. A connection that closes before its
 * hello is checked over REST: a 401 means "ask for a key", not "retry forever".
 */
import type { Api } from './api.js';
import type { Store } from './store.js';
import type { FeedMessage } from './types.js';

const PING_EVERY_MS = 20_000;
const PONG_WITHIN_MS = 10_000;
const MAX_DELAY_MS = 10_000;

export class Feed {
  private ws: WebSocket | null = null;
  private lastSeq: number | null = null;
  private readonly topics = new Map<string, number>();
  private attempts = 0;
  private retryTimer: ReturnType<typeof setTimeout> | null = null;
  private pingTimer: ReturnType<typeof setInterval> | null = null;
  private lastMessageAt = 0;
  private running = false;

  constructor(private readonly api: Api, private readonly store: Store) {
    addEventListener('online', () => { if (this.running && this.store.conn.state === 'reconnecting') this.reconnectNow(); });
  }

  start(): void {
    this.running = true;
    this.connect();
  }

  /** Drop the current connection (if any) and connect again right away, e.g. with a new key. */
  reconnectNow(): void {
    this.running = true;
    this.attempts = 0;
    this.teardown();
    this.connect();
  }

  /** Topics besides "services" (logs/<id>), counted so two views can share one. */
  subscribe(topic: string): void {
    const n = this.topics.get(topic) ?? 0;
    this.topics.set(topic, n + 1);
    if (n === 0) this.send({ type: 'subscribe', topics: [topic] });
  }

  unsubscribe(topic: string): void {
    const n = this.topics.get(topic) ?? 0;
    if (n <= 1) {
      this.topics.delete(topic);
      if (n === 1) this.send({ type: 'unsubscribe', topics: [topic] });
    } else {
      this.topics.set(topic, n - 1);
    }
  }

  private send(msg: unknown): void {
    if (this.ws?.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(msg));
  }

  private connect(): void {
    if (this.retryTimer) { clearTimeout(this.retryTimer); this.retryTimer = null; }
    let ws: WebSocket;
    try {
      ws = new WebSocket(this.api.wsUrl(this.lastSeq), this.api.wsProtocols());
    } catch (e) {
      this.schedule(`cannot open the feed: ${(e as Error).message}`);
      return;
    }
    this.ws = ws;
    let greeted = false;
    if (this.store.conn.state !== 'reconnecting') this.store.setConnection({ state: 'connecting', retryAt: null, detail: '' });
    ws.onmessage = (ev: MessageEvent<string>) => {
      const arrived = performance.now();
      this.lastMessageAt = arrived;
      let msg: FeedMessage;
      try {
        msg = JSON.parse(ev.data) as FeedMessage;
      } catch {
        console.error('feed: a message that is not JSON');
        return;
      }
      if (msg.type === 'hello') {
        greeted = true;
        this.attempts = 0;
        this.store.setNeedKey(false);
        this.store.setConnection({ state: 'live', retryAt: null, detail: '' });
        // The key may have changed since the last connection: ask again what it may do.
        void this.api.get<{ name: string; scopes: string[] }>('/api/whoami').then(
          (me) => this.store.setPrincipal(me),
          () => this.store.setPrincipal(null),
        );
        if (this.topics.size) this.send({ type: 'subscribe', topics: [...this.topics.keys()] });
        this.startPings();
      } else if (msg.type === 'event') {
        this.lastSeq = Math.max(this.lastSeq ?? 0, msg.event.seq);
      } else if (msg.type === 'events') {
        // Several events in one frame: apply them one by one, in order.
        for (const event of msg.events) {
          this.lastSeq = Math.max(this.lastSeq ?? 0, event.seq);
          this.store.apply({ type: 'event', event }, arrived);
        }
        return;
      } else if (msg.type === 'snapshot' || msg.type === 'reset') {
        if (typeof msg.seq === 'number') this.lastSeq = msg.seq;
      }
      this.store.apply(msg, arrived);
    };
    ws.onclose = (ev) => {
      if (this.ws !== ws) return;
      this.ws = null;
      this.stopPings();
      if (!this.running) return;
      if (greeted) { this.schedule(ev.reason || 'connection lost'); return; }
      // Closed before hello: the upgrade was refused. Only REST can tell us why.
      void this.api.get('/api/events?limit=1').then(
        () => this.schedule(ev.reason || 'cannot connect'),
        (e: { status?: number; message?: string }) => {
          if (e.status === 401) this.store.setConnection({ state: 'unauthorized', retryAt: null, detail: 'API key required' });
          else this.schedule(e.message ?? 'cannot connect');
        },
      );
    };
  }

  private schedule(detail: string): void {
    if (!this.running || this.retryTimer) return;
    const base = Math.min(MAX_DELAY_MS, 500 * 2 ** this.attempts);
    const delay = Math.round(base * (0.8 + Math.random() * 0.4));
    this.attempts++;
    this.store.setConnection({ state: 'reconnecting', retryAt: Date.now() + delay, detail });
    this.retryTimer = setTimeout(() => { this.retryTimer = null; this.connect(); }, delay);
  }

  private startPings(): void {
    this.stopPings();
    this.pingTimer = setInterval(() => {
      if (performance.now() - this.lastMessageAt > PING_EVERY_MS + PONG_WITHIN_MS) {
        // A dead link may take minutes to report its close: give up on it now.
        this.teardown();
        this.schedule('no answer to ping');
        return;
      }
      this.send({ type: 'ping' });
    }, PING_EVERY_MS);
  }

  private stopPings(): void {
    if (this.pingTimer) clearInterval(this.pingTimer);
    this.pingTimer = null;
  }

  private teardown(): void {
    this.stopPings();
    if (this.retryTimer) { clearTimeout(this.retryTimer); this.retryTimer = null; }
    const ws = this.ws;
    this.ws = null;
    if (ws) { ws.onclose = null; ws.onmessage = null; ws.close(1000, 'reconnecting'); }
  }
}
