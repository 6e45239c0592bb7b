/**
 * Following the orchestrator's /ws feed for `logs -f` and `events -f`, over undici's WebSocket
 * (Node 20 has no global one). Ctrl-C (SIGINT) or SIGTERM ends a follow cleanly with exit 0; a lost
 * connection ends it with the "unreachable" exit code. A client closed for being too slow (1013)
 * reconnects, resuming from the last event it saw.
 */
import { WebSocket } from 'undici';
import { CLOSE_TOO_SLOW, type FeedMessage } from '../api/types.js';
import { CliError, EXIT, type Client } from './client.js';

export type { FeedMessage };

export interface FollowOptions {
  topics: string[];
  /** Resume point for ?since= (called at each (re)connect). */
  since?: () => number | undefined;
  onMessage(msg: FeedMessage): void;
  /**
   * Called once the first snapshot arrived: the subscription is live from here on. Messages keep
   * flowing to onMessage while it runs.
   */
  onLive?(): void | Promise<void>;
  /** Tell the user something on stderr. */
  note(text: string): void;
}


/** Resolves when a stop signal arrives; `stopped` tells whether it did. */
export class StopSignal {
  stopped = false;
  readonly promise: Promise<void>;
  private resolve!: () => void;
  private readonly handler = () => this.stop();

  constructor() {
    this.promise = new Promise((r) => { this.resolve = r; });
    process.on('SIGINT', this.handler);
    process.on('SIGTERM', this.handler);
  }

  stop(): void {
    this.stopped = true;
    this.resolve();
  }

  dispose(): void {
    process.off('SIGINT', this.handler);
    process.off('SIGTERM', this.handler);
  }
}

export function feedUrl(client: Client, topics: string[], since?: number): string {
  const u = new URL(`${client.url}/ws`);
  u.protocol = u.protocol === 'https:' ? 'wss:' : 'ws:';
  u.searchParams.set('topics', topics.join(','));
  if (since !== undefined) u.searchParams.set('since', String(since));
  return u.toString();
}

/** Follow until the stop signal (→ 0) or until the connection is lost (→ CliError). */
export async function follow(client: Client, stop: StopSignal, opts: FollowOptions): Promise<number> {
  let first = true;
  while (!stop.stopped) {
    const outcome = await connectOnce(client, stop, opts, first);
    first = false;
    if (outcome === 'stopped') break;
    if (outcome === 'too-slow') { opts.note('feed: fell behind and was disconnected; reconnecting'); continue; }
    throw new CliError(`connection to the orchestrator at ${client.url} lost: ${outcome}`, EXIT.unreachable);
  }
  return EXIT.ok;
}

function connectOnce(client: Client, stop: StopSignal, opts: FollowOptions, first: boolean): Promise<'stopped' | 'too-slow' | string> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(feedUrl(client, opts.topics, opts.since?.()), { headers: client.authHeaders() });
    let live = false;
    let settled = false;
    const finish = (value: string) => {
      if (settled) return;
      settled = true;
      try { ws.close(1000); } catch { /* already closing */ }
      resolve(value);
    };
    const fail = (e: unknown) => {
      if (settled) return;
      settled = true;
      try { ws.close(1000); } catch { /* already closing */ }
      reject(e);
    };
    void stop.promise.then(() => finish('stopped'));
    ws.addEventListener('message', (ev) => {
      if (settled) return;
      let msg: FeedMessage;
      try {
        msg = JSON.parse(String(ev.data)) as FeedMessage;
      } catch {
        return;
      }
      if (msg.type === 'snapshot' && !live) {
        live = true;
        if (first && opts.onLive) Promise.resolve().then(() => opts.onLive!()).catch(fail);
        return;
      }
      if (msg.type === 'error') opts.note(`feed: ${msg.message}`);
      try { opts.onMessage(msg); } catch (e) { fail(e); }
    });
    ws.addEventListener('close', (ev) => {
      if (settled || stop.stopped) { finish('stopped'); return; }
      if (ev.code === CLOSE_TOO_SLOW) { finish('too-slow'); return; }
      finish(live ? `closed (${ev.code}${ev.reason ? ` ${ev.reason}` : ''})` : 'the /ws handshake failed (wrong API key, or not an orchestrator?)');
    });
    ws.addEventListener('error', () => { /* a close event follows with the details */ });
  });
}
