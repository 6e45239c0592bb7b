/**
 * Clients for the HTTP tests: a plain node:http request (full control over Host, Origin,
 * Content-Type and body framing, which fetch does not give), a WebSocket client on undici that
 * queues messages and waits for them with deadlines, and a raw WebSocket over TCP that does the
 * handshake by hand and can stop reading (for backpressure).
 */
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { connect, type Socket } from 'node:net';
import { randomBytes } from 'node:crypto';
import type { Test } from 'tap';
import { WebSocket } from 'undici';

export interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  text: string;
  json: any;
}

export interface RequestOptions {
  method?: string;
  headers?: Record<string, string | number>;
  /** An object is sent as JSON with Content-Type application/json (unless headers say otherwise). */
  body?: unknown;
  /** Send the body with Transfer-Encoding: chunked instead of Content-Length. */
  chunked?: boolean;
}

/** One HTTP request over a fresh connection; resolves with status, headers and the parsed body. */
export function req(base: string, path: string, opts: RequestOptions = {}): Promise<Answer> {
  const url = new URL(path, base);
  const headers: Record<string, string | number> = { ...opts.headers };
  let payload: Buffer | undefined;
  if (opts.body !== undefined) {
    if (typeof opts.body === 'string' || Buffer.isBuffer(opts.body)) payload = Buffer.from(opts.body as string);
    else {
      payload = Buffer.from(JSON.stringify(opts.body));
      if (!Object.keys(headers).some((h) => h.toLowerCase() === 'content-type')) headers['content-type'] = 'application/json';
    }
    if (!opts.chunked) headers['content-length'] = payload.length;
  }
  return new Promise((resolve, reject) => {
    const r = httpRequest({
      host: url.hostname, port: url.port, path: url.pathname + url.search, method: opts.method ?? 'GET', headers, agent: false,
    }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let json: any;
        try { json = JSON.parse(text); } catch { json = undefined; }
        resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json });
      });
      res.on('error', reject);
    });
    r.on('error', reject);
    if (payload && opts.chunked) {
      // A few chunks, so the server sees a body of unknown length arrive in pieces.
      const step = Math.max(1, Math.ceil(payload.length / 4));
      for (let i = 0; i < payload.length; i += step) r.write(payload.subarray(i, i + step));
      r.end();
    } else r.end(payload);
  });
}

/** A WebSocket upgrade request that is expected to be refused: the HTTP status and body. */
export function refusedUpgrade(base: string, path: string, headers: Record<string, string> = {}): Promise<{ status: number; json: any; upgraded: boolean; headers: IncomingHttpHeaders }> {
  const url = new URL(path, base);
  return new Promise((resolve, reject) => {
    const r = httpRequest({
      host: url.hostname, port: url.port, path: url.pathname + url.search, agent: false,
      headers: {
        connection: 'Upgrade', upgrade: 'websocket', 'sec-websocket-version': '13',
        'sec-websocket-key': randomBytes(16).toString('base64'), ...headers,
      },
    });
    r.on('upgrade', (res, socket) => { socket.destroy(); resolve({ status: 101, json: undefined, upgraded: true, headers: res.headers }); });
    r.on('response', (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        let json: any;
        try { json = JSON.parse(Buffer.concat(chunks).toString('utf8')); } catch { json = undefined; }
        resolve({ status: res.statusCode ?? 0, json, upgraded: false, headers: res.headers });
      });
    });
    r.on('error', reject);
    r.end();
  });
}

export type Msg = Record<string, any> & { type: string };

/** An undici WebSocket that keeps every message it receives and lets a test wait for one. */
export class WsClient {
  readonly messages: Msg[] = [];
  /** performance.now() at receipt of each message. */
  readonly times: number[] = [];
  /** WebSocket frames received (a batch of events is one). */
  frames = 0;
  closed: { code: number; reason: string } | null = null;
  private waiters: Array<() => void> = [];
  private cursor = 0;

  private constructor(readonly ws: WebSocket) {
    ws.addEventListener('message', (ev) => {
      const msg = JSON.parse(String(ev.data)) as Msg;
      const at = performance.now();
      // Several events can share a frame; tests look at them one by one.
      const list = msg.type === 'events' ? (msg.events as unknown[]).map((event) => ({ type: 'event', event }) as Msg) : [msg];
      for (const m of list) { this.messages.push(m); this.times.push(at); }
      this.frames++;
      this.wake();
    });
    ws.addEventListener('close', (ev) => {
      this.closed = { code: ev.code, reason: ev.reason };
      this.wake();
    });
  }

  static open(base: string, path = '/ws', init: { protocols?: readonly string[]; headers?: Readonly<Record<string, string>> } = {}): Promise<WsClient> {
    const url = new URL(path, base.replace(/^http/, 'ws'));
    const ws = new WebSocket(url, { protocols: init.protocols ? [...init.protocols] : undefined, headers: init.headers ? { ...init.headers } : undefined });
    const client = new WsClient(ws);
    return new Promise((resolve, reject) => {
      ws.addEventListener('open', () => resolve(client), { once: true });
      ws.addEventListener('error', () => reject(new Error(`WebSocket to ${url} failed`)), { once: true });
    });
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  /** The next message (after the ones already taken by next()) matching pred. */
  next(pred: (m: Msg) => boolean = () => true, what = 'a message', timeoutMs = 15_000): Promise<Msg> {
    return new Promise((resolve, reject) => {
      const deadline = setTimeout(() => { cleanup(); reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}; last messages: ${JSON.stringify(this.messages.slice(-5)).slice(0, 1500)}`)); }, timeoutMs);
      const check = () => {
        while (this.cursor < this.messages.length) {
          const m = this.messages[this.cursor++]!;
          if (pred(m)) { cleanup(); resolve(m); return; }
        }
        if (this.closed) { cleanup(); reject(new Error(`socket closed (${this.closed.code} ${this.closed.reason}) while waiting for ${what}`)); return; }
        this.waiters.push(check);
      };
      const cleanup = () => clearTimeout(deadline);
      check();
    });
  }

  /** Wait until some received message (from the start) satisfies pred. */
  until(pred: (all: Msg[]) => boolean, what: string, timeoutMs = 15_000): Promise<void> {
    return new Promise((resolve, reject) => {
      const deadline = setTimeout(() => reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)), timeoutMs);
      const check = () => {
        if (pred(this.messages)) { clearTimeout(deadline); resolve(); return; }
        if (this.closed) { clearTimeout(deadline); reject(new Error(`socket closed (${this.closed.code}) while waiting for ${what}`)); return; }
        this.waiters.push(check);
      };
      check();
    });
  }

  send(value: unknown): void {
    this.ws.send(typeof value === 'string' ? value : JSON.stringify(value));
  }

  /** Send a ping message and wait for its pong: proves the connection is still served. */
  async roundTrip(): Promise<Msg> {
    this.send({ type: 'ping' });
    return this.next((m) => m.type === 'pong', 'pong');
  }

  close(): Promise<void> {
    if (this.closed) return Promise.resolve();
    return new Promise((resolve) => {
      this.ws.addEventListener('close', () => resolve(), { once: true });
      this.ws.close();
    });
  }

  events(): Msg[] {
    return this.messages.filter((m) => m.type === 'event');
  }
}

/**
 * A WebSocket client on a bare TCP socket: the handshake by hand, then frames parsed from the
 * bytes. It can pause reading entirely, so the server's send buffer fills up.
 */
export class RawWs {
  private buf = Buffer.alloc(0);
  readonly frames: Array<{ opcode: number; payload: Buffer }> = [];
  bytesRead = 0;
  ended = false;
  private waiters: Array<() => void> = [];

  private constructor(readonly socket: Socket) {
    socket.on('data', (chunk: Buffer) => {
      this.bytesRead += chunk.length;
      this.buf = Buffer.concat([this.buf, chunk]);
      this.parse();
      this.wake();
    });
    socket.on('close', () => { this.ended = true; this.wake(); });
    socket.on('error', () => { /* surfaced as close */ });
  }

  static open(port: number, path: string, headers: Record<string, string> = {}): Promise<RawWs> {
    return new Promise((resolve, reject) => {
      const socket = connect(port, '127.0.0.1');
      const key = randomBytes(16).toString('base64');
      socket.once('error', reject);
      socket.once('connect', () => {
        const extra = Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join('');
        socket.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: ${key}\r\n${extra}\r\n`);
      });
      let head = Buffer.alloc(0);
      const onData = (chunk: Buffer) => {
        head = Buffer.concat([head, chunk]);
        const end = head.indexOf('\r\n\r\n');
        if (end < 0) return;
        socket.off('data', onData);
        const status = head.subarray(0, head.indexOf('\r\n')).toString();
        if (!/^HTTP\/1\.1 101/.test(status)) { socket.destroy(); reject(new Error(`upgrade refused: ${status}`)); return; }
        const raw = new RawWs(socket);
        const rest = head.subarray(end + 4);
        if (rest.length) socket.emit('data', rest);
        resolve(raw);
      };
      socket.on('data', onData);
    });
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  private parse(): void {
    for (;;) {
      if (this.buf.length < 2) return;
      const opcode = this.buf[0]! & 0x0f;
      let len = this.buf[1]! & 0x7f;
      let off = 2;
      if (len === 126) { if (this.buf.length < 4) return; len = this.buf.readUInt16BE(2); off = 4; }
      else if (len === 127) { if (this.buf.length < 10) return; len = Number(this.buf.readBigUInt64BE(2)); off = 10; }
      if (this.buf.length < off + len) return;
      // Keep text frames small in memory: only the close frame's payload matters to the tests.
      const payload = opcode === 0x8 ? Buffer.from(this.buf.subarray(off, off + len)) : Buffer.alloc(0);
      this.frames.push({ opcode, payload });
      this.buf = this.buf.subarray(off + len);
    }
  }

  pause(): void { this.socket.pause(); }
  resume(): void { this.socket.resume(); }

  /** The close frame's code and reason, once it arrived. */
  closeFrame(): { code: number; reason: string } | null {
    const f = this.frames.find((fr) => fr.opcode === 0x8);
    if (!f) return null;
    return { code: f.payload.length >= 2 ? f.payload.readUInt16BE(0) : 1005, reason: f.payload.subarray(2).toString('utf8') };
  }

  waitFor<T>(check: () => T | null | undefined | false, what: string, timeoutMs = 20_000): Promise<T> {
    return new Promise((resolve, reject) => {
      const deadline = setTimeout(() => reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what} (read ${this.bytesRead} bytes, ${this.frames.length} frames, ended ${this.ended})`)), timeoutMs);
      const attempt = () => {
        const v = check();
        if (v) { clearTimeout(deadline); resolve(v); return; }
        if (this.ended) { clearTimeout(deadline); reject(new Error(`socket ended while waiting for ${what} (read ${this.bytesRead} bytes)`)); return; }
        this.waiters.push(attempt);
      };
      attempt();
    });
  }

  destroy(): void { this.socket.destroy(); }
}

/** An error answer: status, and the one JSON shape {"error": {"code", "message", "field"?}}. */
export const errorShape = (t: Test, a: { status: number; json: any; text?: string }, status: number, code: string, field?: string) => {
  const ctx = ` (${a.text?.slice(0, 200)})`;
  t.equal(a.status, status, `status ${status}${ctx}`);
  t.equal(a.json?.error?.code, code, `error.code ${code}`);
  t.type(a.json?.error?.message, 'string', 'error.message is a string');
  if (field !== undefined) t.equal(a.json?.error?.field, field, `error.field ${field}`);
};
