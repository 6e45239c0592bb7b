/**
 * The native engine: uWebSockets.js. Writes are corked, nothing touches a request after the
 * handler returns or a response after it was aborted, and pub/sub topics are uWS's own.
 * `load()` loads a native binary for this Node ABI directly — never a package's fallback stub,
 * which implements only part of the API and throws "Not implemented" at the first event.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type uWSModule from 'uWebSockets.js';
import type { HttpRequest, HttpResponse, TemplatedApp, us_listen_socket, WebSocket } from 'uWebSockets.js';
import { STATUS_TEXT } from '../respond.js';
import type { Engine, Headers, RawRequest, RawResponse, ResponseStream, WsConnection, WsOptions } from './types.js';

type UWS = typeof uWSModule;

const LIBUS_LISTEN_EXCLUSIVE_PORT = 1;

/** Packages that carry uWS binaries, in order of preference: the Node 20 build first, then 22/24/25. */
const PACKAGES = ['uWebSockets.js', '@btc-vision/uwebsockets.js'];

export type LoadResult = { uws: UWS; from: string } | { uws: null; reason: string };

/** Find and load a uWS binary built for this platform and Node ABI. */
export function load(): LoadResult {
  const require = createRequire(import.meta.url);
  const binary = `uws_${process.platform}_${process.arch}_${process.versions.modules}.node`;
  const tried: string[] = [];
  for (const pkg of PACKAGES) {
    let dir: string;
    try {
      dir = dirname(require.resolve(`${pkg}/package.json`));
    } catch {
      tried.push(`${pkg}: not installed`);
      continue;
    }
    const file = [join(dir, binary), join(dir, 'binaries', binary)].find((f) => existsSync(f));
    if (!file) { tried.push(`${pkg}: no ${binary}`); continue; }
    try {
      return { uws: require(file) as UWS, from: file };
    } catch (e) {
      // Typically: the binary needs a newer glibc than this system has.
      tried.push(`${pkg}: ${(e as Error).message.split('\n')[0]}`);
    }
  }
  return { uws: null, reason: `no native uWebSockets.js for Node ${process.version} (ABI ${process.versions.modules}, ${process.platform}-${process.arch}): ${tried.join('; ')}` };
}

export class UwsEngine implements Engine {
  readonly name = 'uws' as const;
  private readonly app: TemplatedApp;
  private listenSocket: us_listen_socket | null = null;

  constructor(private readonly uws: UWS) {
    this.app = uws.App();
  }

  onRequest(handler: (req: RawRequest, res: RawResponse) => void): void {
    this.app.any('/*', (res, req) => handler(readRequest(res, req), new UwsResponse(res)));
  }

  ws<D>(path: string, opts: WsOptions<D>): void {
    type Slot = { data: D; conn?: UwsConnection<D> };
    this.app.ws<Slot>(path, {
      maxPayloadLength: opts.maxPayloadLength,
      idleTimeout: opts.idleTimeout,
      sendPingsAutomatically: true,
      maxBackpressure: opts.maxBackpressure,
      closeOnBackpressureLimit: 1,
      upgrade: (res, req, context) => {
        let aborted = false;
        res.onAborted(() => { aborted = true; });
        const raw = readRequest(res, req);
        const key = req.getHeader('sec-websocket-key');
        const extensions = req.getHeader('sec-websocket-extensions');
        const offered = req.getHeader('sec-websocket-protocol').split(',').map((p) => p.trim()).filter(Boolean);
        const decision = opts.upgrade(raw, offered);
        if (aborted) return;
        if ('deny' in decision) {
          const { status, headers, body } = decision.deny;
          res.cork(() => {
            res.writeStatus(STATUS_TEXT[status] ?? String(status));
            for (const [k, v] of headers) res.writeHeader(k, v);
            res.end(body);
          });
          return;
        }
        res.cork(() => res.upgrade<Slot>({ data: decision.accept }, key, decision.protocol, extensions, context));
      },
      open: (ws) => {
        const slot = ws.getUserData();
        slot.conn = new UwsConnection<D>(ws, slot.data);
        opts.open(slot.conn);
      },
      message: (ws, message, isBinary) => opts.message(ws.getUserData().conn!, new Uint8Array(message), isBinary),
      subscription: (_ws, topic, newCount, oldCount) => opts.subscription?.(Buffer.from(topic).toString(), newCount, oldCount),
      close: (ws, code) => {
        const conn = ws.getUserData().conn;
        if (conn) { conn.closed = true; opts.close(conn, code); }
      },
    });
  }

  publish(topic: string, frame: string): void {
    this.app.publish(topic, frame, false);
  }

  numSubscribers(topic: string): number {
    return this.app.numSubscribers(topic);
  }

  listen(host: string, port: number): Promise<number> {
    return new Promise((resolve, reject) => {
      // Exclusive: uSockets would otherwise share the port (SO_REUSEPORT) with whoever holds it.
      const listen = this.app.listen as unknown as (h: string, p: number, options: number, cb: (s: us_listen_socket | false) => void) => void;
      listen.call(this.app, host, port, LIBUS_LISTEN_EXCLUSIVE_PORT, (socket) => {
        if (!socket) { reject(new Error(`cannot listen on ${host}:${port} (address in use or not available)`)); return; }
        this.listenSocket = socket;
        resolve(this.uws.us_socket_local_port(socket as unknown as uWSModule.us_socket));
      });
    });
  }

  close(): void {
    if (this.listenSocket) this.uws.us_listen_socket_close(this.listenSocket);
    this.listenSocket = null;
    try { (this.app as unknown as { close?: () => void }).close?.(); } catch { /* older uWS without App.close */ }
  }
}

function readRequest(res: HttpResponse, req: HttpRequest): RawRequest {
  const headers = new Map<string, string>();
  let headerBytes = 0;
  req.forEach((k, v) => {
    headerBytes += k.length + v.length + 4;
    const had = headers.get(k);
    headers.set(k, had === undefined ? v : `${had}, ${v}`);
  });
  return {
    method: req.getMethod(),
    path: req.getUrl(),
    query: req.getQuery() ?? '',
    header: (name) => headers.get(name) ?? '',
    headerBytes,
    ip: Buffer.from(res.getRemoteAddressAsText()).toString(),
  };
}

class UwsResponse implements RawResponse {
  private done = false;
  private aborted = false;
  private abortHandlers: Array<() => void> = [];

  constructor(private readonly res: HttpResponse) {
    res.onAborted(() => {
      this.aborted = true;
      for (const cb of this.abortHandlers) cb();
    });
  }

  onAborted(cb: () => void): void {
    this.abortHandlers.push(cb);
  }

  onData(cb: (chunk: Uint8Array, isLast: boolean) => void): void {
    this.res.onData((chunk, isLast) => { if (!this.aborted) cb(new Uint8Array(chunk), isLast); });
  }

  respond(status: number, headers: Headers, body: string | Uint8Array | null, headLength?: number): void {
    if (this.done || this.aborted) return;
    this.done = true;
    const res = this.res;
    res.cork(() => {
      res.writeStatus(STATUS_TEXT[status] ?? String(status));
      for (const [k, v] of headers) res.writeHeader(k, v);
      if (body !== null) res.end(body);
      else if (headLength !== undefined) res.endWithoutBody(headLength);
      else res.endWithoutBody();
    });
  }

  stream(status: number, headers: Headers): ResponseStream | null {
    if (this.done || this.aborted) return null;
    this.done = true;
    const res = this.res;
    let ended = false;
    let waiting: (() => void) | null = null;
    // Writes happen outside uWS's own callbacks (a timer, a promise): each is corked, or uWS sends
    // every piece of it in a syscall of its own. An empty write sends the head with
    // Transfer-Encoding: chunked at once, so the client sees the stream begin.
    res.cork(() => {
      res.writeStatus(STATUS_TEXT[status] ?? String(status));
      for (const [k, v] of headers) res.writeHeader(k, v);
      res.write('');
    });
    // uWS keeps a chunk it could not send whole in its own buffer; onWritable says that buffer drained.
    res.onWritable(() => {
      const cb = waiting;
      waiting = null;
      cb?.();
      return true;
    });
    return {
      write: (chunk) => {
        if (ended || this.aborted) return true;
        let sent = true;
        res.cork(() => { sent = res.write(chunk); });
        return sent;
      },
      onWritable: (cb) => {
        if (ended || this.aborted) return;
        waiting = cb;
      },
      end: () => {
        if (ended || this.aborted) return;
        ended = true;
        res.cork(() => res.end());
      },
    };
  }
}

class UwsConnection<D> implements WsConnection<D> {
  closed = false;

  constructor(private readonly ws: WebSocket<{ data: D; conn?: UwsConnection<D> }>, readonly data: D) {}

  send(frame: string): void {
    if (!this.closed) this.ws.send(frame, false);
  }

  cork(fn: () => void): void {
    if (this.closed) return;
    this.ws.cork(fn);
  }

  subscribe(topic: string): void { if (!this.closed) this.ws.subscribe(topic); }
  unsubscribe(topic: string): void { if (!this.closed) this.ws.unsubscribe(topic); }
  isSubscribed(topic: string): boolean { return !this.closed && this.ws.isSubscribed(topic); }
  topics(): string[] { return this.closed ? [] : this.ws.getTopics(); }
  bufferedAmount(): number { return this.closed ? 0 : this.ws.getBufferedAmount(); }

  end(code: number, reason: string): void {
    if (this.closed) return;
    this.closed = true;
    this.ws.end(code, reason);
  }
}
