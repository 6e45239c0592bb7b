/**
 * The portable engine: Node's http module and the ws package, for every Node and libc that has no
 * native uWebSockets.js binary. It offers what server.ts and ws.ts need from uWS — one request
 * handler, WebSocket upgrades decided synchronously, pub/sub topics, buffered-amount checks — and
 * nothing more: routes and security stay above it.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { WebSocket, WebSocketServer } from 'ws';
import { STATUS_TEXT } from '../respond.js';
import type { Engine, Headers, RawRequest, RawResponse, ResponseStream, UpgradeDecision, WsConnection, WsOptions } from './types.js';

/**
 * Node's own parser limit. Our limits (types.ts LIMITS) are lower and checked in JS so the answer
 * can be a 414 or a 431 with our error shape; past this Node itself answers 431 and closes.
 */
const PARSER_MAX_HEADER_BYTES = 64 * 1024;

export class NodeEngine implements Engine {
  readonly name = 'node' as const;
  private readonly server: Server;
  private readonly topicsByName = new Map<string, Set<NodeConnection<unknown>>>();
  private readonly conns = new Set<NodeConnection<unknown>>();
  private readonly sockets = new Set<Socket | Duplex>();
  private heartbeat: NodeJS.Timeout | null = null;
  private wsPath: string | null = null;
  private wss: WebSocketServer | null = null;
  private wsOpts: WsOptions<unknown> | null = null;

  constructor() {
    this.server = createServer({ maxHeaderSize: PARSER_MAX_HEADER_BYTES });
    this.server.on('connection', (socket: Socket) => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
    });
  }

  onRequest(handler: (req: RawRequest, res: RawResponse) => void): void {
    this.server.on('request', (req: IncomingMessage, res: ServerResponse) => handler(readRequest(req), new NodeResponse(req, res)));
  }

  ws<D>(path: string, opts: WsOptions<D>): void {
    this.wsPath = path;
    this.wsOpts = opts as WsOptions<unknown>;
    const decisions = new WeakMap<IncomingMessage, UpgradeDecision<D>>();
    this.wss = new WebSocketServer({
      noServer: true,
      maxPayload: opts.maxPayloadLength,
      perMessageDeflate: false,
      handleProtocols: (_offered, req) => {
        const d = decisions.get(req);
        return d && 'accept' in d && d.protocol ? d.protocol : false;
      },
    });
    this.server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      const raw = readRequest(req);
      if (raw.path !== path || (req.headers.upgrade ?? '').toLowerCase() !== 'websocket') {
        return rawReply(socket, 404, [['content-type', 'application/json']], JSON.stringify({ error: { code: 'not_found', message: `no WebSocket endpoint at ${raw.path}; use ${path}` } }));
      }
      const offered = (req.headers['sec-websocket-protocol'] ?? '').split(',').map((p) => p.trim()).filter(Boolean);
      const decision = opts.upgrade(raw, offered);
      if ('deny' in decision) return rawReply(socket, decision.deny.status, decision.deny.headers, decision.deny.body);
      decisions.set(req, decision);
      this.wss!.handleUpgrade(req, socket, head, (ws) => this.opened(ws, decision.accept, opts));
    });
  }

  publish(topic: string, frame: string): void {
    const subs = this.topicsByName.get(topic);
    if (!subs || subs.size === 0) return;
    // One buffer for every subscriber: ws frames it without copying.
    const buf = Buffer.from(frame);
    for (const c of subs) c.sendBuffer(buf);
  }

  numSubscribers(topic: string): number {
    return this.topicsByName.get(topic)?.size ?? 0;
  }

  listen(host: string, port: number): Promise<number> {
    return new Promise((resolve, reject) => {
      const onError = (err: NodeJS.ErrnoException) => reject(new Error(`cannot listen on ${host}:${port} (${err.code === 'EADDRINUSE' ? 'address in use' : err.code === 'EADDRNOTAVAIL' ? 'address not available' : err.message})`));
      this.server.once('error', onError);
      this.server.listen({ host, port, exclusive: true }, () => {
        this.server.off('error', onError);
        const addr = this.server.address();
        resolve(typeof addr === 'object' && addr ? addr.port : port);
      });
    });
  }

  close(): void {
    if (this.heartbeat) clearInterval(this.heartbeat);
    this.heartbeat = null;
    for (const c of this.conns) c.terminate();
    this.server.close();
    for (const s of this.sockets) s.destroy();
    this.wss?.close();
  }

  // --- WebSocket bookkeeping (what uWS does natively) -------------------------------------------

  private opened<D>(ws: WebSocket, data: D, opts: WsOptions<D>): void {
    const conn = new NodeConnection<D>(this, ws, data, opts.maxBackpressure);
    this.conns.add(conn as NodeConnection<unknown>);
    this.startHeartbeat(opts.idleTimeout);
    ws.on('message', (message: Buffer, isBinary: boolean) => {
      conn.alive = true;
      opts.message(conn, message, isBinary);
    });
    ws.on('pong', () => { conn.alive = true; });
    ws.on('error', () => { /* the close event follows */ });
    ws.on('close', (code: number) => {
      this.conns.delete(conn as NodeConnection<unknown>);
      for (const topic of conn.topicSet) this.leave(conn as NodeConnection<unknown>, topic);
      conn.closed = true;
      if (this.conns.size === 0 && this.heartbeat) { clearInterval(this.heartbeat); this.heartbeat = null; }
      opts.close(conn, code);
    });
    opts.open(conn);
  }

  /** Like uWS's idleTimeout with automatic pings: a connection silent for a whole period goes. */
  private startHeartbeat(idleSeconds: number): void {
    if (this.heartbeat) return;
    this.heartbeat = setInterval(() => {
      for (const c of this.conns) c.checkAlive();
    }, (idleSeconds * 1000) / 2);
    this.heartbeat.unref();
  }

  join(conn: NodeConnection<unknown>, topic: string): void {
    if (conn.topicSet.has(topic)) return;
    let subs = this.topicsByName.get(topic);
    if (!subs) this.topicsByName.set(topic, subs = new Set());
    const before = subs.size;
    subs.add(conn);
    conn.topicSet.add(topic);
    this.wsOpts?.subscription?.(topic, subs.size, before);
  }

  leave(conn: NodeConnection<unknown>, topic: string): void {
    const subs = this.topicsByName.get(topic);
    if (!subs || !subs.delete(conn)) return;
    conn.topicSet.delete(topic);
    if (subs.size === 0) this.topicsByName.delete(topic);
    this.wsOpts?.subscription?.(topic, subs.size, subs.size + 1);
  }
}

class NodeConnection<D> implements WsConnection<D> {
  readonly topicSet = new Set<string>();
  closed = false;
  alive = true;

  constructor(private readonly engine: NodeEngine, private readonly ws: WebSocket, readonly data: D, private readonly maxBackpressure: number) {}

  send(frame: string): void {
    this.sendBuffer(Buffer.from(frame));
  }

  sendBuffer(buf: Buffer): void {
    if (this.closed) return;
    this.ws.send(buf, { binary: false });
    // The hard backstop: closed, never silently skipped (which would be a gap).
    if (this.ws.bufferedAmount > this.maxBackpressure) this.terminate();
  }

  cork(fn: () => void): void {
    fn();
  }

  subscribe(topic: string): void { if (!this.closed) this.engine.join(this as NodeConnection<unknown>, topic); }
  unsubscribe(topic: string): void { this.engine.leave(this as NodeConnection<unknown>, topic); }
  isSubscribed(topic: string): boolean { return this.topicSet.has(topic); }
  topics(): string[] { return [...this.topicSet]; }
  bufferedAmount(): number { return this.closed ? 0 : this.ws.bufferedAmount; }

  end(code: number, reason: string): void {
    if (this.closed) return;
    this.closed = true;
    this.ws.close(code, reason);
    // A client that does not read will not answer the close frame either: do not wait 30 s for it.
    setTimeout(() => this.ws.terminate(), 5_000).unref();
  }

  terminate(): void {
    this.closed = true;
    this.ws.terminate();
  }

  checkAlive(): void {
    if (!this.alive) { this.terminate(); return; }
    this.alive = false;
    if (this.ws.readyState === WebSocket.OPEN) this.ws.ping();
  }
}

function readRequest(req: IncomingMessage): RawRequest {
  let target = req.url ?? '/';
  // Absolute-form targets (http://host/path) are legal too: keep only the path and query.
  if (!target.startsWith('/')) {
    try { const u = new URL(target); target = u.pathname + u.search; } catch { target = '/'; }
  }
  const q = target.indexOf('?');
  const rawHeaders = req.rawHeaders;
  let headerBytes = 0;
  for (let i = 0; i < rawHeaders.length; i += 2) headerBytes += rawHeaders[i]!.length + rawHeaders[i + 1]!.length + 4;
  const ip = req.socket.remoteAddress ?? '';
  return {
    method: (req.method ?? 'GET').toLowerCase(),
    path: q < 0 ? target : target.slice(0, q),
    query: q < 0 ? '' : target.slice(q + 1),
    header: (name) => headerValue(rawHeaders, name),
    headerBytes,
    ip: ip.startsWith('::ffff:') ? ip.slice(7) : ip,
  };
}

/**
 * A header's value straight from the raw name/value list (cheaper than building Node's
 * req.headers object for the few names we read); repeated fields are joined with ", ".
 */
function headerValue(rawHeaders: string[], name: string): string {
  let value: string | undefined;
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const field = rawHeaders[i]!;
    if (field.length !== name.length || field.toLowerCase() !== name) continue;
    value = value === undefined ? rawHeaders[i + 1]! : `${value}, ${rawHeaders[i + 1]!}`;
  }
  return value ?? '';
}

class NodeResponse implements RawResponse {
  private done = false;
  private aborted = false;

  constructor(private readonly req: IncomingMessage, private readonly res: ServerResponse) {}

  onAborted(cb: () => void): void {
    this.res.on('close', () => {
      if (this.res.writableFinished) return;
      this.aborted = true;
      cb();
    });
  }

  onData(cb: (chunk: Uint8Array, isLast: boolean) => void): void {
    this.req.on('data', (chunk: Buffer) => { if (!this.aborted) cb(chunk, false); });
    this.req.on('end', () => { if (!this.aborted) cb(new Uint8Array(0), true); });
  }

  respond(status: number, headers: Headers, body: string | Uint8Array | null, headLength?: number): void {
    if (this.done || this.aborted || this.res.destroyed) return;
    this.done = true;
    const flat: string[] = [];
    for (const [k, v] of headers) flat.push(k, v);
    const length = body === null ? headLength : typeof body === 'string' ? Buffer.byteLength(body) : body.byteLength;
    if (length !== undefined && status !== 204 && status !== 304) flat.push('content-length', String(length));
    this.res.writeHead(status, flat);
    if (body === null) this.res.end(); else this.res.end(body);
  }

  stream(status: number, headers: Headers): ResponseStream | null {
    if (this.done || this.aborted || this.res.destroyed) return null;
    this.done = true;
    const res = this.res;
    const flat: string[] = [];
    for (const [k, v] of headers) flat.push(k, v);
    res.writeHead(status, flat);
    // No body yet: send the head now, so the client sees the stream begin.
    res.flushHeaders();
    const gone = () => res.destroyed || res.writableEnded;
    return {
      write: (chunk) => (gone() ? true : res.write(chunk)),
      onWritable: (cb) => { if (!gone()) res.once('drain', cb); },
      end: () => { if (!gone()) res.end(); },
    };
  }
}

/** Answer on a raw socket (an upgrade we refuse) and close it. */
function rawReply(socket: Duplex, status: number, headers: Headers, body: string): void {
  const lines = [`HTTP/1.1 ${STATUS_TEXT[status] ?? String(status)}`, ...headers.map(([k, v]) => `${k}: ${v}`), `content-length: ${Buffer.byteLength(body)}`, 'connection: close'];
  socket.end(`${lines.join('\r\n')}\r\n\r\n${body}`);
}
